/**
 * Fused attention on the webgpu backend: `fusedAttention(q, k, v, opts)` with q, k, v shaped
 * [B, heads, T, headDim], causal / sliding-window / document (block-causal) masks, an online
 * softmax forward that keeps the log-sum-exp, and a FlashAttention-2 style backward
 * (tf.customGrad). `referenceAttention` (attention_reference.ts) is the plain-tfjs oracle.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, onNvidia, webgpuBackend } from "./dispatch.ts";
import {
  type AttnRowsPerThread,
  attnRowsPerWorkgroup,
  attnThreads,
  type AttnVariant,
} from "./attention_wgsl.ts";
import {
  attentionBackwardDkvRowsWgsl,
  attentionBackwardDqRowsWgsl,
  attentionForwardRowsWgsl,
} from "./attention_rows_wgsl.ts";
import { type AttentionOptions, resolveAttention } from "./attention_reference.ts";

export type { AttentionOptions } from "./attention_reference.ts";
export type { AttnRowsPerThread } from "./attention_wgsl.ts";

/** Kernel names registered on the webgpu backend by enableGpuKernels(). */
export const ATTENTION_KERNELS = Object.freeze({
  forward: "BltAttentionForward",
  backwardDq: "BltAttentionBackwardDq",
  backwardDkv: "BltAttentionBackwardDkv",
});

// Not yet measured for attention: chosen from the matmul evidence (see setAttentionUnrolled).
let unrolledForm = true;

/**
 * Chooses the WGSL form of the fused attention kernels (forward, dQ, dK/dV) for later calls:
 * true (default) the unrolled form (per-thread register arrays as named registers, every loop
 * over the head's vec4 lanes and the forward's score registers unrolled by the generator; see
 * `AttnVariant.unrolled`), false the loop form (`var q: array<vec4<f32>, D4>` indexed in loops).
 * Both are cached under their own pipeline keys and give the same results.
 *
 * The default follows the matmul evidence (H100, Deno 2.9.6 WebGPU → Vulkan: loop-indexed
 * register arrays ran 12–20× slower than unrolled ones in bench/matmul_sweep.ts). The attention
 * speed-up itself is NOT yet measured on a GPU: compare the two forms with
 * `deno run -A bench/gpu_kernels.ts --only attention` (it times forward, dQ and dK/dV in both
 * forms and plain tfjs on the presets' shapes) before relying on it.
 *
 * @example
 * ```ts
 * import { attentionUnrolled, setAttentionUnrolled } from "./attention.ts";
 * setAttentionUnrolled(false);
 * console.log(attentionUnrolled()); // false
 * setAttentionUnrolled(true);
 * ```
 */
export function setAttentionUnrolled(on: boolean): void {
  if (typeof on !== "boolean") {
    throw new Error(`setAttentionUnrolled: 'on' must be a boolean, found ${typeof on}`);
  }
  unrolledForm = on;
}

/**
 * Whether the fused attention kernels currently emit the unrolled WGSL form.
 *
 * @example
 * ```ts
 * import { attentionUnrolled } from "./attention.ts";
 * console.log(typeof attentionUnrolled()); // "boolean"
 * ```
 */
export function attentionUnrolled(): boolean {
  return unrolledForm;
}

/** Which of the three fused attention kernels a rows-per-thread choice is for. */
export type AttnKernelKind = "forward" | "dq" | "dkv";

/**
 * Rows per thread chosen by "auto" on NVIDIA GPUs: {@link autoTuning}'s rows. Pure.
 *
 * @example
 * ```ts
 * import { autoRowsPerThread } from "./attention.ts";
 * console.log(autoRowsPerThread("forward", 32), autoRowsPerThread("dkv", 32)); // 2 1
 * ```
 */
export function autoRowsPerThread(kind: AttnKernelKind, headDim: number): AttnRowsPerThread {
  return autoTuning(kind, headDim).rows ?? 1;
}

