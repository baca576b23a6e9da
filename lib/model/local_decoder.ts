/**
 * The local decoder (paper §3.3): byte-level layers that read the global patch states through
 * cross-attention (bytes are queries, the k projected slots of the patch the byte may see are
 * keys/values), before the first layer or before every layer. Hugging Face prefix
 * `model.local_decoder`; ends with an RMSNorm (the LM head is applied by the caller).
 *
 * With `decoder.crossAttn: false`, the decoder half of the paper's cross-attention ablation
 * (Table 8, where the decoder's cross-attention matters most), each byte instead adds the
 * projected state of the patch it may see, once, before the first layer:
 *   h⁰_t = e_t + W_D · g_{π(t)},   W_D: h_G → h_D (`patch_embedding_projection`, [hD, hG]),
 * where e_t is the encoder's byte state, g_p the global transformer's output for patch p and
 * π(t) the patch the cross-attention would read (the last patch ending at or before t, the
 * final patch excepted, as `decoderGather` computes it). This is the official code's decoder without cross-attention
 * (`h = h + patch_embeds` after gathering the global states by decoder patch ids); there are no
 * k slots to attend over, so the projection is h_G → h_D rather than h_G → k·h_D.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BltConfig } from "../config.ts";
import { block, initBlock } from "./layers/block.ts";
import { crossAttention, gatherRows, initCrossAttention } from "./layers/cross_attention.ts";
import { rmsNorm } from "./layers/rms_norm.ts";
import { linear, type Params } from "./params.ts";

const PREFIX = "model.local_decoder";

/**
 * Registers the decoder's layers, its patch projection `[k·hD, hG]`, cross-attention(s), norm;
 * with `decoder.crossAttn` false the projection `[hD, hG]` and no cross-attention.
 *
 * @example
 * ```ts
 * import { Params } from "./params.ts";
 * import { initLocalDecoder } from "./local_decoder.ts";
 * import { PRESETS } from "../config.ts";
 * const p = new Params(0);
 * initLocalDecoder(p, PRESETS.tiny);
 * console.log(p.get("model.local_decoder.patch_embedding_projection.weight").shape); // [256, 256]
 * p.dispose();
 * ```
 */
export function initLocalDecoder(p: Params, cfg: BltConfig): void {
  const d = cfg.decoder;
  for (let i = 0; i < d.layers; i++) initBlock(p, `${PREFIX}.layers.${i}`, d);
  const slots = d.crossAttn ? cfg.crossAttnK : 1;
  p.linear(`${PREFIX}.patch_embedding_projection.weight`, d.dim * slots, cfg.global.dim);
  p.ones(`${PREFIX}.norm.weight`, d.dim);
  const crossLayers = !d.crossAttn ? 0 : d.crossAttnAllLayers ? d.layers : 1;
  for (let i = 0; i < crossLayers; i++) {
    initCrossAttention(p, `${PREFIX}.cross_attn_layers.${i}`, d.dim);
  }
}

/**
 * Runs the decoder on the encoder's byte states `[B, T, hD]` and the global states
 * `[B, P, hG]`; `slots` `[B, T, k]` says which of the `P·k` patch slots each byte reads (without
 * cross-attention, the patch whose projected state it adds).
 * Returns the normed byte states `[B, T, hD]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "./params.ts";
 * import { initLocalDecoder, localDecoder } from "./local_decoder.ts";
 * import { causalBias } from "./layers/attention.ts";
 * import { ropeTables } from "./layers/rope.ts";
 * import { PRESETS } from "../config.ts";
 * const cfg = PRESETS.tiny;
 * const p = new Params(0);
 * initLocalDecoder(p, cfg);
 * const { cos, sin } = ropeTables(2, 32, 500000);
 * const slots = tf.tensor3d([0, 1, 0, 1], [1, 2, 2], "int32");
 * const y = localDecoder(p, cfg, tf.ones([1, 2, 128]), tf.ones([1, 1, 256]), slots, cos, sin, causalBias(2));
 * console.log(y.shape); // [1, 2, 128]
 * ```
 */
export function localDecoder(
  p: Params,
  cfg: BltConfig,
  bytes: tf.Tensor3D,
  global: tf.Tensor3D,
  slots: tf.Tensor3D,
  cos: tf.Tensor,
  sin: tf.Tensor,
  bias: tf.Tensor,
): tf.Tensor3D {
  if (!cfg.decoder.crossAttn) return addPatchStates(p, cfg, bytes, global, slots, cos, sin, bias);
  return tf.tidy(() => {
    const d = cfg.decoder, k = cfg.crossAttnK;
    const [B, T] = bytes.shape;
    const P = global.shape[1];
    const projected = linear(global, p.get(`${PREFIX}.patch_embedding_projection.weight`)); // [B, P, k·hD]
    const source = tf.reshape(projected, [B, P * k, d.dim]) as tf.Tensor3D; // [B, P·k, hD]
    let h = bytes;
    for (let i = 0; i < d.layers; i++) {
      if (i === 0 || d.crossAttnAllLayers) {
        const queries = tf.reshape(h, [B, T, 1, d.dim]) as tf.Tensor4D;
        const attended = crossAttention(
          p,
          `${PREFIX}.cross_attn_layers.${i}`,
          d.heads,
          d.normEps,
          queries,
          source,
          {
            index: slots,
            bias: null,
            empty: null,
          },
        );
        h = tf.add(h, tf.reshape(attended, [B, T, d.dim])) as tf.Tensor3D;
      }
      h = block(p, `${PREFIX}.layers.${i}`, d, h, cos, sin, bias);
    }
    return rmsNorm(h, p.get(`${PREFIX}.norm.weight`), d.normEps) as tf.Tensor3D;
  });
}

/** The decoder without cross-attention (see the module comment): `[B, T, hD]`. */
function addPatchStates(
  p: Params,
  cfg: BltConfig,
  bytes: tf.Tensor3D,
  global: tf.Tensor3D,
  slots: tf.Tensor3D,
  cos: tf.Tensor,
  sin: tf.Tensor,
  bias: tf.Tensor,
): tf.Tensor3D {
  return tf.tidy(() => {
    const d = cfg.decoder;
    const [B, T] = bytes.shape;
    const projected = linear(global, p.get(`${PREFIX}.patch_embedding_projection.weight`)); // [B, P, hD]
    // Slot rows are patch · k + j, so the first slot names the patch π(t).
    const patchOf = tf.floorDiv(
      tf.reshape(tf.slice(slots, [0, 0, 0], [B, T, 1]), [B, T]),
      tf.scalar(cfg.crossAttnK, "int32"),
    ); // [B, T]
    let h = tf.add(bytes, gatherRows(projected, patchOf)) as tf.Tensor3D; // [B, T, hD]
    for (let i = 0; i < d.layers; i++) h = block(p, `${PREFIX}.layers.${i}`, d, h, cos, sin, bias);
    return rmsNorm(h, p.get(`${PREFIX}.norm.weight`), d.normEps) as tf.Tensor3D;
  });
}
