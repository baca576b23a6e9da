/**
 * Patch boundaries during generation (paper §2): after each byte the model reads, decide whether
 * the next byte opens a patch. Entropy patching goes through lib/patching's
 * `StreamingPatcher`; space, static and byte patching apply their batch rules to the bytes seen.
 * {@link nextBytePatchLengths} is the batch form the uncached path uses: patches over the bytes
 * read plus the next byte's slot (the reference's `include_next_token`), so that a byte that ends
 * a patch reads that patch's global state, as in training.
 *
 * @module
 */
import type { PatchingConfig } from "../../config.ts";
import {
  entropyRuleOf,
  patchLengths,
  patchLengthsFromStarts,
  spacePatchStarts,
  StreamingPatcher,
} from "../../patching/mod.ts";

/**
 * Incremental patcher for one sequence under a BLT `PatchingConfig` (all four modes, with the
 * maximum patch length). It agrees with {@link nextBytePatchLengths} at every step.
 *
 * @example
 * ```ts
 * import { PatchStream } from "./patch_stream.ts";
 * import { PRESETS } from "../../config.ts";
 * const stream = new PatchStream({ ...PRESETS.tiny.patching, mode: "space" });
 * const opens = [1, 101, 36, 102].map((id) => stream.push(id, null)); // <s> a ␣ b
 * console.log(opens, stream.patchLengths(4)); // [true, false, true, false] [1, 2, 1]
 * ```
 */
export class PatchStream {
  readonly #config: PatchingConfig;
  readonly #entropy: StreamingPatcher | null;
  readonly #starts: number[] = [0];
  #count = 0;
  #prevId = -1;

  constructor(config: PatchingConfig) {
    this.#config = config;
    this.#entropy = config.mode === "entropy"
      ? new StreamingPatcher(entropyRuleOf(config), { maxPatchLength: config.maxPatchLength })
      : null;
    if (config.mode === "static") checkPositive(config.patchSize, "patching.patchSize");
    if (config.maxPatchLength !== null) {
      checkPositive(config.maxPatchLength, "patching.maxPatchLength");
    }
  }

  /** Bytes read so far. */
  get length(): number {
    return this.#count;
  }

  /**
   * Reads byte `id` (with its next-byte entropy in entropy mode, else null) and returns whether
   * the next byte opens a patch.
   */
  push(id: number, entropy: number | null): boolean {
    const position = this.#count + 1; // the byte whose start is decided now
    let opens: boolean;
    if (this.#entropy !== null) {
      if (entropy === null) {
        throw new Error("PatchStream.push: entropy patching needs the byte's entropy, found null");
      }
      opens = this.#entropy.push(entropy);
    } else {
      const current = this.#starts[this.#starts.length - 1];
      const max = this.#config.maxPatchLength;
      opens = this.#baseStart(position, id) || (max !== null && position - current >= max);
    }
    if (opens) this.#starts.push(position);
    this.#prevId = id;
    this.#count = position;
    return opens;
  }

  /** Patch lengths over the first `span` bytes (at most one more than those read). */
  patchLengths(span: number): number[] {
    if (!Number.isInteger(span) || span < 0 || span > this.#count + 1) {
      throw new Error(
        `PatchStream.patchLengths: 'span' must be an integer in 0..${this.#count + 1} ` +
          `(bytes read + 1), found ${span}`,
      );
    }
    return patchLengthsFromStarts(this.#starts.filter((s) => s < span), span);
  }

  /** Whether `position` starts a patch under the mode's own rule (before the length split). */
  #baseStart(position: number, id: number): boolean {
    switch (this.#config.mode) {
      case "byte":
        return true;
      case "static": // the BOS patch, then patches of patchSize (as Blt.patch)
        return position === 1 || (position - 1) % this.#config.patchSize === 0;
      case "space": { // the batch rule on the two bytes it looks at
        if (position < 2) return true;
        const starts = spacePatchStarts([this.#prevId, id], { includeNextToken: true });
        return starts.includes(2);
      }
      default:
        throw new Error(`PatchStream: unknown patching mode '${this.#config.mode}'`);
    }
  }
}

/**
 * Batch patch lengths over `ids` and the next byte's slot (`ids.length + 1` bytes), as `Blt.patch`
 * would place them on the longer sequence; `entropies` `[T]` are needed in entropy mode.
 *
 * @example
 * ```ts
 * import { nextBytePatchLengths } from "./patch_stream.ts";
 * import { PRESETS } from "../../config.ts";
 * const cfg = { ...PRESETS.tiny.patching, threshold: 1 };
 * console.log(nextBytePatchLengths(cfg, [1, 72, 105], [3, 0.1, 2])); // [1, 2, 1]
 * ```
 */
export function nextBytePatchLengths(
  config: PatchingConfig,
  ids: readonly number[],
  entropies: ArrayLike<number> | null,
): number[] {
  const next = { ...config, includeNextToken: true };
  switch (config.mode) {
    case "entropy":
      if (entropies === null || entropies.length !== ids.length) {
        throw new Error(
          `nextBytePatchLengths: entropy patching needs one entropy per byte (${ids.length}), ` +
            `found ${entropies?.length ?? "none"}`,
        );
      }
      return patchLengths(entropies, next);
    case "static":
      return [1, ...patchLengths(ids.slice(1), next)];
    default:
      return patchLengths(ids, next);
  }
}

function checkPositive(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`'${name}' must be an integer ≥ 1, found ${value}`);
  }
}
