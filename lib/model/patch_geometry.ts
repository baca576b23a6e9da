/**
 * Pure CPU bookkeeping that turns patch lengths into the index tensors BLT's cross-attentions
 * gather with: which bytes each patch pools (encoder, §3.2.2) and which patch slots each byte
 * reads (decoder, §3.3). Also validates the model's inputs, with errors that say what to fix.
 *
 * @module
 */
import { EOS_ID, VOCAB_SIZE } from "../bytes/codec.ts";

/**
 * Checks a batch of byte ids `[B, T]`: non-empty, rectangular, integers in 0..259.
 *
 * @example
 * ```ts
 * import { checkIds } from "./patch_geometry.ts";
 * console.log(checkIds([[1, 72, 105]])); // { B: 1, T: 3 }
 * ```
 */
export function checkIds(ids: readonly (readonly number[])[]): { B: number; T: number } {
  if (!Array.isArray(ids) || ids.length === 0 || !Array.isArray(ids[0]) || ids[0].length === 0) {
    throw new Error("ids must be a non-empty array of non-empty byte-id rows, [B, T]");
  }
  const T = ids[0].length;
  ids.forEach((row, b) => {
    if (!Array.isArray(row) || row.length !== T) {
      throw new Error(
        `ids is ragged: row ${b} has ${row?.length} ids but row 0 has ${T}; pad rows to one length`,
      );
    }
    row.forEach((x, t) => {
      if (!Number.isInteger(x) || x < 0 || x >= VOCAB_SIZE) {
        throw new Error(
          `ids[${b}][${t}] = ${x}; expected an integer byte id in 0..${VOCAB_SIZE - 1}`,
        );
      }
    });
  });
  return { B: ids.length, T };
}

/**
 * Refuses sequences longer than the model's `maxPositions` (RoPE itself has no table, but the
 * model was configured — and trained — for at most that many positions).
 *
 * @example
 * ```ts
 * import { checkLength } from "./patch_geometry.ts";
 * checkLength(100, 128, "ByteLm.logits"); // fine
 * ```
 */
export function checkLength(T: number, maxPositions: number, where: string): void {
  if (T > maxPositions) {
    throw new Error(
      `${where}: sequence of ${T} ids is longer than maxPositions = ${maxPositions}; split the text ` +
        "into windows (lib/data sequentialBatches does) or raise maxPositions in the config",
    );
  }
}

/**
 * Checks patch lengths `[B, P]` against sequence length T and pads rows with trailing zeros to
 * one P. Each row must sum to T, be non-negative integers with zeros only at the end, and start
 * with a patch of length 1 (the BOS patch): the decoder reads the previous patch's global state,
 * which is causal only when the first patch holds exactly the first byte.
 *
 * @example
 * ```ts
 * import { checkPatchLengths } from "./patch_geometry.ts";
 * console.log(checkPatchLengths([[1, 2], [1, 1, 1]], 3)); // [[1, 2, 0], [1, 1, 1]]
 * ```
 */
export function checkPatchLengths(
  patchLengths: readonly (readonly number[])[],
  T: number,
  B = patchLengths.length,
): number[][] {
  if (!Array.isArray(patchLengths) || patchLengths.length !== B) {
    throw new Error(
      `patchLengths must have one row per sequence (${B}), found ${patchLengths?.length}`,
    );
  }
  const P = Math.max(...patchLengths.map((r) => r.length));
  return patchLengths.map((row: readonly number[], b: number) => {
    let sum = 0, ended = false;
    row.forEach((n: number, p: number) => {
      if (!Number.isInteger(n) || n < 0) {
        throw new Error(`patchLengths[${b}][${p}] = ${n}; expected a non-negative integer`);
      }
      if (n === 0) ended = true;
      else if (ended) {
        throw new Error(
          `patchLengths[${b}] has an empty patch before patch ${p}; zeros are only allowed as trailing padding`,
        );
      }
      sum += n;
    });
    if (sum !== T) {
      throw new Error(
        `patchLengths[${b}] sums to ${sum} but the sequence has ${T} bytes; they must cover it exactly`,
      );
    }
    if (row[0] !== 1) {
      throw new Error(
        `patchLengths[${b}][0] = ${
          row[0]
        }; the first patch must be the BOS byte alone (length 1) so that ` +
          `the decoder stays causal`,
      );
    }
    return [...row, ...new Array(P - row.length).fill(0)];
  });
}

