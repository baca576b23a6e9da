/**
 * The local encoder (paper §3.2): a few byte-level transformer layers, then cross-attention
 * pooling where each patch's k queries, initialised from the max over its bytes' states, attend
 * to those bytes only. Hugging Face prefix `model.local_encoder`. With `encoder.crossAttn: false`
 * (the pooling-only ablation of the paper's Table 8) the patch states are those projected max
 * pools themselves, as the official code's non-cross-attention encoder pools patches by max.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BltConfig } from "../config.ts";
import { block, initBlock } from "./layers/block.ts";
import { crossAttention, gatherRows, initCrossAttention } from "./layers/cross_attention.ts";
import { linear, type Params } from "./params.ts";

const PREFIX = "model.local_encoder";

/**
 * Index tensors for the pooling (see `encoderGather` in patch_geometry.ts).
 *
 * @example
 * ```ts
 * import type { EncoderPooling } from "./local_encoder.ts";
 * type Index = EncoderPooling["index"]; // [B, P, L] int32
 * ```
 */
export interface EncoderPooling {
  /** `[B, P, L]` int32 byte positions of each patch, padded. */
  readonly index: tf.Tensor3D;
  /** `[B, P, L]` additive bias: 0 for real entries, MASKED for padding. */
  readonly bias: tf.Tensor3D;
  /** `[B, P]` bool: patches of length 0 (trailing padding). */
  readonly empty: tf.Tensor2D;
}

/**
 * Registers the encoder's layers, its patch projection `[k·hE, hE]` and cross-attention(s) (none
 * when `encoder.crossAttn` is false).
 *
 * @example
 * ```ts
 * import { Params } from "./params.ts";
 * import { initLocalEncoder } from "./local_encoder.ts";
 * import { PRESETS } from "../config.ts";
 * const p = new Params(0);
 * initLocalEncoder(p, PRESETS.tiny);
 * console.log(p.get("model.local_encoder.patch_embedding_projection.weight").shape); // [256, 128]
 * p.dispose();
 * ```
 */
export function initLocalEncoder(p: Params, cfg: BltConfig): void {
  const e = cfg.encoder;
  for (let i = 0; i < e.layers; i++) initBlock(p, `${PREFIX}.layers.${i}`, e);
  p.linear(`${PREFIX}.patch_embedding_projection.weight`, e.dim * cfg.crossAttnK, e.dim);
  const crossLayers = !e.crossAttn ? 0 : e.crossAttnAllLayers ? e.layers : 1;
  for (let i = 0; i < crossLayers; i++) {
    initCrossAttention(p, `${PREFIX}.cross_attn_layers.${i}`, e.dim);
  }
}

/** Max over each patch's byte states `[B, T, h]` → `[B, P, h]`; empty patches give zeros. */
function patchMax(hidden: tf.Tensor3D, pool: EncoderPooling): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, P, L] = pool.index.shape;
    const h = hidden.shape[2];
    const gathered = tf.reshape(gatherRows(hidden, tf.reshape(pool.index, [B, P * L])), [
      B,
      P,
      L,
      h,
    ]);
    const masked = tf.add(gathered, tf.reshape(pool.bias, [B, P, L, 1])); // [B, P, L, h]
    const max = tf.max(masked, 2); // [B, P, h]
    const empty = tf.broadcastTo(tf.reshape(pool.empty, [B, P, 1]), max.shape);
    return tf.where(empty, tf.zerosLike(max), max) as tf.Tensor3D;
  });
}

/** Queries `[B, P, k, hE]` plus their cross-attention over their patch's bytes (§3.2.2). */
function poolByCrossAttention(
  p: Params,
  cfg: BltConfig,
  queries: tf.Tensor4D,
  hidden: tf.Tensor3D,
  pool: EncoderPooling,
  i: number,
): tf.Tensor4D {
  const e = cfg.encoder;
  const layer = e.crossAttnAllLayers ? i : 0;
  const attended = crossAttention(
    p,
    `${PREFIX}.cross_attn_layers.${layer}`,
    e.heads,
    e.normEps,
    queries,
    hidden,
    { index: pool.index, bias: pool.bias, empty: pool.empty },
  );
  return tf.add(queries, attended) as tf.Tensor4D;
}

/**
 * Runs the encoder on byte embeddings `[B, T, hE]`: returns the byte states `[B, T, hE]` (the
 * decoder's input) and the patch states `[B, P·k, hE]` (k queries per patch, after
 * cross-attention unless `encoder.crossAttn` is false).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "./params.ts";
 * import { initLocalEncoder, localEncoder } from "./local_encoder.ts";
 * import { causalBias } from "./layers/attention.ts";
 * import { ropeTables } from "./layers/rope.ts";
 * import { PRESETS } from "../config.ts";
 * const cfg = PRESETS.tiny;
 * const p = new Params(0);
 * initLocalEncoder(p, cfg);
 * const { cos, sin } = ropeTables(3, cfg.encoder.headDim, cfg.encoder.ropeTheta);
 * const pool = { // patches [1, 2] of 3 bytes
 *   index: tf.tensor3d([0, 0, 1, 2], [1, 2, 2], "int32"),
 *   bias: tf.tensor3d([0, -1e9, 0, 0], [1, 2, 2]),
 *   empty: tf.tensor2d([0, 0], [1, 2], "bool"),
 * };
 * const { hidden, patches } = localEncoder(p, cfg, tf.ones([1, 3, 128]), pool, cos, sin, causalBias(3));
 * console.log(hidden.shape, patches.shape); // [1, 3, 128] [1, 4, 128]
 * ```
 */
export function localEncoder(
  p: Params,
  cfg: BltConfig,
  embeddings: tf.Tensor3D,
  pool: EncoderPooling,
  cos: tf.Tensor,
  sin: tf.Tensor,
  bias: tf.Tensor,
): { hidden: tf.Tensor3D; patches: tf.Tensor3D } {
  return tf.tidy(() => {
    const e = cfg.encoder, k = cfg.crossAttnK;
    const [B, P] = pool.empty.shape;
    let hidden = embeddings;
    let patches: tf.Tensor4D | null = null; // [B, P, k, hE]
    for (let i = 0; i < e.layers; i++) {
      hidden = block(p, `${PREFIX}.layers.${i}`, e, hidden, cos, sin, bias);
      if (i === e.layers - 1 || (e.crossAttn && e.crossAttnAllLayers)) {
        const init = linear(
          patchMax(hidden, pool),
          p.get(`${PREFIX}.patch_embedding_projection.weight`),
        );
        const queries = tf.reshape(init, [B, P, k, e.dim]) as tf.Tensor4D; // [B, P, k, hE]
        patches = e.crossAttn ? poolByCrossAttention(p, cfg, queries, hidden, pool, i) : queries;
      }
    }
    return { hidden, patches: tf.reshape(patches!, [B, P * k, e.dim]) as tf.Tensor3D };
  });
}
