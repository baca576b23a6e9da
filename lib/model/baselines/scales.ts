/**
 * Model sizes for the comparison: one width h and depth l give a matched set of runs for every
 * family (byte LM, BPE LM, MegaByte, BLT-space, BLT-static, BLT-entropy per target patch size),
 * so "three model sizes" is three calls.
 *
 * @module
 */
import { type BltConfig, resolveConfig, type TransformerConfig } from "../../config.ts";
import type { RunSpec } from "./families.ts";

/**
 * One model size of the comparison.
 *
 * @example
 * ```ts
 * import type { ComparisonScale } from "./scales.ts";
 * const s: ComparisonScale = { dim: 64, layers: 2, bpeVocab: 1024, patchSize: 4, hashBuckets: 512 };
 * ```
 */
export interface ComparisonScale {
  /** Width of the token/byte/global transformers h (a multiple of 32; local stacks get h/2). */
  readonly dim: number;
  /** Layers of those transformers (local stacks get ⌈l/2⌉, the BLT encoder 1). */
  readonly layers: number;
  readonly bpeVocab: number;
  /** P of MegaByte and BLT-static. */
  readonly patchSize: number;
  readonly hashBuckets: number;
}

function checkScale(scale: ComparisonScale): void {
  if (!Number.isInteger(scale.dim) || scale.dim < 32 || scale.dim % 32 !== 0) {
    throw new Error(
      `scale.dim must be a multiple of 32 (local stacks are h/2 wide, heads of 16), found ${scale.dim}`,
    );
  }
}

/**
 * A transformer stack of width `dim` (heads of 16 dims) and SwiGLU width ≈ 8h/3.
 *
 * @example
 * ```ts
 * import { stackConfig } from "./scales.ts";
 * console.log(stackConfig(64, 2).heads, stackConfig(64, 2).ffnDim); // 4 176
 * ```
 */
export function stackConfig(dim: number, layers: number): TransformerConfig {
  if (!Number.isInteger(dim) || dim < 16 || dim % 16 !== 0) {
    throw new Error(`dim must be a positive multiple of 16 (heads of 16 dims), found ${dim}`);
  }
  return Object.freeze({
    dim,
    layers,
    heads: dim / 16,
    headDim: 16,
    ffnDim: 16 * Math.ceil((8 * dim) / 3 / 16),
    normEps: 1e-5,
    ropeTheta: 500000,
    slidingWindow: null,
    maxPositions: 8192,
  });
}

/**
 * A BLT of the given size and patching mode (encoder 1 layer, k = 2 so k·h_E = h_G).
 *
 * @example
 * ```ts
 * import { bltAtScale } from "./scales.ts";
 * const cfg = bltAtScale({ dim: 64, layers: 2, bpeVocab: 512, patchSize: 4, hashBuckets: 256 }, "space");
 * console.log(cfg.encoder.dim, cfg.global.dim, cfg.patching.mode); // 32 64 "space"
 * ```
 */
export function bltAtScale(
  scale: ComparisonScale,
  mode: "entropy" | "space" | "static",
): BltConfig {
  checkScale(scale);
  const half = scale.dim / 2, local = Math.ceil(scale.layers / 2);
  return resolveConfig("tiny", {
    encoder: { ...stackConfig(half, 1), crossAttnAllLayers: false },
    global: stackConfig(scale.dim, scale.layers),
    decoder: { ...stackConfig(half, local), crossAttnAllLayers: true },
    entropyModel: null,
    "hash.buckets": scale.hashBuckets,
    crossAttnK: 2,
    "patching.mode": mode,
    "patching.patchSize": scale.patchSize,
  });
}

/**
 * The runs of every family at one size; BLT-entropy once per target mean patch size.
 *
 * @example
 * ```ts
 * import { comparisonRuns } from "./scales.ts";
 * const runs = comparisonRuns({ dim: 64, layers: 2, bpeVocab: 512, patchSize: 4, hashBuckets: 256 }, [4, 8]);
 * console.log(runs.map((r) => r.name).join(", "));
 * // "Byte LM, BPE 512, MegaByte P=4, BLT-space, BLT-static P=4, BLT-entropy ps=4, BLT-entropy ps=8"
 * ```
 */
