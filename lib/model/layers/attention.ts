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
import { attentionLayout, fusedAttention } from "../../gpu/attention.ts";
import { ropeFits, ropeGpu } from "../../gpu/rope.ts";
import { linear, type Params } from "../params.ts";
import {
  blockAttentionBackward,
  blockAttentionForward,
  fusedBlocksAvailable,
} from "../../wasm_attention.ts";
import { applyRope } from "./rope.ts";
import { addMany } from "../../train/clip.ts";

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

/** What a dense bias from {@link causalBias} means beyond its values: causal, with this window. */
interface DenseMask {
  readonly T: number;
  readonly slidingWindow: number | null;
}

// Keyed by the bias tensor, as compactMasks: lets denseAttention skip the keys no query may see.
const denseMasks = new WeakMap<tf.Tensor, DenseMask>();

function denseBias(
  T: number,
  slidingWindow: number | null,
  docIds: tf.Tensor2D | null,
): tf.Tensor4D {
  const bias = docIds === null ? causalValues(T, slidingWindow) : docBias(T, slidingWindow, docIds);
  denseMasks.set(bias, { T, slidingWindow });
  return bias;
}

// [1, 1, T, T] written directly: the comparisons and select of docBias cost ~25 ms at T = 1024.
function causalValues(T: number, slidingWindow: number | null): tf.Tensor4D {
  const values = new Float32Array(T * T).fill(MASKED);
  for (let t = 0; t < T; t++) {
    const from = slidingWindow === null ? 0 : Math.max(0, t - slidingWindow + 1);
    values.fill(0, t * T + from, t * T + t + 1);
  }
  return tf.tensor4d(values, [1, 1, T, T]);
}

function docBias(
  T: number,
  slidingWindow: number | null,
  docIds: tf.Tensor2D,
): tf.Tensor4D {
  return tf.tidy(() => {
    const q = tf.reshape(tf.range(0, T, 1, "int32"), [T, 1]);
    const k = tf.reshape(tf.range(0, T, 1, "int32"), [1, T]);
    let allowed = tf.lessEqual(k, q); // [T, T]
    if (slidingWindow !== null) {
      allowed = tf.logicalAnd(allowed, tf.less(tf.sub(q, k), slidingWindow));
    }
    const B = docIds.shape[0];
    const same = tf.equal(tf.reshape(docIds, [B, 1, T, 1]), tf.reshape(docIds, [B, 1, 1, T]));
    const mask = tf.logicalAnd(tf.reshape(allowed, [1, 1, T, T]), same); // [B, 1, T, T]
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
    const mask = compactMasks.get(bias);
    const [B, T, h] = x.shape;
    const d = h / shape.heads;
    if (
      mask !== undefined && mask.T === T && fusedHeadDim(d) && attentionLayout() === "bthd" &&
      ropeFits([B, T, shape.heads, d], cos.shape, sin.shape, x.dtype, -3)
    ) {
      // webgpu, fused kernels: q, k, v stay [B, T, H, d] as the projections make them.
      const heads = (t: tf.Tensor) => tf.reshape(t, [B, T, shape.heads, d]);
      const q = ropeGpu(heads(linear(x, w("q_proj"))), cos, sin, -3);
      const k = ropeGpu(heads(linear(x, w("k_proj"))), cos, sin, -3);
      const v = heads(linear(x, w("v_proj")));
      const scale = (shape.dim / shape.heads) ** -0.5;
      const out = fusedMasked(q, k, v, scale, mask, bias, "bthd"); // [B, T, H, d]
      return linear(tf.reshape(out, [B, T, h]), w("o_proj")) as tf.Tensor3D;
    }
    const q = applyRope(splitHeads(linear(x, w("q_proj")), shape.heads), cos, sin); // [B, H, T, d]
    const k = applyRope(splitHeads(linear(x, w("k_proj")), shape.heads), cos, sin); // [B, H, T, d]
    const v = splitHeads(linear(x, w("v_proj")), shape.heads); // [B, H, T, d]
    const scale = (shape.dim / shape.heads) ** -0.5;
    const attended = mask === undefined
      ? denseAttention(q, k, v, scale, bias)
      : maskedAttention(q, k, v, scale, mask, bias);
    return linear(mergeHeads(attended), w("o_proj")) as tf.Tensor3D; // [B, T, h]
  });
}

/**
 * Queries per block of {@link denseAttention}'s causal form (T = 1024: 8 blocks, 56% of the dense
 * form's score products).
 */
export const QUERY_BLOCK = 128;

