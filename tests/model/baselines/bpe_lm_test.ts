import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { resolveConfig } from "../../../lib/config.ts";
import { bitsPerByte } from "../../../lib/eval/bpb.ts";
import {
  bpeTrainBatches,
  bpeValidationBatches,
  bytesPerToken,
  tokenizeDocuments,
} from "../../../lib/model/baselines/bpe_data.ts";
import { decodeBpeBytes, encodeBpeBytes } from "../../../lib/model/baselines/bpe_bytes.ts";
import { BpeLM } from "../../../lib/model/baselines/bpe_lm.ts";
import { Rng } from "../../../lib/data/rng.ts";
import { BpeTokenizer, trainBpe } from "../../../lib/tokenizers/mod.ts";
import { train } from "../../../lib/train/loop.ts";

await tf.setBackend("wasm");

const texts = [
  "the cat sat on the mat. the dog sat on the log.",
  "a cat and a dog met on the mat; the cat ran.",
  "naïve café owners serve crème brûlée — 東京 too.",
];
const tok = trainBpe(texts, { vocabSize: 300 });
const stack = {
  ...resolveConfig("tiny", { "global.dim": 16, "global.heads": 2 }).global,
  layers: 2,
  ffnDim: 32,
};

Deno.test("BpeLM: causal (changing token t+1 never changes logits ≤ t)", () => {
  const lm = new BpeLM(tok, stack, 3);
  const ids = tokenizeDocuments(tok, [texts[0]])[0].slice(0, 12);
  const base = lm.logits([[...ids]]);
  const before = base.arraySync();
  for (const t of [0, 5, 10]) {
    const changed = [...ids];
    changed[t + 1] = (changed[t + 1] + 17) % tok.vocabSize;
    const out = lm.logits([changed]);
    const after = out.arraySync();
    for (let s = 0; s <= t; s++) assert.deepEqual(after[0][s], before[0][s], `t=${t} s=${s}`);
    assert.notDeepEqual(after[0][t + 1], before[0][t + 1]);
    out.dispose();
  }
  base.dispose();
  lm.dispose();
});

Deno.test("BpeLM: loss counts bytes covered (EOS = 1 byte); BPB equals a byte model's on the same docs", () => {
  const lm = new BpeLM(tok, stack, 0);
  const batches = bpeValidationBatches(tok, texts, { window: 8, batchSize: 2 });
  const r = bitsPerByte(lm, batches);
  const utf8 = texts.reduce((n, t) => n + new TextEncoder().encode(t).length, 0);
  // A byte model predicts every byte and each EOS once: the same denominator.
  assert.equal(r.bytes, utf8 + texts.length);
  assert.equal(r.predictions, tokenizeDocuments(tok, texts).reduce((n, d) => n + d.length - 1, 0));
  assert(Math.abs(bytesPerToken(tok, texts) - r.bytes / r.predictions) < 1e-12);
  // An untrained model is near uniform over V tokens: ln V nats per token.
  assert(Math.abs(r.lossNats - Math.log(tok.vocabSize)) < 1, `${r.lossNats}`);
  lm.dispose();
});

Deno.test("BpeLM: trains through lib/train; loss falls; no tensors leak per step", async () => {
  const lm = new BpeLM(tok, stack, 1);
  const data = bpeTrainBatches(tok, texts, { window: 8, batchSize: 4, seed: 5 });
  const validation = bpeValidationBatches(tok, texts, { window: 8, batchSize: 4 });
  const live: number[] = [];
  const r = await train({
    model: lm,
    data,
    validation,
    config: { steps: 30, warmupSteps: 3, lr: 1e-2, evalEvery: 0 },
    callbacks: { onStep: () => void live.push(tf.memory().numTensors) },
  });
  assert.deepEqual(new Set(live.slice(1)).size, 1, `live tensors per step: ${live}`);
  const first = r.history.slice(0, 3).reduce((a, m) => a + m.loss, 0) / 3;
  const last = r.history.slice(-3).reduce((a, m) => a + m.loss, 0) / 3;
  assert(last < 0.8 * first, `${first} → ${last}`);
  assert.equal(r.evals.length, 1);
  lm.dispose();
});

Deno.test("BPE windows: seeded and document-bounded", () => {
  const a = bpeTrainBatches(tok, texts, { window: 6, batchSize: 3, seed: 9 });
  const b = bpeTrainBatches(tok, texts, { window: 6, batchSize: 3, seed: 9 });
  assert.deepEqual(a.batchAt(4), b.batchAt(4));
  const docs = tokenizeDocuments(tok, texts).map((d) => [...d].join(","));
  for (let i = 0; i < 5; i++) {
    const batch = a.batchAt(i);
    batch.ids.forEach((row, r) => {
      const real = row.slice(0, batch.targetMask[r].lastIndexOf(1) + 1).join(",");
      assert(docs.some((d) => d.includes(real)), `window ${real} lies inside one document`);
    });
  }
});

Deno.test("BPE bytes: encode/decode round-trips arbitrary bytes, invalid UTF-8 included", () => {
  const rng = new Rng(11);
  const cases = [
    new Uint8Array([0xff, 0xfe, 0x80, 0xc3]), // stray continuation, truncated lead
    new Uint8Array([0xed, 0xa0, 0x80, 0x41, 0xe0, 0x80, 0xaf, 0xf4, 0x90, 0x80, 0x80]), // surrogate, overlong, > U+10FFFF
    new TextEncoder().encode(texts[2]).slice(0, -1), // valid text cut inside a character
    Uint8Array.from({ length: 500 }, () => rng.int(256)),
  ];
  for (const bytes of cases) {
    const ids = encodeBpeBytes(tok, bytes);
    assert.deepEqual(decodeBpeBytes(tok, ids), bytes);
    assert(ids.every((id) => id >= tok.specials.length && id < tok.vocabSize));
  }
  // Valid text tokenizes exactly as the text tokenizer does.
  const valid = new TextEncoder().encode(texts[2]);
  assert.deepEqual(encodeBpeBytes(tok, valid), tok.encode(texts[2]));
});

Deno.test("BPE bad input: vocabulary below 256 + specials, missing EOS", () => {
  assert.throws(() => trainBpe(texts, { vocabSize: 200 }), /vocabSize must be an integer ≥ 256/);
  const small = new BpeTokenizer(["<|bos|>", "<|eos|>"], [], ["<|bos|>", "<|eos|>", "a"]);
  assert.throws(() => new BpeLM(small, stack), /needs at least 256 bytes \+ 2 specials = 258/);
  const noEos = trainBpe(texts, { vocabSize: 260, specials: ["<|bos|>"] });
  assert.throws(() => tokenizeDocuments(noEos, texts), /lacks the special '<\|eos\|>'/);
});
