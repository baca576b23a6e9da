/**
 * Causal multi-head self-attention with RoPE, optionally limited to a sliding window and made
 * block-causal at document boundaries (positions after an EOS see nothing before it). Weight
 * names follow Hugging Face: `{prefix}.q_proj.weight`, `k_proj`, `v_proj`, `o_proj`.
 *
 * On webgpu with lib/gpu's kernels enabled, the masks stay implicit and the scores are never
 * materialised: {@link causalBias} returns a compact mask (the document ids, int32) that
 * {@link selfAttention} hands to the flash-style `fusedAttention`. Elsewhere (wasm, cpu) the
 * dense additive bias and `[B, H, T, T]` scores are used, as in Hugging Face's eager attention.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedKernelsActive } from "../../gpu/active.ts";
import { fusedAttention } from "../../gpu/attention.ts";
import { linear, type Params } from "../params.ts";
import { applyRope } from "./rope.ts";

/** Added to the scores of masked pairs: large enough to vanish in the softmax, finite so that
 * gradients stay clean. */
export const MASKED = -1e9;

/** What a compact mask (the GPU path's stand-in for the dense bias) means. */
interface CompactMask {
  readonly T: number;
  readonly slidingWindow: number | null;
  /** The mask tensor itself holds `[B, 1, 1, T]` document ids; otherwise it is a `[1, 1, 1, 1]`
   * placeholder. */
  readonly hasDocs: boolean;
}

// Keyed by the returned tensor, so the description lives exactly as long as the mask does.
const compactMasks = new WeakMap<tf.Tensor, CompactMask>();

// The fused kernel's limits (lib/gpu/attention_reference.ts); other head sizes use dense scores.
function fusedHeadDim(d: number): boolean {
  return d % 4 === 0 && d <= 256;
}

/**
 * Additive attention bias `[B or 1, 1, T, T]`: 0 where query t may see key s (s ≤ t, within
 * the window, same document), {@link MASKED} elsewhere. On webgpu with lib/gpu's kernels enabled
 * it returns instead a compact int32 mask (`[B, 1, 1, T]` document ids, or `[1, 1, 1, 1]`) that
 * only {@link selfAttention} understands, so that no `[T, T]` tensor is ever built there.
 *
 * @param docIds optional `[B, T]` int32 document index per position (block-causal masking)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { causalBias } from "./attention.ts";
 * const bias = causalBias(3, 2); // window of 2: position 2 sees 1 and 2
 * console.log(bias.shape, bias.arraySync()[0][0][2]); // [1, 1, 3, 3] [-1000000000, 0, 0]
 * ```
 */
export function causalBias(
  T: number,
  slidingWindow: number | null = null,
  docIds: tf.Tensor2D | null = null,
): tf.Tensor4D {
  if (fusedKernelsActive()) {
    const mask = tf.tidy(() =>
      docIds === null
        ? tf.zeros([1, 1, 1, 1], "int32")
        : tf.reshape(tf.cast(docIds, "int32"), [docIds.shape[0], 1, 1, T])
    ) as tf.Tensor4D;
    compactMasks.set(mask, { T, slidingWindow, hasDocs: docIds !== null });
    return mask;
  }
  return denseBias(T, slidingWindow, docIds);
}

function denseBias(
  T: number,
  slidingWindow: number | null,
  docIds: tf.Tensor2D | null,
): tf.Tensor4D {
  return tf.tidy(() => {
    const q = tf.reshape(tf.range(0, T, 1, "int32"), [T, 1]);
    const k = tf.reshape(tf.range(0, T, 1, "int32"), [1, T]);
    let allowed = tf.lessEqual(k, q); // [T, T]
    if (slidingWindow !== null) {
      allowed = tf.logicalAnd(allowed, tf.less(tf.sub(q, k), slidingWindow));
    }
    let mask: tf.Tensor = tf.reshape(allowed, [1, 1, T, T]);
    if (docIds !== null) {
      const B = docIds.shape[0];
      const same = tf.equal(tf.reshape(docIds, [B, 1, T, 1]), tf.reshape(docIds, [B, 1, 1, T]));
      mask = tf.logicalAnd(mask, same); // [B, 1, T, T]
    }
    const bias: tf.Tensor = tf.where(mask, tf.zeros(mask.shape), tf.fill(mask.shape, MASKED));
    return bias as tf.Tensor4D;
  });
}

/**
 * Shape of one attention stack.
 *
 * @example
 * ```ts
 * import type { AttentionShape } from "./attention.ts";
 * const s: AttentionShape = { dim: 8, heads: 2 };
 * ```
 */
export interface AttentionShape {
  readonly dim: number;
  readonly heads: number;
}

/** `[B, T, H·d]` → `[B, H, T, d]`. */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, T, h] = x.shape;
    return tf.transpose(tf.reshape(x, [B, T, heads, h / heads]), [0, 2, 1, 3]);
  });
}

/** `[B, H, T, d]` → `[B, T, H·d]`. */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, H, T, d] = x.shape;
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, H * d]);
  });
}

