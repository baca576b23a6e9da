/**
 * Entropy patch-start rules (paper §2.3), exactly as facebookresearch/blt `bytelatent/data/
 * patcher.py` and HF transformers' `BltPatcher` apply them.
 *
 * Indexing: `H[i]` is the entropy of the model's prediction of byte `i + 1` after reading bytes
 * `0..i` (position 0 is BOS). Positions 0 and 1 always start a patch (the reference drops BOS's
 * entropy and forces both), and position `i ≥ 2` is decided from `H[i − 1]` (and `H[i − 2]`): a
 * byte starts a patch when the model was unsure about it.
 *
 * @module
 */

import { checkEntropies, checkFinite } from "./validate.ts";

/**
 * Which entropy rule decides patch starts:
 * - `global`: `H[i−1] > θ` (paper's global constraint);
 * - `monotonic`: `H[i−1] − H[i−2] > θr` (approximate monotonic constraint); as in the reference
 *   (`patch_start_mask_from_entropy_with_monotonicity`) position 2 always starts;
 * - `combined`: both `H[i−1] > θ` and `H[i−1] − H[i−2] > θr`; as in the reference
 *   (`patch_start_mask_global_and_monotonicity`) position 2 always starts and position 3 never
 *   does (its `~mask[:, :-1]` term sees only the forced first start).
 *
 * @example
 * ```ts
 * import type { EntropyRule } from "./mod.ts";
 * const rule: EntropyRule = { kind: "global", threshold: 1.335442066192627 };
 * ```
 */
export type EntropyRule =
  | { readonly kind: "global"; readonly threshold: number }
  | { readonly kind: "monotonic"; readonly relativeThreshold: number }
  | { readonly kind: "combined"; readonly threshold: number; readonly relativeThreshold: number };

/**
 * Throws unless the rule's thresholds are finite; returns the rule.
 *
 * @example
 * ```ts
 * import { checkEntropyRule } from "./mod.ts";
 * checkEntropyRule({ kind: "monotonic", relativeThreshold: 0.5 });
 * ```
 */
export function checkEntropyRule(rule: EntropyRule): EntropyRule {
  switch (rule?.kind) {
    case "global":
      checkFinite(rule.threshold, "threshold");
      return rule;
    case "monotonic":
      checkFinite(rule.relativeThreshold, "relativeThreshold");
      return rule;
    case "combined":
      checkFinite(rule.threshold, "threshold");
      checkFinite(rule.relativeThreshold, "relativeThreshold");
      return rule;
    default:
      throw new Error(
        `'rule.kind' must be "global", "monotonic" or "combined", found ${
          String((rule as { kind?: unknown } | null)?.kind)
        }`,
      );
  }
}

/**
 * Whether position `i` starts a patch, given `hPrev = H[i−1]` and `hPrevPrev = H[i−2]` (unused
 * for i < 3). The single source of the rule for the batch and the streaming patcher.
 *
 * @example
 * ```ts
 * import { isEntropyStart } from "./mod.ts";
 * isEntropyStart({ kind: "global", threshold: 1 }, 5, 1.5, 0.2); // true
 * ```
 */
export function isEntropyStart(
  rule: EntropyRule,
  i: number,
  hPrev: number,
  hPrevPrev: number,
): boolean {
  if (i < 2) return true;
  switch (rule.kind) {
    case "global":
      return hPrev > rule.threshold;
    case "monotonic":
      return i === 2 || hPrev - hPrevPrev > rule.relativeThreshold;
    case "combined":
      if (i === 2) return true;
      if (i === 3) return false;
      return hPrev - hPrevPrev > rule.relativeThreshold && hPrev > rule.threshold;
  }
}

/** Options of {@link entropyPatchStarts}. */
export interface PatchSpanOptions {
  /**
   * Also cover the slot of the byte after the last one (length T + 1), whose start is decided by
   * `H[T−1]`; the reference's `include_next_token`. Default false: patches cover exactly T bytes.
   */
  readonly includeNextToken?: boolean;
}

/**
 * Start positions (ascending) of the patches over `entropies.length` bytes under `rule`.
 *
 * @example
 * ```ts
 * import { entropyPatchStarts } from "./mod.ts";
 * entropyPatchStarts([3, 0.1, 2, 0.2, 0.3], { kind: "global", threshold: 1 }); // [0, 1, 3]
 * ```
 */
export function entropyPatchStarts(
  entropies: ArrayLike<number>,
  rule: EntropyRule,
  options: PatchSpanOptions = {},
): number[] {
  checkEntropies(entropies, "entropies");
  checkEntropyRule(rule);
  const span = entropies.length + (options.includeNextToken ? 1 : 0);
  const starts: number[] = [];
  for (let i = 0; i < span; i++) {
    if (isEntropyStart(rule, i, entropies[i - 1], entropies[i - 2])) starts.push(i);
  }
  return starts;
}
