import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { encode } from "../../lib/bytes/codec.ts";
import {
  continuationLogProbs,
  greedyComplete,
  textBatches,
} from "../../lib/eval/robustness_likelihood.ts";
import {
  bpeScoring,
  byteScoring,
  padRows,
  type ScoringModel,
  scoringModel,
} from "../../lib/eval/robustness_scoring.ts";
import { trainBpe } from "../../lib/tokenizers/mod.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { stackConfig } from "../../lib/model/baselines/scales.ts";
import {
  successorModel,
  tinyBlt,
  tinyBpe,
  tinyMegaByte,
  tinyTokenizer,
} from "./robustness_fixtures.ts";

const PAIRS = [
  { context: "The cat sat on the", continuation: " mat." },
  { context: "Bytes", continuation: " are atoms of text, é and 🙂 too." },
  { context: "", continuation: "no context at all" },
  { context: "An empty ending", continuation: "" },
];

/** Σ log p of the continuation from the model's own masked loss (mean × count). */
async function viaLoss(m: ScoringModel, context: string, continuation: string): Promise<number> {
  const ctx = [m.bos, ...m.encode(context)];
  const ids = [...ctx, ...m.encode(continuation)];
  const r = m.model.loss({
    ids: [ids],
    targetMask: [ids.map((_, t) => (t >= ctx.length ? 1 : 0))],
  });
  const mean = (await r.loss.data())[0];
  r.loss.dispose();
  return -mean * r.predictions;
}

function families(): ScoringModel[] {
  const tok = tinyTokenizer();
  return [
    byteScoring("byte LM", createByteLm(stackConfig(16, 1), 1)),
    byteScoring("BLT-entropy", tinyBlt("entropy", 2)),
    byteScoring("BLT-space", tinyBlt("space", 3)),
    byteScoring("MegaByte", tinyMegaByte(4)),
    bpeScoring("BPE", tinyBpe(tok, 5), tok),
  ];
}

function dispose(models: ScoringModel[]): void {
  for (const m of models) (m.model as unknown as { dispose(): void }).dispose();
}

Deno.test("continuationLogProbs: equals the model's masked loss, batched = one by one, bytes are UTF-8 bytes", async () => {
  const models = families();
  try {
    for (const m of models) {
      const batched = await continuationLogProbs(m, PAIRS, { batchSize: 4 });
      const single = await continuationLogProbs(m, PAIRS, { batchSize: 1 });
      for (const [i, p] of PAIRS.entries()) {
        assert.equal(batched[i].bytes, new TextEncoder().encode(p.continuation).length, m.name);
        assert.ok(Math.abs(batched[i].logProb - single[i].logProb) < 1e-3, `${m.name} pair ${i}`);
        if (p.continuation === "") {
          assert.equal(batched[i].logProb, 0);
          continue;
        }
        const expected = await viaLoss(m, p.context, p.continuation);
        assert.ok(
          Math.abs(batched[i].logProb - expected) < 1e-3 * Math.abs(expected),
          `${m.name} pair ${i}: ${batched[i].logProb} vs loss ${expected}`,
        );
      }
    }
  } finally {
    dispose(models);
  }
});

Deno.test("continuationLogProbs and greedyComplete leave no tensors behind", async () => {
  const models = families();
  try {
    for (const m of models) {
      await continuationLogProbs(m, PAIRS.slice(0, 1));
      await greedyComplete(m, ["x"], { maxBytes: 2 });
      const before = tf.memory().numTensors;
      await continuationLogProbs(m, PAIRS);
      await greedyComplete(m, ["Hello", "a"], { maxBytes: 3 });
      assert.equal(tf.memory().numTensors, before, m.name);
    }
  } finally {
    dispose(models);
  }
});

