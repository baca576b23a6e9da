import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { hashEmbeddings } from "../../../lib/model/hash_embedding.ts";
import { createBlt } from "../../../lib/model/blt.ts";
import {
  ablationRuns,
  bltAtScale,
  comparisonRuns,
  hashAblationRuns,
  stackConfig,
} from "../../../lib/model/baselines/mod.ts";

await tf.setBackend("wasm");
const scale = { dim: 64, layers: 3, bpeVocab: 512, patchSize: 6, hashBuckets: 400 };

Deno.test("comparisonRuns: every family once, BLT-entropy per target patch size, matched widths", () => {
  const runs = comparisonRuns(scale, [4, 8]);
  assert.deepEqual(runs.map((r) => r.family), [
    "byte",
    "bpe",
    "megabyte",
    "blt",
    "blt",
    "blt",
    "blt",
  ]);
  for (const r of runs) {
    if (r.family === "blt") {
      assert.equal(r.blt.global.dim, 64);
      assert.equal(r.blt.encoder.dim * r.blt.crossAttnK, 64); // no global projection needed
      assert.equal(r.blt.decoder.layers, 2);
    }
  }
  assert.equal(bltAtScale(scale, "static").patching.patchSize, 6);
  assert.throws(() => comparisonRuns({ ...scale, dim: 48 }), /scale.dim must be a multiple of 32/);
  assert.throws(() => stackConfig(40, 1), /multiple of 16/);
});

Deno.test("hashAblationRuns: buckets 400 / 100 / 1; with one bucket the hash term is one constant", () => {
  const runs = hashAblationRuns(scale, 6);
  const buckets = runs.map((r) => r.family === "blt" ? r.blt.hash.buckets : 0);
  assert.deepEqual(buckets, [400, 100, 1]);
  // Different contexts, same last byte: embeddings equal ⇔ the hash term ignores the n-gram.
  const ids = [[1, 70, 71, 72, 73, 74, 75, 76, 77, 78], [1, 90, 91, 92, 93, 94, 95, 96, 97, 78]];
  const lastByte = (i: number) => {
    const run = runs[i];
    assert(run.family === "blt");
    const blt = createBlt(run.blt, 0);
    const e = hashEmbeddings(blt.params, run.blt, ids);
    const last = e.arraySync().map((row) => row[9]);
    e.dispose();
    blt.dispose();
    return last;
  };
  const off = lastByte(2);
  assert.deepEqual(off[0], off[1]);
  const on = lastByte(0);
  assert.notDeepEqual(on[0], on[1]);
});

Deno.test("ablationRuns: full, decoder cross-attn off, encoder pooling only, no hash n-grams", () => {
  const runs = ablationRuns(scale, 6);
  assert.deepEqual(runs.map((r) => r.name), [
    "BLT",
    "BLT dec. cross-attn off",
    "BLT enc. pooling only",
    "BLT no hash n-grams",
  ]);
  const configs = runs.map((r) => {
    assert(r.family === "blt" && r.targetPatchSize === 6);
    return r.blt;
  });
  const base = bltAtScale(scale, "entropy");
  assert.deepEqual(configs[0], base);
  assert.deepEqual(configs[1], { ...base, decoder: { ...base.decoder, crossAttn: false } });
  assert.deepEqual(configs[2], { ...base, encoder: { ...base.encoder, crossAttn: false } });
  assert.deepEqual(configs[3], { ...base, hash: { ...base.hash, sizes: [] } });
  const noTarget = ablationRuns(scale)[1];
  assert(noTarget.family === "blt");
  assert.equal("targetPatchSize" in noTarget, false);
});
