/**
 * Incremental (cached) decoding for generation: KV caches, one-position transformer layers, the
 * patch stream that decides boundaries byte by byte, the cached BLT and byte LM, and steppers
 * that put cached and full re-run decoding behind one interface, read back sync or async.
 *
 * @example
 * ```ts
 * import { createByteLm } from "../byte_lm.ts";
 * import { stepper } from "./mod.ts";
 * import { PRESETS } from "../../config.ts";
 * const lm = createByteLm(PRESETS.tiny.entropyModel!, 0);
 * const s = stepper(lm, { useCache: true });
 * s.push(1);
 * console.log(s.logits().length); // 260
 * s.dispose();
 * lm.dispose();
 * ```
 *
 * @module
 */
export { BltCache, type BltStep } from "./blt_cache.ts";
export { ByteLmCache, checkId } from "./byte_lm_cache.ts";
export { cachedBlock, cachedSelfAttention } from "./cached_block.ts";
export { KvCache, RopeRows } from "./kv_cache.ts";
export { nextBytePatchLengths, PatchStream } from "./patch_stream.ts";
export { canReadSync, readAsync, type Reads, readSync } from "./read_back.ts";
export { type NextByteStepper, stepper, type StepperOptions } from "./steppers.ts";
