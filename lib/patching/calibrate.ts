/**
 * Calibrating the global entropy threshold θ to a target mean patch size (paper §2.3 / §4: BLT
 * models are compared with BPE at matched average patch size).
 *
 * @module
 */

import { checkEntropies } from "./validate.ts";

/** Options of {@link calibrateThreshold}. */
export interface CalibrationOptions {
  /** Accept θ once |achieved − target| ≤ tolerance (bytes per patch). Default 0.01. */
  readonly tolerance?: number;
  /** Bisection steps at most. Default 60. */
  readonly maxIterations?: number;
}

/** What {@link calibrateThreshold} found. */
export interface CalibrationResult {
  /** θ for the global rule `H[i−1] > θ`, centred in the gap between neighbouring entropies. */
  readonly threshold: number;
  /** Mean patch size (bytes per patch over all sequences) that θ achieves. */
  readonly meanPatchSize: number;
  readonly targetMeanPatchSize: number;
  readonly tolerance: number;
  /** Bisection steps taken. */
  readonly iterations: number;
  /** Whether the achieved mean is within tolerance (the mean is a step function of θ). */
  readonly converged: boolean;
}

/**
 * Finds θ by bisection so that global entropy patching of `entropiesList` (one entropy array per
 * sequence, patches covering each sequence) has mean patch size `targetMeanPatchSize`.
 *
 * @example
 * ```ts
 * import { calibrateThreshold } from "./mod.ts";
 * const h = Array.from({ length: 400 }, (_, i) => (i * 0.618) % 3);
 * const { threshold, meanPatchSize } = calibrateThreshold([h], 4, { tolerance: 0.1 }); // ≈ 4
 * ```
 */
export function calibrateThreshold(
  entropiesList: readonly ArrayLike<number>[],
  targetMeanPatchSize: number,
  options: CalibrationOptions = {},
): CalibrationResult {
  const { tolerance = 0.01, maxIterations = 60 } = options;
  if (!Array.isArray(entropiesList) || entropiesList.length === 0) {
    throw new Error(
      "'entropiesList' must be a non-empty array of entropy arrays (one per sequence)",
    );
  }
  entropiesList.forEach((h, s) => checkEntropies(h, `entropiesList[${s}]`));
  if (!Number.isFinite(targetMeanPatchSize) || targetMeanPatchSize < 1) {
    throw new Error(
      `'targetMeanPatchSize' must be a finite number ≥ 1, found ${targetMeanPatchSize}`,
    );
  }
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new Error(`'tolerance' must be a finite number ≥ 0, found ${tolerance}`);
  }
  if (!Number.isInteger(maxIterations) || maxIterations < 1) {
    throw new Error(`'maxIterations' must be an integer ≥ 1, found ${maxIterations}`);
  }
  // Only H[0..T−2] decide starts (positions 2..T−1): those are the values θ is compared with.
  const deciding: number[] = [];
  let bytes = 0;
  let forced = 0; // positions 0 and 1 start whatever θ is
  for (const h of entropiesList) {
    bytes += h.length;
    forced += Math.min(h.length, 2);
    for (let i = 1; i < h.length - 1; i++) deciding.push(h[i]);
  }
  if (bytes === 0) throw new Error("'entropiesList' holds no entropies; pass at least one byte");
  deciding.sort((a, b) => a - b);
  // Patches for θ = forced + #{deciding > θ}; mean grows with θ.
  const meanAt = (theta: number) =>
    bytes / (forced + deciding.length - upperBound(deciding, theta));
  const largest = bytes / forced;
  if (targetMeanPatchSize > largest + tolerance) {
    throw new Error(
      `'targetMeanPatchSize' ${targetMeanPatchSize} is above ${
        largest.toFixed(3)
      }, the largest mean ` +
        "these sequences allow (positions 0 and 1 always start a patch); pass longer sequences " +
        "or a smaller target",
    );
  }
  let lo = deciding.length > 0 ? deciding[0] - 1 : -1; // every deciding value above θ: mean 1
  let hi = deciding.length > 0 ? deciding[deciding.length - 1] : 1; // none above θ: largest mean
  let best = { theta: hi, mean: meanAt(hi) };
  let iterations = 0;
  for (const theta of [lo, hi]) {
    const mean = meanAt(theta);
    if (Math.abs(mean - targetMeanPatchSize) < Math.abs(best.mean - targetMeanPatchSize)) {
      best = { theta, mean };
    }
  }
  while (Math.abs(best.mean - targetMeanPatchSize) > tolerance && iterations < maxIterations) {
    iterations++;
    const mid = (lo + hi) / 2;
    const mean = meanAt(mid);
    if (Math.abs(mean - targetMeanPatchSize) < Math.abs(best.mean - targetMeanPatchSize)) {
      best = { theta: mid, mean };
    }
    if (mean < targetMeanPatchSize) lo = mid;
    else hi = mid;
  }
  return Object.freeze({
    threshold: centreInGap(deciding, best.theta),
    meanPatchSize: best.mean,
    targetMeanPatchSize,
    tolerance,
    iterations,
    converged: Math.abs(best.mean - targetMeanPatchSize) <= tolerance,
  });
}

/** Number of sorted values ≤ x. */
function upperBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Any θ in [largest value ≤ θ, smallest value > θ) patches identically; the middle of that gap
// keeps float32 round-off of the entropies from moving a boundary.
function centreInGap(sorted: readonly number[], theta: number): number {
  const k = upperBound(sorted, theta);
  if (k === 0 || k === sorted.length) return theta;
  return (sorted[k - 1] + sorted[k]) / 2;
}
