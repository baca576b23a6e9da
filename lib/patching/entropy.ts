/**
 * Next-byte entropy from the entropy model's logits (paper §2.3, eq. for H(x_i)): the patcher
 * starts new patches where this uncertainty is high.
 *
 * @module
 */

import { VOCAB_SIZE } from "../bytes/codec.ts";
import { checkPositiveInteger } from "./validate.ts";

/**
 * Entropy in nats of the softmax of each row of `logits` (`[T, vocab]`, row-major), over all
 * `vocab` ids (specials included, as the official `entropy()` does). Computed in float64 with the
 * row maximum subtracted, so huge logits cannot overflow; `-Infinity` logits (masked ids) are
 * allowed and contribute nothing.
 *
 * @example
 * ```ts
 * import { entropies } from "./mod.ts";
 * const h = entropies(new Float32Array([0, 0, 5, -Infinity]), 2, 2); // [T] = [ln 2, 0]
 * ```
 */
export function entropies(logits: ArrayLike<number>, T: number, vocab = VOCAB_SIZE): Float32Array {
  if (T !== 0) checkPositiveInteger(T, "T");
  checkPositiveInteger(vocab, "vocab");
  if (logits === null || typeof logits !== "object" || logits.length !== T * vocab) {
    throw new Error(
      `'logits' must hold T × vocab = ${T} × ${vocab} = ${T * vocab} values (a [T, vocab] ` +
        `row-major array), found ${logits?.length ?? typeof logits}; pass the matching T and vocab`,
    );
  }
  const out = new Float32Array(T); // [T]
  for (let t = 0; t < T; t++) {
    const row = t * vocab;
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) {
      const x = logits[row + v];
      if (Number.isNaN(x) || x === Infinity) {
        throw new Error(
          `logits[${t}, ${v}] must be a number below +Infinity, found ${x}; ` +
            "the entropy model produced non-finite logits",
        );
      }
      if (x > max) max = x;
    }
    if (max === -Infinity) {
      throw new Error(`logits row ${t} is all -Infinity; at least one id must have a finite logit`);
    }
    // With z = x - max: H = log Σe^z − Σ e^z·z / Σe^z.
    let sum = 0;
    let weighted = 0;
    for (let v = 0; v < vocab; v++) {
      const z = logits[row + v] - max;
      const e = Math.exp(z);
      if (e === 0) continue;
      sum += e;
      weighted += e * z;
    }
    out[t] = Math.max(0, Math.log(sum) - weighted / sum);
  }
  return out;
}
