/**
 * Data for BLT training: a seeded random number generator with a resumable state.
 *
 * @example
 * ```ts
 * import { Rng, type RngState } from "./mod.ts";
 * const saved: RngState = new Rng(0).state();
 * console.log(Rng.fromState(saved).shuffle([1, 2, 3]).length); // 3
 * ```
 * @module
 */
export { Rng, type RngState } from "./rng.ts";
