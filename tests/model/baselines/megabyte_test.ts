import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { resolveConfig } from "../../../lib/config.ts";
import { encodeDocuments, sampleBatches, sequentialBatches } from "../../../lib/data/mod.ts";
import { bitsPerByte } from "../../../lib/eval/bpb.ts";
import {
  checkPatchSize,
  MegaByte,
  type MegaByteConfig,
} from "../../../lib/model/baselines/megabyte.ts";
import { train } from "../../../lib/train/loop.ts";

await tf.setBackend("wasm");

const dims = resolveConfig("tiny", {
  "global.dim": 16,
  "global.heads": 2,
  "encoder.dim": 8,
  "encoder.heads": 2,
  "decoder.dim": 8,
});
const config = (patchSize: number): MegaByteConfig => ({
  kind: "megabyte",
  patchSize,
  global: { ...dims.global, layers: 2, ffnDim: 32 },
  local: { ...dims.encoder, layers: 1, ffnDim: 16 },
});

Deno.test("MegaByte: causal for every position, patch sizes 1, 3 and 4", () => {
  const ids = [1, ...new TextEncoder().encode("Hello, MegaByte!")].map((b, i) =>
    i === 0 ? b : b + 4
  );
  for (const P of [1, 3, 4]) {
    const m = new MegaByte(config(P), P);
    const base = m.logits([ids]);
    const before = base.arraySync()[0];
    base.dispose();
    for (let t = 0; t + 1 < ids.length; t++) {
      const changed = [...ids];
      changed[t + 1] = changed[t + 1] === 40 ? 41 : 40;
      const out = m.logits([changed]);
      const after = out.arraySync()[0];
      out.dispose();
      for (let s = 0; s <= t; s++) assert.deepEqual(after[s], before[s], `P=${P} t=${t} s=${s}`);
      assert.notDeepEqual(after[t + 1], before[t + 1], `P=${P}: byte t+1 must reach logits t+1`);
    }
    m.dispose();
  }
});

Deno.test("MegaByte: rows of a batch are independent (same logits alone and batched)", () => {
  const m = new MegaByte(config(3), 4);
  const rows = [[1, 76, 105, 120, 33, 2, 0], [1, 40, 41, 42, 43, 44, 45]];
  const both = m.logits(rows);
  const batched = both.arraySync();
  rows.forEach((row, b) => {
    const alone = m.logits([row]);
    const a = alone.dataSync();
    const flat = batched[b].flat();
    assert(a.every((x, i) => Math.abs(x - flat[i]) < 1e-4), `row ${b}`);
    alone.dispose();
  });
  both.dispose();
  m.dispose();
});

Deno.test("MegaByte: trains through lib/train (loss falls), BPB counts bytes, no per-step leak", async () => {
  const docs = encodeDocuments(["abcabcabcabc abcabc", "the cat, the cat, the cat"]);
  const m = new MegaByte(config(4), 0);
  const live: number[] = [];
  const r = await train({
    model: m,
    data: sampleBatches(docs, { window: 12, batchSize: 4, seed: 2 }),
    validation: [...sequentialBatches(docs, { window: 12, batchSize: 4 }).batches()].map((b) =>
      b.batch
    ),
    config: { steps: 30, warmupSteps: 3, lr: 1e-2, evalEvery: 0 },
    callbacks: { onStep: () => void live.push(tf.memory().numTensors) },
  });
  assert.equal(new Set(live.slice(1)).size, 1, `live tensors per step: ${live}`);
  const first = r.history.slice(0, 3).reduce((a, h) => a + h.loss, 0) / 3;
  const last = r.history.slice(-3).reduce((a, h) => a + h.loss, 0) / 3;
  assert(last < 0.8 * first, `${first} → ${last}`);
  const valid = sequentialBatches(docs, { window: 12, batchSize: 4 });
  const bpb = bitsPerByte(m, [...valid.batches()].map((b) => b.batch));
  assert.equal(bpb.bytes, valid.targets);
  m.dispose();
});

Deno.test("MegaByte bad input: patch size < 1, non-integer, or larger than the window", () => {
  assert.throws(() => new MegaByte(config(0)), /patchSize must be an integer from 1/);
  assert.throws(() => checkPatchSize(2.5, 16), /found 2.5/);
  const m = new MegaByte(config(8));
  assert.throws(() => m.logits([[1, 70, 71, 2]]), /window \(4 bytes\), found 8/);
  m.dispose();
});
