/**
 * Timing helpers for kernels and benchmarks: wall-clock ms per call after warm-up, synchronised
 * with the GPU queue (webgpu) or a read-back (other backends), and the FLOP counts we report.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { gpuFinish, webgpuBackend } from "./dispatch.ts";

/** Result of timing one kernel call. */
export interface KernelTiming {
  /** Mean milliseconds per call. */
  readonly ms: number;
  /** Achieved GFLOP/s (NaN when no FLOP count was given). */
  readonly gflops: number;
  /** Achieved TFLOP/s (NaN when no FLOP count was given). */
  readonly tflops: number;
}

/** How to time: FLOPs of one call, warm-up calls (compile, buffer pool), timed calls. */
export interface TimingOptions {
  readonly flops?: number;
  readonly warmup?: number;
  readonly iters?: number;
}

async function finish(result: tf.Tensor | tf.Tensor[]): Promise<void> {
  if (tf.getBackend() === "webgpu") {
    await gpuFinish(webgpuBackend());
    return;
  }
  const first = Array.isArray(result) ? result[0] : result;
  await first.data();
}

/**
 * Times `fn` (its tensors are disposed after each call).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { timeKernel, matmulFlops } from "./timing.ts";
 * const a = tf.ones([32, 32]);
 * const t = await timeKernel(() => tf.matMul(a, a), { flops: matmulFlops(32, 32, 32), iters: 2 });
 * console.log(t.ms > 0); // true
 * ```
 */
export async function timeKernel(
  fn: () => tf.Tensor | tf.Tensor[],
  opts: TimingOptions = {},
): Promise<KernelTiming> {
  const warmup = opts.warmup ?? 2, iters = opts.iters ?? 10;
  if (!Number.isInteger(iters) || iters < 1) {
    throw new Error(`timeKernel: iters must be an integer ≥ 1, found ${iters}.`);
  }
  for (let i = 0; i < warmup; i++) {
    const r = fn();
    await finish(r);
    tf.dispose(r);
  }
  const start = performance.now();
  let last: tf.Tensor | tf.Tensor[] = [];
  for (let i = 0; i < iters; i++) {
    tf.dispose(last);
    last = fn();
  }
  await finish(last);
  const ms = (performance.now() - start) / iters;
  tf.dispose(last);
  const gflops = opts.flops === undefined ? NaN : opts.flops / (ms * 1e6);
  return { ms, gflops, tflops: gflops / 1e3 };
}

/**
 * FLOPs of a (batched) matmul [m, k] × [k, n]: 2·m·n·k per batch.
 *
 * @example
 * ```ts
 * import { matmulFlops } from "./timing.ts";
 * console.log(matmulFlops(16 * 4096, 768, 256)); // 25769803776
 * ```
 */
export function matmulFlops(m: number, n: number, k: number, batch = 1): number {
  return 2 * m * n * k * batch;
}

/**
 * FLOPs of an attention forward (QKᵀ and PV) over [B, H, T, D]; causal counts half the pairs.
 *
 * @example
 * ```ts
 * import { attentionFlops } from "./timing.ts";
 * console.log(attentionFlops(1, 1, 4, 8, false)); // 512
 * ```
 */
export function attentionFlops(
  b: number,
  h: number,
  t: number,
  d: number,
  causal: boolean,
): number {
  return 4 * b * h * t * t * d * (causal ? 0.5 : 1);
}
