/**
 * Input checks shared by the figure builders. A figure is often the first place a user sees a
 * shape mismatch between ids, entropies and patch lengths, so each check names the argument,
 * what was expected, what was found, and what to do.
 *
 * @module
 */

/**
 * Throws unless every entry of `values` is a finite number.
 *
 * @example
 * ```ts
 * import { assertFinite } from "./validate.ts";
 * assertFinite("entropies", [0.5, 2.1]);
 * ```
 */
export function assertFinite(name: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new Error(
        `${name}[${i}] must be a finite number, found ${String(v)}; ` +
          `clean or drop non-finite values before plotting`,
      );
    }
  }
}

/**
 * Throws unless `a` and `b` have the same length.
 *
 * @example
 * ```ts
 * import { assertSameLength } from "./validate.ts";
 * assertSameLength("ids", [1, 2], "entropies", [0.1, 0.2]);
 * ```
 */
export function assertSameLength(
  nameA: string,
  a: ArrayLike<unknown>,
  nameB: string,
  b: ArrayLike<unknown>,
): void {
  if (a.length !== b.length) {
    throw new Error(
      `${nameA} and ${nameB} must have the same length (one entry per position), ` +
        `found ${a.length} and ${b.length}; pass values computed from the same sequence`,
    );
  }
}

/**
 * Throws unless `values` is non-empty.
 *
 * @example
 * ```ts
 * import { assertNonEmpty } from "./validate.ts";
 * assertNonEmpty("rows", [{ value: 1 }]);
 * ```
 */
export function assertNonEmpty(name: string, values: ArrayLike<unknown>): void {
  if (values.length === 0) {
    throw new Error(`${name} must not be empty; there is nothing to draw`);
  }
}

/**
 * Throws unless `lengths` are positive integers that sum to `total` (patch lengths must tile
 * the sequence exactly, as the patcher produces them).
 *
 * @example
 * ```ts
 * import { assertPatchLengths } from "./validate.ts";
 * assertPatchLengths("patchLengths", [1, 3, 2], 6, "ids");
 * ```
 */
export function assertPatchLengths(
  name: string,
  lengths: ArrayLike<number>,
  total: number,
  totalName: string,
): void {
  let sum = 0;
  for (let i = 0; i < lengths.length; i++) {
    const v = lengths[i];
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(
        `${name}[${i}] must be a positive integer, found ${String(v)}; ` +
          `patch lengths come from the patcher and are at least 1`,
      );
    }
    sum += v;
  }
  if (sum !== total) {
    throw new Error(
      `${name} must sum to the length of ${totalName} (${total}), found sum ${sum}; ` +
        `pass the patch lengths computed for exactly this sequence`,
    );
  }
}
