/**
 * Our BatchMatMul kernel for tfjs's webgpu backend (the WGSL is in matmul_wgsl.ts). Same
 * semantics as the stock kernel: rank ≥ 2 inputs, transposeA/transposeB, batch dims broadcast
 * when one side has batch 1. Registered by `enableGpuKernels()`; tfjs's BatchMatMul gradient
 * calls matMul again, so backward passes run on it too.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid, onNvidia, type Uniform } from "./dispatch.ts";
import {
  MATMUL_TILE,
  MATMUL_TUNED_VARIANT,
  matmulFitsUnchecked,
  matmulVariantWgsl,
  matmulWgsl,
  splitKReduceWgsl,
  wholeSplits,
} from "./matmul_wgsl.ts";
import { smallMatmulGpu, useSmallMatmul } from "./small_matmul.ts";

/** Workgroups below which we split K: about two waves on a 132-SM H100. */
const TARGET_WORKGROUPS = 264;
/** Shortest k range one split-K workgroup gets (keeps the partial sums worth their traffic). */
const MIN_K_CHUNK = 256;

/**
 * WGSL form of our matmul. "loop": `matmulWgsl`'s loop form; "unrolled": the same kernel fully
 * unrolled by the generator; "tuned": {@link MATMUL_TUNED_VARIANT} (warp-tiled threads, nested
 * shared arrays, unchecked loads on whole tiles); "auto" (default): "tuned" on NVIDIA GPUs,
 * where it was measured, "unrolled" elsewhere (software adapters compile it slowly; other GPUs
 * are unmeasured).
 *
 * On an H100 (Deno 2.9.6 WebGPU → Vulkan, 2026-11-22, bench/matmul_sweep.ts) the loop form ran
 * at 1.5–1.9 TFLOP/s on every preset shape (the driver kept its register arrays in local
 * memory), the unrolled form at 22–30 (4096³: 29.3–29.7) and the tuned form at 35.6 (4096³).
 */
export type MatmulForm = "auto" | "tuned" | "unrolled" | "loop";

let formSetting: MatmulForm = "auto";

/**
 * Chooses the WGSL form of our matmul for later calls (see {@link MatmulForm}). Every form is
 * cached under its own pipeline keys and gives the same values up to float rounding.
 *
 * @example
 * ```ts
 * import { matmulForm, setMatmulForm } from "./matmul.ts";
 * setMatmulForm("tuned");
 * console.log(matmulForm()); // "tuned"
 * setMatmulForm("auto");
 * ```
 */
export function setMatmulForm(form: MatmulForm): void {
  if (!["auto", "tuned", "unrolled", "loop"].includes(form)) {
    throw new Error(
      `setMatmulForm: unknown form '${form}'; use "auto", "tuned", "unrolled" or "loop".`,
    );
  }
  formSetting = form;
}

/**
 * The form set by {@link setMatmulForm} ("auto" unless changed).
 *
 * @example
 * ```ts
 * import { matmulForm } from "./matmul.ts";
 * console.log(matmulForm()); // "auto"
 * ```
 */
export function matmulForm(): MatmulForm {
  return formSetting;
}

/**
 * The form the next call runs: "auto" resolved for the current backend's adapter.
 *
 * @example
 * ```ts
 * import { resolvedMatmulForm } from "./matmul.ts";
 * console.log(resolvedMatmulForm()); // "unrolled" off NVIDIA
 * ```
 */
export function resolvedMatmulForm(): Exclude<MatmulForm, "auto"> {
  if (formSetting !== "auto") return formSetting;
  return onNvidia() ? "tuned" : "unrolled";
}

/**
 * Older switch between the loop form (false) and the default (true: "auto", see
 * {@link setMatmulForm}).
 *
 * @example
 * ```ts
 * import { matmulUnrolled, setMatmulUnrolled } from "./matmul.ts";
 * setMatmulUnrolled(false);
 * console.log(matmulUnrolled()); // false
 * setMatmulUnrolled(true);
 * ```
 */
export function setMatmulUnrolled(on: boolean): void {
  formSetting = on ? "auto" : "loop";
}

/**
 * Whether our matmul currently emits an unrolled WGSL form ("unrolled" or "tuned").
 *
 * @example
 * ```ts
 * import { matmulUnrolled } from "./matmul.ts";
 * console.log(typeof matmulUnrolled()); // "boolean"
 * ```
 */
export function matmulUnrolled(): boolean {
  return resolvedMatmulForm() !== "loop";
}

/** Resolved geometry of one batched matmul. */
export interface MatmulPlan {
  /** Rows of op(A) and of C. */
  readonly m: number;
  /** Columns of op(B) and of C. */
  readonly n: number;
  /** Shared inner dimension. */
  readonly k: number;
  /** Batch count of C (after broadcasting). */
  readonly batches: number;
  /** Output shape: broadcast batch dims + [m, n]. */
  readonly outShape: number[];
  /** Split-K factor (1 = none) and the k range each split covers (multiple of the tile depth). */
  readonly splits: number;
  readonly kChunk: number;
}

/**
 * Checks shapes like tf.matMul and chooses tiles and split-K.
 *
 * @example
 * ```ts
 * import { planMatmul } from "./matmul.ts";
 * const p = planMatmul([256, 65536], [65536, 768], false, false);
 * console.log(p.m, p.n, p.splits > 1); // 256 768 true
 * ```
 */