/**
 * Index data for the encoder's pooling: for each patch, the positions of its bytes padded to
 * the longest patch L (≥ 1), a padding flag per entry, and which patches are empty.
 *
 * @example
 * ```ts
 * import { encoderGather } from "./patch_geometry.ts";
 * const g = encoderGather([[1, 2, 0]], 3); // [B, P, L] = [1, 3, 2]
 * console.log(Array.from(g.index), Array.from(g.valid), Array.from(g.empty));
 * // [0, 0, 1, 2, 0, 0] [1, 0, 1, 1, 0, 0] [0, 0, 1]
 * ```
 */
export function encoderGather(lengths: readonly (readonly number[])[], T: number): {
  index: Int32Array;
  valid: Uint8Array;
  empty: Uint8Array;
  B: number;
  P: number;
  L: number;
} {
  const B = lengths.length, P = lengths[0].length;
  const L = Math.max(1, ...lengths.flat());
  const index = new Int32Array(B * P * L), valid = new Uint8Array(B * P * L);
  const empty = new Uint8Array(B * P);
  lengths.forEach((row, b) => {
    let start = 0;
    row.forEach((n, p) => {
      if (n === 0) empty[b * P + p] = 1;
      for (let j = 0; j < n; j++) {
        index[(b * P + p) * L + j] = start + j;
        valid[(b * P + p) * L + j] = 1;
      }
      start += n;
    });
    if (start !== T) throw new Error(`patch lengths of row ${b} sum to ${start}, expected ${T}`);
  });
  return { index, valid, empty, B, P, L };
}

/**
 * Which global patch each byte's decoder cross-attention reads, as Hugging Face computes it:
 * patch ids from the lengths without the first patch, so byte t reads the last patch that ends
 * at or before t, the final patch excepted (its state would predict the byte after the input).
 * Returns the k slot rows per byte, `[B, T, k]` into `[B, P·k]`.
 *
 * @example
 * ```ts
 * import { decoderGather } from "./patch_geometry.ts";
 * console.log(Array.from(decoderGather([[1, 2, 1]], 4, 1))); // [0, 0, 1, 1]
 * ```
 */
export function decoderGather(
  lengths: readonly (readonly number[])[],
  T: number,
  k: number,
): Int32Array {
  const out = new Int32Array(lengths.length * T * k);
  lengths.forEach((row, b) => {
    const starts = [0]; // starts of the patches without the first, the last one dropped
    for (let m = 1, acc = 0; m <= row.length - 2; m++) starts.push(acc += row[m]);
    let patch = 0;
    for (let t = 0; t < T; t++) {
      while (patch + 1 < starts.length && starts[patch + 1] <= t) patch++;
      for (let j = 0; j < k; j++) out[(b * T + t) * k + j] = patch * k + j;
    }
  });
  return out;
}

/**
 * Document index per byte `[B, T]`: it increases after every EOS (id 2), for block-causal
 * attention when `resetAtEos` is on.
 *
 * @example
 * ```ts
 * import { byteDocIds } from "./patch_geometry.ts";
 * console.log(Array.from(byteDocIds([[1, 70, 2, 1, 71]]))); // [0, 0, 0, 1, 1]
 * ```
 */
export function byteDocIds(ids: readonly (readonly number[])[]): Int32Array {
  const T = ids[0].length;
  const out = new Int32Array(ids.length * T);
  ids.forEach((row, b) => {
    let doc = 0;
    row.forEach((x, t) => {
      out[b * T + t] = doc;
      if (x === EOS_ID) doc++;
    });
  });
  return out;
}

/**
 * Document index per patch `[B, P]`: the document of the patch's first byte (empty trailing
 * patches take the last document).
 *
 * @example
 * ```ts
 * import { patchDocIds } from "./patch_geometry.ts";
 * console.log(Array.from(patchDocIds(new Int32Array([0, 0, 0, 1, 1]), [[1, 2, 2]], 5))); // [0, 0, 1]
 * ```
 */
export function patchDocIds(
  docIds: Int32Array,
  lengths: readonly (readonly number[])[],
  T: number,
): Int32Array {
  const P = lengths[0].length;
  const out = new Int32Array(lengths.length * P);
  lengths.forEach((row, b) => {
    let start = 0;
    row.forEach((n, p) => {
      out[b * P + p] = docIds[b * T + Math.min(start, T - 1)];
      start += n;
    });
  });
  return out;
}
