import assert from "node:assert/strict";
import { BOE_ID, BOS_ID, EOS_ID } from "../../lib/bytes/mod.ts";
import {
  encodeDocuments,
  sampleBatches,
  sequentialBatches,
  type WindowBatch,
} from "../../lib/data/batching.ts";
import { loadCorpus } from "../../lib/data/corpus.ts";

// Each document repeats its own letter, so any id in a window names the document it came from.
const TEXTS = ["a".repeat(40), "b".repeat(3), "c".repeat(17), "", "d".repeat(9)];
const DOCS = encodeDocuments(TEXTS);
const letterId = (text: string) => text.charCodeAt(0) + 4;

/** The documents a row's real (non-padding) ids could come from. */
function sourceOf(row: readonly number[], n: number): number {
  const letters = new Set(row.slice(0, n).filter((id) => id !== BOS_ID && id !== EOS_ID));
  assert.ok(letters.size <= 1, `window mixes documents: ${row}`);
  if (letters.size === 1) {
    return TEXTS.findIndex((t) => t !== "" && letterId(t) === [...letters][0]);
  }
  return TEXTS.indexOf(""); // only BOS/EOS: the empty document
}

/** Checks a batch's rows: one document each, padding only at the end, mask/targets exact. */
function checkBatch(batch: WindowBatch, window: number): void {
  let targets = 0;
  batch.ids.forEach((row, b) => {
    assert.equal(row.length, window);
    const n = row.indexOf(BOE_ID) === -1 ? window : row.indexOf(BOE_ID);
    assert.ok(row.slice(n).every((id) => id === BOE_ID), "padding only at the end");
    const doc = DOCS[sourceOf(row, n)];
    const real = row.slice(0, n);
    const start = [...doc].findIndex((_, s) => real.every((id, t) => doc[s + t] === id));
    assert.ok(start >= 0, "the row is a contiguous slice of its document");
    if (n < window) assert.equal(start + n, doc.length, "a padded window ends its document");
    assert.deepEqual(batch.targetMask[b], row.map((_, t) => (t >= 1 && t < n ? 1 : 0)));
    targets += n - 1;
  });
  assert.equal(batch.targets, targets);
}

Deno.test("encodeDocuments wraps each document in BOS … EOS byte ids", () => {
  assert.deepEqual([...encodeDocuments(["hé", ""])[0]], [BOS_ID, 108, 199, 173, EOS_ID]);
  assert.deepEqual([...encodeDocuments([""])[0]], [BOS_ID, EOS_ID]);
});

Deno.test("sampled windows never span two documents and pad only short documents", () => {
  for (const window of [2, 5, 16, 64]) {
    const source = sampleBatches(DOCS, { window, batchSize: 8, seed: 11 });
    for (let i = 0; i < 50; i++) checkBatch(source.batchAt(i), window);
  }
});

Deno.test("sampling is a pure function of (seed, index) and covers all windows uniformly", () => {
  const options = { window: 8, batchSize: 16 };
  const a = sampleBatches(DOCS, { ...options, seed: 5 });
  const b = sampleBatches(DOCS, { ...options, seed: 5 });
  assert.deepEqual(b.batchAt(7), a.batchAt(7));
  assert.deepEqual(a.batchAt(3), a.batchAt(3));
  assert.notDeepEqual(a.batchAt(3), a.batchAt(4));
  assert.notDeepEqual(sampleBatches(DOCS, { ...options, seed: 6 }).batchAt(3), a.batchAt(3));
  // Windows per document: 42-8+1 = 35, 1, 19-8+1 = 12, 1, 11-8+1 = 4 → 53 in all.
  assert.equal(a.numWindows, 53);
  const perDoc = new Array(TEXTS.length).fill(0);
  let rows = 0;
  for (let i = 0; i < 400; i++) {
    for (const row of a.batchAt(i).ids) {
      perDoc[sourceOf(row, row.includes(BOE_ID) ? row.indexOf(BOE_ID) : row.length)]++;
      rows++;
    }
  }
  [35, 1, 12, 1, 4].forEach((w, d) => {
    const expected = (rows * w) / 53;
    const sd = Math.sqrt(expected * (1 - w / 53));
    assert.ok(Math.abs(perDoc[d] - expected) < 5 * sd + 1, `doc ${d}: ${perDoc[d]} vs ${expected}`);
  });
});

