/**
 * Hash n-gram ids for BLT's byte embeddings (paper §3.2.1, Eq. 2–3): each byte position t gets,
 * for every n in `sizes`, the hash of the n-gram ending at t, which indexes a table of `buckets`
 * embeddings. Bit-exact with Hugging Face `BltModel` (`byte_group_hash_function`,
 * `rolling_polynomial_hash`, `compute_hash_embeddings`):
 *
 * - the window for position t is `[x(t-n+1), …, x(t)]`, left-padded with id 0 (not BOS);
 * - hash = Σ_i window[i] · prime^i in int64 with wrap-around (oldest byte gets prime^0);
 * - id = hash mod buckets with floor semantics (torch `%`), so negative int64 hashes map into
 *   [0, buckets);
 * - hash function f uses `HASH_PRIMES[f % 11]`; the fused table stacks (f, n) tables in the order
 *   f-major, n-minor, table k at offset k · buckets.
 *
 * Pure CPU code: it is data preparation, run once per batch before tensors exist.
 *
 * @module
 */

/**
 * The official hash primes (facebookresearch/blt, HF `compute_hash_embeddings`), cycled by
 * hash-function index.
 *
 * @example
 * ```ts
 * import { HASH_PRIMES } from "./ngram_hash.ts";
 * console.assert(HASH_PRIMES[0] === 1000000007);
 * ```
 */
export const HASH_PRIMES: readonly number[] = Object.freeze([
  1000000007,
  5915587277,
  1500450271,
  3267000013,
  5754853343,
  4093082899,
  9576890767,
  3628273133,
  2860486313,
  5463458053,
  3367900313,
]);

/**
 * The default n-gram sizes of the paper and HF config (`encoder_hash_byte_group_size`).
 *
 * @example
 * ```ts
 * import { DEFAULT_NGRAM_SIZES } from "./ngram_hash.ts";
 * console.assert(DEFAULT_NGRAM_SIZES.join() === "3,4,5,6,7,8");
 * ```
 */
export const DEFAULT_NGRAM_SIZES: readonly number[] = Object.freeze([3, 4, 5, 6, 7, 8]);

const MASK64 = (1n << 64n) - 1n;
/** Ids must stay below this so that id · (22-bit limb) sums are exact doubles (< 2^53). */
const MAX_ID = 2 ** 20;
/** At most this many terms per hash keep the limb sums below 2^53. */
const MAX_NGRAM = 2 ** 11;
/** Buckets must stay below this so that (m-1)² is an exact double in the modulo reduction. */
const MAX_BUCKETS = 2 ** 26;

/**
 * The exact HF rolling polynomial hash of one window as a signed int64 (BigInt reference
 * implementation; {@link ngramHashIds} is the fast path and is tested equal to it).
 *
 * @example
 * ```ts
 * import { rollingPolynomialHash } from "./ngram_hash.ts";
 * console.assert(rollingPolynomialHash([1, 2, 3], 31) === 1n + 2n * 31n + 3n * 961n);
 * ```
 */
export function rollingPolynomialHash(window: readonly number[], prime: number): bigint {
  const p = BigInt(prime);
  let power = 1n, acc = 0n;
  for (const x of window) {
    acc = (acc + BigInt(x) * power) & MASK64;
    power = (power * p) & MASK64;
  }
  return BigInt.asIntN(64, acc);
}

function checkIds(ids: ArrayLike<number>, where: string): void {
  for (let t = 0; t < ids.length; t++) {
    const x = ids[t];
    if (!Number.isInteger(x) || x < 0 || x >= MAX_ID) {
      throw new Error(
        `${where}: ids[${t}] = ${x}; expected an integer in [0, ${MAX_ID}) (byte ids are < 260)`,
      );
    }
  }
}

function checkParams(n: number, buckets: number, fn: number, where: string): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_NGRAM) {
    throw new Error(`${where}: n-gram size ${n} must be an integer in [1, ${MAX_NGRAM}]`);
  }
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
    throw new Error(`${where}: buckets ${buckets} must be an integer in [1, ${MAX_BUCKETS}]`);
  }
  if (!Number.isInteger(fn) || fn < 0) {
    throw new Error(`${where}: hash function index ${fn} must be an integer >= 0`);
  }
}

