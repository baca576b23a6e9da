/**
 * Gradients of Sum and Mean without `tf.ones(x.shape)`. tfjs 4.22 writes them as
 * `dy · ones(x.shape)`, and `tf.ones` builds its values on the CPU: on WebGPU every such
 * gradient uploaded a fresh buffer of the input's size (92 MB per tiny-preset training step, most
 * of the 4 s a step took on an H100), and on wasm it allocated and copied the same. Broadcasting
 * `dy` back to the input's shape is the same value, computed on the device.
 *
 * Also the gradient of Tile (which `tf.broadcastTo` runs): tfjs 4.22 adds one slice of `dy` per
 * repetition, so broadcasting a `[B, 1, 1, h]` row to `[B, P, k, h]` cost 2·P·k kernels in the
 * backward pass (2,050 slices and adds per small-preset step). Here it is one reshape and one sum.
 * Registered on import (idempotent), for every backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "./lean_backward.ts";

function expandedDy(dy: tf.Tensor, x: tf.Tensor, axis: number | number[]): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const shape = x.shape.slice();
  for (const a of axes) shape[a] = 1;
  return tf.broadcastTo(tf.reshape(dy, shape), x.shape);
}

tf.registerGradient({
  kernelName: tf.Sum,
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { axis } = attrs as unknown as { axis: number | number[] };
    return { x: () => expandedDy(dy as tf.Tensor, x, axis) };
  },
});

tf.registerGradient({
  kernelName: tf.Mean,
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { axis } = attrs as unknown as { axis: number | number[] };
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const reduceSize = axes.reduce((n, a) => n * x.shape[a], 1);
    return { x: () => tf.div(expandedDy(dy as tf.Tensor, x, axis), reduceSize) };
  },
});

/**
 * Tile's gradient as a sum over the repetition axes: dy `[r₀·x₀, r₁·x₁, …]` viewed as
 * `[r₀, x₀, r₁, x₁, …]` (axes of size 1 dropped) and summed over the r axes. Pure.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tileGrad } from "./grad_fixes.ts";
 * const dy = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]); // tile of a [1, 2] row, reps [3, 1]
 * console.log(tileGrad(dy, [1, 2], [3, 1]).arraySync()); // [[9, 12]]
 * ```
 */
export function tileGrad(
  dy: tf.Tensor,
  xShape: readonly number[],
  reps: readonly number[],
): tf.Tensor {
  const view: number[] = [];
  const sumAxes: number[] = [];
  xShape.forEach((x, i) => {
    if (reps[i] > 1) {
      sumAxes.push(view.length);
      view.push(reps[i]);
    }
    if (x > 1) view.push(x);
  });
  if (sumAxes.length === 0) return tf.reshape(dy, [...xShape]);
  return tf.reshape(tf.sum(tf.reshape(dy, view), sumAxes), [...xShape]);
}

tf.registerGradient({
  kernelName: tf.Tile,
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { reps } = attrs as unknown as { reps: number[] };
    return { x: () => tileGrad(dy as tf.Tensor, x.shape, reps) };
  },
});
