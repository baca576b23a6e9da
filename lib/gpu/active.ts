/**
 * Whether the model layers should take the fused webgpu kernels. Kept apart from register.ts so
 * that lib/model can ask without importing `@tensorflow/tfjs-backend-webgpu` (whose import
 * registers the backend and would change the default backend of CPU-only users).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Kernel name under which the stock webgpu BatchMatMul stays registered. */
export const STOCK_BATCH_MAT_MUL = "StockBatchMatMul";

/** Kernel name under which the stock webgpu UnsortedSegmentSum stays registered. */
export const STOCK_UNSORTED_SEGMENT_SUM = "StockUnsortedSegmentSum";

/**
 * True when the active backend is webgpu and `enableGpuKernels()` has run (it keeps the stock
 * BatchMatMul under {@link STOCK_BATCH_MAT_MUL}, so the registry is the single source of truth).
 *
 * @example
 * ```ts
 * import { fusedKernelsActive } from "./active.ts";
 * console.log(typeof fusedKernelsActive()); // "boolean"
 * ```
 */
export function fusedKernelsActive(): boolean {
  return tf.getBackend() === "webgpu" && tf.getKernel(STOCK_BATCH_MAT_MUL, "webgpu") !== undefined;
}