/** 2^22 and 2^20: limb widths of a 64-bit value split 22 + 22 + 20 bits. */
const L22 = 2 ** 22;
const L20 = 2 ** 20;

/**
 * prime^i mod 2^64 for i = 0..n-1, split in three limbs of 22, 22 and 20 bits ([3i], [3i+1],
 * [3i+2] from low to high). With ids < 2^20 every id · limb is < 2^42, so up to 2^11 terms sum
 * exactly in doubles and carries are propagated once per position, not per term.
 */
function powerLimbs(prime: number, n: number): Float64Array {
  const out = new Float64Array(3 * n);
  const p = BigInt(prime);
  let power = 1n;
  for (let i = 0; i < n; i++) {
    out[3 * i] = Number(power & 0x3fffffn);
    out[3 * i + 1] = Number((power >> 22n) & 0x3fffffn);
    out[3 * i + 2] = Number(power >> 44n);
    power = (power * p) & MASK64;
  }
  return out;
}

/** Writes hash ids of one row into `out[outOffset + t * stride]`; assumes validated inputs. */
function hashRowInto(
  ids: ArrayLike<number>,
  n: number,
  buckets: number,
  limbs: Float64Array,
  out: Int32Array,
  outOffset: number,
  stride: number,
): void {
  const m = buckets;
  const l22ModM = L22 % m;
  const l44ModM = (l22ModM * l22ModM) % m;
  const l64ModM = (l44ModM * (L20 % m)) % m;
  for (let t = 0; t < ids.length; t++) {
    // Window [t-n+1, t], weight prime^i on its i-th (oldest first) entry; left padding is 0.
    let a0 = 0, a1 = 0, a2 = 0;
    for (let i = Math.max(0, n - 1 - t); i < n; i++) {
      const x = ids[t - n + 1 + i];
      a0 += x * limbs[3 * i];
      a1 += x * limbs[3 * i + 1];
      a2 += x * limbs[3 * i + 2];
    }
    let c = Math.floor(a0 / L22);
    const r0 = a0 - c * L22;
    a1 += c;
    c = Math.floor(a1 / L22);
    const r1 = a1 - c * L22;
    a2 += c;
    const r2 = a2 - Math.floor(a2 / L20) * L20; // wrap-around: drop bits above 2^64
    // v = r0 + r1·2^22 + r2·2^44 unsigned; torch holds it as signed int64 and floor-mods by m.
    let r = (r0 % m + (r1 % m) * l22ModM % m + (r2 % m) * l44ModM % m) % m;
    if (r2 >= L20 / 2) r = (r - l64ModM + m) % m;
    out[outOffset + t * stride] = r;
  }
}

/**
 * Hash ids of the n-grams ending at each position of one sequence, as HF
 * `byte_group_hash_function(ids, n, HASH_PRIMES[fn % 11], buckets)`.
 *
 * @param ids byte ids of one sequence (codec ids, offset 4), length T
 * @param n n-gram size
 * @param buckets table size (`encoder_hash_byte_group_vocab`)
 * @param fn hash function index (selects the prime)
 * @returns hash ids in [0, buckets), `// [T]`
 *
 * @example
 * ```ts
 * import { ngramHashIds } from "./ngram_hash.ts";
 * const ids = ngramHashIds([1, 72, 101, 105], 3, 1009); // [T] = [4]
 * console.assert(ids.length === 4 && ids.every((h) => h >= 0 && h < 1009));
 * ```
 */
export function ngramHashIds(
  ids: ArrayLike<number>,
  n: number,
  buckets: number,
  fn = 0,
): Int32Array {
  checkParams(n, buckets, fn, "ngramHashIds");
  checkIds(ids, "ngramHashIds");
  const out = new Int32Array(ids.length);
  hashRowInto(ids, n, buckets, powerLimbs(HASH_PRIMES[fn % HASH_PRIMES.length], n), out, 0, 1);
  return out;
}

/**
 * Options of {@link fusedHashIds}, named after the HF config fields
 * (`encoder_hash_byte_group_size`, `encoder_hash_byte_group_vocab`,
 * `encoder_hash_byte_group_nb_functions`).
 *
 * @example
 * ```ts
 * import type { HashNgramOptions } from "./ngram_hash.ts";
 * const opts: HashNgramOptions = { sizes: [3, 4, 5, 6, 7, 8], buckets: 4096, functions: 1 };
 * console.assert(opts.buckets === 4096);
 * ```
 */
