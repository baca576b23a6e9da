/**
 * Fused attention on the webgpu backend: `fusedAttention(q, k, v, opts)` with q, k, v shaped
 * [B, heads, T, headDim], causal / sliding-window / document (block-causal) masks, an online
 * softmax forward that keeps the log-sum-exp, and a FlashAttention-2 style backward
 * (tf.customGrad). `referenceAttention` is the same computation in plain tf ops (the oracle).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, webgpuBackend } from "./dispatch.ts";
import {
  attentionBackwardDkvWgsl,
  attentionBackwardDqWgsl,
  attentionForwardWgsl,
  ATTN_ROWS,
  type AttnVariant,
} from "./attention_wgsl.ts";

/** Masking and scaling of one attention call. */
export interface AttentionOptions {
  /** Key j is visible to query i only if j ≤ i (default true). */
  readonly causal?: boolean;
  /** With causal: also require i − j < window (sliding window, BLT's local models). */
  readonly window?: number;
  /** [B, T] int32 document ids, nondecreasing along T: attend only within a document. */
  readonly docIds?: tf.Tensor;
  /** Score scale (default 1/√headDim). */
  readonly scale?: number;
}

/** Kernel names registered on the webgpu backend by enableGpuKernels(). */
export const ATTENTION_KERNELS = Object.freeze({
  forward: "BltAttentionForward",
  backwardDq: "BltAttentionBackwardDq",
  backwardDkv: "BltAttentionBackwardDkv",
});

interface Resolved {
  readonly causal: boolean;
  readonly window: number;
  readonly scale: number;
}

function resolve(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, opts: AttentionOptions): Resolved {
  if (q.rank !== 4) {
    throw new Error(`attention: q must be [B, heads, T, headDim], found shape [${q.shape}].`);
  }
  for (const [name, t] of [["k", k], ["v", v]] as const) {
    if (t.shape.join() !== q.shape.join()) {
      throw new Error(`attention: ${name} shape [${t.shape}] must equal q shape [${q.shape}].`);
    }
  }
  const [b, , t, d] = q.shape;
  if (t < 1) throw new Error(`attention: T must be ≥ 1, found ${t}.`);
  if (d % 4 !== 0 || d > 256) {
    throw new Error(`attention: headDim must be a multiple of 4 and ≤ 256, found ${d}.`);
  }
  const causal = opts.causal ?? true;
  const window = opts.window ?? 0;
  if (opts.window !== undefined && (!causal || !Number.isInteger(window) || window < 1)) {
    throw new Error(`attention: window must be an integer ≥ 1 with causal=true, found ${window}.`);
  }
  if (opts.docIds !== undefined && opts.docIds.shape.join() !== [b, t].join()) {
    throw new Error(
      `attention: docIds must be [B, T] = [${b}, ${t}], found [${opts.docIds.shape}].`,
    );
  }
  return { causal, window, scale: opts.scale ?? 1 / Math.sqrt(d) };
}

/**
 * Plain-tfjs attention with the same masks (materialises the [B, heads, T, T] scores).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { referenceAttention } from "./attention.ts";
 * const q = tf.ones([1, 2, 5, 8]);
 * console.log(referenceAttention(q, q, q, { window: 2 }).shape); // [1, 2, 5, 8]
 * ```
 */
export function referenceAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: AttentionOptions = {},
): tf.Tensor {
  const r = resolve(q, k, v, opts);
  const t = q.shape[2] as number;
  return tf.tidy(() => {
    const i = tf.range(0, t, 1, "int32").reshape([t, 1]);
    const j = tf.range(0, t, 1, "int32").reshape([1, t]);
    let allowed: tf.Tensor = tf.onesLike(tf.add(i, j)).cast("bool"); // [T, T]
    if (r.causal) allowed = tf.logicalAnd(allowed, tf.lessEqual(j, i));
    if (r.window > 0) allowed = tf.logicalAnd(allowed, tf.less(tf.sub(i, j), r.window));
    allowed = allowed.reshape([1, 1, t, t]);
    if (opts.docIds !== undefined) {
      const doc = opts.docIds.cast("int32");
      const same = tf.equal(doc.reshape([-1, 1, t, 1]), doc.reshape([-1, 1, 1, t]));
      allowed = tf.logicalAnd(allowed, same); // [B, 1, T, T]
    }
    // An additive bias (not tf.where) so gradients broadcast cleanly over B and heads.
    const bias = tf.mul(tf.sub(1, allowed.cast("float32")), -1e9);
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), r.scale), bias); // [B, H, T, T]
    return tf.matMul(tf.softmax(scores), v); // [B, H, T, D]
  });
}

