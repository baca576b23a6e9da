/**
 * Gradients of Sum and Mean without `tf.ones(x.shape)`. tfjs 4.22 writes them as
 * `dy · ones(x.shape)`, and `tf.ones` builds its values on the CPU: on WebGPU every such
 * gradient uploaded a fresh buffer of the input's size (92 MB per tiny-preset training step, most
 * of the 4 s a step took on an H100), and on wasm it allocated and copied the same. Broadcasting
 * `dy` back to the input's shape is the same value, computed on the device.
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
