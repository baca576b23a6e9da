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
import { fusedHashIds } from "./ngram_hash.ts";
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
  const fused = cfg.hash.sizes.length === 0 ? null : fusedHashIds(ids, cfg.hash); // [B, T, nTables]
  return tf.tidy(() => {
    const B = ids.length, T = ids[0].length;
    const byteIds = tf.tensor2d(ids.flat(), [B, T], "int32");
    const own = tf.gather(p.get(BYTE_TABLE), byteIds) as tf.Tensor3D; // [B, T, hE]
    if (fused === null) return own;
    const hashIds = tf.tensor3d(fused.ids, [B, T, fused.nTables], "int32");
    const hashed = tf.sum(tf.gather(p.get(HASH_TABLE), hashIds), 2); // [B, T, hE]
    return tf.add(own, hashed) as tf.Tensor3D;
  });
}
