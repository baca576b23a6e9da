/**
 * Choosing the next byte from a logits row `[V]`: greedy (temperature 0), temperature, top-k and
 * top-p (nucleus, Holtzman et al. 2020) sampling, seeded through lib/data's `Rng`. Pure functions
 * of the row (and the generator's state); computed in float64, ties broken toward the lower id,
 * so the same logits and seed give the same byte everywhere.
 *
 * @module
 */
import type { Rng } from "../data/rng.ts";

/**
 * How to pick the next byte. Temperature 0 is greedy (argmax); top-k and top-p cut the
 * distribution (after temperature) before sampling; both may be set (top-k first).
 *
 * @example
 * ```ts
 * import type { SamplingOptions } from "./sampling.ts";
 * const nucleus: SamplingOptions = { temperature: 0.8, topP: 0.9 };
 * ```
 */
export interface SamplingOptions {
  /** Softmax temperature ≥ 0; 0 = greedy. Default 1. */
  readonly temperature?: number;
  /** Keep only the k most likely ids (an integer ≥ 1); null/absent = all. */
  readonly topK?: number | null;
  /** Keep the fewest most likely ids whose probability reaches p, in (0, 1]; null/absent = all. */
  readonly topP?: number | null;
}

/**
 * Throws a message naming the field unless the options are valid; returns them.
 *
 * @example
 * ```ts
 * import { checkSampling } from "./sampling.ts";
 * checkSampling({ temperature: 0.7, topK: 20 });
 * ```
 */
export function checkSampling(options: SamplingOptions): SamplingOptions {
  const { temperature = 1, topK = null, topP = null } = options ?? {};
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature < 0) {
    throw new Error(
      `sampling.temperature must be a finite number ≥ 0 (0 = greedy), found ${temperature}`,
    );
  }
  if (topK !== null && (!Number.isInteger(topK) || topK < 1)) {
    throw new Error(`sampling.topK must be an integer ≥ 1 or null, found ${topK}`);
  }
  if (topP !== null && (typeof topP !== "number" || !(topP > 0 && topP <= 1))) {
    throw new Error(`sampling.topP must be a number in (0, 1] or null, found ${topP}`);
  }
  return options;
}

/**
 * Index of the largest logit (the lowest such index on ties); NaN logits are never chosen.
 *
 * @example
 * ```ts
 * import { greedy } from "./sampling.ts";
 * console.log(greedy(new Float32Array([0.1, 2, 2, -1]))); // 1
 * ```
 */
export function greedy(logits: ArrayLike<number>): number {
  checkRow(logits);
  let best = -1, bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] > bestValue || (best === -1 && logits[i] === -Infinity)) {
      best = i;
      bestValue = logits[i];
    }
  }
  if (best === -1) throw new Error("greedy: every logit is NaN; the model's output is broken");
  return best;
}

/**
 * Softmax of `logits / temperature` in float64 (temperature > 0).
 *
 * @example
 * ```ts
 * import { softmax } from "./sampling.ts";
 * console.log(Array.from(softmax([0, Math.log(3)], 1))); // [0.25, 0.75]
 * ```
 */
export function softmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  checkRow(logits);
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`softmax: temperature must be a finite number > 0, found ${temperature}`);
  }
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Number.isNaN(logits[i]) ? 0 : Math.exp((logits[i] - max) / temperature);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/**
 * Ids ordered by probability, highest first (lower id first on ties).
 *
 * @example
 * ```ts
 * import { rankByProbability } from "./sampling.ts";
 * console.log(rankByProbability([0.2, 0.5, 0.3])); // [1, 2, 0]
 * ```
 */
export function rankByProbability(probs: ArrayLike<number>): number[] {
  return Array.from({ length: probs.length }, (_, i) => i).sort((a, b) =>
    probs[b] - probs[a] || a - b
  );
}

/**
 * Zeroes all but the `k` most likely ids and renormalises (a new array).
 *
 * @example
 * ```ts
 * import { topKFilter } from "./sampling.ts";
 * console.log(Array.from(topKFilter([0.2, 0.5, 0.3], 2))); // [0, 0.625, 0.375]
 * ```
 */
export function topKFilter(probs: ArrayLike<number>, k: number): Float64Array {
  checkSampling({ topK: k });
  return keep(probs, rankByProbability(probs).slice(0, k));
}

/**
 * Keeps the fewest most likely ids whose total probability reaches `p` (at least one id) and
 * renormalises (a new array).
 *
 * @example
 * ```ts
 * import { topPFilter } from "./sampling.ts";
 * console.log(Array.from(topPFilter([0.2, 0.5, 0.3], 0.7))); // [0, 0.625, 0.375]
 * ```
 */
export function topPFilter(probs: ArrayLike<number>, p: number): Float64Array {
  checkSampling({ topP: p });
  const ranked = rankByProbability(probs);
  const kept: number[] = [];
  let total = 0;
  for (const i of ranked) {
    kept.push(i);
    total += probs[i];
    if (total >= p) break;
  }
  return keep(probs, kept);
}

/**
 * Draws an id from probabilities (summing to 1) with one `rng.float()`: the first id, in id
 * order, whose cumulative probability exceeds the draw.
 *
 * @example
 * ```ts
 * import { Rng } from "../data/rng.ts";
 * import { sampleFrom } from "./sampling.ts";
 * console.log(sampleFrom([0, 1, 0], new Rng(3))); // 1
 * ```
 */
export function sampleFrom(probs: ArrayLike<number>, rng: Rng): number {
  const u = rng.float();
  let cumulative = 0, last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (!(probs[i] > 0)) continue;
    cumulative += probs[i];
    last = i;
    if (u < cumulative) return i;
  }
  if (last === -1) throw new Error("sampleFrom: no id has a positive probability");
  return last; // rounding left the total a hair below the draw
}

/**
 * The next id from a logits row under `options`: greedy at temperature 0, else temperature →
 * softmax → top-k → top-p → one draw from `rng`. Greedy draws nothing from `rng`.
 *
 * @example
 * ```ts
 * import { Rng } from "../data/rng.ts";
 * import { sample } from "./sampling.ts";
 * const logits = new Float32Array([1, 3, 2]);
 * console.log(sample(logits, { temperature: 0 }, new Rng(0))); // 1
 * console.log(sample(logits, { temperature: 1, topK: 1 }, new Rng(0))); // 1
 * ```
 */
export function sample(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  const { temperature = 1, topK = null, topP = null } = checkSampling(options);
  if (temperature === 0) return greedy(logits);
  let probs = softmax(logits, temperature);
  if (topK !== null) probs = topKFilter(probs, topK);
  if (topP !== null) probs = topPFilter(probs, topP);
  return sampleFrom(probs, rng);
}

function keep(probs: ArrayLike<number>, ids: readonly number[]): Float64Array {
  const out = new Float64Array(probs.length);
  let total = 0;
  for (const i of ids) total += probs[i];
  for (const i of ids) out[i] = probs[i] / total;
  return out;
}

function checkRow(logits: ArrayLike<number>): void {
  if (logits === null || typeof logits !== "object" || !(logits.length > 0)) {
    throw new Error(`logits must be a non-empty array of numbers [V], found ${typeof logits}`);
  }
}
