import assert from "node:assert/strict";
import { bitsPerByteAsync } from "../../lib/eval/bpb.ts";
import { makeCharTasks } from "../../lib/eval/char_tasks.ts";
import { buildChoiceItems, type ChoiceItem } from "../../lib/eval/multiple_choice.ts";
import { upperCase } from "../../lib/eval/noise.ts";
import {
  choiceSummary,
  noisedBitsPerByte,
  noisedChoiceAccuracy,
  PAPER_NOISES,
  robustnessProbes,
} from "../../lib/eval/robustness.ts";
import { textBatches } from "../../lib/eval/robustness_likelihood.ts";
import { bpeScoring, byteScoring, type ScoringModel } from "../../lib/eval/robustness_scoring.ts";
import { stackConfig } from "../../lib/model/baselines/scales.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { successorModel, TEXTS, tinyBlt, tinyBpe, tinyTokenizer } from "./robustness_fixtures.ts";

const free = (m: ScoringModel) => m.model.namedVariables().forEach((v) => v.dispose());
const OPTS = { window: 32, batchSize: 4 };

Deno.test("noisedBitsPerByte: clean row = bitsPerByte of the text; UpperCase row = BPB of upper-cased text", async () => {
  const tok = tinyTokenizer();
  const models = [
    byteScoring("byte", createByteLm(stackConfig(16, 1), 0)),
    bpeScoring("BPE", tinyBpe(tok), tok),
  ];
  try {
    const rows = await noisedBitsPerByte(models, TEXTS, { ...OPTS, seed: 3 });
    assert.deepEqual(
      rows.map((r) => `${r.family}/${r.noise}`),
      models.flatMap((m) => ["clean", ...PAPER_NOISES].map((n) => `${m.name}/${n}`)),
    );
    for (const m of models) {
      const mine = rows.filter((r) => r.family === m.name);
      const clean = await bitsPerByteAsync(m.model, textBatches(m, TEXTS, OPTS));
      assert.equal(mine[0].bitsPerByte, clean.bitsPerByte);
      const upper = await bitsPerByteAsync(m.model, textBatches(m, TEXTS.map(upperCase), OPTS));
      assert.equal(mine.find((r) => r.noise === "UpperCase")!.bitsPerByte, upper.bitsPerByte);
      const bytes = TEXTS.reduce((n, t) => n + new TextEncoder().encode(t).length + 1, 0);
      assert.equal(mine[0].bytes, bytes, `${m.name}: bytes + one EOS per text`);
      const ant = mine.find((r) => r.noise === "AntSpeak")!;
      assert.ok(ant.bytes > 1.9 * bytes, "AntSpeak roughly doubles the bytes to code");
      for (const r of mine) assert.ok(Number.isFinite(r.bitsPerByte) && r.bitsPerByte > 0);
    }
  } finally {
    models.forEach(free);
  }
});

Deno.test("noisedBitsPerByte: seeded; empty and invalid-UTF-8 texts are well defined", async () => {
  const m = byteScoring("byte", createByteLm(stackConfig(16, 1), 0));
  try {
    const a = await noisedBitsPerByte([m], TEXTS, { ...OPTS, noises: ["Drop"], seed: 1 });
    const b = await noisedBitsPerByte([m], TEXTS, { ...OPTS, noises: ["Drop"], seed: 1 });
    const c = await noisedBitsPerByte([m], TEXTS, { ...OPTS, noises: ["Drop"], seed: 2 });
    assert.deepEqual(a, b);
    assert.notEqual(a[1].bitsPerByte, c[1].bitsPerByte);
    const odd = await noisedBitsPerByte([m], ["", "lone \uD800 surrogate"], OPTS);
    for (const r of odd) assert.ok(Number.isFinite(r.bitsPerByte), r.noise);
  } finally {
    free(m);
  }
});

