import { deepEqual, equal, throws } from "node:assert/strict";
import {
  DEFAULT_NGRAM_SIZES,
  fusedHashIds,
  HASH_PRIMES,
  ngramHashIds,
  rollingPolynomialHash,
} from "../../lib/model/ngram_hash.ts";

const FIXTURE = new URL("../../../shared/testdata/hf-blt-tiny/", import.meta.url);

interface Case {
  text: string;
  input_ids: number[];
  hash_ids: Record<string, number[]>;
}

async function loadFixture(): Promise<{ cases: Case[]; buckets: number; sizes: number[] }> {
  const read = async (name: string) => {
    const url = new URL(name, FIXTURE);
    try {
      return JSON.parse(await Deno.readTextFile(url));
    } catch (e) {
      throw new Error(`missing HF fixture ${url.pathname}: ${(e as Error).message}`);
    }
  };
  const summary = await read("summary.json");
  const config = await read("config.json");
  return {
    cases: summary.cases,
    buckets: config.encoder_hash_byte_group_vocab,
    sizes: config.encoder_hash_byte_group_size,
  };
}

/** Straight BigInt transcription of HF byte_group_hash_function, for cross-checking. */
function referenceIds(ids: number[], n: number, buckets: number, fn: number): number[] {
  const padded = [...new Array(n - 1).fill(0), ...ids];
  const m = BigInt(buckets);
  return ids.map((_, t) => {
    const h = rollingPolynomialHash(padded.slice(t, t + n), HASH_PRIMES[fn % 11]);
    return Number(((h % m) + m) % m);
  });
}

Deno.test("ngramHashIds matches every HF hash_ids entry of both fixture cases", async () => {
  const { cases, buckets } = await loadFixture();
  equal(cases.length, 2);
  let checked = 0;
  for (const c of cases) {
    const keys = Object.keys(c.hash_ids);
    equal(keys.length, 6, "fixture has one function × sizes 3..8");
    for (const key of keys) {
      const [fn, n] = key.split("_").map(Number);
      deepEqual(Array.from(ngramHashIds(c.input_ids, n, buckets, fn)), c.hash_ids[key], key);
      checked++;
    }
  }
  equal(checked, 12);
});

Deno.test("fusedHashIds lays out [B, T, nTables] with HF's table offsets", async () => {
  const { cases, buckets, sizes } = await loadFixture();
  deepEqual(sizes, [...DEFAULT_NGRAM_SIZES]);
  const T = Math.min(...cases.map((c) => c.input_ids.length));
  const batch = cases.map((c) => c.input_ids.slice(0, T));
  const r = fusedHashIds(batch, { buckets });
  equal(r.nTables, 6);
  equal(r.totalBuckets, 6054); // rows of model.encoder_hash_tok_embedding.weight
  deepEqual(r.offsets, [0, 1009, 2018, 3027, 4036, 5045]);
  deepEqual(r.tableSizes, sizes);
  for (let b = 0; b < 2; b++) {
    for (let t = 0; t < T; t++) {
      for (let k = 0; k < 6; k++) {
        const expected = cases[b].hash_ids[`0_${sizes[k]}`][t] + k * buckets;
        equal(r.ids[(b * T + t) * 6 + k], expected);
      }
    }
  }
});

Deno.test("fast path equals the BigInt reference for random ids, primes and buckets", () => {
  let seed = 12345;
  const rand = (k: number) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % k;
  };
  for (let trial = 0; trial < 40; trial++) {
    const ids = Array.from({ length: 50 }, () => rand(260));
    const n = 1 + rand(10);
    const buckets = [1, 2, 1009, 4096, 50002, 100002, 2 ** 26][trial % 7];
    const fn = rand(15);
    deepEqual(Array.from(ngramHashIds(ids, n, buckets, fn)), referenceIds(ids, n, buckets, fn));
  }
  // Large ids exercise the carry between 32-bit limbs.
  const big = Array.from({ length: 30 }, (_, i) => 2 ** 20 - 1 - i);
  deepEqual(Array.from(ngramHashIds(big, 8, 99991, 6)), referenceIds(big, 8, 99991, 6));
  // The longest allowed n with the largest ids keeps the limb sums exact.
  const wide = Array.from({ length: 2100 }, (_, i) => 2 ** 20 - 1 - (i % 3));
  const fast = ngramHashIds(wide, 2048, 2 ** 26, 3);
  deepEqual(
    Array.from(fast.subarray(2040, 2060)),
    referenceIds(wide, 2048, 2 ** 26, 3).slice(2040, 2060),
  );
  throws(() => ngramHashIds([1], 2049, 10), /n-gram size 2049 must be an integer in \[1, 2048\]/);
});

Deno.test("rollingPolynomialHash wraps like int64 and is signed", () => {
  equal(rollingPolynomialHash([1, 2, 3], 31), 2946n);
  // 259 · p^7 overflows int64: the value must be the two's complement wrap.
  const p = 1000000007n;
  const exact = 259n * p ** 7n;
  equal(rollingPolynomialHash([0, 0, 0, 0, 0, 0, 0, 259], 1000000007), BigInt.asIntN(64, exact));
});

Deno.test("left padding is id 0 and the newest byte gets the highest power", () => {
  const ids = ngramHashIds([77, 5, 9], 4, 1009);
  // Window at t=0 is [0, 0, 0, 77]: hash = 77·p^3 wrapped to int64, floor-mod 1009.
  const h = BigInt.asIntN(64, 77n * 1000000007n ** 3n);
  equal(ids[0], Number(((h % 1009n) + 1009n) % 1009n));
  equal(ids[0], ngramHashIds([0, 0, 0, 77], 4, 1009)[3]);
  // Window at t=2 is [0, 77, 5, 9].
  equal(ids[2], ngramHashIds([0, 77, 5, 9], 4, 1009)[3]);
});

// Reports the time only: speed targets live in bench/, not in timed tests.
Deno.test("hashing 16×4096 bytes with 6 sizes gives one id per byte and size", () => {
  const batch = Array.from(
    { length: 16 },
    (_, b) => Array.from({ length: 4096 }, (_, t) => 4 + ((b * 31 + t * 7) % 256)),
  );
  const t0 = performance.now();
  const r = fusedHashIds(batch, { buckets: 50002 });
  const ms = performance.now() - t0;
  equal(r.ids.length, 16 * 4096 * 6);
  console.log(`fusedHashIds 16×4096×6: ${ms.toFixed(1)} ms`);
});

Deno.test("bad inputs throw errors naming the argument", () => {
  throws(() => ngramHashIds([1, 2], 0, 10), /n-gram size 0/);
  throws(() => ngramHashIds([1, 2], 3, 0), /buckets 0/);
  throws(() => ngramHashIds([1, -2], 3, 10), /ids\[1\] = -2/);
  throws(() => ngramHashIds([1, 2.5], 3, 10), /ids\[1\] = 2.5/);
  throws(() => fusedHashIds([[1, 2], [1]], { buckets: 10 }), /batch\[1\] has length 1/);
  throws(() => fusedHashIds([], { buckets: 10 }), /non-empty/);
  throws(() => fusedHashIds([[1]], { buckets: 10, functions: 0 }), /functions 0/);
});