/**
 * Registers the four projection weights of an attention layer (std = dim^-0.5).
 *
 * @example
 * ```ts
 * import { Params } from "../params.ts";
 * import { initAttention } from "./attention.ts";
 * const p = new Params(0);
 * initAttention(p, "attn", 8);
 * console.log(p.names().length); // 4
 * p.dispose();
 * ```
 */
export function initAttention(p: Params, prefix: string, dim: number): void {
  for (const name of ["q_proj", "k_proj", "v_proj", "o_proj"]) {
    p.linear(`${prefix}.${name}.weight`, dim, dim, dim);
  }
}

/**
 * Self-attention over `x` `[B, T, h]` with RoPE tables `[T, d]` and the mask from
 * {@link causalBias} (a dense additive bias, or on webgpu a compact mask for the fused kernel);
 * returns `[B, T, h]` (without the residual).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "../params.ts";
 * import { causalBias, initAttention, selfAttention } from "./attention.ts";
 * import { ropeTables } from "./rope.ts";
 * const p = new Params(0);
 * initAttention(p, "attn", 8);
 * const { cos, sin } = ropeTables(5, 4, 10000);
 * const y = selfAttention(p, "attn", { dim: 8, heads: 2 }, tf.ones([1, 5, 8]), cos, sin, causalBias(5));
 * console.log(y.shape); // [1, 5, 8]
 * ```
 */
export function selfAttention(
  p: Params,
  prefix: string,
  shape: AttentionShape,
  x: tf.Tensor3D,
  cos: tf.Tensor,
  sin: tf.Tensor,
  bias: tf.Tensor,
): tf.Tensor3D {
  return tf.tidy(() => {
    const w = (name: string) => p.get(`${prefix}.${name}.weight`);
    const q = applyRope(splitHeads(linear(x, w("q_proj")), shape.heads), cos, sin); // [B, H, T, d]
    const k = applyRope(splitHeads(linear(x, w("k_proj")), shape.heads), cos, sin); // [B, H, T, d]
    const v = splitHeads(linear(x, w("v_proj")), shape.heads); // [B, H, T, d]
    const scale = (shape.dim / shape.heads) ** -0.5;
    const mask = compactMasks.get(bias);
    const attended = mask === undefined
      ? denseAttention(q, k, v, scale, bias)
      : maskedAttention(q, k, v, scale, mask, bias);
    return linear(mergeHeads(attended), w("o_proj")) as tf.Tensor3D; // [B, T, h]
  });
}

/**
 * softmax(q·kᵀ·scale + bias)·v with the scores materialised: q, k, v `[B, H, T, d]` → `[B, H, T, d]`.
 * The gradient is written out so that the backward pass keeps q, k, v and the probabilities
 * `[B, H, T, T]` only, as PyTorch's eager attention does; tfjs's own gradients would also keep
 * the raw and the scaled scores (two more `[B, H, T, T]` tensors per layer).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { causalBias, denseAttention } from "./attention.ts";
 * const q = tf.ones([1, 1, 3, 2]);
 * console.log(denseAttention(q, q, q, 0.5, causalBias(3)).shape); // [1, 1, 3, 2]
 * ```
 */
export function denseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  bias: tf.Tensor,
): tf.Tensor {
  const f = tf.customGrad(
    ((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
      const probs = tf.softmax(tf.add(tf.mul(tf.matMul(qq, kk, false, true), scale), bias)); // [B, H, T, T]
      save([qq, kk, vv, probs]);
      return {
        value: tf.matMul(probs, vv), // [B, H, T, d]
        gradFunc: (dy: tf.Tensor, [sq, sk, sv, p]: tf.Tensor[]) => {
          const dv = tf.matMul(p, dy, true, false); // [B, H, T, d]
          const dp = tf.matMul(dy, sv, false, true); // [B, H, T, T]
          // softmax: ds = p ⊙ (dp − Σ_s dp ⊙ p), then the scale
          const ds = tf.mul(tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true))), scale);
          return [tf.matMul(ds, sk), tf.matMul(ds, sq, true, false), dv];
        },
      };
    }) as unknown as (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      value: tf.Tensor;
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
    },
  );
  return f(q, k, v) as tf.Tensor;
}

// The compact mask's attention: fused kernel when the head size allows, else dense. [B, H, T, d]
function maskedAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  mask: CompactMask,
  maskTensor: tf.Tensor,
): tf.Tensor {
  const [B, , T, d] = q.shape;
  if (T !== mask.T) {
    throw new Error(
      `selfAttention: the mask from causalBias was made for T = ${mask.T} but x has T = ${T}; ` +
        `call causalBias with the sequence length of x.`,
    );
  }
  const docIds = mask.hasDocs ? tf.reshape(maskTensor, [B, T]) as tf.Tensor2D : null;
  if (!fusedHeadDim(d)) {
    return denseAttention(q, k, v, scale, denseBias(T, mask.slidingWindow, docIds));
  }
  return fusedAttention(q, k, v, {
    causal: true,
    scale,
    ...(mask.slidingWindow === null ? {} : { window: mask.slidingWindow }),
    ...(docIds === null ? {} : { docIds }),
  });
}
