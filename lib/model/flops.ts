/**
 * FLOPs per byte of BLT and of plain (byte- or token-level) transformers, following the paper's
 * accounting (§4.5 and its FLOPs appendix, after Hoffmann et al. 2022):
 *
 * - a multiply-add counts 2 FLOPs; embedding look-ups (byte and hash n-gram tables) count 0;
 * - per layer and position: Q, K, V, O projections 8h², SwiGLU 6·h·h_ff, attention 4·h·m where m
 *   is the number of keys in context (the full context, not halved for causality, as Chinchilla);
 * - the output layer (de-embedding) 2·h·V;
 * - BLT per byte = encoder + decoder (per byte, m = their attention window) + global transformer
 *   per patch ÷ mean patch size n_p (m = n_ctx / n_p patches) + the cross-attentions:
 *   encoder (k queries per patch over its n_p bytes) and decoder (each byte over the k slots of
 *   its patch);
 * - training = 3 × forward (the backward pass costs twice the forward), inference = forward.
 *
 * One addition to the paper's equations: the linear maps between local and global widths
 * (encoder h_E → k·h_E queries, global input k·h_E → h_G when they differ, decoder h_G → k·h_D),
 * run once per patch, are counted as `projections`. The entropy model is reported separately and
 * left out of the total: patching is data preparation (DESIGN.md).
 *
 * The cross-attention ablations (paper Table 8) drop their terms: `encoder.crossAttn: false`
 * leaves only the max pool's projection, and `decoder.crossAttn: false` replaces cross-attention
 * by a per-patch h_G → h_D projection added to each byte (the addition, like embedding look-ups,
 * counts 0). Hash n-grams off changes nothing here: look-ups count 0.
 *
 * @module
 */

/**
 * The dimensions FLOPs depend on (a `TransformerConfig` from lib/config.ts has them all).
 *
 * @example
 * ```ts
 * import type { StackDims } from "./flops.ts";
 * const g: StackDims = { dim: 256, layers: 4, ffnDim: 768, slidingWindow: null };
 * ```
 */
export interface StackDims {
  readonly dim: number;
  readonly layers: number;
  readonly ffnDim: number;
  readonly slidingWindow: number | null;
}

/**
 * The parts of a `BltConfig` FLOPs depend on.
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import type { BltFlopsConfig } from "./flops.ts";
 * const c: BltFlopsConfig = PRESETS.tiny;
 * ```
 */
export interface BltFlopsConfig {
  readonly vocabSize: number;
  readonly crossAttnK: number;
  readonly encoder: LocalStackDims;
  readonly global: StackDims;
  readonly decoder: LocalStackDims;
  readonly entropyModel: StackDims | null;
}

/**
 * A local stack's dimensions plus where it cross-attends; `crossAttn` absent means on.
 *
 * @example
 * ```ts
 * import type { LocalStackDims } from "./flops.ts";
 * const d: LocalStackDims = { dim: 4, layers: 2, ffnDim: 8, slidingWindow: null, crossAttnAllLayers: true, crossAttn: false };
 * ```
 */
export type LocalStackDims = StackDims & {
  readonly crossAttnAllLayers: boolean;
  readonly crossAttn?: boolean;
};

/** Cross-attention layers of a local stack: 0 when off, 1 or all of them when on. */
function crossLayers(s: LocalStackDims): number {
  return s.crossAttn === false ? 0 : s.crossAttnAllLayers ? s.layers : 1;
}

/**
 * Forward FLOPs per byte of a BLT, by part, with totals.
 *
 * @example
 * ```ts
 * import type { BltFlops } from "./flops.ts";
 * const show = (f: BltFlops) => `${(f.training / 1e6).toFixed(1)} MFLOP/byte to train`;
 * ```
 */
export interface BltFlops {
  readonly encoder: number;
  readonly encoderCrossAttn: number;
  readonly global: number;
  readonly decoderCrossAttn: number;
  readonly decoder: number;
  readonly projections: number;
  /** The entropy model's forward FLOPs per byte (not in the totals). */
  readonly entropyModel: number;
  /** Sum of the parts above except the entropy model. */
  readonly forward: number;
  /** Same as forward: one forward pass per byte generated or scored. */
  readonly inference: number;
  /** 3 × forward. */
  readonly training: number;
}

function check(value: number, name: string): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new Error(`flops: ${name} must be a finite number > 0, found ${value}`);
  }
  return value;
}

