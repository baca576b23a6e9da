/**
 * BLT training data from cached entropies: byte windows of T ids that never cross a document,
 * each with the entropy patch lengths of that window (paper §2.3), and θ calibrated to a target
 * mean patch size over the same windows.
 *
 * A window starting at byte s of a document is patched from the document's cached entropies
 * H[s..s+n) (each computed with the document's own left context, see `entropy_cache.ts`): the
 * global rule starts a patch at window position i when H[s+i−1] > θ, positions 0 and 1 always
 * start (the first patch is the window's first byte alone, which keeps BLT's decoder causal),
 * exactly as the model patches a row at inference. BOE padding after a short document's EOS is
 * one more patch (split at `maxPatchLength`), masked out of the loss.
 *
 * Windows are drawn exactly as `lib/data`'s `sampleBatches` and `sequentialBatches` draw them,
 * so a BLT run and a byte-LM run with one seed see the same bytes.
 *
 * @module
 */
import { BOE_ID } from "../bytes/mod.ts";
import type { PatchingConfig } from "../config.ts";
import { Rng } from "../data/rng.ts";
import {
  calibrateThreshold,
  type CalibrationResult,
  patchLengths,
  splitPatchLengths,
} from "../patching/mod.ts";
import type { Batch, BatchSource } from "./types.ts";

/**
 * Window length, rows per batch and the patching rule (entropy mode).
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import type { PatchedWindowOptions } from "./pipeline_batches.ts";
 * const o: PatchedWindowOptions = { window: 1024, batchSize: 8, patching: PRESETS.tiny.patching };
 * ```
 */
export interface PatchedWindowOptions {
  readonly window: number;
  readonly batchSize: number;
  readonly patching: PatchingConfig;
}

function check(
  docs: readonly ArrayLike<number>[],
  entropies: readonly ArrayLike<number>[],
  o: PatchedWindowOptions,
): void {
  if (!Number.isInteger(o.window) || o.window < 2) {
    throw new Error(`window must be an integer ≥ 2, found ${o.window}`);
  }
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) {
    throw new Error(`batchSize must be an integer ≥ 1, found ${o.batchSize}`);
  }
  if (o.patching.mode !== "entropy") {
    throw new Error(
      `patching.mode must be 'entropy' for batches patched from cached entropies, found ` +
        `'${o.patching.mode}'; other modes need no entropies (the model patches its rows itself)`,
    );
  }
  if (docs.length === 0) throw new Error("docs is empty: pass at least one encoded document");
  if (entropies.length !== docs.length) {
    throw new Error(
      `entropies has ${entropies.length} documents, docs has ${docs.length}; compute them together`,
    );
  }
  docs.forEach((d, i) => {
    if (d.length < 2) throw new Error(`docs[${i}] has ${d.length} ids; expected BOS … EOS (≥ 2)`);
    if (entropies[i].length !== d.length) {
      throw new Error(
        `entropies[${i}] has ${entropies[i].length} values, docs[${i}] has ${d.length} ids`,
      );
    }
  });
}

/**
 * Patch lengths of the window [start, start + window) of one document, covering `window`
 * positions (padding past the document's end is one last patch).
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { windowPatchLengths } from "./pipeline_batches.ts";
 * const patching = { ...PRESETS.tiny.patching, threshold: 1 };
 * const h = [3, 0.1, 2, 0.2, 0.3, 2, 0.1]; // a 7-id document's entropies
 * console.log(windowPatchLengths(h, 0, 8, patching)); // [1, 2, 3, 1, 1]
 * console.log(windowPatchLengths(h, 2, 4, patching)); // [1, 3]
 * ```
 */
export function windowPatchLengths(
  entropies: ArrayLike<number>,
  start: number,
  window: number,
  patching: PatchingConfig,
): number[] {
  const n = Math.min(window, entropies.length - start); // real ids in the window
  const h = Array.prototype.slice.call(entropies, start, start + n) as number[]; // [n]
  const lengths = patchLengths(h, patching);
  if (n === window) return lengths;
  const max = patching.maxPatchLength;
  return [...lengths, ...(max === null ? [window - n] : splitPatchLengths([window - n], max))];
}

/** Builds one batch from (document, start) pairs: ids, targetMask and patch lengths `[B, …]`. */
function buildBatch(
  docs: readonly ArrayLike<number>[],
  entropies: readonly ArrayLike<number>[],
  rows: readonly (readonly [number, number])[],
  o: PatchedWindowOptions,
): Batch {
  const T = o.window;
  const ids: number[][] = [], targetMask: number[][] = [], lengths: number[][] = [];
  for (const [d, start] of rows) {
    const n = Math.min(T, docs[d].length - start);
    const row = new Array<number>(T).fill(BOE_ID); // [T]
    const mask = new Array<number>(T).fill(0); // [T]
    for (let t = 0; t < n; t++) row[t] = docs[d][start + t];
    for (let t = 1; t < n; t++) mask[t] = 1;
    ids.push(row);
    targetMask.push(mask);
    lengths.push(windowPatchLengths(entropies[d], start, T, o.patching));
  }
  return { ids, targetMask, patchLengths: lengths };
}

function cumulative(counts: readonly number[]): Float64Array {
  const starts = new Float64Array(counts.length + 1);
  counts.forEach((c, i) => starts[i + 1] = starts[i] + c);
  return starts;
}

