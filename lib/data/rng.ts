/**
 * A small seeded pseudo-random number generator with a serialisable state.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "small fast counting" generator: 128 bits of
 * state, passes PractRand and BigCrush), seeded through splitmix32 so that nearby seeds give
 * unrelated streams. Its whole state is four uint32 words, so a training run can save
 * {@link Rng.state} in a checkpoint and resume with exactly the same draws.
 *
 * @module
 */

/**
 * The JSON-serialisable state of an {@link Rng}: four unsigned 32-bit words.
 *
 * @example
 * ```ts
 * import { Rng, type RngState } from "./mod.ts";
 * const state: RngState = JSON.parse(JSON.stringify(new Rng(1).state()));
 * console.log(Rng.fromState(state).uint32() === new Rng(1).uint32()); // true
 * ```
 */
export interface RngState {
  readonly algorithm: "sfc32";
  readonly words: readonly [number, number, number, number];
}

/** splitmix32 step: a bijective mixer used for seeding and forking (not as the generator). */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of a label, so forks can be named. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function checkUint32(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Error(
      `${name} must be an integer in [0, 2^32 - 1], found ${String(value)}: pass a uint32.`,
    );
  }
  return value;
}

/**
 * Seeded random numbers: `uint32`, `float`, `int`, `shuffle`, named `fork`s, and a
 * serialisable `state` for exact resume.
 *
 * @example
 * ```ts
 * import { Rng, type RngState } from "./mod.ts";
 * const rng = new Rng(42);
 * const dataRng = rng.fork("data"); // a named stream, independent of later draws on `rng`
 * const saved: RngState = rng.state();
 * const a = [rng.int(10), rng.float(), ...rng.shuffle([1, 2, 3])];
 * const b = Rng.fromState(saved);
 * console.log(a.join() === [b.int(10), b.float(), ...b.shuffle([1, 2, 3])].join()); // true
 * console.log(dataRng.uint32() === rng.fork("data").uint32()); // false: rng has moved on
 * ```
 */
export class Rng {
  #a = 0;
  #b = 0;
  #c = 0;
  #d = 1;

  /** Seeds the generator from any integer in [0, 2^32 - 1]. */
  constructor(seed: number) {
    checkUint32(seed, "Rng seed");
    this.#a = mix32(seed);
    this.#b = mix32(this.#a ^ 0x6a09e667);
    this.#c = mix32(this.#b ^ 0xbb67ae85);
    this.#warmUp();
  }

  /** Rebuilds a generator from {@link Rng.state}; it continues the saved stream exactly. */
  static fromState(state: RngState): Rng {
    if (state === null || typeof state !== "object" || state.algorithm !== "sfc32") {
      throw new Error(
        `Rng state must be {algorithm: "sfc32", words: [4 uint32]}, found ${
          JSON.stringify(state)
        }: pass the object returned by rng.state().`,
      );
    }
    if (!Array.isArray(state.words) || state.words.length !== 4) {
      throw new Error(
        `Rng state.words must hold 4 uint32 words, found ${
          JSON.stringify(state.words)
        }: pass the object returned by rng.state().`,
      );
    }
    const w = state.words.map((x, i) => checkUint32(x, `Rng state.words[${i}]`));
    const rng = new Rng(0);
    [rng.#a, rng.#b, rng.#c, rng.#d] = [w[0], w[1], w[2], w[3]];
    return rng;
  }

  /** The current state as plain JSON data (a copy: later draws do not change it). */
  state(): RngState {
    return {
      algorithm: "sfc32",
      words: [this.#a >>> 0, this.#b >>> 0, this.#c >>> 0, this.#d >>> 0],
    };
  }

  /** The next raw draw, uniform over [0, 2^32 - 1]. */
  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float uniform in [0, 1) with 53 random bits (two draws). */
  float(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * An integer uniform in [0, n), without modulo bias (rejection sampling).
   *
   * @param n exclusive upper bound, an integer in [1, 2^32].
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
      throw new Error(`rng.int(n): n must be an integer in [1, 2^32], found ${n}.`);
    }
    // Accept only draws below the largest multiple of n, so every residue is equally likely.
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }

  /** A shuffled copy of `items` (Fisher–Yates); the input is left untouched. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /**
   * An independent child generator named by `label`. Forking does not advance this generator,
   * so `rng.fork("data")` and `rng.fork("init")` are stable streams no matter how many draws
   * the other consumers make; fork again after drawing to get a fresh child.
   */
  fork(label: string | number): Rng {
    const h = hashLabel(String(label));
    const child = new Rng(0);
    child.#a = mix32(this.#a ^ h);
    child.#b = mix32(this.#b ^ mix32(h));
    child.#c = mix32(this.#c ^ mix32(h ^ 0x3c6ef372));
    child.#d = mix32(this.#d ^ h);
    child.#warmUp();
    return child;
  }

  /** sfc32's documented warm-up: mixes the seed through the counter before first use. */
  #warmUp(): void {
    for (let i = 0; i < 12; i++) this.uint32();
  }
}