Deno.test("probes reject bad settings with messages naming the field", async () => {
  const m = successorModel((id) => id);
  const items: ChoiceItem[] = [{ context: "a", endings: ["b", "c"], label: 0 }];
  await assert.rejects(
    noisedBitsPerByte([m], TEXTS, { ...OPTS, rates: { Drop: 1.5 } }),
    /rates\.Drop must be a number in \[0, 1\], found 1\.5/,
  );
  await assert.rejects(
    noisedBitsPerByte([m], TEXTS, { ...OPTS, rates: { Drop: -0.1 } }),
    /rates\.Drop must be a number in \[0, 1\]/,
  );
  await assert.rejects(
    noisedChoiceAccuracy([m], items, { rates: { UpperCase: 0.5 } }),
    /UpperCase is deterministic; remove rates\.UpperCase/,
  );
  await assert.rejects(
    noisedChoiceAccuracy([m], items, { noises: ["Shout" as "Drop"] }),
    /unknown noise 'Shout'; expected one of AntSpeak/,
  );
  await assert.rejects(noisedChoiceAccuracy([m], items, { seed: -1 }), /seed must be an integer/);
  await assert.rejects(noisedChoiceAccuracy([], items), /'models' is empty/);
  await assert.rejects(noisedChoiceAccuracy([m], []), /'items' is empty/);
  await assert.rejects(noisedBitsPerByte([m], [], OPTS), /'texts' is empty/);
});

Deno.test("noisedChoiceAccuracy: 1 + 5 × 3 rows per family; drop = clean − noised; an oracle-like model", async () => {
  // Next byte = this byte + 1: endings continuing the alphabet from the context are certain.
  const m = successorModel((id) => Math.min(id + 1, 259));
  const items: ChoiceItem[] = [
    { context: "abc", endings: ["defgh", "zzzzz"], label: 0 },
    { context: "klm", endings: ["qqqqq", "nopqr"], label: 1 },
  ];
  const rows = await noisedChoiceAccuracy([m], items, { seed: 5 });
  assert.equal(rows.length, 16);
  assert.deepEqual(rows[0], {
    family: "successor",
    noise: "clean",
    target: "none",
    accuracy: 1,
    drop: 0,
  });
  for (const r of rows.slice(1)) assert.equal(r.drop, 1 - r.accuracy);
  // AntSpeak on the endings ("D E F G H") breaks every link of the chain: both endings of an
  // item score the same, the first wins the tie, and only item 0 (label 0) stays right.
  const ant = rows.find((r) => r.noise === "AntSpeak" && r.target === "endings")!;
  assert.equal(ant.accuracy, 0.5);
  const [summary] = choiceSummary(rows);
  const mean = rows.slice(1).reduce((s, r) => s + r.accuracy, 0) / 15;
  assert.equal(summary.clean, 1);
  assert.ok(Math.abs(summary.noisedMean - mean) < 1e-12);
  assert.throws(() => choiceSummary(rows.slice(1)), /needs a clean row/);
});

Deno.test("robustnessProbes: all three probes for BLT and the BPE baseline from one call", async () => {
  const tok = tinyTokenizer();
  const models = [byteScoring("BLT", tinyBlt("entropy", 1)), bpeScoring("BPE", tinyBpe(tok), tok)];
  try {
    const docs = TEXTS.map((t) => `${t} ${t}`);
    const items = buildChoiceItems(docs, { items: 3, seed: 0, contextChars: 40, endingChars: 16 });
    const examples = makeCharTasks(["cat", "dog", "sun", "pen", "map"], { perTask: 1, seed: 0 });
    const r = await robustnessProbes(models, {
      seed: 0,
      noises: ["Drop", "UpperCase"],
      bpb: { texts: TEXTS.slice(0, 2), window: 32, batchSize: 4 },
      choice: { items },
      charTasks: {
        train: examples,
        test: examples.slice(0, 4),
        finetune: { steps: 2, batchSize: 2, seed: 0 },
      },
    });
    assert.equal(r.bpb.length, 2 * 3);
    assert.equal(r.choice.length, 2 * (1 + 2 * 3));
    assert.deepEqual(
      r.charTasks.map((x) => `${x.family}/${x.task}`),
      ["BLT", "BPE"].flatMap((f) =>
        ["spelling", "inverse_spelling", "contains_char", "insert_char", "mean"].map((t) =>
          `${f}/${t}`
        )
      ),
    );
    for (const x of [...r.choice, ...r.charTasks]) {
      assert.ok(x.accuracy >= 0 && x.accuracy <= 1, JSON.stringify(x));
    }
  } finally {
    models.forEach(free);
  }
});
