/**
 * Registers our WGSL kernels into tfjs's webgpu backend. BatchMatMul, UnsortedSegmentSum (the
 * gradient of tf.gather), the vec4 unary ops (unary.ts) and Sum (row_sum.ts: the last axis of
 * float32 tensors; `setRowSumEnabled(false)` turns it off) are overridden (the stock kernels stay callable as `StockBatchMatMul`
 * and `StockUnsortedSegmentSum`, for tests and benchmarks); the fused kernels get their own
 * kernel names and are reached through the functions in this folder.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { batchMatMulGpu } from "./matmul.ts";
import { fusedKernelConfigs } from "./fused_kernels.ts";
import { segmentSumKernelConfig } from "./segment_sum.ts";
import { STOCK_BATCH_MAT_MUL, STOCK_UNSORTED_SEGMENT_SUM } from "./active.ts";
import { enableHostCaching } from "./host_cache.ts";
import { UNARY_VEC4, unaryKernelConfig } from "./unary.ts";
import { rowSumKernelConfig } from "./row_sum.ts";

export { STOCK_BATCH_MAT_MUL, STOCK_UNSORTED_SEGMENT_SUM };

// The stock configs we replaced; both set or both undefined.
let stock: tf.KernelConfig | undefined;
let stockSegmentSum: tf.KernelConfig | undefined;

// tfjs's unary kernels replaced by lib/gpu/unary.ts's vec4 forms, by name.
const stockUnary = new Map<string, tf.KernelConfig>();

// tfjs's Sum, replaced by lib/gpu/row_sum.ts's last-axis row sum (which falls back to it).
let stockSum: tf.KernelConfig | undefined;

function stockKernel(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, "webgpu");
  if (config === undefined) {
    throw new Error(
      `No stock ${name} kernel for 'webgpu' is registered; import ` +
        `"@tensorflow/tfjs-backend-webgpu" (same version as @tensorflow/tfjs) before enabling.`,
    );
  }
  return config;
}

/**
 * Registers all our webgpu kernels (idempotent). Works before or after `tf.setBackend("webgpu")`.
 *
 * @example
 * ```ts
 * import { enableGpuKernels, gpuKernelsEnabled } from "./register.ts";
 * enableGpuKernels();
 * console.log(gpuKernelsEnabled()); // true
 * ```
 */
export function enableGpuKernels(): void {
  // The host caches (lib/gpu/host_cache.ts) go on the webgpu backend once it exists; findBackend
  // does not initialise one as a side effect.
  const gpu = tf.findBackend("webgpu");
  if (gpu !== null && tf.engine().backendName === "webgpu") {
    enableHostCaching(gpu as unknown as WebGPUBackend);
  }
  if (stock !== undefined) return;
  const original = stockKernel(tf.BatchMatMul);
  const originalSegmentSum = stockKernel(tf.UnsortedSegmentSum);
  stock = original;
  tf.registerKernel({ ...original, kernelName: STOCK_BATCH_MAT_MUL });
  tf.unregisterKernel(tf.BatchMatMul, "webgpu");
  tf.registerKernel({
    kernelName: tf.BatchMatMul,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
      return batchMatMulGpu(backend as WebGPUBackend, a, b, transposeA, transposeB);
    },
  });
  stockSegmentSum = originalSegmentSum;
  tf.registerKernel({ ...originalSegmentSum, kernelName: STOCK_UNSORTED_SEGMENT_SUM });
  tf.unregisterKernel(tf.UnsortedSegmentSum, "webgpu");
  tf.registerKernel(segmentSumKernelConfig(originalSegmentSum.kernelFunc));
  for (const name of Object.keys(UNARY_VEC4)) {
    const original = stockKernel(name);
    stockUnary.set(name, original);
    tf.unregisterKernel(name, "webgpu");
    tf.registerKernel(unaryKernelConfig(name, original));
  }
  stockSum = stockKernel(tf.Sum);
  tf.unregisterKernel(tf.Sum, "webgpu");
  tf.registerKernel(rowSumKernelConfig(stockSum));
  for (const config of fusedKernelConfigs) {
    if (tf.getKernel(config.kernelName, "webgpu") === undefined) tf.registerKernel(config);
  }
}

