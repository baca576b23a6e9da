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
import { dispatch, webgpuBackend } from "./dispatch.ts";
import { attentionForwardWgsl, ATTN_ROWS, type AttnVariant } from "./attention_wgsl.ts";
import { attentionBackwardDkvWgsl, attentionBackwardDqWgsl } from "./attention_backward_wgsl.ts";
import { type AttentionOptions, resolveAttention } from "./attention_reference.ts";

export type { AttentionOptions } from "./attention_reference.ts";

/** Kernel names registered on the webgpu backend by enableGpuKernels(). */
export const ATTENTION_KERNELS = Object.freeze({
  forward: "BltAttentionForward",
  backwardDq: "BltAttentionBackwardDq",
  backwardDkv: "BltAttentionBackwardDkv",
});

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
  const r = resolveAttention(q, k, v, opts);
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
          const doc = sdoc === undefined ? {} : { doc: sdoc.cast("int32") };
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
