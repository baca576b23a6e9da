/**
 * The list of our own (non-overriding) webgpu kernel configs, registered by enableGpuKernels().
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { adamwKernelConfig } from "./adamw.ts";
import { attentionKernelConfigs } from "./attention.ts";
import { gatherSumKernelConfig } from "./gather_sum.ts";
import { sumSquaresKernelConfig } from "./sum_squares.ts";
import { rmsNormKernelConfigs } from "./rms_norm.ts";
import { ropeKernelConfigs } from "./rope.ts";
import { swigluKernelConfigs } from "./swiglu.ts";

/**
 * All fused kernels of lib/gpu as tfjs KernelConfigs.
 *
 * @example
 * ```ts
 * import { fusedKernelConfigs } from "./fused_kernels.ts";
 * console.log(fusedKernelConfigs.every((c: { backendName: string }) => c.backendName === "webgpu")); // true
 * ```
 */
export const fusedKernelConfigs: readonly tf.KernelConfig[] = [
  ...attentionKernelConfigs,
  ...rmsNormKernelConfigs,
  ...ropeKernelConfigs,
  ...swigluKernelConfigs,
  adamwKernelConfig,
  gatherSumKernelConfig,
  sumSquaresKernelConfig,
];
