/**
 * RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + ε) · g, the norm of every BLT stack.
 * On webgpu with lib/gpu's kernels enabled it runs as one fused dispatch forward (and one for
 * dx) instead of six elementwise/reduce kernels, which dominate small-model steps there; on wasm
 * its big passes are fused SIMD passes (lib/wasm_elementwise.ts, same float32 values).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedKernelsActive } from "../../gpu/active.ts";
import { rmsNorm as fusedRmsNorm } from "../../gpu/rms_norm.ts";
import { rmsNormWasm } from "../../wasm_elementwise.ts";

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
  if (fusedKernelsActive() && x.dtype === "float32" && weight.rank === 1) {
    return fusedRmsNorm(x, weight, eps);
  }
  // wasm: the big passes fused, bit for bit the tf ops below (lib/wasm_elementwise.ts)
  const fused = rmsNormWasm(x, weight, eps);
  if (fused !== null) return fused;
  return tf.tidy(() => {
    const meanSquare = tf.mean(tf.square(x), -1, true); // [..., 1]
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
  });
}
