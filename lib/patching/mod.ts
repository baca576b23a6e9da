/**
 * Patching (paper §2): next-byte entropies from the entropy model's logits, entropy / space /
 * static / byte patchers, the maximum-patch-length split, a streaming patcher for generation and
 * threshold calibration to a target mean patch size.
 *
 * @example
 * ```ts
 * import { encode } from "../bytes/mod.ts";
 * import { PRESETS } from "../config.ts";
 * import { patchLengths } from "./mod.ts";
 * patchLengths(encode("Hello world"), { ...PRESETS.tiny.patching, mode: "space" }); // [1, 6, 6]
 * ```
 *
 * @module
 */

export {
  calibrateThreshold,
  type CalibrationOptions,
  type CalibrationResult,
} from "./calibrate.ts";
export { entropies } from "./entropy.ts";
export {
  bytePatchLengths,
  patchIdsFromLengths,
  patchLengthsFromStarts,
  splitPatchLengths,
  staticPatchLengths,
} from "./lengths.ts";
export { entropyRuleOf, type PatcherConfig, patchLengths } from "./patch.ts";
export {
  checkEntropyRule,
  entropyPatchStarts,
  type EntropyRule,
  isEntropyStart,
  type PatchSpanOptions,
} from "./rules.ts";
export { isSpaceLike, spacePatchStarts } from "./space.ts";
export { StreamingPatcher, type StreamingPatcherOptions } from "./streaming.ts";