// Σ of the blocks' key/value gradients. One AddN on the CPU backends (its order is the one the
// wasm kernels reproduce); on webgpu a tree of AddN calls of ≤ 7 inputs, since tfjs-webgpu binds
// every input and WebGPU allows 8 storage buffers per shader (T > 1024 has more blocks).
function sumBlocks(parts: tf.Tensor[]): tf.Tensor {
  return tf.getBackend() === "webgpu" ? addMany(parts) : tf.addN(parts);
}

/** One query block of {@link attentionBlocks}: rows [r0, r1) see at most keys [c0, c1). */
export interface AttentionBlock {
  readonly r0: number;
  readonly r1: number;
  readonly c0: number;
  readonly c1: number;
}

/**
 * Splits T causal queries into ⌈T / block⌉ blocks of equal size (the last may be shorter) with
 * the keys each block may see: up to its last query, and back to its first query's window.
 *
 * @example
 * ```ts
 * import { attentionBlocks } from "./attention.ts";
 * console.log(attentionBlocks(5, null, 2).map((b) => [b.r0, b.r1, b.c0, b.c1]));
 * // [[0, 2, 0, 2], [2, 4, 0, 4], [4, 5, 0, 5]]
 * console.log(attentionBlocks(6, 2, 3)[1]); // { r0: 3, r1: 6, c0: 2, c1: 6 }
 * ```
 */
export function attentionBlocks(
  T: number,
  slidingWindow: number | null,
  block: number = QUERY_BLOCK,
): AttentionBlock[] {
  if (!Number.isInteger(block) || block < 1) {
    throw new Error(`attentionBlocks: the query block must be a positive integer, got ${block}`);
  }
  const n = Math.max(1, Math.ceil(T / block));
  const size = Math.ceil(T / n);
  const blocks: AttentionBlock[] = [];
  for (let r0 = 0; r0 < T; r0 += size) {
    const r1 = Math.min(T, r0 + size);
    const c0 = slidingWindow === null ? 0 : Math.max(0, r0 - slidingWindow + 1);
    blocks.push({ r0, r1, c0, c1: r1 });
  }
  return blocks;
}

type SavingGrad = (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
};

/**
 * softmax(q·kᵀ·scale + bias)·v with the scores materialised: q, k, v `[B, H, T, d]` → `[B, H, T, d]`.
 * The gradient is written out so that the backward pass keeps q, k, v and the probabilities
 * only, as PyTorch's eager attention does; tfjs's own gradients would also keep the raw and the
 * scaled scores (two more `[B, H, T, T]` tensors per layer).
 *
 * When `bias` comes from {@link causalBias} (causal, maybe windowed and split by documents), the
 * queries run in blocks of `queryBlock` ({@link attentionBlocks}): a block's scores, probabilities
 * and products cover only the keys it may see, about half of `[T, T]` without a window. The keys
 * left out carry {@link MASKED} in the bias, whose probability is exactly 0 in float32, so values
 * and gradients are those of the dense form up to summation order. Other biases take the dense
 * form.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { causalBias, denseAttention } from "./attention.ts";
 * const q = tf.ones([1, 1, 3, 2]);
 * console.log(denseAttention(q, q, q, 0.5, causalBias(3)).shape); // [1, 1, 3, 2]
 * console.log(denseAttention(q, q, q, 0.5, causalBias(3), 2).shape); // [1, 1, 3, 2]: 2 blocks
 * ```
 */
export function denseAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  bias: tf.Tensor,
  queryBlock: number = QUERY_BLOCK,
): tf.Tensor {
  const mask = denseMasks.get(bias);
  const T = q.shape[2]!;
  const blocks = mask !== undefined && mask.T === T && k.shape[2] === T
    ? attentionBlocks(T, mask.slidingWindow, queryBlock)
    : null;
  if (blocks !== null && blocks.length > 1) return blockedAttention(q, k, v, scale, bias, blocks);
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
    }) as unknown as SavingGrad,
  );
  return f(q, k, v) as tf.Tensor;
}

// Rows [from, to) of axis 2 of a [B, H, T, d] (or [B, 1, T, T]) tensor, columns [c0, c1) if given.
function rows(x: tf.Tensor, from: number, to: number, c0 = 0, c1 = -1): tf.Tensor {
  return tf.slice(x, [0, 0, from, c0], [-1, -1, to - from, c1 < 0 ? -1 : c1 - c0]);
}

