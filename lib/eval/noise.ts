/**
 * Noise functions for robustness probes (BLT paper §6.1, Table 4: "noised HellaSwag"), plus
 * common typo noises. All are pure string → string functions: randomness comes only from a seed
 * (or a caller's {@link Rng}), so a probe is reproducible.
 *
 * Text is processed by Unicode code points (`Array.from(text)`), never by bytes or UTF-16 units:
 * no noise can split a surrogate pair or produce invalid UTF-8. (Combining marks are code points
 * of their own, so e.g. Drop may remove an accent from its base letter; the result stays valid.)
 * Random choices are independent per code point with probability `rate`, so "10% of characters"
 * holds in expectation.
 *
 * @module
 */

import { Rng } from "../data/rng.ts";

/**
 * A seed (uint32) or a generator; a passed {@link Rng} is advanced, a seed makes a fresh one.
 *
 * @example
 * ```ts
 * import { Rng } from "../data/rng.ts";
 * import type { RandomSource } from "./noise.ts";
 * const sources: RandomSource[] = [7, new Rng(7)];
 * console.assert(sources.length === 2);
 * ```
 */
export type RandomSource = Rng | number;

/**
 * Options of the random noises; `rate` defaults per noise (see {@link NOISES}), `seed` to 0.
 *
 * @example
 * ```ts
 * import type { NoiseOptions } from "./noise.ts";
 * const opts: NoiseOptions = { rate: 0.1, seed: 42 };
 * console.assert(opts.rate === 0.1);
 * ```
 */
export interface NoiseOptions {
  readonly rate?: number;
  readonly seed?: RandomSource;
}

/**
 * The common signature of every noise in {@link NOISES}.
 *
 * @example
 * ```ts
 * import type { NoiseFn } from "./noise.ts";
 * const identity: NoiseFn = (text) => text;
 * console.assert(identity("x") === "x");
 * ```
 */
export type NoiseFn = (text: string, options?: NoiseOptions) => string;

const LETTER = /^\p{L}$/u;
const SPACE = /^\s$/u;
const ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz";

function checkText(text: unknown, noise: string): string {
  if (typeof text !== "string") {
    throw new Error(`noise ${noise}: text must be a string, found ${typeof text}`);
  }
  return text;
}

/** Resolves options: validates the rate and turns a seed into a generator. */
function setup(
  text: unknown,
  options: NoiseOptions | undefined,
  noise: string,
  defaultRate: number,
): { chars: string[]; rate: number; rng: Rng } {
  const chars = Array.from(checkText(text, noise));
  const rate = options?.rate ?? defaultRate;
  if (typeof rate !== "number" || !(rate >= 0 && rate <= 1)) {
    throw new Error(`noise ${noise}: rate must be a number in [0, 1], found ${rate}`);
  }
  const seed = options?.seed ?? 0;
  const rng = seed instanceof Rng ? seed : new Rng(seed);
  return { chars, rate, rng };
}

/** Draws a letter from a–z with the case of `like` (uppercase if `like` is). */
function randomLetter(rng: Rng, like: string, avoid?: string): string {
  let c = ASCII_LOWER[rng.int(26)];
  if (avoid !== undefined) {
    while (c === avoid.toLowerCase()) c = ASCII_LOWER[rng.int(26)];
  }
  return like !== like.toLowerCase() ? c.toUpperCase() : c;
}

/**
 * UpperCase (Table 4): every character to upper case. Deterministic; takes no rate or seed.
 *
 * @example
 * ```ts
 * import { upperCase } from "./noise.ts";
 * console.assert(upperCase("Bytes ü") === "BYTES Ü");
 * ```
 */
export function upperCase(text: string): string {
  return checkText(text, "UpperCase").toUpperCase();
}

/**
 * AntSpeak (Table 4): upper case with every character separated by one space, spaces included
 * (so a word boundary shows as three spaces). Deterministic.
 *
 * @example
 * ```ts
 * import { antSpeak } from "./noise.ts";
 * console.assert(antSpeak("hi yo") === "H I   Y O");
 * ```
 */
export function antSpeak(text: string): string {
  return Array.from(checkText(text, "AntSpeak").toUpperCase()).join(" ");
}

/**
 * Drop (Table 4): removes each character with probability `rate` (paper: 10%).
 *
 * @example
 * ```ts
 * import { drop } from "./noise.ts";
 * const noisy = drop("the quick brown fox", { rate: 0.1, seed: 1 });
 * console.assert(noisy.length <= 19);
 * ```
 */
export function drop(text: string, options?: NoiseOptions): string {
  const { chars, rate, rng } = setup(text, options, "Drop", 0.1);
  return chars.filter(() => rng.float() >= rate).join("");
}

