/**
 * One-position versions of the self-attention layer and the transformer block
 * (lib/model/layers): the new position's query attends to the keys and values in a
 * {@link KvCache}, so decoding a byte (or a patch) never re-runs the positions before it. They
 * read the same weights by the same Hugging Face names and compute the same values as the
 * full-sequence layers at that position.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TransformerConfig } from "../../config.ts";
import { type AttentionShape, mergeHeads, splitHeads } from "../layers/attention.ts";
import { mlp } from "../layers/mlp.ts";
import { rmsNorm } from "../layers/rms_norm.ts";
import { applyRope } from "../layers/rope.ts";
import { linear, type Params } from "../params.ts";
import type { KvCache } from "./kv_cache.ts";

/**
 * Self-attention of one new position `x` `[1, 1, h]` (RoPE rows `[1, d]` of its position) over
 * the cached positions plus itself; appends its keys/values to `cache` at `layer`. Positions the
 * cache has dropped (outside the window, earlier documents) are the ones the full layer masks.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "../params.ts";
 * import { initAttention } from "../layers/attention.ts";
 * import { cachedSelfAttention } from "./cached_block.ts";
 * import { KvCache, RopeRows } from "./kv_cache.ts";
 * const p = new Params(0);
 * initAttention(p, "attn", 8);
 * const cache = new KvCache(1), rope = new RopeRows(4, 10000);
 * const y = tf.tidy(() => {
 *   const { cos, sin } = rope.row(0);
 *   return cachedSelfAttention(p, "attn", { dim: 8, heads: 2 }, tf.ones([1, 1, 8]), cos, sin, cache, 0);
 * });
 * console.log(y.shape, cache.length); // [1, 1, 8] 1
 * cache.dispose();
 * rope.dispose();
 * p.dispose();
 * ```
 */
export function cachedSelfAttention(
  p: Params,
  prefix: string,
  shape: AttentionShape,
  x: tf.Tensor3D,
  cos: tf.Tensor,
  sin: tf.Tensor,
  cache: KvCache,
  layer: number,
): tf.Tensor3D {
  return tf.tidy(() => {
    const w = (name: string) => p.get(`${prefix}.${name}.weight`);
    const q = applyRope(splitHeads(linear(x, w("q_proj")), shape.heads), cos, sin); // [1, H, 1, d]
    const k = applyRope(splitHeads(linear(x, w("k_proj")), shape.heads), cos, sin); // [1, H, 1, d]
    const v = splitHeads(linear(x, w("v_proj")), shape.heads); // [1, H, 1, d]
    const cached = cache.append(layer, k as tf.Tensor4D, v); // [1, H, S, d] each
    const scale = (shape.dim / shape.heads) ** -0.5;
    const scores = tf.mul(tf.matMul(q, cached.keys, false, true), scale); // [1, H, 1, S]
    const out = mergeHeads(tf.matMul(tf.softmax(scores), cached.values)); // [1, 1, h]
    return linear(out, w("o_proj")) as tf.Tensor3D;
  });
}

/**
 * One pre-norm transformer layer (as `block` in lib/model/layers/block.ts) for one new position
 * `x` `[1, 1, h]`, attending through `cache` at `layer`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "../params.ts";
 * import { initBlock } from "../layers/block.ts";
 * import { cachedBlock } from "./cached_block.ts";
 * import { KvCache, RopeRows } from "./kv_cache.ts";
 * import { PRESETS } from "../../config.ts";
 * const cfg = PRESETS.tiny.entropyModel!;
 * const p = new Params(0);
 * initBlock(p, "l", cfg);
 * const cache = new KvCache(1), rope = new RopeRows(cfg.headDim, cfg.ropeTheta);
 * const y = tf.tidy(() => {
 *   const { cos, sin } = rope.row(0);
 *   return cachedBlock(p, "l", cfg, tf.ones([1, 1, cfg.dim]), cos, sin, cache, 0);
 * });
 * console.log(y.shape); // [1, 1, 64]
 * cache.dispose();
 * rope.dispose();
 * p.dispose();
 * ```
 */
export function cachedBlock(
  p: Params,
  prefix: string,
  cfg: TransformerConfig,
  x: tf.Tensor3D,
  cos: tf.Tensor,
  sin: tf.Tensor,
  cache: KvCache,
  layer: number,
): tf.Tensor3D {
  return tf.tidy(() => {
    const normed = rmsNorm(x, p.get(`${prefix}.input_layernorm.weight`), cfg.normEps);
    const attended = cachedSelfAttention(
      p,
      `${prefix}.self_attn`,
      cfg,
      normed as tf.Tensor3D,
      cos,
      sin,
      cache,
      layer,
    );
    const h = tf.add(x, attended); // [1, 1, h]
    const normed2 = rmsNorm(h, p.get(`${prefix}.post_attention_layernorm.weight`), cfg.normEps);
    return tf.add(h, mlp(p, `${prefix}.mlp`, normed2)) as tf.Tensor3D;
  });
}