// Causal attention block by block (see denseAttention). Backward keeps q, k, v, the output and
// each block's probabilities [B, H, r1 − r0, c1 − c0]; it uses Σ_s dp ⊙ p = Σ_d dy ⊙ out (one
// [B, H, T, 1] sum instead of one per block over its scores) and scales dq, dk once at the end.
function blockedAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  bias: tf.Tensor,
  blocks: readonly AttentionBlock[],
): tf.Tensor {
  // wasm: the same computation as one heap pass each way (lib/wasm_attention.ts, bit for bit).
  if (fusedBlocksAvailable()) return fusedBlockedAttention(q, k, v, scale, bias, blocks);
  const T = q.shape[2]!;
  const f = tf.customGrad(
    ((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
      const qs = tf.mul(qq, scale); // [B, H, T, d]
      const probs: tf.Tensor[] = [];
      const outs = blocks.map(({ r0, r1, c0, c1 }) => {
        const s = tf.matMul(rows(qs, r0, r1), rows(kk, c0, c1), false, true); // [B, H, Q, S]
        const p = tf.softmax(tf.add(s, rows(bias, r0, r1, c0, c1)));
        probs.push(p);
        return tf.matMul(p, rows(vv, c0, c1)); // [B, H, Q, d]
      });
      const out = tf.concat(outs, 2); // [B, H, T, d]
      save([qq, kk, vv, out, ...probs]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, [sq, sk, sv, so, ...ps]: tf.Tensor[]) => {
          const rowDot = tf.sum(tf.mul(dy, so), -1, true); // [B, H, T, 1] = Σ_s dp ⊙ p
          const dq: tf.Tensor[] = [], dk: tf.Tensor[] = [], dv: tf.Tensor[] = [];
          const pad = (x: tf.Tensor, c0: number, c1: number) =>
            c0 === 0 && c1 === T ? x : tf.pad(x, [[0, 0], [0, 0], [c0, T - c1], [0, 0]]);
          blocks.forEach(({ r0, r1, c0, c1 }, i) => {
            const p = ps[i], dyi = rows(dy, r0, r1); // [B, H, Q, S], [B, H, Q, d]
            dv.push(pad(tf.matMul(p, dyi, true, false), c0, c1)); // [B, H, T, d]
            const dp = tf.matMul(dyi, rows(sv, c0, c1), false, true); // [B, H, Q, S]
            const ds = tf.mul(p, tf.sub(dp, rows(rowDot, r0, r1))); // unscaled
            dq.push(tf.matMul(ds, rows(sk, c0, c1))); // [B, H, Q, d]
            dk.push(pad(tf.matMul(ds, rows(sq, r0, r1), true, false), c0, c1)); // [B, H, T, d]
          });
          return [
            tf.mul(tf.concat(dq, 2), scale),
            tf.mul(sumBlocks(dk), scale),
            sumBlocks(dv),
          ];
        },
      };
    }) as unknown as SavingGrad,
  );
  return f(q, k, v) as tf.Tensor;
}

// blockedAttention on the wasm backend: forward and backward each one pass (lib/wasm_attention.ts).
function fusedBlockedAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  bias: tf.Tensor,
  blocks: readonly AttentionBlock[],
): tf.Tensor {
  const f = tf.customGrad(
    ((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
      const { out, probs } = blockAttentionForward(qq, kk, vv, scale, bias, blocks)!;
      save([qq, kk, vv, out, ...probs]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, [sq, sk, sv, so, ...ps]: tf.Tensor[]) =>
          blockAttentionBackward(sq, sk, sv, so, ps, dy, scale, blocks)!,
      };
    }) as unknown as SavingGrad,
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
  if (!fusedHeadDim(d)) {
    const docIds = mask.hasDocs ? tf.reshape(maskTensor, [B, T]) as tf.Tensor2D : null;
    return denseAttention(q, k, v, scale, denseBias(T, mask.slidingWindow, docIds));
  }
  return fusedMasked(q, k, v, scale, mask, maskTensor, "bhtd");
}

// The fused kernel under a compact mask, q, k, v in `layout` ([B, H, T, d] or [B, T, H, d]).
function fusedMasked(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  mask: CompactMask,
  maskTensor: tf.Tensor,
  layout: "bhtd" | "bthd",
): tf.Tensor {
  const B = q.shape[0];
  const docIds = mask.hasDocs ? tf.reshape(maskTensor, [B, mask.T]) as tf.Tensor2D : null;
  return fusedAttention(q, k, v, {
    causal: true,
    scale,
    layout,
    ...(mask.slidingWindow === null ? {} : { window: mask.slidingWindow }),
    ...(docIds === null ? {} : { docIds }),
  });
}
