import assert from "node:assert/strict";
import { PRESETS } from "../../lib/config.ts";
import { encodeDocuments, Rng, sampleBatches, sequentialBatches } from "../../lib/data/mod.ts";
import { patchLengths } from "../../lib/patching/mod.ts";
import {
  calibratePatching,
  meanPatchSize,
  patchedBatches,
  patchedValidation,
  windowPatchLengths,
} from "../../lib/train/pipeline_batches.ts";

const texts = [
  "The first document, long enough for several windows of thirty-two bytes each.",
  "Short.",
  "A third document with some words in it, and a few more words after that.",
];
const docs = encodeDocuments(texts);
// Pseudo-entropies: a seeded mix so that θ matters.
const rng = new Rng(9);
const entropies = docs.map((d) => Float32Array.from({ length: d.length }, () => 3 * rng.float()));
const patching = { ...PRESETS.tiny.patching, threshold: 1.5 };
const T = 32;

Deno.test("patchedBatches: the windows of sampleBatches, each with its window's patch lengths", () => {
  const ours = patchedBatches(docs, entropies, { window: T, batchSize: 4, seed: 5, patching });
  const plain = sampleBatches(docs, { window: T, batchSize: 4, seed: 5 });
  assert.equal(ours.numWindows, plain.numWindows);
  for (const index of [0, 1, 7, 123]) {
    const a = ours.batchAt(index), b = plain.batchAt(index);
    assert.deepEqual(a.ids, b.ids);
    assert.deepEqual(a.targetMask, b.targetMask);
    a.ids.forEach((row, r) => {
      const lengths = a.patchLengths![r];
      assert.equal(lengths.reduce((x, y) => x + y, 0), T);
      assert.equal(lengths[0], 1);
      // Locate the window in its document: it never spans two documents.
      const n = a.targetMask![r].lastIndexOf(1) + 1;
      const d = docs.findIndex((doc) => doc.join().includes(row.slice(0, n).join()));
      assert(d >= 0, `row ${r} of batch ${index} is not inside one document`);
      const start = [...docs[d]].findIndex((_, s) =>
        row.slice(0, n).every((x, t) => docs[d][s + t] === x)
      );
      assert.deepEqual(lengths, windowPatchLengths(entropies[d], start, T, patching));
    });
  }
});

Deno.test("windowPatchLengths: a full window patches its slice of the document's entropies", () => {
  const h = entropies[0]; // 80 ids
  for (const start of [0, 5, h.length - T]) {
    const slice = Array.from(h.subarray(start, start + T));
    assert.deepEqual(windowPatchLengths(h, start, T, patching), patchLengths(slice, patching));
  }
  // A short document: its patches, then one padding patch (split at maxPatchLength).
  const short = entropies[1]; // 8 ids
  const own = patchLengths(Array.from(short), patching);
  assert.deepEqual(windowPatchLengths(short, 0, T, patching), [...own, T - 8]);
  const capped = { ...patching, maxPatchLength: 10 };
  assert.deepEqual(windowPatchLengths(short, 0, T, capped).slice(own.length), [10, 10, 4]);
});

Deno.test("patchedValidation: every target once, in the order of sequentialBatches", () => {
  const ours = patchedValidation(docs, entropies, { window: T, batchSize: 3, patching });
  const plain = sequentialBatches(docs, { window: T, batchSize: 3 });
  assert.equal(ours.length, plain.numBatches);
  ours.forEach((b, i) => assert.deepEqual(b.ids, plain.batchAt(i).ids));
  const targets = ours.flatMap((b) => b.targetMask!.flat()).reduce((x, y) => x + y, 0);
  assert.equal(targets, plain.targets);
  assert.equal(
    patchedValidation(docs, entropies, { window: T, batchSize: 1, patching, maxBatches: 2 })
      .length,
    2,
  );
});

Deno.test("calibratePatching: θ gives the target mean patch size on the training windows", () => {
  const many = Array.from(
    { length: 20 },
    (_, i) => Float32Array.from({ length: 300 + i }, () => 3 * rng.float()),
  );
  for (const target of [2, 4.5]) {
    const { patching: p, calibration } = calibratePatching(many, 128, target, patching);
    assert(calibration.converged, JSON.stringify(calibration));
    assert.equal(p.threshold, calibration.threshold);
    assert(Math.abs(meanPatchSize(many, 128, p) - target) < 0.05);
  }
  assert.throws(
    () => calibratePatching(many, 128, 4, { ...patching, relativeThreshold: 0.5 }),
    /global rule's θ only/,
  );
});

Deno.test("patched sources: bad input names what is wrong", () => {
  assert.throws(
    () => patchedBatches(docs, entropies.slice(1), { window: T, batchSize: 1, seed: 0, patching }),
    /entropies has 2 documents, docs has 3/,
  );
  assert.throws(
    () =>
      patchedBatches(docs, entropies, {
        window: T,
        batchSize: 1,
        seed: 0,
        patching: { ...patching, mode: "space" },
      }),
    /patching.mode must be 'entropy'/,
  );
});
