/**
 * The local encoder's cross-attention pooling weights for one patch (paper §3.2.2): which bytes
 * each of a patch's k queries looks at, per head. The forward pass never materialises these
 * probabilities (it gathers keys per patch and folds the softmax into the output), so this
 * recomputes them from the encoder's byte states, for figures and teaching.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Blt } from "./blt.ts";
import { rmsNorm } from "./layers/rms_norm.ts";
import { linear } from "./params.ts";

const PREFIX = "model.local_encoder";

/**
 * What {@link encoderPoolingWeights} returns.
 *
 * @example
 * ```ts
 * import type { PoolingWeights } from "./pooling_attention.ts";
 * const w: PoolingWeights = { start: 1, length: 2, weights: [[[0.5, 0.5]]] };
 * ```
 */
export interface PoolingWeights {
  /** Position of the patch's first byte in the sequence. */
  readonly start: number;
  /** Bytes in the patch (L). */
  readonly length: number;
  /** Softmax weights `[heads, k, L]`: each row sums to 1 over the patch's bytes. */
  readonly weights: number[][][];
}

/**
 * Cross-attention weights of patch `patch` of sequence `batch`: its k queries (the patch's
 * max-pooled byte states, projected) attending over its own bytes, as the encoder's last
 * cross-attention layer computes them. `encoderHidden` is `forward(…, { intermediates: true })`'s
 * `encoderHidden` `[B, T, hE]`; `patchLengths` the lengths of that forward (`[B][P]`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createBlt } from "./blt.ts";
 * import { resolveConfig } from "../config.ts";
 * import { encoderPoolingWeights } from "./pooling_attention.ts";
 * const blt = createBlt(resolveConfig("tiny", { "global.layers": 1, "hash.buckets": 64 }), 0);
 * const out = blt.forward([[1, 76, 105, 36, 2]], { patchLengths: [[1, 2, 2]], intermediates: true });
 * const { weights } = encoderPoolingWeights(blt, out.encoderHidden!, out.patchLengths, 1);
 * console.log(weights.length, weights[0].length, weights[0][0].length); // 4 2 2
 * for (const t of Object.values(out)) if (t instanceof tf.Tensor) t.dispose();
 * blt.dispose();
 * ```
 */
export function encoderPoolingWeights(
  blt: Blt,
  encoderHidden: tf.Tensor3D,
  patchLengths: readonly (readonly number[])[],
  patch: number,
  batch = 0,
): PoolingWeights {
  const [B, T, h] = encoderHidden.shape;
  const cfg = blt.config, e = cfg.encoder, k = cfg.crossAttnK;
  if (!Number.isInteger(batch) || batch < 0 || batch >= B) {
    throw new Error(
      `batch must be an integer in [0, ${B - 1}] (encoderHidden has B=${B}), found ${batch}`,
    );
  }
  const lengths = patchLengths[batch];
  if (lengths === undefined || lengths.reduce((a, n) => a + n, 0) !== T) {
    throw new Error(
      `patchLengths[${batch}] must sum to T=${T} (encoderHidden's length), found ` +
        `${lengths === undefined ? "no row" : `[${lengths}]`}; pass the forward's patchLengths`,
    );
  }
  if (!Number.isInteger(patch) || patch < 0 || patch >= lengths.length || lengths[patch] === 0) {
    throw new Error(
      `patch must index a non-empty patch of patchLengths[${batch}] ([${lengths}]), found ${patch}`,
    );
  }
  if (h !== e.dim) {
    throw new Error(`encoderHidden's width is ${h}, the model's encoder.dim is ${e.dim}`);
  }
  const start = lengths.slice(0, patch).reduce((a, n) => a + n, 0);
  const length = lengths[patch];
  const layer = e.crossAttnAllLayers ? e.layers - 1 : 0;
  const w = (name: string) => blt.params.get(`${PREFIX}.${name}.weight`);
  const attn = (name: string) => w(`cross_attn_layers.${layer}.${name}`);
  const heads = e.heads, d = h / heads;
  const probs = tf.tidy(() => {
    const bytes = tf.slice(encoderHidden, [batch, start, 0], [1, length, h]).reshape([length, h]); // [L, hE]
    const init = linear(tf.max(bytes, 0, true), w("patch_embedding_projection")); // [1, k·hE]
    const queries = tf.reshape(init, [k, h]); // [k, hE]
    const q = linear(rmsNorm(queries, attn("q_norm"), e.normEps), attn("q_proj")); // [k, hE]
    const keys = linear(rmsNorm(bytes, attn("k_norm"), e.normEps), attn("k_proj")); // [L, hE]
    const qh = tf.transpose(tf.reshape(q, [k, heads, d]), [1, 0, 2]); // [H, k, d]
    const kh = tf.transpose(tf.reshape(keys, [length, heads, d]), [1, 0, 2]); // [H, L, d]
    return tf.softmax(tf.mul(tf.matMul(qh, kh, false, true), d ** -0.5)); // [H, k, L]
  });
  const weights = probs.arraySync() as number[][][];
  probs.dispose();
  return { start, length, weights };
}