export interface HashNgramOptions {
  readonly sizes?: readonly number[];
  readonly buckets: number;
  readonly functions?: number;
}

/**
 * Result of {@link fusedHashIds}: ids already offset into one fused embedding table of
 * `totalBuckets` rows, as HF's single `encoder_hash_tok_embedding`.
 *
 * @example
 * ```ts
 * import { fusedHashIds, type FusedHashIds } from "./ngram_hash.ts";
 * const r: FusedHashIds = fusedHashIds([[1, 72]], { buckets: 10 });
 * console.assert(r.ids.length === 1 * 2 * r.nTables);
 * ```
 */
export interface FusedHashIds {
  /** `// [B, T, nTables]`, row-major; entry k lies in [offsets[k], offsets[k] + buckets). */
  readonly ids: Int32Array;
  readonly batch: number;
  readonly length: number;
  readonly nTables: number;
  /** Table k = f · sizes.length + j (function f, size sizes[j]) starts at offsets[k]. */
  readonly offsets: readonly number[];
  /** The size n of table k. */
  readonly tableSizes: readonly number[];
  /** Rows of the fused table: nTables · buckets. */
  readonly totalBuckets: number;
}

/**
 * Fused hash ids for a batch, ready to gather from one embedding table of `totalBuckets` rows
 * and sum over the last axis (HF `compute_hash_embeddings`).
 *
 * @param batch B sequences of equal length T
 * @returns ids `// [B, T, nTables]` with per-table offsets applied
 *
 * @example
 * ```ts
 * import { fusedHashIds } from "./ngram_hash.ts";
 * const { ids, nTables, totalBuckets } = fusedHashIds([[1, 72, 101], [1, 70, 125]], {
 *   buckets: 1009,
 * });
 * console.assert(ids.length === 2 * 3 * 6 && nTables === 6 && totalBuckets === 6054);
 * ```
 */
export function fusedHashIds(
  batch: readonly ArrayLike<number>[],
  options: HashNgramOptions,
): FusedHashIds {
  const { sizes = DEFAULT_NGRAM_SIZES, buckets, functions = 1 } = options;
  if (!Array.isArray(batch) || batch.length === 0) {
    throw new Error("fusedHashIds: batch must be a non-empty array of id sequences");
  }
  if (!Array.isArray(sizes) || sizes.length === 0) {
    throw new Error(
      `fusedHashIds: sizes must be a non-empty array, found ${JSON.stringify(sizes)}`,
    );
  }
  if (!Number.isInteger(functions) || functions < 1) {
    throw new Error(`fusedHashIds: functions ${functions} must be an integer >= 1`);
  }
  for (const n of sizes) checkParams(n, buckets, 0, "fusedHashIds");
  const T = batch[0].length;
  batch.forEach((row, b) => {
    if (row.length !== T) {
      throw new Error(
        `fusedHashIds: batch[${b}] has length ${row.length} but batch[0] has ${T}; pad rows to one length`,
      );
    }
    checkIds(row, `fusedHashIds: batch[${b}]`);
  });
  const nTables = functions * sizes.length;
  const ids = new Int32Array(batch.length * T * nTables);
  const offsets: number[] = [], tableSizes: number[] = [];
  for (let f = 0; f < functions; f++) {
    const prime = HASH_PRIMES[f % HASH_PRIMES.length];
    sizes.forEach((n, j) => {
      const k = f * sizes.length + j;
      offsets.push(k * buckets);
      tableSizes.push(n);
      const limbs = powerLimbs(prime, n);
      for (let b = 0; b < batch.length; b++) {
        hashRowInto(batch[b], n, buckets, limbs, ids, b * T * nTables + k, nTables);
      }
    });
  }
  for (let i = 0; i < ids.length; i++) ids[i] += offsets[i % nTables];
  return {
    ids,
    batch: batch.length,
    length: T,
    nTables,
    offsets,
    tableSizes,
    totalBuckets: nTables * buckets,
  };
}