/**
 * Forward FLOPs per position of a transformer stack: `l·(8h² + 4·h·m + 6·h·h_ff) + 2·h·V`
 * (m = keys attended per position, V = output vocabulary, 0 for none).
 *
 * @example
 * ```ts
 * import { transformerForwardFlops } from "./flops.ts";
 * // l=1, h=4, h_ff=8, m=32, no output layer: 8·16 + 4·4·32 + 6·4·8 = 832
 * console.log(transformerForwardFlops({ dim: 4, layers: 1, ffnDim: 8, slidingWindow: null }, 32, 0)); // 832
 * ```
 */
export function transformerForwardFlops(stack: StackDims, context: number, vocab: number): number {
  const h = stack.dim;
  const m = stack.slidingWindow === null ? context : Math.min(stack.slidingWindow, context);
  return stack.layers * (8 * h * h + 4 * h * m + 6 * h * stack.ffnDim) + 2 * h * vocab;
}

/**
 * Cross-attention FLOPs per query (paper's Cross-Attn(h, l, m, r)): Q and O projections for the
 * query, K and V projections for the r keys per query, and attention over m keys.
 */
function crossAttnFlopsPerQuery(h: number, layers: number, m: number, r: number): number {
  return layers * (2 * h * h * (2 + 2 * r) + 4 * h * m);
}

/**
 * Forward, inference and training FLOPs per byte of a BLT with mean patch size `meanPatchSize`
 * over contexts of `contextBytes` bytes.
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { bltFlopsPerByte } from "./flops.ts";
 * const f = bltFlopsPerByte(PRESETS.tiny, { meanPatchSize: 4, contextBytes: 1024 });
 * console.log(f.training === 3 * f.forward); // true
 * ```
 */
export function bltFlopsPerByte(
  config: BltFlopsConfig,
  options: { readonly meanPatchSize: number; readonly contextBytes: number },
): BltFlops {
  const np = check(options.meanPatchSize, "meanPatchSize");
  const ctx = check(options.contextBytes, "contextBytes");
  const k = config.crossAttnK;
  const { encoder: e, global: g, decoder: d } = config;
  const encoderCrossLayers = crossLayers(e);
  const decoderCrossLayers = crossLayers(d);
  const decoderSlots = d.crossAttn === false ? 1 : k;
  const projectionsPerPatch = 2 * e.dim * k * e.dim +
    (k * e.dim === g.dim ? 0 : 2 * k * e.dim * g.dim) +
    2 * g.dim * decoderSlots * d.dim;
  const parts = {
    encoder: transformerForwardFlops(e, ctx, 0),
    // k queries per patch attend to the patch's n_p bytes (r = n_p / k keys per query).
    encoderCrossAttn: (crossAttnFlopsPerQuery(e.dim, encoderCrossLayers, np, np / k) * k) / np,
    global: transformerForwardFlops(g, ctx / np, 0) / np,
    // Each byte attends to its patch's k slots, which n_p bytes share (r = k / n_p).
    decoderCrossAttn: crossAttnFlopsPerQuery(d.dim, decoderCrossLayers, k, k / np),
    decoder: transformerForwardFlops(d, ctx, config.vocabSize),
    projections: projectionsPerPatch / np,
  };
  const forward = Object.values(parts).reduce((a, b) => a + b, 0);
  const entropyModel = config.entropyModel === null
    ? 0
    : transformerForwardFlops(config.entropyModel, ctx, config.vocabSize);
  return { ...parts, entropyModel, forward, inference: forward, training: 3 * forward };
}

/**
 * Forward, inference and training FLOPs per byte of a plain transformer LM over tokens of
 * `bytesPerToken` bytes on average (1 for the byte-level baseline, ≈ 4.4 for Llama 3's BPE).
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { transformerFlopsPerByte } from "./flops.ts";
 * const bpe = transformerFlopsPerByte(PRESETS.tiny.global, { contextTokens: 256, vocab: 4096, bytesPerToken: 4 });
 * console.log(bpe.training > bpe.forward); // true
 * ```
 */
export function transformerFlopsPerByte(
  stack: StackDims,
  options: {
    readonly contextTokens: number;
    readonly vocab: number;
    readonly bytesPerToken?: number;
  },
): { readonly forward: number; readonly inference: number; readonly training: number } {
  const bytesPerToken = check(options.bytesPerToken ?? 1, "bytesPerToken");
  const forward =
    transformerForwardFlops(stack, check(options.contextTokens, "contextTokens"), options.vocab) /
    bytesPerToken;
  return { forward, inference: forward, training: 3 * forward };
}
