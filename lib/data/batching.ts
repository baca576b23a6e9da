/**
 * Byte windows for training and evaluation, cut so that no window spans two documents.
 *
 * Every document is encoded once as `BOS bytes… EOS` (ids from `lib/bytes`). A window holds T ids
 * from a single document; the model predicts ids[t + 1] from ids[0..t], so a window of n real ids
 * has n − 1 targets. Documents longer than T give windows that lie wholly inside them; a document
 * shorter than T gives one window, padded at the end with BOE (id 0). Padding never counts:
 * `targetMask[b][t]` is 1 exactly when ids[b][t] is a real id predicted from real context
 * (t ≥ 1), and `targets` counts those ones, so bits per byte over the masked loss is exact.
 *
 * Both sources are pure functions of the batch index (the trainer's `BatchSource` contract):
 * a run resumes exactly from the index alone.
 *
 * @module
 */
import { BOE_ID, encode } from "../bytes/mod.ts";
import type { Batch, BatchSource } from "../train/types.ts";
import { Rng } from "./rng.ts";

/**
 * Window length T and rows per batch B.
 *
 * @example
 * ```ts
 * import {
 *   encodeDocuments, sampleBatches, type SampledBatches, sequentialBatches,
 *   type SequentialBatches, type WindowBatch, type WindowOptions,
 * } from "./mod.ts";
 * const options: WindowOptions = { window: 8, batchSize: 2 };
 * const docs = encodeDocuments(["hello world", "hi"]);
 * const train: SampledBatches = sampleBatches(docs, { ...options, seed: 1 });
 * const valid: SequentialBatches = sequentialBatches(docs, options);
 * const batch: WindowBatch = train.batchAt(0);
 * console.log(batch.ids.length, batch.ids[0].length, valid.targets); // 2 8 15
 * ```
 */
export interface WindowOptions {
  /** T: ids per window (≥ 2, so that a window holds at least one target). */
  readonly window: number;
  /** B: windows per batch (≥ 1). */
  readonly batchSize: number;
}

/**
 * A batch of windows: ids `[B, T]`, `targetMask` `[B, T]` (0 at t = 0 and on padding), and the
 * number of real targets (the mask's sum).
 *
 * @example
 * ```ts
 * import {
 *   encodeDocuments, sampleBatches, type SampledBatches, sequentialBatches,
 *   type SequentialBatches, type WindowBatch, type WindowOptions,
 * } from "./mod.ts";
 * const options: WindowOptions = { window: 4, batchSize: 1 };
 * const docs = encodeDocuments(["ab"]); // [1, 101, 102, 2]
 * const sampled: SampledBatches = sampleBatches(docs, { ...options, seed: 0 });
 * const sequential: SequentialBatches = sequentialBatches(docs, options);
 * const batch: WindowBatch = sequential.batchAt(0);
 * console.log(batch.targetMask[0], batch.targets, sampled.batchAt(0).targets); // [0, 1, 1, 1] 3 3
 * ```
 */
export interface WindowBatch extends Batch {
  /** `[B, T]` byte ids; BOE (0) pads windows of documents shorter than T. */
  readonly ids: number[][];
  /** `[B, T]`: 1 where ids[b][t] is a target that counts. */
  readonly targetMask: number[][];
  /** Σ targetMask: the bytes (and EOS ids) this batch predicts. */
  readonly targets: number;
}

/**
 * Seeded random training windows; `batchAt(i)` depends only on (documents, options, seed, i).
 *
 * @example
 * ```ts
 * import {
 *   encodeDocuments, sampleBatches, type SampledBatches, sequentialBatches,
 *   type SequentialBatches, type WindowBatch, type WindowOptions,
 * } from "./mod.ts";
 * const options: WindowOptions = { window: 16, batchSize: 4 };
 * const docs = encodeDocuments(["The cat sat on the mat.", "A dog."]);
 * const source: SampledBatches = sampleBatches(docs, { ...options, seed: 7 });
 * const again: WindowBatch = sampleBatches(docs, { ...options, seed: 7 }).batchAt(3);
 * const evalSource: SequentialBatches = sequentialBatches(docs, options);
 * console.log(JSON.stringify(source.batchAt(3)) === JSON.stringify(again)); // true
 * console.log(evalSource.numBatches); // 1
 * ```
 */
export interface SampledBatches extends BatchSource {
  /** How many distinct windows the sampler draws from (uniformly). */
  readonly numWindows: number;
  batchAt(index: number): WindowBatch;
}

