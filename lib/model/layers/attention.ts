/**
 * Causal multi-head self-attention with RoPE, optionally limited to a sliding window and made
 * block-causal at document boundaries (positions after an EOS see nothing before it). Weight
 * names follow Hugging Face: `{prefix}.q_proj.weight`, `k_proj`, `v_proj`, `o_proj`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { linear, type Params } from "../params.ts";
import { applyRope } from "./rope.ts";

/** Added to the scores of masked pairs: large enough to vanish in the softmax, finite so that
 * gradients stay clean. */
export const MASKED = -1e9;

/**
 * Additive attention bias `[B or 1, 1, T, T]`: 0 where query t may see key s (s ≤ t, within
 * the window, same document), {@link MASKED} elsewhere.
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
 * Self-attention over `x` `[B, T, h]` with RoPE tables `[T, d]` and an additive bias from
 * {@link causalBias}; returns `[B, T, h]` (without the residual).
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
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), bias); // [B, H, T, T]
    const out = mergeHeads(tf.matMul(tf.softmax(scores), v)); // [B, T, h]
    return linear(out, w("o_proj")) as tf.Tensor3D;
  });
}