Deno.test("continuationLogProbs: a lone surrogate scores as U+FFFD; bad pairs and batch sizes throw", async () => {
  const m = byteScoring("byte LM", createByteLm(stackConfig(16, 1), 1));
  try {
    const [broken, replaced] = await continuationLogProbs(m, [
      { context: "a", continuation: "b\uD800c" },
      { context: "a", continuation: "b\uFFFDc" },
    ]);
    assert.deepEqual(broken, replaced);
    await assert.rejects(
      continuationLogProbs(m, [{ context: "a", continuation: 3 as unknown as string }]),
      /pairs\[0\] needs string context and continuation/,
    );
    await assert.rejects(continuationLogProbs(m, PAIRS, { batchSize: 0 }), /batchSize must be/);
  } finally {
    m.model.namedVariables().forEach((v) => v.dispose());
  }
});

Deno.test("greedyComplete: follows the argmax, stops at newline, EOS or maxBytes, batched = single", async () => {
  // "a" → "b" → … → "e" → newline; "x" → EOS; "0" → "1" → … (never stops by itself).
  const id = (c: string) => encode(c, { bos: false, eos: false })[0];
  const next = (x: number) =>
    x === id("e") ? id("\n") : x === id("x") ? 2 : x === id("\n") ? id("z") : x + 1;
  const m = successorModel(next);
  const prompts = ["a", "Say: x", "0", "ab"];
  const batched = await greedyComplete(m, prompts, { maxBytes: 5 });
  assert.deepEqual(batched, ["bcde", "", "12345", "cde"]);
  const single = [];
  for (const p of prompts) single.push(...await greedyComplete(m, [p], { maxBytes: 5 }));
  assert.deepEqual(single, batched);
  await assert.rejects(
    greedyComplete(m, ["a"], { maxBytes: 0 }),
    /maxBytes must be an integer ≥ 1/,
  );
});

Deno.test("textBatches: BOS text EOS per text, padding masked; empty list throws", () => {
  const m = byteScoring("byte LM", createByteLm(stackConfig(16, 1), 1));
  try {
    const [batch] = textBatches(m, ["ab", ""], { window: 5, batchSize: 2 });
    assert.deepEqual(batch.ids, [[1, 101, 102, 2, 0], [1, 2, 0, 0, 0]]);
    assert.deepEqual(batch.targetMask, [[0, 1, 1, 1, 0], [0, 1, 0, 0, 0]]);
    assert.throws(() => textBatches(m, [], { window: 5, batchSize: 1 }), /'texts' is empty/);
  } finally {
    m.model.namedVariables().forEach((v) => v.dispose());
  }
});

Deno.test("padRows and adapter checks", () => {
  assert.deepEqual(padRows([[1], [1, 2, 3]], 9, 1), [[1, 9, 9, 9], [1, 2, 3, 9]]);
  const lm = createByteLm(stackConfig(16, 1), 1);
  const tok = tinyTokenizer();
  const bpe = tinyBpe(tok);
  try {
    assert.throws(() => byteScoring(" ", lm), /'name' must be a non-empty string/);
    const other = trainBpe(["a b c"], { vocabSize: 260 });
    assert.throws(
      () => bpeScoring("BPE", bpe, other),
      /tokenizer has 258 ids but the model's vocabSize is 292/,
    );
  } finally {
    lm.dispose();
    bpe.dispose();
  }
});

Deno.test("scoringModel: picks the adapter by family; a BPE model without tokenizer or an unknown model throws", () => {
  const tok = tinyTokenizer();
  const bpe = tinyBpe(tok);
  const blt = tinyBlt("space");
  const mega = tinyMegaByte();
  try {
    assert.equal(scoringModel("BPE", bpe, tok).bos, tok.specialId("<|bos|>"));
    assert.equal(scoringModel("BLT", blt).pad, 0);
    assert.equal(scoringModel("MegaByte", mega).eos, 2);
    assert.throws(() => scoringModel("BPE", bpe), /a BPE model needs its tokenizer/);
    const toy = {
      config: { kind: "toy" },
      namedVariables: () => new Map(),
      loss: () => bpe.loss({ ids: [[0, 1]] }),
    };
    assert.throws(
      () => scoringModel("toy", toy),
      /unknown model family \(config \{"kind":"toy"\}\)/,
    );
  } finally {
    bpe.dispose();
    blt.dispose();
    mega.dispose();
  }
});