/**
 * Every target of every document exactly once, in document order: window k of a document of
 * L ids starts at k·(T − 1), so consecutive windows share one id (the context of the next
 * target) and predict disjoint targets. The last batch may have fewer than B rows.
 *
 * @example
 * ```ts
 * import {
 *   encodeDocuments, sampleBatches, type SampledBatches, sequentialBatches,
 *   type SequentialBatches, type WindowBatch, type WindowOptions,
 * } from "./mod.ts";
 * const options: WindowOptions = { window: 4, batchSize: 2 };
 * const docs = encodeDocuments(["abcde", "x"]); // 7 ids → 2 windows; 3 ids → 1 window
 * const valid: SequentialBatches = sequentialBatches(docs, options);
 * let seen = 0;
 * for (const { batch } of valid.batches()) seen += (batch satisfies WindowBatch).targets;
 * const train: SampledBatches = sampleBatches(docs, { ...options, seed: 0 });
 * console.log(valid.numWindows, valid.numBatches, seen, train.numWindows); // 3 2 8 5
 * ```
 */
export interface SequentialBatches extends BatchSource {
  /** Windows in one pass. */
  readonly numWindows: number;
  /** ⌈numWindows / B⌉ batches in one pass; `batchAt` takes indices below this. */
  readonly numBatches: number;
  /** Targets in one pass: Σ over documents of (ids − 1), i.e. every byte plus each EOS. */
  readonly targets: number;
  batchAt(index: number): WindowBatch;
  /** Iterates batches from index `from` (a saved position) to the end of the pass. */
  batches(from?: number): Generator<{ readonly index: number; readonly batch: WindowBatch }>;
}

/**
 * Encodes documents once as `BOS bytes… EOS` id arrays (`[N][L_d]`, ids < 260).
 *
 * @example
 * ```ts
 * import {
 *   encodeDocuments, sampleBatches, type SampledBatches, sequentialBatches,
 *   type SequentialBatches, type WindowBatch, type WindowOptions,
 * } from "./mod.ts";
 * const docs = encodeDocuments(["hi", ""]);
 * const options: WindowOptions = { window: 2, batchSize: 8 };
 * const all: SequentialBatches = sequentialBatches(docs, options);
 * const some: SampledBatches = sampleBatches(docs, { ...options, seed: 3 });
 * const first: WindowBatch = all.batchAt(0);
 * console.log([...docs[0]], first.ids.length, some.numWindows); // [1, 108, 109, 2] 4 4
 * ```
 */
export function encodeDocuments(docs: readonly string[]): Uint16Array[] {
  if (!Array.isArray(docs)) {
    throw new Error(`encodeDocuments: 'docs' must be an array of strings, found ${typeof docs}.`);
  }
  return docs.map((d, i) => {
    if (typeof d !== "string") {
      throw new Error(`encodeDocuments: docs[${i}] must be a string, found ${typeof d}.`);
    }
    return Uint16Array.from(encode(d));
  });
}

