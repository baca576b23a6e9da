/**
 * RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + ε) · g, the norm of every BLT stack.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Normalizes the last axis of `x` (`[..., h]`) by its root mean square and scales by `weight`
 * (`[h]`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { rmsNorm } from "./rms_norm.ts";
 * const y = rmsNorm(tf.tensor2d([[3, 4]]), tf.ones([2]), 0); // rms = sqrt(12.5)
 * console.log(y.arraySync()); // ≈ [[0.8485, 1.1314]]
 * ```
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
  });
}
