/**
 * Space patching (SpaceByte, paper §2.2 baseline) as in facebookresearch/blt
 * `find_space_patch_start_ids`: a patch ends after a "space-like" byte.
 *
 * @module
 */

import { OFFSET, VOCAB_SIZE } from "../bytes/codec.ts";
import type { PatchSpanOptions } from "./rules.ts";

/**
 * Whether byte id `id` is space-like: not an ASCII letter or digit and not a UTF-8 continuation
 * byte (so a multi-byte character's lead byte counts, its continuation bytes do not). Special ids
 * (BOS, EOS, …) are space-like too.
 *
 * @example
 * ```ts
 * import { isSpaceLike } from "./mod.ts";
 * [36, 101, 0xa9 + 4].map(isSpaceLike); // [true, false, false] (" ", "a", continuation)
 * ```
 */
export function isSpaceLike(id: number): boolean {
  const b = id - OFFSET;
  return b < 0x30 || (b > 0x39 && b < 0x41) || (b > 0x5a && b < 0x61) ||
    (b > 0x7a && b < 0x80) || b >= 0xc0;
}

/**
 * Start positions of space patches over byte ids: positions 0 and 1 always start; position
 * `i ≥ 2` starts when byte `i − 1` is space-like and byte `i − 2` is not (only the first byte of a
 * run of spaces ends a patch; the rest open the next one), or when byte `i − 1` is a special id.
 *
 * @example
 * ```ts
 * import { encode } from "../bytes/mod.ts";
 * import { spacePatchStarts } from "./mod.ts";
 * spacePatchStarts(encode("ab  cd", { eos: false })); // [0, 1, 4]: <s> | ab␣ | ␣cd
 * ```
 */
export function spacePatchStarts(ids: ArrayLike<number>, options: PatchSpanOptions = {}): number[] {
  checkIds(ids);
  const span = ids.length + (options.includeNextToken ? 1 : 0);
  const starts: number[] = [];
  for (let i = 0; i < span; i++) {
    if (i < 2) {
      starts.push(i);
      continue;
    }
    const prev = ids[i - 1];
    if (prev < OFFSET || (isSpaceLike(prev) && !isSpaceLike(ids[i - 2]))) starts.push(i);
  }
  return starts;
}

function checkIds(ids: ArrayLike<number>): void {
  if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
    throw new Error(`'ids' must be an array of byte ids, found ${typeof ids}`);
  }
  for (let i = 0; i < ids.length; i++) {
    if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] >= VOCAB_SIZE) {
      throw new Error(
        `ids[${i}] must be a byte id, an integer in [0, ${VOCAB_SIZE}), found ${String(ids[i])}`,
      );
    }
  }
}
