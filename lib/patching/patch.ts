/**
 * One entry point for the model: {@link patchLengths} runs the patcher a `PatchingConfig`
 * (lib/config.ts) chooses, entropy, space, static or byte, and then the maximum-length split.
 *
 * @module
 */

import type { PatchingConfig, PatchingMode } from "../config.ts";
import {
  bytePatchLengths,
  patchLengthsFromStarts,
  splitPatchLengths,
  staticPatchLengths,
} from "./lengths.ts";
import { entropyPatchStarts, type EntropyRule } from "./rules.ts";
import { spacePatchStarts } from "./space.ts";
import { checkFinite, checkPositiveInteger } from "./validate.ts";

/**
 * A run's `PatchingConfig` plus the span switch `includeNextToken`. Mapping from the official `PatcherArgs`:
 * `threshold` = θ; `threshold_add` = a is `relativeThreshold: a` (combined rule: θ and θr);
 * `monotonicity=True` with threshold t is `{ monotonic: true, relativeThreshold: t }`.
 *
 * @example
 * ```ts
 * import type { PatcherConfig } from "./mod.ts";
 * const c: PatcherConfig = {
 *   mode: "entropy",
 *   threshold: 1.3,
 *   relativeThreshold: null,
 *   monotonic: false,
 *   patchSize: 4,
 *   maxPatchLength: 16,
 * };
 * ```
 */
export interface PatcherConfig extends PatchingConfig {
  /** Cover the next byte's slot too (T + 1 positions): the reference's `include_next_token`. */
  readonly includeNextToken?: boolean;
}

const MODES: readonly PatchingMode[] = ["entropy", "space", "static", "byte"];

/**
 * The entropy rule a config selects: monotonic (`monotonic`), combined (`relativeThreshold` set)
 * or global (θ only).
 *
 * @example
 * ```ts
 * import { entropyRuleOf } from "./mod.ts";
 * const base = { mode: "entropy", threshold: 1.3, monotonic: false, patchSize: 4 } as const;
 * entropyRuleOf({ ...base, relativeThreshold: 0.2, maxPatchLength: null }).kind; // "combined"
 * ```
 */
export function entropyRuleOf(config: PatcherConfig): EntropyRule {
  const relative = config.relativeThreshold;
  if (config.monotonic) {
    if (relative == null) {
      throw new Error("'relativeThreshold' must be a finite number when 'monotonic' is true (θr)");
    }
    return { kind: "monotonic", relativeThreshold: checkFinite(relative, "relativeThreshold") };
  }
  const threshold = checkFinite(config.threshold, "threshold");
  if (relative == null) return { kind: "global", threshold };
  return {
    kind: "combined",
    threshold,
    relativeThreshold: checkFinite(relative, "relativeThreshold"),
  };
}

/**
 * Patch lengths of one sequence under `config`. `values` are the per-byte entropies in entropy
 * mode (`[T]`) and the byte ids in space mode (`[T]`); static and byte modes use only T. Lengths
 * cover the T bytes exactly (T + 1 with `includeNextToken`) and respect `maxPatchLength`.
 *
 * @example
 * ```ts
 * import { patchLengths } from "./mod.ts";
 * const base = {
 *   threshold: 1,
 *   relativeThreshold: null,
 *   monotonic: false,
 *   patchSize: 3,
 *   maxPatchLength: null,
 * };
 * patchLengths([3, 0.1, 2, 0.2, 0.3], { ...base, mode: "entropy" }); // [1, 2, 2]
 * patchLengths([1, 72, 105, 2], { ...base, mode: "static" }); // [3, 1]
 * ```
 */
export function patchLengths(values: ArrayLike<number>, config: PatcherConfig): number[] {
  if (values === null || typeof values !== "object" || typeof values.length !== "number") {
    throw new Error(`'values' must be an array of entropies or byte ids, found ${typeof values}`);
  }
  const options = { includeNextToken: config.includeNextToken ?? false };
  const span = values.length + (options.includeNextToken ? 1 : 0);
  const max = config.maxPatchLength;
  if (max != null) checkPositiveInteger(max, "maxPatchLength");
  let lengths: number[];
  switch (config.mode) {
    case "entropy":
      lengths = patchLengthsFromStarts(
        entropyPatchStarts(values, entropyRuleOf(config), options),
        span,
      );
      break;
    case "space":
      lengths = patchLengthsFromStarts(spacePatchStarts(values, options), span);
      break;
    case "static":
      lengths = staticPatchLengths(span, config.patchSize);
      break;
    case "byte":
      lengths = bytePatchLengths(span);
      break;
    default:
      throw new Error(
        `'mode' must be one of ${MODES.join(", ")}, found ${String(config.mode)}`,
      );
  }
  return max == null ? lengths : splitPatchLengths(lengths, max);
}
