/**
 * Seeded data order: examples reshuffled every epoch by a seeded {@link Rng}, as a
 * {@link BatchSource} whose batch at index i is a pure function of (examples, batch size, seed, i).
 * That is what makes resume exact: a checkpoint stores only the next batch index.
 *
 * @module
 */
import { Rng } from "../data/rng.ts";
import type { Batch, BatchSource } from "./types.ts";

/**
 * One training example: a row of a {@link Batch}.
 *
 * @example
 * ```ts
 * import type { Example } from "./batches.ts";
 * const e: Example = { ids: [1, 76, 105], patchLengths: [1, 2] };
 * ```
 */
export interface Example {
  readonly ids: readonly number[];
  readonly patchLengths?: readonly number[];
  readonly targetMask?: readonly number[];
}

/**
 * Batches of `batchSize` examples in a seeded order that changes every epoch (epoch e uses
 * `new Rng(seed).fork(e)`); the incomplete last batch of an epoch is dropped so every batch has
 * the same shape. Rows must share one length (pad or chunk them first).
 *
 * @example
 * ```ts
 * import { shuffledBatches } from "./batches.ts";
 * const examples = [0, 1, 2, 3, 4].map((i) => ({ ids: [1, 10 + i] }));
 * const source = shuffledBatches(examples, { batchSize: 2, seed: 7 });
 * console.log(source.batchesPerEpoch); // 2
 * console.log(source.batchAt(5).ids.length); // 2
 * ```
 */
export function shuffledBatches(
  examples: readonly Example[],
  options: { readonly batchSize: number; readonly seed: number },
): BatchSource & { readonly batchesPerEpoch: number } {
  const { batchSize, seed } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`shuffledBatches: batchSize must be an integer ≥ 1, found ${batchSize}`);
  }
  if (examples.length < batchSize) {
    throw new Error(
      `shuffledBatches: ${examples.length} examples cannot fill one batch of ${batchSize}; ` +
        "use a smaller batchSize or more data",
    );
  }
  const length = examples[0].ids.length;
  const bad = examples.findIndex((e) => e.ids.length !== length);
  if (bad >= 0) {
    throw new Error(
      `shuffledBatches: example ${bad} has ${
        examples[bad].ids.length
      } ids, example 0 has ${length}; ` +
        "chunk or pad examples to one length",
    );
  }
  const hasPatches = examples[0].patchLengths !== undefined;
  const hasMask = examples[0].targetMask !== undefined;
  const batchesPerEpoch = Math.floor(examples.length / batchSize);
  const root = new Rng(seed);
  // One permutation per epoch, cached because consecutive indices share an epoch.
  let cached: { epoch: number; order: number[] } | null = null;
  const orderOf = (epoch: number): number[] => {
    if (cached?.epoch !== epoch) {
      const order = root.fork(epoch).shuffle(examples.map((_, i) => i));
      cached = { epoch, order };
    }
    return cached.order;
  };
  return {
    batchesPerEpoch,
    batchAt(index: number): Batch {
      if (!Number.isInteger(index) || index < 0) {
        throw new Error(`batchAt: index must be an integer ≥ 0, found ${index}`);
      }
      const epoch = Math.floor(index / batchesPerEpoch);
      const start = (index % batchesPerEpoch) * batchSize;
      const rows = orderOf(epoch).slice(start, start + batchSize).map((i) => examples[i]);
      return {
        ids: rows.map((r) => r.ids),
        ...(hasPatches ? { patchLengths: rows.map((r) => r.patchLengths ?? []) } : {}),
        ...(hasMask ? { targetMask: rows.map((r) => r.targetMask ?? []) } : {}),
      };
    },
  };
}
