// Shared by the gpu tests: selects tfjs's webgpu backend (the software adapter on CPU machines)
// and registers our kernels once.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { enableGpuKernels } from "../../lib/gpu/register.ts";

export async function useWebgpu(): Promise<void> {
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error("tfjs could not initialise the 'webgpu' backend (navigator.gpu missing?).");
  }
  enableGpuKernels();
}

/** Largest |a - b| between two tensors of the same shape (reads back asynchronously). */
export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  if (x.length !== y.length) throw new Error(`sizes differ: ${x.length} vs ${y.length}`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** Seeded uniform values in [-1, 1) (deterministic test inputs). */
export function seeded(shape: number[], seed: number): tf.Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((p, d) => p * d, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return tf.tensor(v, shape);
}