/**
 * The form "auto" picks on NVIDIA GPUs, from the H100 sweep of 2026-11-22 18:31 UTC
 * (`bench/attention_sweep.ts`, GPU timestamps, causal, the small and medium presets' shapes;
 * bench/README.md): every kernel splits its blocks (unmasked bodies below the diagonal);
 * headDim ≤ 32 (the local layers): forward and dQ 2 rows per thread, dK/dV 1, all in workgroups
 * of 128 threads (small local [16,8,4096,32] forward ≈ 9 → 5.5 ms, dQ 18.6 → 8.3, dK/dV 18.2 →
 * 10.1); headDim > 32 (the global layers): one row per thread, forward and dQ in 128 threads,
 * the forward scoring 4 keys per chunk (medium global [16,16,1025,64] forward 15.6 → 3.5 ms, dQ
 * 6.5 → 3.4, dK/dV 8.1 → 7.7; the forward's 128 threads from the second sweep, 19:07 UTC: small
 * step 452 → 442 ms). dK/dV at headDim > 32 as two kernels (`parts`, sixth session, 21:27 UTC:
 * the one-kernel form holds 256 floats per key row at headDim 64; medium global dK/dV 7.7 →
 * 4.8 ms by the sweep; with parts in 64 threads the small step 406 → 394 ms and medium 1566 →
 * 1549 ms, in 128 threads as here small 385–391 ms and medium 1507–1511 ms).
 * Head sizes other than 32 and 64 take the nearer one's form (unmeasured). Pure.
 *
 * @example
 * ```ts
 * import { autoTuning } from "./attention.ts";
 * console.log(autoTuning("dkv", 32)); // { rows: 1, split: true, threads: 128 }
 * ```
 */
export function autoTuning(kind: AttnKernelKind, headDim: number): AttnTuning {
  const local = headDim <= 32;
  if (kind === "forward") {
    return local
      ? { rows: 2, split: true, threads: 128 }
      : { rows: 1, split: true, threads: 128, scoreChunk: 4 };
  }
  if (kind === "dq") return { rows: local ? 2 : 1, split: true, threads: 128 };
  return local
    ? { rows: 1, split: true, threads: 128 }
    : { rows: 1, split: true, threads: 128, parts: true };
}

let rowsPerThread: AttnRowsPerThread | "auto" = "auto";

/**
 * Rows per thread the next `kind` kernel at `headDim` will use: the explicit setting, or for
 * "auto" {@link autoRowsPerThread} on NVIDIA adapters (where it was measured) and 1 elsewhere
 * (software adapters compile the R > 1 unrolled kernels very slowly; other GPUs are unmeasured).
 *
 * @example
 * ```ts
 * import { resolvedRowsPerThread } from "./attention.ts";
 * console.log(resolvedRowsPerThread("dkv", 32)); // 1
 * ```
 */
export function resolvedRowsPerThread(kind: AttnKernelKind, headDim: number): AttnRowsPerThread {
  if (rowsPerThread !== "auto") return rowsPerThread;
  return onNvidia() ? autoRowsPerThread(kind, headDim) : 1;
}

/**
 * Chooses how many query rows (forward, dQ) or key rows (dK/dV) each thread of the fused
 * attention kernels owns for later calls: 1 (default), 2 or 4. With R rows a workgroup of 64
 * threads covers 64·R rows and every K/V (Q/dO) value it loads from workgroup memory feeds R rows
 * from registers (attention_rows_wgsl.ts); results equal R = 1 up to float rounding. More rows
 * need more registers per thread (forward ≈ 2·R·headDim + R·CH floats, dK/dV 4·R·headDim), so
 * the best R depends on the head size and the GPU: measure with
 * `deno run -A bench/gpu_kernels.ts --only attention --rows-per-thread 1,2,4`. "auto" (the
 * default) picks per kernel and head size on NVIDIA GPUs ({@link resolvedRowsPerThread}).
 *
 * @example
 * ```ts
 * import { attentionRowsPerThread, setAttentionRowsPerThread } from "./attention.ts";
 * setAttentionRowsPerThread(2);
 * console.log(attentionRowsPerThread()); // 2
 * setAttentionRowsPerThread(1);
 * ```
 */
export function setAttentionRowsPerThread(r: AttnRowsPerThread | "auto"): void {
  if (r !== 1 && r !== 2 && r !== 4 && r !== "auto") {
    throw new Error(
      `setAttentionRowsPerThread: rows per thread must be 1, 2, 4 or "auto", found ${r}`,
    );
  }
  rowsPerThread = r;
}

/**
 * Rows per thread of the fused attention kernels (see `setAttentionRowsPerThread`).
 *
 * @example
 * ```ts
 * import { attentionRowsPerThread } from "./attention.ts";
 * console.log(attentionRowsPerThread()); // "auto"
 * ```
 */
export function attentionRowsPerThread(): AttnRowsPerThread | "auto" {
  return rowsPerThread;
}