/** Index of the group holding item k, given cumulative starts. */
function locate(starts: Float64Array, k: number): number {
  let lo = 0, hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= k) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Seeded random training windows with their patch lengths; `batchAt(i)` is a pure function of
 * (docs, entropies, options, seed, i), the trainer's `BatchSource` contract for exact resume.
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { encodeDocuments } from "../data/mod.ts";
 * import { patchedBatches } from "./pipeline_batches.ts";
 * const docs = encodeDocuments(["one document", "another one"]);
 * const entropies = docs.map((d) => new Float32Array(d.length).fill(2)); // every byte a patch
 * const source = patchedBatches(docs, entropies, {
 *   window: 5, batchSize: 3, seed: 42, patching: PRESETS.tiny.patching,
 * });
 * console.log(source.batchAt(0).patchLengths![0]); // [1, 1, 1, 1, 1]
 * ```
 */
export function patchedBatches(
  docs: readonly ArrayLike<number>[],
  entropies: readonly ArrayLike<number>[],
  options: PatchedWindowOptions & { readonly seed: number },
): BatchSource & { readonly numWindows: number } {
  check(docs, entropies, options);
  const T = options.window;
  const starts = cumulative(docs.map((d) => Math.max(1, d.length - T + 1)));
  const numWindows = starts[docs.length];
  const root = new Rng(options.seed);
  return {
    numWindows,
    batchAt(index: number): Batch {
      if (!Number.isInteger(index) || index < 0) {
        throw new Error(`batchAt: index must be an integer ≥ 0, found ${index}`);
      }
      const rng = root.fork(index);
      const rows = Array.from({ length: options.batchSize }, () => {
        const k = rng.int(numWindows);
        const d = locate(starts, k);
        return [d, k - starts[d]] as const;
      });
      return buildBatch(docs, entropies, rows, options);
    },
  };
}

/** (document, start) of every sequential window: window k of a document starts at k·(T − 1). */
function sequentialRows(docs: readonly ArrayLike<number>[], T: number): [number, number][] {
  const rows: [number, number][] = [];
  docs.forEach((d, i) => {
    for (let s = 0; s === 0 || s < d.length - 1; s += T - 1) rows.push([i, s]);
  });
  return rows;
}

/**
 * Validation batches: every target of every document once, in order (as `sequentialBatches`),
 * with patch lengths; at most `maxBatches` of them (default all).
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { encodeDocuments } from "../data/mod.ts";
 * import { patchedValidation } from "./pipeline_batches.ts";
 * const docs = encodeDocuments(["abcde", "x"]); // 7 ids → 2 windows of 4; 3 ids → 1 window
 * const entropies = docs.map((d) => new Float32Array(d.length));
 * const batches = patchedValidation(docs, entropies, {
 *   window: 4, batchSize: 2, patching: PRESETS.tiny.patching,
 * });
 * console.log(batches.length, batches[1].patchLengths); // 2 [[1, 2, 1]]
 * ```
 */
export function patchedValidation(
  docs: readonly ArrayLike<number>[],
  entropies: readonly ArrayLike<number>[],
  options: PatchedWindowOptions & { readonly maxBatches?: number },
): Batch[] {
  check(docs, entropies, options);
  const rows = sequentialRows(docs, options.window);
  const batches: Batch[] = [];
  const limit = options.maxBatches ?? Infinity;
  for (let i = 0; i < rows.length && batches.length < limit; i += options.batchSize) {
    batches.push(buildBatch(docs, entropies, rows.slice(i, i + options.batchSize), options));
  }
  return batches;
}

/**
 * Calibrates the global threshold θ so that the sequential windows of `docs` have mean patch size
 * `target` (bytes per patch, before the `maxPatchLength` split), and returns the patching config
 * with that θ. Only the global rule is calibrated: a relative threshold is an error.
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { calibratePatching } from "./pipeline_batches.ts";
 * const h = [Float32Array.from({ length: 400 }, (_, i) => (i * 0.618) % 3)];
 * const { patching, calibration } = calibratePatching(h, 64, 4, PRESETS.tiny.patching);
 * console.log(calibration.converged, patching.threshold === calibration.threshold); // true true
 * ```
 */
export function calibratePatching(
  entropies: readonly ArrayLike<number>[],
  window: number,
  target: number,
  patching: PatchingConfig,
): { readonly patching: PatchingConfig; readonly calibration: CalibrationResult } {
  if (patching.relativeThreshold !== null || patching.monotonic) {
    throw new Error(
      "calibratePatching calibrates the global rule's θ only; set patching.relativeThreshold " +
        "to null and patching.monotonic to false, or give θ directly",
    );
  }
  const windows = sequentialRows(entropies, window).map(([d, s]) =>
    Array.prototype.slice.call(entropies[d], s, Math.min(s + window, entropies[d].length))
  );
  const calibration = calibrateThreshold(windows, target, { tolerance: 0.02 });
  return {
    patching: Object.freeze({ ...patching, threshold: calibration.threshold }),
    calibration,
  };
}

/**
 * Mean patch size (real bytes per patch, padding excluded) of the sequential windows under
 * `patching`, `maxPatchLength` split included: the size the BLT actually trains with.
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { meanPatchSize } from "./pipeline_batches.ts";
 * const h = [new Float32Array(10).fill(0)]; // nothing above θ: patches [1, 9]
 * console.log(meanPatchSize(h, 16, PRESETS.tiny.patching)); // 5
 * ```
 */
export function meanPatchSize(
  entropies: readonly ArrayLike<number>[],
  window: number,
  patching: PatchingConfig,
): number {
  let bytes = 0, patches = 0;
  for (const [d, s] of sequentialRows(entropies, window)) {
    const n = Math.min(window, entropies[d].length - s);
    bytes += n;
    patches += windowPatchLengths(entropies[d], s, n, patching).length;
  }
  return bytes / patches;
}
