import assert from "node:assert/strict";
import { encode } from "../../lib/bytes/mod.ts";
import { unigramBitsPerByte } from "../../lib/eval/unigram.ts";

Deno.test("unigram BPB: add-one counts over targets (BOS excluded, EOS included)", () => {
  // Targets of train: 5, 5, 2 → p(5) = 3/263, p(2) = 2/263 with α = 1 over 260 ids.
  const r = unigramBitsPerByte([[1, 5, 5, 2]], [[1, 5, 2]]);
  assert.equal(r.bytes, 2);
  assert.ok(Math.abs(r.bitsPerByte - -(Math.log2(3 / 263) + Math.log2(2 / 263)) / 2) < 1e-12);
  assert.ok(Math.abs(r.lossNats - r.bitsPerByte * Math.LN2) < 1e-12);
});

Deno.test("unigram BPB: no data gives log2(260); the fitted text scores at its own entropy", () => {
  assert.ok(Math.abs(unigramBitsPerByte([], [[1, 70, 71]]).bitsPerByte - Math.log2(260)) < 1e-12);
  // Tiny α: BPB → the empirical entropy of the target distribution (here 4 equiprobable ids = 2 bits).
  const ids = [...encode("abcdabcdabcd", { eos: false })];
  const r = unigramBitsPerByte([ids], [ids], { smoothing: 1e-9 });
  assert.ok(Math.abs(r.bitsPerByte - 2) < 1e-6, `${r.bitsPerByte}`);
  // English text: between the trivial bounds.
  const text = [...encode("the quick brown fox jumps over the lazy dog. ".repeat(20))];
  const e = unigramBitsPerByte([text], [text]).bitsPerByte;
  assert.ok(e > 3 && e < 5, `${e}`);
});

Deno.test("unigram BPB: bad input names the argument", () => {
  assert.throws(() => unigramBitsPerByte([[1, 300]], [[1, 5]]), /train\[0\]\[1\] is 300/);
  assert.throws(() => unigramBitsPerByte([[1, 5]], [[1]]), /evaluate holds no targets/);
  assert.throws(
    () => unigramBitsPerByte([[1, 5]], [[1, 5]], { smoothing: 0 }),
    /smoothing must be/,
  );
});