let scoreChunk: number | "auto" = "auto";

/**
 * Keys per score chunk of the R > 1 forward kernel for later calls ("auto": the default of
 * `attnScoreChunk`, 32 / R keys). For tuning with `bench/gpu_kernels.ts --chunks`; a chunk that
 * does not divide a head size's staged block is refused when a kernel is built.
 *
 * @example
 * ```ts
 * import { setAttentionScoreChunk } from "./attention.ts";
 * setAttentionScoreChunk(8);
 * setAttentionScoreChunk("auto");
 * ```
 */
export function setAttentionScoreChunk(ch: number | "auto"): void {
  if (ch !== "auto" && (!Number.isInteger(ch) || ch < 1)) {
    throw new Error(`setAttentionScoreChunk: a whole number ≥ 1 or "auto", found ${ch}.`);
  }
  scoreChunk = ch;
}

let layoutChoice: "bhtd" | "bthd" | "auto" = "auto";

/**
 * Chooses the layout the models hand to the fused kernels on webgpu for later calls: "bthd"
 * (q, k, v straight from the projections as [B, T, H, D]; RoPE, attention and its gradients
 * without the head transposes), "bhtd" (transposed to [B, H, T, D] first, as on the CPU), or
 * "auto" (default): "bthd" on NVIDIA GPUs, where the tuned forms run, "bhtd" elsewhere (the
 * software adapter keeps the kernels it has compiled). Same results either way.
 *
 * @example
 * ```ts
 * import { attentionLayout, setAttentionLayout } from "./attention.ts";
 * setAttentionLayout("bhtd");
 * console.log(attentionLayout()); // "bhtd"
 * setAttentionLayout("auto");
 * ```
 */
export function setAttentionLayout(layout: "bhtd" | "bthd" | "auto"): void {
  if (layout !== "bhtd" && layout !== "bthd" && layout !== "auto") {
    throw new Error(`setAttentionLayout: "bhtd", "bthd" or "auto", found '${layout}'`);
  }
  layoutChoice = layout;
}

/**
 * The layout the models use for the fused kernels now ("auto" resolved on the current backend).
 *
 * @example
 * ```ts
 * import { attentionLayout } from "./attention.ts";
 * console.log(attentionLayout()); // "bhtd" off NVIDIA
 * ```
 */
export function attentionLayout(): "bhtd" | "bthd" {
  if (layoutChoice !== "auto") return layoutChoice;
  return onNvidia() ? "bthd" : "bhtd";
}

/** Per-kernel overrides of the generated form (`setAttentionTuning`). */
export interface AttnTuning {
  /** Rows per thread (overrides `setAttentionRowsPerThread` for this kernel). */
  readonly rows?: AttnRowsPerThread;
  /** Threads per workgroup: 32, 64 (default), 128 or 256. */
  readonly threads?: number;
  /** Unmasked bodies for the staged blocks every row sees whole (`AttnVariant.split`). */
  readonly split?: boolean;
  /** Keys per score chunk (forward only; overrides `setAttentionScoreChunk`). */
  readonly scoreChunk?: number;
  /**
   * dK/dV only: two kernels, dV then dK (`AttnVariant.part`), each holding fewer registers per
   * row than the one that computes both (at headDim 64 that one needs 256 floats per row).
   */
  readonly parts?: boolean;
}

/** Overrides by `kind` (every head size) and `kind@headDim` (that head size, preferred). */
const tunings = new Map<string, AttnTuning>();
const KINDS: readonly AttnKernelKind[] = ["forward", "dq", "dkv"];

/**
 * Overrides the generated form of one fused attention kernel for later calls (`{}` clears them):
 * rows per thread, workgroup size, split blocks, the forward's score chunk; for one head size
 * when `headDim` is given (it wins over the kind-wide setting). Results equal the default form
 * up to float rounding; for tuning with `bench/gpu_kernels.ts --sweep`.
 *
 * @example
 * ```ts
 * import { attentionTuning, setAttentionTuning } from "./attention.ts";
 * setAttentionTuning("dkv", { threads: 128, split: true });
 * console.log(attentionTuning("dkv").threads); // 128
 * setAttentionTuning("dkv", {});
 * ```
 */
