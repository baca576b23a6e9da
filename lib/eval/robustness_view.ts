/**
 * Where noise hits a BLT (paper §6.1): the entropy model's next-byte entropy and the resulting
 * patches of one sentence, clean and noised. Noise makes bytes unpredictable, so entropy spikes
 * and new patches appear there; the BLT spends global-model steps on them. Views plug straight
 * into `entropyPlot` and `patchStripSvg` of lib/viz.
 *
 * @module
 */
import { encode } from "../bytes/codec.ts";
import type { Blt } from "../model/blt.ts";
import { applyNoise, type NoiseName } from "./noise.ts";

/**
 * One sentence as the BLT patched it.
 *
 * @example
 * ```ts
 * import type { PatchView } from "./robustness_view.ts";
 * const mean = (v: PatchView) => v.ids.length / v.patchLengths.length; // bytes per patch
 * ```
 */
export interface PatchView {
  /** "clean" or the noise's name. */
  readonly noise: "clean" | NoiseName;
  readonly text: string;
  /** Codec ids `[T]`: BOS, bytes, EOS. */
  readonly ids: number[];
  /** Entropy per position `[T]` in nats (position t: entropy of the byte after t). */
  readonly entropies: Float32Array;
  /** Patch lengths `[P]`, each ≥ 1, summing to T. */
  readonly patchLengths: number[];
  /** The global threshold θ the patches were cut with. */
  readonly threshold: number;
}

/**
 * The clean view of `text` and one view per noise (seeded), patched by `blt`'s entropy model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { patchViews } from "./robustness_view.ts";
 * import { createBlt } from "../model/blt.ts";
 * import { resolveConfig } from "../config.ts";
 * await tf.ready();
 * const blt = createBlt(resolveConfig("tiny", { "global.layers": 1, "hash.buckets": 64 }), 0);
 * const [clean, upper] = patchViews(blt, "Hi there", ["UpperCase"]);
 * console.log(clean.ids.length, upper.text); // 10 "HI THERE"
 * blt.dispose();
 * ```
 */
export function patchViews(
  blt: Blt,
  text: string,
  noises: readonly NoiseName[],
  seed = 0,
): PatchView[] {
  if (typeof text !== "string" || text.length === 0) {
    throw new Error("patchViews: 'text' must be a non-empty string (the sentence to patch)");
  }
  const { patching } = blt.config;
  if (patching.mode !== "entropy" || blt.patcher === null) {
    throw new Error(
      `patchViews: needs a BLT with entropy patching and its entropy model; this one has ` +
        `patching.mode '${patching.mode}'${blt.patcher === null ? " and no entropy model" : ""}`,
    );
  }
  const variants: ["clean" | NoiseName, string][] = [
    ["clean", text],
    ...noises.map((n) => [n, applyNoise(n, text, { seed })] as [NoiseName, string]),
  ];
  return variants.map(([noise, t]) => {
    const ids = encode(t, { bos: true, eos: true });
    const { patchLengths, entropies } = blt.patch([ids]);
    return {
      noise,
      text: t,
      ids,
      entropies: entropies![0],
      // The patcher may end with an empty patch (a boundary right after the input): not drawn.
      patchLengths: patchLengths[0].filter((n) => n > 0),
      threshold: patching.threshold,
    };
  });
}
