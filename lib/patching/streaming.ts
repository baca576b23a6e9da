/**
 * Streaming entropy patcher: decides patch boundaries one byte at a time, as generation needs
 * (the entropy of byte t is known only after the entropy model has read it). It always agrees
 * with the batch patcher ({@link entropyPatchStarts} + {@link splitPatchLengths}).
 *
 * @module
 */

import { checkEntropyRule, type EntropyRule, isEntropyStart } from "./rules.ts";
import { patchLengthsFromStarts } from "./lengths.ts";
import { checkPositiveInteger } from "./validate.ts";

/** Options of {@link StreamingPatcher}. */
export interface StreamingPatcherOptions {
  /** Start a new patch once the current one has this many bytes (the batch patcher's split). */
  readonly maxPatchLength?: number | null;
}

/**
 * Incremental patcher. After `n` calls of {@link StreamingPatcher.push} (entropies `H[0..n−1]`)
 * the starts of positions `0..n` are decided: position `n` is the byte the model will read next.
 *
 * @example
 * ```ts
 * import { StreamingPatcher } from "./mod.ts";
 * const patcher = new StreamingPatcher({ kind: "global", threshold: 1 });
 * const opens = [3.0, 0.2, 1.7, 0.1].map((h) => patcher.push(h)); // [true, false, true, false]
 * patcher.patchLengths(); // [1, 2, 1]: covers the 4 bytes seen
 * ```
 */
export class StreamingPatcher {
  readonly rule: EntropyRule;
  readonly maxPatchLength: number | null;
  #starts: number[] = [0];
  #count = 0;
  #prev = NaN; // H[n−1]
  #prevPrev = NaN; // H[n−2]

  constructor(rule: EntropyRule, options: StreamingPatcherOptions = {}) {
    this.rule = checkEntropyRule(rule);
    const max = options.maxPatchLength ?? null;
    this.maxPatchLength = max === null ? null : checkPositiveInteger(max, "maxPatchLength");
  }

  /** Number of entropies pushed so far (bytes read). */
  get length(): number {
    return this.#count;
  }

  /** All decided patch starts, ascending: positions 0..length (length = the next byte). */
  get starts(): readonly number[] {
    return this.#starts;
  }

  /**
   * Takes the entropy of the byte just read (`H[length]`) and returns whether the next byte
   * (position `length` after the call) starts a new patch.
   */
  push(entropy: number): boolean {
    if (typeof entropy !== "number" || !Number.isFinite(entropy)) {
      throw new Error(
        `'entropy' (byte ${this.#count}) must be a finite number (nats), found ${String(entropy)}`,
      );
    }
    this.#prevPrev = this.#prev;
    this.#prev = entropy;
    this.#count++;
    const position = this.#count;
    const current = this.#starts[this.#starts.length - 1];
    const opens = isEntropyStart(this.rule, position, this.#prev, this.#prevPrev) ||
      (this.maxPatchLength !== null && position - current >= this.maxPatchLength);
    if (opens) this.#starts.push(position);
    return opens;
  }

  /**
   * Patch lengths over the bytes read (`length`), or over `length + 1` with
   * `includeNextToken` (the slot of the next byte), as the batch patcher would give them.
   */
  patchLengths(options: { readonly includeNextToken?: boolean } = {}): number[] {
    const span = this.#count + (options.includeNextToken ? 1 : 0);
    return patchLengthsFromStarts(this.#starts.filter((s) => s < span), span);
  }
}