export function setAttentionTuning(
  kind: AttnKernelKind,
  tuning: AttnTuning,
  headDim?: number,
): void {
  if (!KINDS.includes(kind)) {
    throw new Error(`setAttentionTuning: kind must be forward, dq or dkv, found '${kind}'`);
  }
  const t = tuning ?? {};
  if (t.rows !== undefined && ![1, 2, 4].includes(t.rows)) {
    throw new Error(`setAttentionTuning: rows must be 1, 2 or 4, found ${t.rows}`);
  }
  if (t.threads !== undefined) attnThreads({ headDim: 4, hasDoc: false, threads: t.threads });
  if (t.split !== undefined && typeof t.split !== "boolean") {
    throw new Error(`setAttentionTuning: split must be a boolean, found ${typeof t.split}`);
  }
  if (t.parts !== undefined && (typeof t.parts !== "boolean" || kind !== "dkv")) {
    throw new Error(
      `setAttentionTuning: parts (a boolean) is for the dkv kernel only, found ${
        JSON.stringify(t.parts)
      } for '${kind}'`,
    );
  }
  if (t.scoreChunk !== undefined && (!Number.isInteger(t.scoreChunk) || t.scoreChunk < 1)) {
    throw new Error(
      `setAttentionTuning: scoreChunk must be a whole number ≥ 1, found ${t.scoreChunk}`,
    );
  }
  if (headDim !== undefined && (!Number.isInteger(headDim) || headDim < 4 || headDim % 4 !== 0)) {
    throw new Error(`setAttentionTuning: headDim must be a multiple of 4, found ${headDim}`);
  }
  const key = headDim === undefined ? kind : `${kind}@${headDim}`;
  if (Object.keys(t).length === 0) tunings.delete(key);
  else tunings.set(key, Object.freeze({ ...t }));
}

/**
 * Clears every `setAttentionTuning` override (all kinds and head sizes).
 *
 * @example
 * ```ts
 * import { clearAttentionTuning } from "./attention.ts";
 * clearAttentionTuning();
 * ```
 */
export function clearAttentionTuning(): void {
  tunings.clear();
}

/**
 * The overrides `setAttentionTuning` set for one kernel.
 *
 * @example
 * ```ts
 * import { attentionTuning } from "./attention.ts";
 * console.log(attentionTuning("forward")); // {}
 * ```
 */
export function attentionTuning(kind: AttnKernelKind, headDim?: number): AttnTuning {
  return (headDim === undefined ? undefined : tunings.get(`${kind}@${headDim}`)) ??
    tunings.get(kind) ?? {};
}

function variantOf(
  q: tf.TensorInfo,
  hasDoc: boolean,
  kind: AttnKernelKind,
  attrs: tf.NamedAttrMap | undefined,
): AttnVariant & { readonly parts?: boolean } {
  const headDim = q.shape[3];
  const layout = attrs?.layout === "bthd" ? { layout: "bthd" as const } : {};
  const set = attentionTuning(kind, headDim);
  // "auto" on NVIDIA: the measured form, unless rows or a tuning were set explicitly.
  const t = Object.keys(set).length === 0 && rowsPerThread === "auto" && onNvidia()
    ? autoTuning(kind, headDim)
    : set;
  const rows = t.rows ?? resolvedRowsPerThread(kind, headDim);
  const chunk = t.scoreChunk ?? (scoreChunk === "auto" ? undefined : scoreChunk);
  const chunked = kind === "forward" && (rows > 1 || t.threads !== undefined || t.split === true);
  return {
    headDim,
    hasDoc,
    unrolled: unrolledForm,
    rows,
    ...(t.threads === undefined ? {} : { threads: t.threads }),
    ...(t.split === undefined ? {} : { split: t.split }),
    ...(chunk === undefined || !chunked ? {} : { scoreChunk: chunk }),
    ...layout,
    ...(kind === "dkv" && t.parts === true ? { parts: true } : {}),
  };
}

/** T and H of q in its layout ([B, H, T, D] or [B, T, H, D]). */
function tAndH(q: tf.TensorInfo, attrs: tf.NamedAttrMap | undefined): [number, number] {
  return attrs?.layout === "bthd" ? [q.shape[1], q.shape[2]] : [q.shape[2], q.shape[1]];
}

function uniformsOf(q: tf.TensorInfo, attrs: tf.NamedAttrMap) {
  const [t, h] = tAndH(q, attrs);
  return [
    { type: "uint32" as const, value: t },
    { type: "uint32" as const, value: h },
    { type: "uint32" as const, value: attrs.window as number },
    { type: "uint32" as const, value: attrs.causal ? 1 : 0 },
    { type: "float32" as const, value: attrs.scale as number },
  ];
}

