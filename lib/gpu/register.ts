/**
 * Registers our WGSL kernels into tfjs's webgpu backend. BatchMatMul is overridden (the stock
 * kernel stays callable as `StockBatchMatMul`, for tests and benchmarks); the fused kernels get
 * their own kernel names and are reached through the functions in this folder.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { batchMatMulGpu } from "./matmul.ts";
import { fusedKernelConfigs } from "./fused_kernels.ts";
import { STOCK_BATCH_MAT_MUL } from "./active.ts";

export { STOCK_BATCH_MAT_MUL };

let stock: tf.KernelConfig | undefined;

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
  if (stock !== undefined) return;
  const original = tf.getKernel(tf.BatchMatMul, "webgpu");
  if (original === undefined) {
    throw new Error(
      `No stock BatchMatMul kernel for 'webgpu' is registered; import ` +
        `"@tensorflow/tfjs-backend-webgpu" (same version as @tensorflow/tfjs) before enabling.`,
    );
  }
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
  for (const config of fusedKernelConfigs) {
    if (tf.getKernel(config.kernelName, "webgpu") === undefined) tf.registerKernel(config);
  }
}

/**
 * Puts the stock BatchMatMul back (our fused kernels stay registered; nothing else uses them).
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
}

/**
 * Whether our BatchMatMul currently replaces the stock one.
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