function variantOf(q: tf.TensorInfo, hasDoc: boolean): AttnVariant {
  return { headDim: q.shape[3], hasDoc };
}

function uniformsOf(q: tf.TensorInfo, attrs: tf.NamedAttrMap) {
  return [
    { type: "uint32" as const, value: q.shape[2] },
    { type: "uint32" as const, value: q.shape[1] },
    { type: "uint32" as const, value: attrs.window as number },
    { type: "uint32" as const, value: attrs.causal ? 1 : 0 },
    { type: "float32" as const, value: attrs.scale as number },
  ];
}

function grid(q: tf.TensorInfo): [number, number, number] {
  return [Math.ceil(q.shape[2] / ATTN_ROWS), q.shape[0] * q.shape[1], 1];
}

function variantKey(name: string, v: AttnVariant): string {
  return `${name}_d${v.headDim}${v.hasDoc ? "_doc" : ""}`;
}

function backwardConfig(
  kernelName: string,
  key: string,
  wgsl: (v: AttnVariant) => string,
  outputs: number,
): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const { q, k, v, dO, stats, doc } = inputs as Record<string, tf.TensorInfo>;
    const variant = variantOf(q, doc !== undefined);
    return dispatch(
      backend as unknown as WebGPUBackend,
      { key: variantKey(key, variant), wgsl: () => wgsl(variant), workgroups: grid(q) },
      [q, k, v, dO, stats, ...(doc ? [doc] : [])],
      Array.from({ length: outputs }, () => ({ shape: q.shape, dtype: "float32" as const })),
      uniformsOf(q, attrs ?? {}),
    );
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
      const variant = variantOf(q, doc !== undefined);
      const [b, h, t] = q.shape;
      return dispatch(
        backend as unknown as WebGPUBackend,
        {
          key: variantKey("blt_attn_fwd", variant),
          wgsl: () => attentionForwardWgsl(variant),
          workgroups: grid(q),
        },
        doc ? [q, k, v, doc] : [q, k, v],
        [
          { shape: q.shape, dtype: "float32" },
          { shape: [b, h, t], dtype: "float32" },
        ],
        uniformsOf(q, attrs ?? {}),
      );
    },
  },
  backwardConfig(ATTENTION_KERNELS.backwardDq, "blt_attn_dq", attentionBackwardDqWgsl, 1),
  backwardConfig(ATTENTION_KERNELS.backwardDkv, "blt_attn_dkv", attentionBackwardDkvWgsl, 2),
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
  const r = resolve(q, k, v, opts);
  const doc = opts.docIds === undefined ? {} : { doc: opts.docIds.cast("int32") };
  const [out, lse] = tf.engine().runKernel(
    ATTENTION_KERNELS.forward,
    { q, k, v, ...doc } as unknown as tf.NamedTensorMap,
    { ...r },
  ) as tf.Tensor[];
  if (doc.doc !== undefined && doc.doc !== opts.docIds) doc.doc.dispose();
  return { out, lse };
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
  const r = resolve(q, k, v, opts);
  // customGrad's typings cannot express a fixed arity; the runtime passes (q, k, v, save).
  const f = tf.customGrad(
    ((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
      const { out, lse } = attentionForward(qq, kk, vv, opts);
      save([qq, kk, vv, out, lse]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [sq, sk, sv, so, slse] = saved;
          const dO = dy as tf.Tensor;
          const delta = tf.sum(tf.mul(dO, so), -1); // Δ_i = dO_i · O_i, [B, H, T]
          const stats = tf.stack([slse, delta], -1); // [B, H, T, 2]
          const doc = opts.docIds === undefined ? {} : { doc: opts.docIds.cast("int32") };
          const ins = { q: sq, k: sk, v: sv, dO, stats, ...doc };
          const [dq] = tf.engine().runKernel(
            ATTENTION_KERNELS.backwardDq,
            ins as unknown as tf.NamedTensorMap,
            { ...r },
          ) as tf.Tensor[];
          const [dk, dv] = tf.engine().runKernel(
            ATTENTION_KERNELS.backwardDkv,
            ins as unknown as tf.NamedTensorMap,
            { ...r },
          ) as tf.Tensor[];
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