function grid(q: tf.TensorInfo, v: AttnVariant): [number, number, number] {
  const [t, h] = v.layout === "bthd" ? [q.shape[1], q.shape[2]] : [q.shape[2], q.shape[1]];
  return [Math.ceil(t / attnRowsPerWorkgroup(v)), q.shape[0] * h, 1];
}

function variantKey(name: string, v: AttnVariant): string {
  return `${name}_d${v.headDim}${v.hasDoc ? "_doc" : ""}${v.unrolled ? "_u" : ""}_r${v.rows ?? 1}${
    v.scoreChunk === undefined ? "" : `_c${v.scoreChunk}`
  }${v.threads === undefined ? "" : `_t${v.threads}`}${v.split ? "_s" : ""}${
    v.layout === "bthd" ? "_bthd" : ""
  }${v.part === undefined ? "" : `_${v.part}`}`;
}

function backwardConfig(
  kernelName: string,
  kind: AttnKernelKind,
  key: string,
  wgsl: (v: AttnVariant) => string,
  outputs: number,
): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { q, k, v, dO, stats, doc } = inputs as Record<string, tf.TensorInfo>;
    const { parts, ...variant } = variantOf(q, doc !== undefined, kind, attrs);
    const run = (form: AttnVariant, count: number) =>
      dispatch(
        backend as unknown as WebGPUBackend,
        { key: variantKey(key, form), wgsl: () => wgsl(form), workgroups: grid(q, form) },
        [q, k, v, dO, stats, ...(doc ? [doc] : [])],
        Array.from({ length: count }, () => ({ shape: q.shape, dtype: "float32" as const })),
        uniformsOf(q, attrs ?? {}),
      );
    if (parts === true) {
      const [dv] = run({ ...variant, part: "dv" }, 1);
      const [dk] = run({ ...variant, part: "dk" }, 1);
      return [dk, dv];
    }
    return run(variant, outputs);
  };
  return { kernelName, backendName: "webgpu", kernelFunc };
}

/** KernelConfigs of the three attention kernels (inputs named as in the WGSL). */
export const attentionKernelConfigs: readonly tf.KernelConfig[] = [
  {
    kernelName: ATTENTION_KERNELS.forward,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { q, k, v, doc } = inputs as Record<string, tf.TensorInfo>;
      const variant = variantOf(q, doc !== undefined, "forward", attrs);
      const [b, x, y] = q.shape; // [B, H, T] or [B, T, H]: LSE follows the rows' layout
      return dispatch(
        backend as unknown as WebGPUBackend,
        {
          key: variantKey("blt_attn_fwd", variant),
          wgsl: () => attentionForwardRowsWgsl(variant),
          workgroups: grid(q, variant),
        },
        doc ? [q, k, v, doc] : [q, k, v],
        [
          { shape: q.shape, dtype: "float32" },
          { shape: [b, x, y], dtype: "float32" },
        ],
        uniformsOf(q, attrs ?? {}),
      );
    },
  },
  backwardConfig(
    ATTENTION_KERNELS.backwardDq,
    "dq",
    "blt_attn_dq",
    attentionBackwardDqRowsWgsl,
    1,
  ),
  backwardConfig(
    ATTENTION_KERNELS.backwardDkv,
    "dkv",
    "blt_attn_dkv",
    attentionBackwardDkvRowsWgsl,
    2,
  ),
];

/**
 * Forward pass only: the attention output [B, H, T, D] and the row log-sum-exp [B, H, T].
 *
 * @example
 * ```ts
 * import { attentionForward } from "./attention.ts";
 * console.log(typeof attentionForward); // needs the webgpu backend and enableGpuKernels()
 * ```
 */
export function attentionForward(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: AttentionOptions = {},
): { out: tf.Tensor; lse: tf.Tensor } {
  webgpuBackend();
  const r = resolveAttention(q, k, v, opts);
  const doc = opts.docIds === undefined ? {} : { doc: opts.docIds.cast("int32") };
  const [out, lse] = tf.engine().runKernel(
    ATTENTION_KERNELS.forward,
    { q, k, v, ...doc } as unknown as tf.NamedTensorMap,
    { ...r },
  ) as tf.Tensor[];
  if (doc.doc !== undefined && doc.doc !== opts.docIds) doc.doc.dispose();
  return { out, lse };
}

