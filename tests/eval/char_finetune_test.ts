import assert from "node:assert/strict";
import {
  charExampleBatch,
  charTaskAccuracy,
  charTaskBatches,
  finetuneCharTasks,
} from "../../lib/eval/char_finetune.ts";
import { type CharExample, makeCharTasks } from "../../lib/eval/char_tasks.ts";
import { continuationLogProbs } from "../../lib/eval/robustness_likelihood.ts";
import { bpeScoring, byteScoring, type ScoringModel } from "../../lib/eval/robustness_scoring.ts";
import { stackConfig } from "../../lib/model/baselines/scales.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { successorModel, tinyBlt, tinyBpe, tinyTokenizer } from "./robustness_fixtures.ts";

const EXAMPLES: CharExample[] = makeCharTasks(["cat", "dog", "sun", "pen"], {
  perTask: 2,
  seed: 3,
  tasks: ["spelling", "inverse_spelling"],
});

const free = (m: ScoringModel) => m.model.namedVariables().forEach((v) => v.dispose());

Deno.test("charExampleBatch: mask covers the answer and its newline only, for bytes and BPE tokens", async () => {
  const tok = tinyTokenizer();
  const models = [
    byteScoring("byte", createByteLm(stackConfig(16, 1), 0)),
    bpeScoring("BPE", tinyBpe(tok), tok),
  ];
  try {
    for (const m of models) {
      const batch = charExampleBatch(m, EXAMPLES);
      EXAMPLES.forEach((ex, b) => {
        const masked = batch.ids[b].filter((_, t) => batch.targetMask![b][t] === 1);
        assert.equal(new TextDecoder().decode(m.bytes(masked)), `${ex.answer}\n`, m.name);
      });
      // The masked mean loss is the answers' log-likelihood per counted id.
      const r = m.model.loss(batch);
      const loss = (await r.loss.data())[0] * r.predictions;
      r.loss.dispose();
      const scores = await continuationLogProbs(
        m,
        EXAMPLES.map((ex) => ({ context: `${ex.prompt} `, continuation: `${ex.answer}\n` })),
      );
      const sum = scores.reduce((s, x) => s + x.logProb, 0);
      assert.ok(Math.abs(loss + sum) < 1e-3 * Math.abs(sum), `${m.name}: ${loss} vs ${-sum}`);
    }
  } finally {
    models.forEach(free);
  }
});

Deno.test("charTaskBatches: seeded, pure in the index; bad inputs throw", () => {
  const m = byteScoring("byte", createByteLm(stackConfig(16, 1), 0));
  try {
    const a = charTaskBatches(m, EXAMPLES, { batchSize: 3, seed: 7 });
    const b = charTaskBatches(m, EXAMPLES, { batchSize: 3, seed: 7 });
    assert.deepEqual(a.batchAt(4), b.batchAt(4));
    assert.notDeepEqual(a.batchAt(4), a.batchAt(5));
    assert.throws(() => charTaskBatches(m, [], { batchSize: 1, seed: 0 }), /'examples' is empty/);
    assert.throws(
      () => charTaskBatches(m, EXAMPLES, { batchSize: 0, seed: 0 }),
      /batchSize must be an integer ≥ 1/,
    );
    assert.throws(
      () =>
        charExampleBatch(m, [{ task: "spelling", prompt: "x", answer: 1 as unknown as string }]),
      /examples\[0\] needs string 'prompt' and 'answer'/,
    );
  } finally {
    free(m);
  }
});

Deno.test("charTaskAccuracy: exact match per task from greedy answers", async () => {
  // Next byte = this byte + 1, and "d" → newline; prompts are read without their trailing
  // space, so every prompt ending in "a" is answered "bcd".
  const m = successorModel((id) => (id === 104 ? 14 : id + 1));
  const ex: CharExample[] = [
    { task: "spelling", prompt: "a", answer: "abcd" },
    { task: "delete_char", prompt: "x a", answer: "bcd" },
  ];
  const s = await charTaskAccuracy(
    { ...m, encode: (t: string) => m.encode(t.trimEnd()) },
    ex,
  );
  assert.deepEqual(s.predictions, ["bcd", "bcd"]);
  assert.deepEqual(s.perTask, { spelling: 0, delete_char: 1 });
  assert.equal(s.mean, 0.5);
});

Deno.test("finetuneCharTasks: a tiny byte LM and BLT learn to answer their training examples", async () => {
  const few = EXAMPLES.filter((e) => e.task === "spelling");
  for (
    const m of [
      byteScoring("byte", createByteLm(stackConfig(32, 1), 0)),
      byteScoring("BLT", tinyBlt("space", 0)),
    ]
  ) {
    try {
      const before = await charTaskAccuracy(m, few);
      const r = await finetuneCharTasks(m, few, { steps: 60, batchSize: 4, seed: 0, lr: 1e-2 });
      const after = await charTaskAccuracy(m, few);
      assert.equal(before.mean, 0, m.name);
      assert.ok(r.history.at(-1)!.loss < r.history[0].loss / 4, `${m.name} loss did not fall`);
      assert.ok(after.mean >= 0.75, `${m.name}: ${after.predictions.join(" | ")}`);
    } finally {
      free(m);
    }
  }
});