function checkInteger(value: number, name: string, min: number, what: string): void {
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer ≥ ${min} (${what}), found ${value}.`);
  }
}

function checkInputs(docs: readonly ArrayLike<number>[], options: WindowOptions): void {
  checkInteger(options.window, "window", 2, "a window needs one context id and one target");
  checkInteger(options.batchSize, "batchSize", 1, "rows per batch");
  if (docs.length === 0) {
    throw new Error("docs is empty: pass at least one encoded document (see encodeDocuments).");
  }
  docs.forEach((d, i) => {
    if (d.length < 2) {
      throw new Error(
        `docs[${i}] has ${d.length} ids; an encoded document has at least BOS and EOS (2 ids).`,
      );
    }
  });
}

/** Index of the group holding item `k`, given cumulative starts (`starts[0] = 0`). */
function locate(starts: Float64Array, k: number): number {
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= k) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function cumulative(counts: readonly number[]): Float64Array {
  const starts = new Float64Array(counts.length + 1);
  counts.forEach((c, i) => starts[i + 1] = starts[i] + c);
  return starts;
}

/** Builds one batch from (document, start) pairs: rows `[B, T]`, padded with BOE. */
function buildBatch(
  docs: readonly ArrayLike<number>[],
  rows: readonly (readonly [number, number])[],
  window: number,
): WindowBatch {
  const ids: number[][] = [];
  const targetMask: number[][] = [];
  let targets = 0;
  for (const [d, start] of rows) {
    const doc = docs[d];
    const n = Math.min(window, doc.length - start); // real ids in this window
    const row = new Array<number>(window).fill(BOE_ID);
    const mask = new Array<number>(window).fill(0);
    for (let t = 0; t < n; t++) row[t] = doc[start + t];
    for (let t = 1; t < n; t++) mask[t] = 1;
    ids.push(row);
    targetMask.push(mask);
    targets += n - 1;
  }
  return { ids, targetMask, targets };
}

function checkIndex(index: number, limit: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= limit) {
    throw new Error(
      `batch index must be an integer in [0, ${limit}), found ${index}.`,
    );
  }
}

/**
 * Random training windows: each row is drawn uniformly from all windows lying inside one
 * document (a document shorter than T contributes its single padded window), with the batch's
 * draws coming from `new Rng(seed).fork(index)`.
 *
 * @example
 * ```ts
 * import {
 *   encodeDocuments, sampleBatches, type SampledBatches, sequentialBatches,
 *   type SequentialBatches, type WindowBatch, type WindowOptions,
 * } from "./mod.ts";
 * const options: WindowOptions = { window: 5, batchSize: 3 };
 * const docs = encodeDocuments(["one document", "another one"]);
 * const train: SampledBatches = sampleBatches(docs, { ...options, seed: 42 });
 * const batch: WindowBatch = train.batchAt(0); // ids [3, 5], targetMask [3, 5]
 * const valid: SequentialBatches = sequentialBatches(docs, options);
 * console.log(batch.targets, valid.targets); // 12 25
 * ```
 */
export function sampleBatches(
  docs: readonly ArrayLike<number>[],
  options: WindowOptions & { readonly seed: number },
): SampledBatches {
  checkInputs(docs, options);
  checkInteger(options.seed, "seed", 0, "a uint32 seed for Rng");
  const { window, batchSize } = options;
  const starts = cumulative(docs.map((d) => Math.max(1, d.length - window + 1)));
  const numWindows = starts[docs.length];
  const root = new Rng(options.seed);
  return {
    numWindows,
    batchAt(index: number): WindowBatch {
      checkIndex(index, Number.MAX_SAFE_INTEGER);
      const rng = root.fork(index);
      const rows = Array.from({ length: batchSize }, () => {
        const k = rng.int(numWindows);
        const d = locate(starts, k);
        return [d, k - starts[d]] as const;
      });
      return buildBatch(docs, rows, window);
    },
  };
}

/**
 * The deterministic evaluation pass: every target exactly once (see {@link SequentialBatches}).
 *
 * @example
 * ```ts
 * import {
 *   encodeDocuments, sampleBatches, type SampledBatches, sequentialBatches,
 *   type SequentialBatches, type WindowBatch, type WindowOptions,
 * } from "./mod.ts";
 * const options: WindowOptions = { window: 1024, batchSize: 4 };
 * const docs = encodeDocuments(["short", "texts"]);
 * const valid: SequentialBatches = sequentialBatches(docs, options);
 * const resumed = [...valid.batches(0)].map(({ batch }: { batch: WindowBatch }) => batch.targets);
 * const train: SampledBatches = sampleBatches(docs, { ...options, seed: 1 });
 * console.log(resumed, train.numWindows); // [12] 2
 * ```
 */
export function sequentialBatches(
  docs: readonly ArrayLike<number>[],
  options: WindowOptions,
): SequentialBatches {
  checkInputs(docs, options);
  const { window, batchSize } = options;
  const starts = cumulative(docs.map((d) => Math.ceil((d.length - 1) / (window - 1))));
  const numWindows = starts[docs.length];
  const numBatches = Math.ceil(numWindows / batchSize);
  const targets = docs.reduce((sum, d) => sum + d.length - 1, 0);
  const batchAt = (index: number): WindowBatch => {
    checkIndex(index, numBatches);
    const rows: (readonly [number, number])[] = [];
    const end = Math.min(numWindows, (index + 1) * batchSize);
    for (let k = index * batchSize; k < end; k++) {
      const d = locate(starts, k);
      rows.push([d, (k - starts[d]) * (window - 1)]);
    }
    return buildBatch(docs, rows, window);
  };
  return {
    numWindows,
    numBatches,
    targets,
    batchAt,
    *batches(from = 0) {
      if (from !== numBatches) checkIndex(from, numBatches);
      for (let index = from; index < numBatches; index++) yield { index, batch: batchAt(index) };
    },
  };
}
