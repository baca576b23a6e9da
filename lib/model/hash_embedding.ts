/**
 * Byte embeddings with hash n-gram embeddings (paper §3.2.1, Eq. 2–3): each byte's embedding is
 * its own row plus, for every n-gram size n and hash function, the row of the hashed n-gram
 * ending at it. One fused table holds all (function, n) tables, as Hugging Face's
 * `encoder_hash_tok_embedding`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BltConfig } from "../config.ts";
import { fusedKernelsActive } from "../gpu/active.ts";
import { gatherSumGpu } from "../gpu/gather_sum.ts";
import { type FusedHashIds, fusedHashIds } from "./ngram_hash.ts";
import type { Params } from "./params.ts";

/** Hugging Face names of the two tables. */
export const BYTE_TABLE = "model.local_encoder.embed_tokens.weight";
/** The fused hash n-gram table, `[functions · sizes · buckets, hE]`. */
export const HASH_TABLE = "model.encoder_hash_tok_embedding.weight";

/**
 * Registers the byte table `[260, hE]` and the fused hash table (std hE^-0.5); with
 * `hash.sizes: []` (hash n-grams off) there is no hash table.
 *
 * @example
 * ```ts
 * import { Params } from "./params.ts";
 * import { HASH_TABLE, initHashEmbedding } from "./hash_embedding.ts";
 * import { resolveConfig } from "../config.ts";
 * const p = new Params(0);
 * initHashEmbedding(p, resolveConfig("tiny", { "hash.buckets": 10 }));
 * console.log(p.get(HASH_TABLE).shape); // [60, 128]
 * p.dispose();
 * ```
 */
export function initHashEmbedding(p: Params, cfg: BltConfig): void {
  const hE = cfg.encoder.dim;
  p.embedding(BYTE_TABLE, cfg.vocabSize, hE);
  if (cfg.hash.sizes.length === 0) return;
  const tables = cfg.hash.functions * cfg.hash.sizes.length;
  p.embedding(HASH_TABLE, tables * cfg.hash.buckets, hE);
}

/**
 * Embeds byte ids `[B, T]` (validated by the caller) into `[B, T, hE]`: byte rows alone when
 * hash n-grams are off (`hash.sizes: []`).
 *
 * @example
 * ```ts
 * import { Params } from "./params.ts";
 * import { hashEmbeddings, initHashEmbedding } from "./hash_embedding.ts";
 * import { resolveConfig } from "../config.ts";
 * const cfg = resolveConfig("tiny", { "hash.buckets": 10 });
 * const p = new Params(0);
 * initHashEmbedding(p, cfg);
 * console.log(hashEmbeddings(p, cfg, [[1, 72, 105]]).shape); // [1, 3, 128]
 * ```
 */
export function hashEmbeddings(
  p: Params,
  cfg: BltConfig,
  ids: readonly (readonly number[])[],
): tf.Tensor3D {
  const fused = cfg.hash.sizes.length === 0 ? null : takeHashIds(ids, cfg); // [B, T, nTables]
  return tf.tidy(() => {
    const B = ids.length, T = ids[0].length;
    const byteIds = tf.tensor2d(ids.flat(), [B, T], "int32");
    const own = tf.gather(p.get(BYTE_TABLE), byteIds) as tf.Tensor3D; // [B, T, hE]
    if (fused === null) return own;
    const hashIds = tf.tensor3d(fused.ids, [B, T, fused.nTables], "int32");
    return tf.add(own, gatherSum(p.get(HASH_TABLE), hashIds)) as tf.Tensor3D;
  });
}

// Hash ids computed ahead by prepareHashIds, by batch (the ids array object), used once.
const prepared = new WeakMap<object, { hash: BltConfig["hash"]; fused: FusedHashIds }>();

/**
 * Computes the fused n-gram hash ids of `ids` now (host work: ~40 ms for 16×4096 bytes) so that
 * the next `hashEmbeddings` call with this same, unchanged `ids` array and config uses them; the
 * trainer calls it (through `Blt.prepare`) while the GPU runs the previous step.
 *
 * @example
 * ```ts
 * import { prepareHashIds } from "./hash_embedding.ts";
 * import { resolveConfig } from "../config.ts";
 * const ids = [[1, 72, 105]];
 * prepareHashIds(ids, resolveConfig("tiny", {})); // hashEmbeddings(p, cfg, ids) reuses them
 * ```
 */
export function prepareHashIds(ids: readonly (readonly number[])[], cfg: BltConfig): void {
  if (cfg.hash.sizes.length === 0) return;
  prepared.set(ids, { hash: cfg.hash, fused: fusedHashIds(ids, cfg.hash) });
}

function takeHashIds(ids: readonly (readonly number[])[], cfg: BltConfig): FusedHashIds {
  const hit = prepared.get(ids);
  prepared.delete(ids);
  return hit !== undefined && hit.hash === cfg.hash ? hit.fused : fusedHashIds(ids, cfg.hash);
}

/**
 * Σ_j table[ids[b, t, j]] → `[B, T, h]` for ids `[B, T, n]`: tf.sum(tf.gather(table, ids), 2)
 * with its gradient written out, so that the `[B, T, n, h]` rows are a temporary of the op
 * instead of a tensor kept for the backward pass (tf.sum's gradient keeps its input), and the
 * table's gradient is one segment sum (tf.gather's adds two table-sized transposes). On webgpu
 * with lib/gpu's kernels the forward is one fused kernel (lib/gpu/gather_sum.ts).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gatherSum } from "./hash_embedding.ts";
 * const table = tf.tensor2d([1, 2, 10, 20, 100, 200], [3, 2]);
 * const ids = tf.tensor3d([0, 2, 1, 1], [1, 2, 2], "int32"); // [B=1, T=2, n=2]
 * console.log(gatherSum(table, ids).arraySync()); // [[[101, 202], [20, 40]]]
 * ```
 */
export function gatherSum(table: tf.Tensor, ids: tf.Tensor): tf.Tensor3D {
  const [B, T, n] = ids.shape;
  const [rows, h] = table.shape;
  const f = tf.customGrad(
    ((t: tf.Tensor, save: tf.GradSaveFunc) => {
      save([ids]);
      return {
        value: fusedKernelsActive() ? gatherSumGpu(t, ids) : tf.sum(tf.gather(t, ids), 2), // [B, T, h]
        gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => {
          const spread = tf.broadcastTo(tf.reshape(dy, [B, T, 1, h]), [B, T, n, h]);
          return [
            tf.unsortedSegmentSum(
              tf.reshape(spread, [B * T * n, h]),
              tf.reshape(saved, [-1]),
              rows,
            ),
          ];
        },
      };
    }) as unknown as (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      value: tf.Tensor;
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
    },
  );
  return f(table) as tf.Tensor3D;
}
