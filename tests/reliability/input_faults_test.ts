/**
 * Fault injection on text and ids: empty, huge (over the window), invalid UTF-8 and NUL bytes go
 * through the codec, the data windows, the model and generation without loss; ids out of range,
 * ragged or non-integer batches are refused naming the position and the valid range.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { decode, decodeBytes, encode, encodeBytes } from "../../lib/bytes/mod.ts";
import { encodeDocuments, sequentialBatches } from "../../lib/data/mod.ts";
import { generate } from "../../lib/eval/generate.ts";
import { createBlt } from "../../lib/model/blt.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { patchLengths } from "../../lib/patching/mod.ts";
import { assertClearError, TINY_LM, tinyBltConfig, useWasm } from "./helpers.ts";

await useWasm();

/** Byte strings no valid UTF-8 decoder accepts (lone continuation, overlong, surrogate, > U+10FFFF). */
const INVALID_UTF8: readonly number[][] = [
  [0x80],
  [0xff, 0xfe],
  [0xc3, 0x28],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
];

/** Runs the tiny BLT on one row and returns its finite-ness, shape and patch lengths. */
function runBlt(ids: number[]): { finite: boolean; shape: number[]; lengths: number[][] } {
  const blt = createBlt(tinyBltConfig(), 3);
  try {
    const out = blt.forward([ids]);
    const finite = tf.tidy(() => tf.all(tf.isFinite(out.logits)).dataSync()[0] === 1);
    const shape = out.logits.shape;
    out.logits.dispose();
    return { finite, shape, lengths: out.patchLengths };
  } finally {
    blt.dispose();
  }
}

Deno.test("input: empty text is BOS EOS; too short to train on says why", async () => {
  assert.deepEqual(encode(""), [1, 2]);
  assert.equal(decode(encode("")), "");
  assert.deepEqual(runBlt([1]).shape, [1, 1, 260]);
  const lm = createByteLm(TINY_LM, 0);
  try {
    await assertClearError(() => lm.loss({ ids: [[1]] }), [/at least 2 ids/, /found T = 1/]);
    await assertClearError(() => lm.logits([]), [/ids must be a non-empty array/, /\[B, T\]/]);
    await assertClearError(() => lm.logits([[]]), [/non-empty byte-id rows/]);
  } finally {
    lm.dispose();
  }
  // An empty document still yields one (padded) window whose only target is EOS.
  const windows = sequentialBatches(encodeDocuments([""]), { window: 8, batchSize: 1 });
  assert.equal(windows.targets, 1);
});

Deno.test("input: invalid UTF-8 and NUL bytes round-trip byte-exactly and run through the model", () => {
  for (const bytes of INVALID_UTF8) {
    const raw = new Uint8Array(bytes);
    const ids = encodeBytes(raw);
    assert.deepEqual([...decodeBytes(ids)], bytes, "raw bytes must survive exactly");
    assert.ok(decode(ids).includes("\uFFFD"), "text decoding shows the bad bytes as U+FFFD");
    const r = runBlt(ids);
    assert.ok(r.finite, `logits not finite for ${bytes}`);
    assert.equal(r.shape[1], ids.length);
  }
  const nul = "a\0b\0\0c";
  assert.equal(decode(encode(nul)), nul);
  assert.deepEqual(encode("\0", { bos: false, eos: false }), [4]);
  const r = runBlt(encode(nul));
  assert.ok(r.finite);
  assert.equal(r.lengths[0].reduce((a, b) => a + b, 0), encode(nul).length);
  // Space patching treats NUL as an ordinary byte, never as a terminator.
  assert.equal(
    patchLengths(encode(nul), { ...tinyBltConfig().patching, mode: "space" }).reduce((a, b) =>
      a + b
    ),
    encode(nul).length,
  );
});

Deno.test("input: huge text is cut into windows of T ids that cover every byte once", () => {
  const huge = "x".repeat(200_000) + "é\0\uFFFF";
  const docs = encodeDocuments([huge]);
  const T = 64;
  const batches = sequentialBatches(docs, { window: T, batchSize: 512 });
  assert.equal(batches.targets, docs[0].length - 1);
  let counted = 0;
  for (const { batch } of batches.batches()) {
    for (const row of batch.ids) assert.equal(row.length, T);
    counted += batch.targets;
  }
  assert.equal(counted, batches.targets, "every target is seen exactly once");
});

