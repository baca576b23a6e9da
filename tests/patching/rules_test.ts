import assert from "node:assert/strict";
import { encode } from "../../lib/bytes/mod.ts";
import {
  checkEntropyRule,
  entropyPatchStarts,
  type EntropyRule,
  entropyRuleOf,
  isSpaceLike,
  type PatcherConfig,
  patchLengths,
  spacePatchStarts,
} from "../../lib/patching/mod.ts";

const base: PatcherConfig = {
  mode: "entropy",
  threshold: 1,
  relativeThreshold: null,
  monotonic: false,
  patchSize: 4,
  maxPatchLength: null,
};

Deno.test("global rule: 0 and 1 always start, then H[i−1] > θ (strictly)", () => {
  const global: EntropyRule = { kind: "global", threshold: 1 };
  assert.deepEqual(entropyPatchStarts([0, 0, 1, 1.01, 0], global), [0, 1, 4]);
  assert.deepEqual(entropyPatchStarts([5, 5], global), [0, 1]);
  assert.deepEqual(entropyPatchStarts([5, 5], global, { includeNextToken: true }), [0, 1, 2]);
  assert.deepEqual(entropyPatchStarts([], global), []);
});

Deno.test("monotonic and combined rules keep the reference's first positions", () => {
  const h = [0, 9, 9, 0, 2, 2.5];
  // Monotonic: position 2 forced; later H[i−1] − H[i−2] > 0.4.
  assert.deepEqual(entropyPatchStarts(h, { kind: "monotonic", relativeThreshold: 0.4 }), [
    0,
    1,
    2,
    5,
  ]);
  // Combined: position 2 forced, position 3 never, later both rules.
  const combined: EntropyRule = { kind: "combined", threshold: 1, relativeThreshold: 0.4 };
  assert.deepEqual(entropyPatchStarts(h, combined, { includeNextToken: true }), [0, 1, 2, 5, 6]);
  assert.deepEqual(entropyPatchStarts([0, 0, 9, 9, 0, 0], combined), [0, 1, 2]);
});

Deno.test("a config selects global, combined or monotonic", () => {
  assert.deepEqual(entropyRuleOf(base), { kind: "global", threshold: 1 });
  assert.equal(entropyRuleOf({ ...base, relativeThreshold: 0.1 }).kind, "combined");
  assert.equal(
    entropyRuleOf({ ...base, monotonic: true, relativeThreshold: 0.1 }).kind,
    "monotonic",
  );
  assert.throws(
    () => entropyRuleOf({ ...base, monotonic: true }),
    /'relativeThreshold' must be a finite number when 'monotonic' is true/,
  );
});

Deno.test("space rule: SpaceByte boundaries, runs once, specials always, UTF-8 aware", () => {
  // <s> Hello␣␣world!</s>: the first space ends "Hello␣", the second opens "␣world!", whose "!"
  // ends it before EOS.
  const ids = encode("Hello  world!");
  assert.deepEqual(spacePatchStarts(ids), [0, 1, 7, 14]);
  assert.deepEqual(patchLengths(ids, { ...base, mode: "space" }), [1, 6, 7, 1]);
  // "é" (C3 A9): the lead byte is space-like, its continuation byte is not.
  assert.equal(isSpaceLike(0xc3 + 4), true);
  assert.equal(isSpaceLike(0xa9 + 4), false);
  for (const ch of "09AZaz") assert.equal(isSpaceLike(ch.charCodeAt(0) + 4), false, ch);
  for (const ch of " /:@[`{\u007f") assert.equal(isSpaceLike(ch.charCodeAt(0) + 4), true, ch);
  assert.throws(
    () => spacePatchStarts([1, 300]),
    /ids\[1\] must be a byte id, an integer in \[0, 260\), found 300/,
  );
});

Deno.test("empty text patches to [1, 1] (BOS, EOS) in entropy, space and byte modes", () => {
  const ids = encode("");
  assert.deepEqual(patchLengths([2.5, 0.5], base), [1, 1]);
  assert.deepEqual(patchLengths(ids, { ...base, mode: "space" }), [1, 1]);
  assert.deepEqual(patchLengths(ids, { ...base, mode: "byte" }), [1, 1]);
  assert.deepEqual(patchLengths(ids, { ...base, mode: "static" }), [2]);
});

Deno.test("patchLengths applies maxPatchLength and includeNextToken", () => {
  const h = [3, 0, 0, 0, 0, 0, 0, 0];
  assert.deepEqual(patchLengths(h, base), [1, 7]);
  assert.deepEqual(patchLengths(h, { ...base, maxPatchLength: 3 }), [1, 3, 3, 1]);
  assert.deepEqual(patchLengths(h, { ...base, includeNextToken: true }), [1, 8]);
  assert.deepEqual(patchLengths(h, { ...base, mode: "static", maxPatchLength: 3 }), [3, 1, 3, 1]);
});

Deno.test("bad patching input throws errors naming the argument and range", () => {
  assert.throws(() => patchLengths([1, NaN, 2], base), /entropies\[1\] must be a finite number/);
  assert.throws(() => patchLengths([1, -Infinity], base), /entropies\[1\]/);
  assert.throws(
    () => patchLengths([1, 2], { ...base, threshold: NaN }),
    /'threshold' must be a finite number in \(-∞, ∞\), found NaN/,
  );
  assert.throws(() => patchLengths([1, 2], { ...base, threshold: Infinity }), /'threshold'/);
  assert.throws(
    () => patchLengths([1, 2], { ...base, maxPatchLength: 0 }),
    /'maxPatchLength' must be an integer ≥ 1, found 0/,
  );
  assert.throws(() => patchLengths([1, 2], { ...base, maxPatchLength: -3 }), /'maxPatchLength'/);
  assert.throws(
    () => patchLengths([1, 2], { ...base, relativeThreshold: NaN }),
    /'relativeThreshold'/,
  );
  assert.throws(
    () => patchLengths([1, 2], { ...base, mode: "bpe" as unknown as "byte" }),
    /'mode' must be one of entropy, space, static, byte, found bpe/,
  );
  assert.throws(
    () => checkEntropyRule({ kind: "max" } as unknown as EntropyRule),
    /'rule.kind' must be "global", "monotonic" or "combined", found max/,
  );
});