/**
 * RandomCase (Table 4): each character upper case with probability `rate` (paper: 50%), else
 * lower case.
 *
 * @example
 * ```ts
 * import { randomCase } from "./noise.ts";
 * console.assert(randomCase("Hello", { seed: 3 }).toLowerCase() === "hello");
 * ```
 */
export function randomCase(text: string, options?: NoiseOptions): string {
  const { chars, rate, rng } = setup(text, options, "RandomCase", 0.5);
  return chars.map((c) => rng.float() < rate ? c.toUpperCase() : c.toLowerCase()).join("");
}

/**
 * Options of {@link repeat}: `maxTotal` is the most copies of a repeated character (default 4).
 *
 * @example
 * ```ts
 * import type { RepeatOptions } from "./noise.ts";
 * const opts: RepeatOptions = { rate: 0.2, maxTotal: 4, seed: 0 };
 * console.assert(opts.maxTotal === 4);
 * ```
 */
export interface RepeatOptions extends NoiseOptions {
  readonly maxTotal?: number;
}

/**
 * Repeat (Table 4, "repeats 20% of characters up to a maximum of four times"). Our reading:
 * each character is chosen with probability `rate`; a chosen character appears k times in
 * total, k uniform in {2, …, maxTotal} (so at most four copies with the default maxTotal 4).
 *
 * @example
 * ```ts
 * import { repeat } from "./noise.ts";
 * const noisy = repeat("abc", { rate: 1, seed: 0 }); // e.g. "aabbbbccc"
 * console.assert(noisy.length >= 6 && noisy.length <= 12);
 * ```
 */
export function repeat(text: string, options?: RepeatOptions): string {
  const { chars, rate, rng } = setup(text, options, "Repeat", 0.2);
  const maxTotal = options?.maxTotal ?? 4;
  if (!Number.isInteger(maxTotal) || maxTotal < 2) {
    throw new Error(`noise Repeat: maxTotal must be an integer >= 2, found ${maxTotal}`);
  }
  return chars.map((c) => rng.float() < rate ? c.repeat(2 + rng.int(maxTotal - 1)) : c).join("");
}

/**
 * Typo: swaps adjacent letters; each letter pair (both `\p{L}`) is swapped with probability
 * `rate`, pairs never overlap. Length and letter multiset are preserved.
 *
 * @example
 * ```ts
 * import { typoSwap } from "./noise.ts";
 * console.assert(typoSwap("ab cd", { rate: 1 }) === "ba dc");
 * ```
 */
export function typoSwap(text: string, options?: NoiseOptions): string {
  const { chars, rate, rng } = setup(text, options, "TypoSwap", 0.1);
  for (let i = 0; i + 1 < chars.length; i++) {
    if (LETTER.test(chars[i]) && LETTER.test(chars[i + 1]) && rng.float() < rate) {
      [chars[i], chars[i + 1]] = [chars[i + 1], chars[i]];
      i++;
    }
  }
  return chars.join("");
}

/**
 * Typo: after each character, inserts a random letter a–z with probability `rate` (upper case
 * after an upper-case character).
 *
 * @example
 * ```ts
 * import { typoInsert } from "./noise.ts";
 * console.assert(typoInsert("abc", { rate: 1, seed: 2 }).length === 6);
 * ```
 */
export function typoInsert(text: string, options?: NoiseOptions): string {
  const { chars, rate, rng } = setup(text, options, "TypoInsert", 0.1);
  return chars.map((c) => rng.float() < rate ? c + randomLetter(rng, c) : c).join("");
}

/**
 * Typo: deletes each letter (`\p{L}`) with probability `rate`; unlike Drop, digits, spaces and
 * punctuation survive.
 *
 * @example
 * ```ts
 * import { typoDelete } from "./noise.ts";
 * console.assert(typoDelete("a1 b2!", { rate: 1 }) === "1 2!");
 * ```
 */
export function typoDelete(text: string, options?: NoiseOptions): string {
  const { chars, rate, rng } = setup(text, options, "TypoDelete", 0.1);
  return chars.filter((c) => !(LETTER.test(c) && rng.float() < rate)).join("");
}

/**
 * Typo: replaces each letter with probability `rate` by a different random letter a–z, keeping
 * its case. Replacements are Latin whatever the script (a keyboard typo on a Latin layout).
 *
 * @example
 * ```ts
 * import { typoSubstitute } from "./noise.ts";
 * const noisy = typoSubstitute("Cat", { rate: 1, seed: 5 });
 * console.assert(noisy.length === 3 && noisy[0] !== "C" && noisy[0] === noisy[0].toUpperCase());
 * ```
 */
export function typoSubstitute(text: string, options?: NoiseOptions): string {
  const { chars, rate, rng } = setup(text, options, "TypoSubstitute", 0.1);
  return chars.map((c) => LETTER.test(c) && rng.float() < rate ? randomLetter(rng, c, c) : c)
    .join("");
}