/**
 * Puts the stock BatchMatMul, UnsortedSegmentSum, unary and Sum kernels back (our fused kernels stay registered;
 * nothing else uses them).
 *
 * @example
 * ```ts
 * import { disableGpuKernels, enableGpuKernels, gpuKernelsEnabled } from "./register.ts";
 * enableGpuKernels();
 * disableGpuKernels();
 * console.log(gpuKernelsEnabled()); // false
 * ```
 */
export function disableGpuKernels(): void {
  if (stock === undefined) return;
  tf.unregisterKernel(tf.BatchMatMul, "webgpu");
  tf.unregisterKernel(STOCK_BATCH_MAT_MUL, "webgpu");
  tf.registerKernel(stock);
  stock = undefined;
  for (const [name, original] of stockUnary) {
    tf.unregisterKernel(name, "webgpu");
    tf.registerKernel(original);
  }
  stockUnary.clear();
  if (stockSum !== undefined) {
    tf.unregisterKernel(tf.Sum, "webgpu");
    tf.registerKernel(stockSum);
    stockSum = undefined;
  }
  if (stockSegmentSum !== undefined) {
    tf.unregisterKernel(tf.UnsortedSegmentSum, "webgpu");
    tf.unregisterKernel(STOCK_UNSORTED_SEGMENT_SUM, "webgpu");
    tf.registerKernel(stockSegmentSum);
    stockSegmentSum = undefined;
  }
}

/**
 * Whether our BatchMatMul and UnsortedSegmentSum currently replace the stock ones.
 *
 * @example
 * ```ts
 * import { gpuKernelsEnabled } from "./register.ts";
 * console.log(typeof gpuKernelsEnabled()); // "boolean"
 * ```
 */
export function gpuKernelsEnabled(): boolean {
  return stock !== undefined;
}

/**
 * tf.matMul through the stock webgpu kernel, whatever is registered as BatchMatMul (no gradient).
 * Needs `enableGpuKernels()` first and the webgpu backend active.
 *
 * @example
 * ```ts
 * import { stockMatMul } from "./register.ts";
 * console.log(typeof stockMatMul);
 * ```
 */
export function stockMatMul(
  a: tf.Tensor,
  b: tf.Tensor,
  transposeA = false,
  transposeB = false,
): tf.Tensor {
  if (stock === undefined) {
    throw new Error("stockMatMul: call enableGpuKernels() first (it keeps the stock kernel).");
  }
  return tf.engine().runKernel(
    STOCK_BATCH_MAT_MUL,
    { a, b } as unknown as tf.NamedTensorMap,
    { transposeA, transposeB },
  ) as tf.Tensor;
}

/**
 * tf.unsortedSegmentSum through the stock webgpu kernel, whatever is registered as
 * UnsortedSegmentSum (no gradient). The stock kernel wraps ids ≥ numSegments modulo numSegments;
 * ours and the cpu backend drop them. Needs `enableGpuKernels()` first and the webgpu backend.
 *
 * @example
 * ```ts
 * import { stockUnsortedSegmentSum } from "./register.ts";
 * console.log(typeof stockUnsortedSegmentSum);
 * ```
 */
export function stockUnsortedSegmentSum(
  x: tf.Tensor,
  segmentIds: tf.Tensor,
  numSegments: number,
): tf.Tensor {
  if (stockSegmentSum === undefined) {
    throw new Error(
      "stockUnsortedSegmentSum: call enableGpuKernels() first (it keeps the stock kernel).",
    );
  }
  return tf.engine().runKernel(
    STOCK_UNSORTED_SEGMENT_SUM,
    { x, segmentIds } as unknown as tf.NamedTensorMap,
    { numSegments },
  ) as tf.Tensor;
}