export function comparisonRuns(
  scale: ComparisonScale,
  entropyPatchSizes: readonly number[] = [4, 6, 8],
): RunSpec[] {
  checkScale(scale);
  const model = stackConfig(scale.dim, scale.layers);
  const P = scale.patchSize;
  return [
    { name: "Byte LM", family: "byte", model },
    { name: `BPE ${scale.bpeVocab}`, family: "bpe", model, vocabSize: scale.bpeVocab },
    {
      name: `MegaByte P=${P}`,
      family: "megabyte",
      megabyte: {
        kind: "megabyte",
        patchSize: P,
        global: model,
        local: stackConfig(scale.dim / 2, Math.ceil(scale.layers / 2)),
      },
    },
    { name: "BLT-space", family: "blt", blt: bltAtScale(scale, "space") },
    { name: `BLT-static P=${P}`, family: "blt", blt: bltAtScale(scale, "static") },
    ...entropyPatchSizes.map((ps): RunSpec => ({
      name: `BLT-entropy ps=${ps}`,
      family: "blt",
      blt: bltAtScale(scale, "entropy"),
      targetPatchSize: ps,
    })),
  ];
}

/**
 * Hash n-gram ablations of BLT-entropy (paper §3.2.1, Table 3): the configured bucket count, a
 * quarter of it, and hash n-grams off. "Off" here is one bucket per table: every n-gram then maps
 * to the same row, so the hash term is one learned constant added to every byte embedding, which
 * the byte table can absorb: the model family of a BLT without hash embeddings (the runs recorded
 * in notebook 03 used this form; {@link ablationRuns} has the literal switch, `hash.sizes: []`).
 *
 * @example
 * ```ts
 * import { hashAblationRuns } from "./scales.ts";
 * const runs = hashAblationRuns({ dim: 64, layers: 2, bpeVocab: 512, patchSize: 4, hashBuckets: 2048 }, 6);
 * console.log(runs.map((r) => r.name)); // ["BLT hash 2048", "BLT hash 512", "BLT hash off"]
 * ```
 */
export function hashAblationRuns(scale: ComparisonScale, targetPatchSize: number): RunSpec[] {
  const base = bltAtScale(scale, "entropy");
  const quarter = Math.max(2, Math.round(scale.hashBuckets / 4));
  const withBuckets = (buckets: number) => resolveConfig(base, { "hash.buckets": buckets });
  return [
    { name: `BLT hash ${scale.hashBuckets}`, family: "blt", blt: base, targetPatchSize },
    { name: `BLT hash ${quarter}`, family: "blt", blt: withBuckets(quarter), targetPatchSize },
    { name: "BLT hash off", family: "blt", blt: withBuckets(1), targetPatchSize },
  ];
}

/**
 * Architecture ablations of BLT-entropy (paper Table 8 and §3.2.1): the full model, the decoder
 * without cross-attention (each byte adds its patch's projected global state), the encoder with
 * pooling only (projected per-patch max pools, no cross-attention), and hash n-grams off
 * (`hash.sizes: []`, byte embeddings only). `targetPatchSize` calibrates θ for every run (absent:
 * the config's θ), so they differ only in the switch.
 *
 * @example
 * ```ts
 * import { ablationRuns } from "./scales.ts";
 * const runs = ablationRuns({ dim: 64, layers: 2, bpeVocab: 512, patchSize: 4, hashBuckets: 512 }, 6);
 * console.log(runs.map((r) => r.name));
 * // ["BLT", "BLT dec. cross-attn off", "BLT enc. pooling only", "BLT no hash n-grams"]
 * ```
 */
export function ablationRuns(scale: ComparisonScale, targetPatchSize?: number): RunSpec[] {
  const base = bltAtScale(scale, "entropy");
  const run = (name: string, overrides: Record<string, unknown>): RunSpec => ({
    name,
    family: "blt",
    blt: resolveConfig(base, overrides),
    ...(targetPatchSize === undefined ? {} : { targetPatchSize }),
  });
  return [
    run("BLT", {}),
    run("BLT dec. cross-attn off", { "decoder.crossAttn": false }),
    run("BLT enc. pooling only", { "encoder.crossAttn": false }),
    run("BLT no hash n-grams", { "hash.sizes": [] }),
  ];
}
