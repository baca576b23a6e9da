/**
 * Patch bookkeeping: starts → lengths → per-byte patch ids, static and byte patches, and the
 * maximum-patch-length split. Lengths are the currency the model consumes (`patch_lengths`).
 *
 * @module
 */

import { checkPositiveInteger } from "./validate.ts";

/**
 * Lengths of the patches that start at `starts` (ascending, first = 0) and cover `span` bytes.
 *
 * @example
 * ```ts
 * import { patchLengthsFromStarts } from "./mod.ts";
 * patchLengthsFromStarts([0, 1, 4], 6); // [1, 3, 2]
 * ```
 */
export function patchLengthsFromStarts(starts: readonly number[], span: number): number[] {
  if (span === 0 && starts.length === 0) return [];
  if (!Number.isInteger(span) || span < 0) {
    throw new Error(`'span' must be an integer ≥ 0, found ${span}`);
  }
  if (starts[0] !== 0) {
    throw new Error(`starts[0] must be 0 (the first patch begins at byte 0), found ${starts[0]}`);
  }
  const lengths: number[] = [];
  for (let k = 0; k < starts.length; k++) {
    const end = k + 1 < starts.length ? starts[k + 1] : span;
    if (!Number.isInteger(starts[k]) || end <= starts[k] || starts[k] >= span) {
      throw new Error(
        `starts must be strictly increasing integers below span ${span}; ` +
          `starts[${k}] = ${starts[k]} is followed by ${end}`,
      );
    }
    lengths.push(end - starts[k]);
  }
  return lengths;
}

/**
 * Splits every patch longer than `maxPatchLength` into full chunks of that length plus the rest,
 * in order (the reference's `split_large_numbers` / HF `process_patch_lengths`).
 *
 * @example
 * ```ts
 * import { splitPatchLengths } from "./mod.ts";
 * splitPatchLengths([1, 7, 2], 3); // [1, 3, 3, 1, 2]
 * ```
 */
export function splitPatchLengths(lengths: readonly number[], maxPatchLength: number): number[] {
  checkPositiveInteger(maxPatchLength, "maxPatchLength");
  const out: number[] = [];
  lengths.forEach((length, k) => {
    checkLength(length, k);
    let rest = length;
    while (rest > maxPatchLength) {
      out.push(maxPatchLength);
      rest -= maxPatchLength;
    }
    out.push(rest);
  });
  return out;
}

/**
 * Static patches of `patchSize` bytes over `span` bytes; the last one holds the remainder.
 *
 * @example
 * ```ts
 * import { staticPatchLengths } from "./mod.ts";
 * staticPatchLengths(10, 4); // [4, 4, 2]
 * ```
 */
export function staticPatchLengths(span: number, patchSize: number): number[] {
  checkSpan(span);
  checkPositiveInteger(patchSize, "patchSize");
  const lengths = new Array<number>(Math.floor(span / patchSize)).fill(patchSize);
  if (span % patchSize !== 0) lengths.push(span % patchSize);
  return lengths;
}

/**
 * One patch per byte (the byte-level baseline: the latent transformer sees every byte).
 *
 * @example
 * ```ts
 * import { bytePatchLengths } from "./mod.ts";
 * bytePatchLengths(3); // [1, 1, 1]
 * ```
 */
export function bytePatchLengths(span: number): number[] {
  checkSpan(span);
  return new Array<number>(span).fill(1);
}

/**
 * Patch index of every byte position, as HF's `_patch_ids_from_lengths`: position `p` gets the
 * number of patch starts ≤ p, minus 1 (so a zero-length patch owns no byte, and positions past
 * the last patch keep the last index). `seqLen` defaults to the bytes the lengths cover.
 *
 * @example
 * ```ts
 * import { patchIdsFromLengths } from "./mod.ts";
 * patchIdsFromLengths([1, 3, 2]); // Int32Array [0, 1, 1, 1, 2, 2]
 * ```
 */
export function patchIdsFromLengths(lengths: readonly number[], seqLen?: number): Int32Array {
  lengths.forEach(checkLength);
  const covered = lengths.reduce((a, b) => a + b, 0);
  const n = seqLen ?? covered;
  checkSpan(n, "seqLen");
  const ids = new Int32Array(n); // [T]
  let k = -1; // last patch whose start ≤ p
  let nextStart = 0;
  for (let p = 0; p < n; p++) {
    while (k + 1 < lengths.length && nextStart <= p) {
      k++;
      nextStart += lengths[k];
    }
    ids[p] = k;
  }
  return ids;
}

function checkLength(length: number, k: number): void {
  if (!Number.isInteger(length) || length < 0) {
    throw new Error(`lengths[${k}] must be an integer ≥ 0, found ${length}`);
  }
}

function checkSpan(span: number, name = "span"): void {
  if (!Number.isInteger(span) || span < 0) {
    throw new Error(`'${name}' must be an integer ≥ 0 (a number of bytes), found ${span}`);
  }
}