Deno.test("the sequential pass predicts every byte and EOS exactly once, in order", () => {
  for (const window of [2, 3, 7, 8, 64]) {
    for (const batchSize of [1, 3, 100]) {
      const pass = sequentialBatches(DOCS, { window, batchSize });
      const predicted = DOCS.map(() => [] as number[]);
      let windows = 0;
      let total = 0;
      for (const { index, batch } of pass.batches()) {
        assert.ok(batch.ids.length === batchSize || index === pass.numBatches - 1);
        checkBatch(batch, window);
        for (const [b, row] of batch.ids.entries()) {
          const n = row.includes(BOE_ID) ? row.indexOf(BOE_ID) : window;
          const d = sourceOf(row, n);
          // The first row of a document starts at BOS, later rows at the previous row's last id.
          if (predicted[d].length === 0) assert.equal(row[0], BOS_ID);
          else assert.equal(row[0], predicted[d].at(-1));
          for (let t = 1; t < n; t++) if (batch.targetMask[b][t]) predicted[d].push(row[t]);
          windows++;
        }
        total += batch.targets;
      }
      predicted.forEach((p, d) => assert.deepEqual(p, [...DOCS[d]].slice(1)));
      assert.equal(windows, pass.numWindows);
      assert.equal(total, pass.targets);
      assert.equal(pass.targets, TEXTS.reduce((n, t) => n + t.length + 1, 0));
    }
  }
});

Deno.test("the sequential pass resumes from a saved batch index", () => {
  const pass = sequentialBatches(DOCS, { window: 4, batchSize: 2 });
  const all = [...pass.batches()];
  const saved = JSON.parse(JSON.stringify({ next: 4 })).next;
  assert.deepEqual([...pass.batches(saved)], all.slice(4));
  assert.deepEqual([...pass.batches(pass.numBatches)], []);
});

Deno.test("brown-small validation: bits-per-byte denominators are exact", async () => {
  const { validation } = await loadCorpus("brown-small");
  const pass = sequentialBatches(encodeDocuments(validation), { window: 1024, batchSize: 16 });
  const bytes = validation.reduce((n, d) => n + new TextEncoder().encode(d).length, 0);
  assert.equal(pass.targets, bytes + validation.length);
  let counted = 0;
  for (const { batch } of pass.batches()) counted += batch.targets;
  assert.equal(counted, pass.targets);
});

Deno.test("bad input throws naming the argument", () => {
  const ok = { window: 4, batchSize: 2 };
  assert.throws(
    () => sequentialBatches(DOCS, { ...ok, window: 1 }),
    /window must be an integer ≥ 2/,
  );
  assert.throws(() => sampleBatches(DOCS, { ...ok, window: 1.5, seed: 0 }), /window/);
  assert.throws(() => sequentialBatches(DOCS, { ...ok, batchSize: 0 }), /batchSize/);
  assert.throws(() => sampleBatches(DOCS, { ...ok, seed: -1 }), /seed/);
  assert.throws(() => sampleBatches([], { ...ok, seed: 0 }), /docs is empty/);
  assert.throws(() => sequentialBatches([[BOS_ID]], ok), /docs\[0\] has 1 ids/);
  const pass = sequentialBatches(DOCS, ok);
  assert.throws(() => pass.batchAt(pass.numBatches), /batch index/);
  assert.throws(() => [...pass.batches(-1)], /batch index/);
  assert.throws(() => sampleBatches(DOCS, { ...ok, seed: 0 }).batchAt(1.5), /batch index/);
  assert.throws(() => encodeDocuments([3 as unknown as string]), /docs\[0\] must be a string/);
});