Deno.test({
  name: "input: a sequence longer than maxPositions is refused, naming T, the limit and the fix",
  fn: async () => {
    const lm = createByteLm(TINY_LM, 0); // maxPositions 64
    try {
      await assertClearError(() => lm.logits([encode("a".repeat(198))]), [
        /200/,
        /maxPositions.*64/,
        /window|split/,
      ]);
    } finally {
      lm.dispose();
    }
  },
});

Deno.test("input: ids out of range, non-integer or ragged are refused naming the position", async () => {
  const lm = createByteLm(TINY_LM, 0);
  const blt = createBlt(tinyBltConfig(), 0);
  const before = tf.memory().numTensors;
  try {
    const bad: [number[][], RegExp][] = [
      [[[1, 260, 2]], /ids\[0\]\[1\] = 260/],
      [[[1, 5], [1, -1]], /ids\[1\]\[1\] = -1/],
      [[[1, 1.5]], /ids\[0\]\[1\] = 1\.5/],
      [[[1, NaN]], /ids\[0\]\[1\] = NaN/],
      [[[1, Infinity]], /ids\[0\]\[1\] = Infinity/],
    ];
    for (const [ids, where] of bad) {
      for (const run of [() => lm.logits(ids), () => blt.forward(ids), () => lm.loss({ ids })]) {
        await assertClearError(run, [where, /integer byte id in 0\.\.259/]);
      }
    }
    await assertClearError(() => blt.forward([[1, 5, 6], [1, 5]]), [
      /row 1 has 2 ids but row 0 has 3/,
      /pad rows to one length/,
    ]);
    await assertClearError(() => decode([1, 300]), [/ids\[1\]/, /\[0, 260\)/, /encode\(\)/]);
    await assertClearError(() => encode(42 as unknown as string), [
      /'text' must be a string/,
      /encodeBytes\(\)/,
    ]);
    await assertClearError(() => blt.forward([[1, 5, 6, 2]], { patchLengths: [[2, 2]] }), [
      /first patch must be the BOS byte alone/,
    ]);
    await assertClearError(() => blt.forward([[1, 5, 6, 2]], { patchLengths: [[1, 2]] }), [
      /sums to 3 but the sequence has 4 bytes/,
    ]);
    assert.equal(tf.memory().numTensors, before, "a refused input must not leak tensors");
  } finally {
    lm.dispose();
    blt.dispose();
  }
});

Deno.test("input: generation prompts (empty, NUL, invalid UTF-8, out of range) and bad options", async () => {
  const blt = createBlt(tinyBltConfig(), 0);
  const before = tf.memory().numTensors;
  try {
    const bytes = (prompt: string | number[]) =>
      generate(blt, prompt, { maxBytes: 3, stopAtEos: false }).ids;
    assert.deepEqual(bytes("").slice(0, 1), [1], "an empty prompt is BOS alone");
    assert.equal(bytes("").length, 4);
    assert.deepEqual(bytes("\0").slice(0, 2), [1, 4]);
    assert.deepEqual(bytes([1, 0xff + 4, 0xc3 + 4]).slice(0, 3), [1, 259, 199]);
    await assertClearError(() => bytes([1, 300]), [/prompt\[1\] = 300/, /0\.\.259/, /encode/]);
    await assertClearError(() => generate(blt, "a", { maxBytes: -1 }), [
      /maxBytes must be an integer ≥ 0/,
      /found -1/,
    ]);
    await assertClearError(
      () => generate(blt, "a", { maxBytes: 2, sampling: { temperature: NaN } }),
      [/sampling\.temperature must be a finite number ≥ 0/, /found NaN/],
    );
    assert.equal(tf.memory().numTensors, before, "no tensors left behind, failed calls included");
  } finally {
    blt.dispose();
  }
});

Deno.test("input: generation stops at maxPositions (stop 'maxPositions'), a longer prompt is refused", async () => {
  const lm = createByteLm(TINY_LM, 0); // maxPositions 64
  try {
    const out = generate(lm, "ab", { maxBytes: 500, stopAtEos: false });
    assert.equal(out.stop, "maxPositions");
    assert.equal(out.ids.length, 64);
    await assertClearError(() => generate(lm, "a".repeat(80), { maxBytes: 1 }), [
      /prompt/,
      /maxPositions = 64/,
    ]);
  } finally {
    lm.dispose();
  }
});