function runBackward(
  kernel: string,
  tensors: readonly tf.Tensor[],
  opts: AttentionOptions,
): tf.Tensor[] {
  webgpuBackend();
  const [q, k, v, dO, stats] = tensors;
  const r = resolveAttention(q, k, v, opts);
  const want = [...q.shape.slice(0, 3), 2];
  if (stats.shape.join() !== want.join() || dO.shape.join() !== q.shape.join()) {
    throw new Error(
      `attention backward: dO must be [${q.shape}] and stats [${want}] (lse, Δ), ` +
        `found dO [${dO.shape}], stats [${stats.shape}]`,
    );
  }
  const doc = opts.docIds === undefined ? {} : { doc: opts.docIds.cast("int32") };
  const out = tf.engine().runKernel(
    kernel,
    { q, k, v, dO, stats, ...doc } as unknown as tf.NamedTensorMap,
    { ...r },
  ) as tf.Tensor[];
  if (doc.doc !== undefined && doc.doc !== opts.docIds) doc.doc.dispose();
  return out;
}

/**
 * Backward kernel for dQ [B, H, T, D] from q, k, v, the output cotangent dO [B, H, T, D] and
 * stats [B, H, T, 2] = (log-sum-exp from `attentionForward`, Δ = rowsum(dO ∘ O)).
 *
 * @example
 * ```ts
 * import { attentionBackwardDq } from "./attention.ts";
 * console.log(typeof attentionBackwardDq); // needs the webgpu backend and enableGpuKernels()
 * ```
 */
export function attentionBackwardDq(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  dO: tf.Tensor,
  stats: tf.Tensor,
  opts: AttentionOptions = {},
): tf.Tensor {
  return runBackward(ATTENTION_KERNELS.backwardDq, [q, k, v, dO, stats], opts)[0];
}

/**
 * Backward kernel for [dK, dV] (each [B, H, T, D]); inputs as for `attentionBackwardDq`.
 *
 * @example
 * ```ts
 * import { attentionBackwardDkv } from "./attention.ts";
 * console.log(typeof attentionBackwardDkv); // needs the webgpu backend and enableGpuKernels()
 * ```
 */
export function attentionBackwardDkv(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  dO: tf.Tensor,
  stats: tf.Tensor,
  opts: AttentionOptions = {},
): [tf.Tensor, tf.Tensor] {
  const [dk, dv] = runBackward(ATTENTION_KERNELS.backwardDkv, [q, k, v, dO, stats], opts);
  return [dk, dv];
}

/**
 * Fused causal / windowed / document-masked attention with gradients for q, k and v.
 * q, k, v: [B, heads, T, headDim] float32 → [B, heads, T, headDim]. Requires the webgpu backend
 * (use `referenceAttention` elsewhere) and `enableGpuKernels()`.
 *
 * @example
 * ```ts
 * import { fusedAttention } from "./attention.ts";
 * console.log(typeof fusedAttention); // fusedAttention(q, k, v, { window: 512, docIds })
 * ```
 */
export function fusedAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: AttentionOptions = {},
): tf.Tensor {
  resolveAttention(q, k, v, opts); // validates now; the kernels resolve again
  // customGrad's typings cannot express a fixed arity; the runtime passes (q, k, v, save).
  const f = tf.customGrad(
    ((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
      const { out, lse } = attentionForward(qq, kk, vv, opts);
      // docIds is saved too: the caller's tensor may be disposed (e.g. by its tidy) before the
      // backward pass runs.
      save([qq, kk, vv, out, lse, ...(opts.docIds === undefined ? [] : [opts.docIds])]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [sq, sk, sv, so, slse, sdoc] = saved;
          const dO = dy as tf.Tensor;
          const delta = tf.sum(tf.mul(dO, so), -1); // Δ_i = dO_i · O_i, [B, H, T]
          const stats = tf.stack([slse, delta], -1); // [B, H, T, 2]
          const bOpts = sdoc === undefined ? opts : { ...opts, docIds: sdoc };
          const dq = attentionBackwardDq(sq, sk, sv, dO, stats, bOpts);
          const [dk, dv] = attentionBackwardDkv(sq, sk, sv, dO, stats, bOpts);
          return [dq, dk, dv];
        },
      };
    }) as unknown as (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      value: tf.Tensor;
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
    },
  );
  return f(q, k, v) as tf.Tensor;
}