export function planMatmul(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): MatmulPlan {
  if (aShape.length < 2 || bShape.length < 2) {
    throw new Error(
      `batchMatMul: inputs need rank ≥ 2, found a [${aShape}] and b [${bShape}]; reshape first.`,
    );
  }
  const ra = aShape.length, rb = bShape.length;
  const m = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const ka = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const kb = transposeB ? bShape[rb - 1] : bShape[rb - 2];
  const n = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  if (ka !== kb) {
    throw new Error(
      `batchMatMul: inner dims differ: a [${aShape}] (transposeA=${transposeA}) gives ${ka}, ` +
        `b [${bShape}] (transposeB=${transposeB}) gives ${kb}; they must match.`,
    );
  }
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(
    aShape.slice(0, -2),
    bShape.slice(0, -2),
  );
  const batches = outer.reduce((p, d) => p * d, 1);
  const tiles = Math.ceil(m / MATMUL_TILE.bm) * Math.ceil(n / MATMUL_TILE.bn) * batches;
  let splits = 1;
  if (tiles < TARGET_WORKGROUPS && ka >= 2 * MIN_K_CHUNK) {
    splits = Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(ka / MIN_K_CHUNK));
  }
  splits = wholeSplits(ka, splits, MATMUL_TILE.bk);
  // K = 0: one split over an empty range (the kernels then store zeros).
  const kChunk = ka === 0
    ? MATMUL_TILE.bk
    : Math.ceil(Math.ceil(ka / splits) / MATMUL_TILE.bk) * MATMUL_TILE.bk;
  splits = Math.max(1, Math.ceil(ka / kChunk));
  return { m, n, k: ka, batches, outShape: [...outer, m, n], splits, kChunk };
}

/**
 * Runs our tiled matmul on TensorInfos (the kernelFunc body); returns C with `plan.outShape`.
 *
 * @example
 * ```ts
 * import { batchMatMulGpu } from "./matmul.ts";
 * console.log(typeof batchMatMulGpu); // called by the registered BatchMatMul kernel
 * ```
 */
export function batchMatMulGpu(
  backend: WebGPUBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo {
  if (a.dtype !== "float32" || b.dtype !== "float32") {
    throw new Error(`batchMatMul (gpu): float32 inputs expected, found ${a.dtype} and ${b.dtype}.`);
  }
  const p = planMatmul(a.shape, b.shape, transposeA, transposeB);
  const batchA = a.shape.slice(0, -2).reduce((x, d) => x * d, 1);
  const batchB = b.shape.slice(0, -2).reduce((x, d) => x * d, 1);
  if ((batchA !== 1 && batchA !== p.batches) || (batchB !== 1 && batchB !== p.batches)) {
    throw new Error(
      `batchMatMul (gpu): batch dims of a [${a.shape}] and b [${b.shape}] must be equal or 1.`,
    );
  }
  if (useSmallMatmul(p.m, p.n, p.k)) {
    return smallMatmulGpu(backend, a, b, transposeA, transposeB, p, batchA, batchB);
  }
  const u = (value: number): Uniform => ({ type: "uint32", value });
  const uniforms = [
    u(p.m),
    u(p.n),
    u(p.k),
    u(p.batches),
    u(batchA === 1 ? 0 : p.m * p.k),
    u(batchB === 1 ? 0 : p.k * p.n),
    u(p.kChunk),
  ];
  // vec4 loads along each operand's contiguous axis when it is a multiple of 4.
  const vec4A = (transposeA ? p.m : p.k) % 4 === 0;
  const vec4B = (transposeB ? p.k : p.n) % 4 === 0;
  const vec4C = p.n % 4 === 0;
  const form = resolvedMatmulForm();
  // Unchecked global loads where the variant allows them (the tuned one: any shape).
  const unchecked = form === "tuned" &&
    matmulFitsUnchecked(MATMUL_TUNED_VARIANT, p.m, p.n, p.k, p.kChunk);
  const suffix = form === "loop" ? "" : form === "unrolled" ? "_u" : unchecked ? "_tu" : "_t";
  const launch = {
    key: `blt_matmul_${transposeA ? "T" : "N"}${transposeB ? "T" : "N"}_${vec4A ? 4 : 1}${
      vec4B ? 4 : 1
    }${vec4C ? 4 : 1}${suffix}`,
    wgsl: () =>
      form === "tuned"
        ? matmulVariantWgsl({ ...MATMUL_TUNED_VARIANT, unchecked }, {
          transposeA,
          transposeB,
          vec4A,
          vec4B,
          vec4C,
        })
        : matmulWgsl(transposeA, transposeB, vec4A, vec4B, vec4C, form === "unrolled"),
    workgroups: [
      Math.ceil(p.n / MATMUL_TILE.bn),
      Math.ceil(p.m / MATMUL_TILE.bm),
      p.batches * p.splits,
    ] as const,
  };
  if (p.splits === 1) {
    return dispatch(
      backend,
      launch,
      [a, b],
      [{ shape: p.outShape, dtype: "float32" }],
      uniforms,
    )[0];
  }
  const size = p.batches * p.m * p.n;
  const [partial] = dispatch(backend, launch, [a, b], [{
    shape: [p.splits, size],
    dtype: "float32",
  }], uniforms);
  const [out] = dispatch(
    backend,
    {
      key: "blt_splitk_reduce",
      wgsl: splitKReduceWgsl,
      workgroups: flatGrid(size, 256),
    },
    [partial],
    [{ shape: p.outShape, dtype: "float32" }],
    [u(size), u(p.splits)],
  );
  backend.disposeData(partial.dataId);
  return out;
}
