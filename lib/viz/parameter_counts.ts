/**
 * Exact parameter counts of a BLT config, module by module, counted from the weight shapes of
 * the Hugging Face port (`BltForCausalLM`), so the numbers a teacher shows in the architecture
 * diagram are the numbers a checkpoint holds. All projections are bias-free; attention uses as
 * many key/value heads as query heads and a head width of dim / heads.
 *
 * @module
 */
import {
  type BltConfig,
  type LocalStackConfig,
  needsGlobalProjection,
  type TransformerConfig,
} from "../config.ts";

/** Parameters of one local (byte-level) stack. */
export interface LocalStackCounts {
  /** Transformer layers (attention, SwiGLU, two RMSNorms each). */
  readonly layers: number;
  /** Cross-attention blocks (q/k/v/o projections and q/k RMSNorms); 0 when switched off. */
  readonly crossAttention: number;
  /** `patch_embedding_projection`: encoder h_E → k·h_E, decoder h_G → k·h_D (h_G → h_D when
   * the decoder's cross-attention is off). */
  readonly patchProjection: number;
  /** Everything in this stack, including the rows below that apply. */
  readonly total: number;
}

/** Per-module parameter counts of a BLT (see {@link bltParameterCounts}). */
export interface BltParameterCounts {
  /** Hash n-gram embedding tables: functions · |sizes| · buckets rows of h_E (0 when off). */
  readonly hashEmbeddings: number;
  /** Local encoder: byte embedding (260 · h_E) plus its stack. */
  readonly encoder: LocalStackCounts & { readonly byteEmbedding: number };
  /** Latent global transformer: its layers plus the k·h_E → h_G input projection when needed. */
  readonly global: {
    readonly layers: number;
    readonly inputProjection: number;
    readonly total: number;
  };
  /** Local decoder: its stack, final RMSNorm and the LM head (h_D → 260). */
  readonly decoder: LocalStackCounts & { readonly norm: number; readonly lmHead: number };
  /** The entropy model (byte LM that places patch boundaries); 0 when the config has none. */
  readonly entropyModel: number;
  /** BLT proper: hash embeddings + encoder + global + decoder (what training updates). */
  readonly total: number;
  /** `total` plus the entropy model (what a Hugging Face checkpoint holds). */
  readonly totalWithEntropyModel: number;
}

/**
 * Parameters of one pre-norm transformer layer: q/k/v/o (4·h²), SwiGLU gate/up/down (3·h·f),
 * and two RMSNorm weights (2·h).
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { transformerLayerParameters } from "./parameter_counts.ts";
 * transformerLayerParameters(PRESETS.tiny.global); // 4·256² + 3·256·768 + 2·256
 * ```
 */
export function transformerLayerParameters(stack: TransformerConfig): number {
  const h = stack.dim;
  return 4 * h * h + 3 * h * stack.ffnDim + 2 * h;
}

/**
 * Parameters of one cross-attention block of width h: q/k/v/o projections and q/k RMSNorms.
 *
 * @example
 * ```ts
 * import { crossAttentionParameters } from "./parameter_counts.ts";
 * crossAttentionParameters(64); // 4·64² + 2·64 = 16512
 * ```
 */
export function crossAttentionParameters(h: number): number {
  return 4 * h * h + 2 * h;
}

/** Cross-attention blocks of a local stack: none when off, else one or one per layer. */
function crossLayers(s: LocalStackConfig): number {
  return s.crossAttn === false ? 0 : s.crossAttnAllLayers ? s.layers : 1;
}

/**
 * Counts every weight of a BLT config exactly as the Hugging Face port lays it out; the
 * ablation switches (`crossAttn` off, `hash.sizes: []`) remove the weights they remove in
 * lib/model.
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { bltParameterCounts } from "./parameter_counts.ts";
 * const c = bltParameterCounts(PRESETS.tiny);
 * c.total === c.hashEmbeddings + c.encoder.total + c.global.total + c.decoder.total; // true
 * ```
 */
export function bltParameterCounts(cfg: BltConfig): BltParameterCounts {
  const V = cfg.vocabSize;
  const k = cfg.crossAttnK;
  const { encoder: enc, global: glob, decoder: dec } = cfg;
  const hashEmbeddings = cfg.hash.functions * cfg.hash.sizes.length * cfg.hash.buckets * enc.dim;

  const encLayers = enc.layers * transformerLayerParameters(enc);
  // HF: one cross-attention after the last encoder layer unless cross_attn_all_layers.
  const encCross = crossLayers(enc) * crossAttentionParameters(enc.dim);
  const encProjection = enc.dim * k * enc.dim;
  const byteEmbedding = V * enc.dim;

  const globLayers = glob.layers * transformerLayerParameters(glob);
  const inputProjection = needsGlobalProjection(cfg) ? k * enc.dim * glob.dim : 0;

  const decLayers = dec.layers * transformerLayerParameters(dec);
  const decCross = crossLayers(dec) * crossAttentionParameters(dec.dim);
  // Without cross-attention there are no k slots: one h_G → h_D projection (local_decoder.ts).
  const decProjection = glob.dim * (dec.crossAttn === false ? 1 : k) * dec.dim;
  const lmHead = dec.dim * V;

  const em = cfg.entropyModel;
  const entropyModel = em === null
    ? 0
    : V * em.dim + em.layers * transformerLayerParameters(em) + em.dim + em.dim * V;

  const encoderTotal = byteEmbedding + encLayers + encCross + encProjection;
  const globalTotal = globLayers + inputProjection;
  const decoderTotal = decLayers + decCross + decProjection + dec.dim + lmHead;
  const total = hashEmbeddings + encoderTotal + globalTotal + decoderTotal;
  return {
    hashEmbeddings,
    encoder: {
      byteEmbedding,
      layers: encLayers,
      crossAttention: encCross,
      patchProjection: encProjection,
      total: encoderTotal,
    },
    global: { layers: globLayers, inputProjection, total: globalTotal },
    decoder: {
      layers: decLayers,
      crossAttention: decCross,
      patchProjection: decProjection,
      norm: dec.dim,
      lmHead,
      total: decoderTotal,
    },
    entropyModel,
    total,
    totalWithEntropyModel: total + entropyModel,
  };
}
