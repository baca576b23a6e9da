/**
 * Hand-written WGSL kernels for tfjs's webgpu backend: a tiled BatchMatMul that replaces the
 * stock one (so plain `tf.matMul` models speed up unchanged), an UnsortedSegmentSum that
 * replaces the stock one (tf.gather's gradient), fused attention, RMSNorm, SwiGLU,
 * RoPE and AdamW, plus timing helpers for benchmarks.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { enableGpuKernels } from "./mod.ts";
 * if (tf.getBackend() === "webgpu") enableGpuKernels(); // then tf.matMul runs our kernel
 * ```
 *
 * @module
 */
export {
  disableGpuKernels,
  enableGpuKernels,
  gpuKernelsEnabled,
  STOCK_BATCH_MAT_MUL,
  STOCK_UNSORTED_SEGMENT_SUM,
  stockMatMul,
  stockUnsortedSegmentSum,
} from "./register.ts";
export {
  planSegmentSum,
  SEGMENT_SUM_ROWS,
  segmentSumGpu,
  segmentSumGrid,
  segmentSumKernelConfig,
  type SegmentSumPlan,
} from "./segment_sum.ts";
export {
  type MatmulForm,
  matmulForm,
  type MatmulPlan,
  matmulUnrolled,
  planMatmul,
  resolvedMatmulForm,
  setMatmulForm,
  setMatmulUnrolled,
} from "./matmul.ts";
export {
  attentionForward,
  attentionRowsPerThread,
  attentionTuning,
  attentionUnrolled,
  type AttnKernelKind,
  type AttnRowsPerThread,
  type AttnTuning,
  autoRowsPerThread,
  autoTuning,
  clearAttentionTuning,
  fusedAttention,
  resolvedRowsPerThread,
  setAttentionRowsPerThread,
  setAttentionTuning,
  setAttentionUnrolled,
} from "./attention.ts";
export { type AttentionOptions, referenceAttention } from "./attention_reference.ts";
export { rmsNorm } from "./rms_norm.ts";
export { swiglu } from "./swiglu.ts";
export { ropeFits, ropeGpu } from "./rope.ts";
export { type AdamWHyper, adamwStep } from "./adamw.ts";
export {
  attentionFlops,
  type KernelTiming,
  matmulFlops,
  timeKernel,
  type TimingOptions,
} from "./timing.ts";
export { fusedKernelsActive } from "./active.ts";
export {
  enableHostCaching,
  type HostCacheStats,
  hostCacheStats,
  hostCaching,
  setHostCaching,
} from "./host_cache.ts";
export { gpuChecked, type GpuFault, GpuFaultError, gpuFaultError, gpuGuard } from "./guard.ts";
export {
  ROW_SUM_DEFAULT,
  rowSumEnabled,
  type RowSumSettings,
  rowSumSettings,
  setRowSumEnabled,
  setRowSumForm,
} from "./row_sum.ts";
export { setUnaryForm, unaryForm } from "./unary.ts";
export { onNvidia } from "./dispatch.ts";