/**
 * Whitespace collapse: each run of whitespace is removed with probability `rate`, gluing the
 * words around it ("a missing space" typo); at rate 1 all whitespace goes.
 *
 * @example
 * ```ts
 * import { whitespaceCollapse } from "./noise.ts";
 * console.assert(whitespaceCollapse("to be  or", { rate: 1 }) === "tobeor");
 * ```
 */
export function whitespaceCollapse(text: string, options?: NoiseOptions): string {
  const { chars, rate, rng } = setup(text, options, "WhitespaceCollapse", 0.1);
  const out: string[] = [];
  let dropRun = false;
  chars.forEach((c, i) => {
    if (!SPACE.test(c)) return void out.push(c);
    if (i === 0 || !SPACE.test(chars[i - 1])) dropRun = rng.float() < rate;
    if (!dropRun) out.push(c);
  });
  return out.join("");
}

/**
 * A noise in the registry: its function, the default rate (null for deterministic noises) and
 * where it comes from.
 *
 * @example
 * ```ts
 * import { NOISES, type NoiseSpec } from "./noise.ts";
 * const spec: NoiseSpec = NOISES.Drop;
 * console.assert(spec.defaultRate === 0.1);
 * ```
 */
export interface NoiseSpec {
  readonly apply: NoiseFn;
  readonly defaultRate: number | null;
  readonly description: string;
}

function deterministic(name: string, f: (text: string) => string): NoiseFn {
  return (text, options) => {
    if (options?.rate !== undefined) {
      throw new Error(`noise ${name} is deterministic and takes no rate, found ${options.rate}`);
    }
    return f(text);
  };
}

/** The names of {@link NOISES}. */
export type NoiseName =
  | "AntSpeak"
  | "Drop"
  | "RandomCase"
  | "Repeat"
  | "UpperCase"
  | "TypoSwap"
  | "TypoInsert"
  | "TypoDelete"
  | "TypoSubstitute"
  | "WhitespaceCollapse";

/**
 * All noises by name: the paper's five (Table 4) and the typo noises.
 *
 * @example
 * ```ts
 * import { NOISES } from "./noise.ts";
 * const out = Object.entries(NOISES).map(([name, n]) => `${name}: ${n.apply("Hello world", { seed: 1 })}`);
 * console.assert(out.length === Object.keys(NOISES).length);
 * ```
 */
export const NOISES: Readonly<Record<NoiseName, NoiseSpec>> = Object.freeze(
  {
    AntSpeak: {
      apply: deterministic("AntSpeak", antSpeak),
      defaultRate: null,
      description: "paper: upper case, characters space-separated",
    },
    Drop: {
      apply: drop,
      defaultRate: 0.1,
      description: "paper: drop each character with p = rate",
    },
    RandomCase: {
      apply: randomCase,
      defaultRate: 0.5,
      description: "paper: each character upper case with p = rate, else lower",
    },
    Repeat: {
      apply: repeat,
      defaultRate: 0.2,
      description: "paper: repeat a character (2–4 copies in total) with p = rate",
    },
    UpperCase: {
      apply: deterministic("UpperCase", upperCase),
      defaultRate: null,
      description: "paper: all upper case",
    },
    TypoSwap: {
      apply: typoSwap,
      defaultRate: 0.1,
      description: "swap adjacent letters with p = rate",
    },
    TypoInsert: {
      apply: typoInsert,
      defaultRate: 0.1,
      description: "insert a random letter after a character with p = rate",
    },
    TypoDelete: {
      apply: typoDelete,
      defaultRate: 0.1,
      description: "delete a letter with p = rate",
    },
    TypoSubstitute: {
      apply: typoSubstitute,
      defaultRate: 0.1,
      description: "replace a letter by another with p = rate",
    },
    WhitespaceCollapse: {
      apply: whitespaceCollapse,
      defaultRate: 0.1,
      description: "remove a whitespace run with p = rate",
    },
  } as const satisfies Record<string, NoiseSpec>,
);

/**
 * The names in {@link NOISES}.
 *
 * @example
 * ```ts
 * import type { NoiseName } from "./noise.ts";
 * const name: NoiseName = "RandomCase";
 * console.assert(name.length > 0);
 * ```
 */

/**
 * Applies a noise by name, with an error listing the known names for an unknown one.
 *
 * @example
 * ```ts
 * import { applyNoise } from "./noise.ts";
 * console.assert(applyNoise("UpperCase", "abc") === "ABC");
 * ```
 */
export function applyNoise(name: string, text: string, options?: NoiseOptions): string {
  if (!Object.hasOwn(NOISES, name)) {
    throw new Error(`Unknown noise '${name}'; expected one of ${Object.keys(NOISES).join(", ")}`);
  }
  return NOISES[name as NoiseName].apply(text, options);
}
