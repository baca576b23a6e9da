/**
 * Argument checks shared by the patchers: each failure names the argument, the allowed range and
 * what was found, so a notebook user sees what to fix instead of a silent wrong patching.
 *
 * @module
 */

/**
 * Throws unless every entropy is a finite number; returns the values for chaining.
 *
 * @example
 * ```ts
 * import { checkEntropies } from "./validate.ts";
 * checkEntropies([0.5, 2.1], "entropies");
 * ```
 */
export function checkEntropies(entropies: ArrayLike<number>, name: string): ArrayLike<number> {
  if (entropies === null || typeof entropies !== "object" || typeof entropies.length !== "number") {
    throw new Error(`'${name}' must be an array of entropies (nats), found ${typeof entropies}`);
  }
  for (let i = 0; i < entropies.length; i++) {
    const h = entropies[i];
    if (typeof h !== "number" || !Number.isFinite(h)) {
      throw new Error(
        `${name}[${i}] must be a finite number (entropy in nats), found ${String(h)}; ` +
          "check the entropy model's logits for NaN/Infinity",
      );
    }
  }
  return entropies;
}

/**
 * Throws unless `value` is a finite number (a threshold θ may be any real, even negative).
 *
 * @example
 * ```ts
 * import { checkFinite } from "./validate.ts";
 * checkFinite(1.335442066192627, "threshold");
 * ```
 */
export function checkFinite(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`'${name}' must be a finite number in (-∞, ∞), found ${String(value)}`);
  }
  return value;
}

/**
 * Throws unless `value` is an integer ≥ 1 (patch sizes and maximum patch lengths).
 *
 * @example
 * ```ts
 * import { checkPositiveInteger } from "./validate.ts";
 * checkPositiveInteger(8, "maxPatchLength");
 * ```
 */
export function checkPositiveInteger(value: number, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new Error(`'${name}' must be an integer ≥ 1, found ${String(value)}`);
  }
  return value;
}
