import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  compareAtFlops,
  fitPowerLaw,
  stepsForBudget,
  trainEntropyModel,
} from "../../lib/eval/compare.ts";
import { prepareRun, type RunData } from "../../lib/model/baselines/families.ts";
import { comparisonRuns, stackConfig } from "../../lib/model/baselines/scales.ts";

await tf.setBackend("wasm");

const text = (i: number) =>
  `Document ${i}: the quick brown fox jumps over the lazy dog ${i} times, and the cat watches. `
    .repeat(3);
const data: RunData = {
  train: Array.from({ length: 8 }, (_, i) => text(i)),
  validation: [text(100), "A short one."],
  window: 32,
  batchSize: 2,
  seed: 1,
};
const scale = { dim: 32, layers: 1, bpeVocab: 300, patchSize: 4, hashBuckets: 64 };

Deno.test("fitPowerLaw: recovers a and b of an exact power law; rejects too few points", () => {
  const pts = [1e8, 1e9, 3e9, 1e10].map((flops) => ({ flops, bitsPerByte: 7 * flops ** -0.05 }));
  const fit = fitPowerLaw(pts);
  assert(Math.abs(fit.a - 7) < 1e-9 && Math.abs(fit.b - 0.05) < 1e-12 && fit.r2 > 0.999999);
  assert.throws(() => fitPowerLaw([pts[0], pts[0]]), /needs ≥ 2 points with distinct flops/);
});

Deno.test("stepsForBudget: floor of budget / step cost; a budget below one step is an Error", () => {
  assert.equal(stepsForBudget(1e6, 10, 1e4), 10);
  assert.throws(
    () => stepsForBudget(1e3, 10, 1e4, "run 'x'"),
    /run 'x': the FLOPs budget 1.00e\+3 is too small for one step, which costs 1.00e\+5 FLOPs/,
  );
});

Deno.test("prepareRun: every family scores the same validation bytes; FLOPs ordering", async () => {
  const em = await trainEntropyModel(data.train, stackConfig(32, 1), {
    window: 32,
    batchSize: 2,
    steps: 2,
    seed: 0,
  });
  const context = { tokenizers: new Map(), entropyModel: em };
  const runs = comparisonRuns(scale, [4]).map((spec) => prepareRun(spec, data, context));
  const utf8 = data.validation.reduce((n, t) => n + new TextEncoder().encode(t).length + 1, 0);
  for (const run of runs) {
    let bytes = 0;
    for (const batch of run.validation) {
      const r = tf.tidy(() => {
        const l = run.model.loss(batch);
        return l.bytes;
      });
      bytes += r;
    }
    assert.equal(bytes, utf8, run.spec.name);
    assert(run.trainFlopsPerByte > 0 && run.trainFlopsPerByte === 3 * run.inferenceFlopsPerByte);
  }
  const byName = new Map(runs.map((r) => [r.spec.name, r]));
  // Static P = 4: 1 BOS patch then 4-byte patches; entropy θ calibrated to 4 on training windows.
  assert(Math.abs(byName.get("BLT-static P=4")!.meanPatchSize - 4) < 0.5);
  assert(Math.abs(byName.get("BLT-entropy ps=4")!.meanPatchSize - 4) < 0.2);
  // BPE and MegaByte run their big transformer once per several bytes: fewer FLOPs per byte.
  const byte = byName.get("Byte LM")!.trainFlopsPerByte;
  assert(byName.get("BPE 300")!.trainFlopsPerByte < byte);
  assert(byName.get("MegaByte P=4")!.trainFlopsPerByte < byte * 1.5);
  runs.forEach((r) => r.model.dispose());
  em.dispose();
});

Deno.test("compareAtFlops: each run spends the budget (within one step; BPE ±5%); curves rise in FLOPs", async () => {
  const runs = comparisonRuns(scale, []).filter((r) =>
    r.family !== "blt" || r.name === "BLT-space"
  );
  const budget = 2e8;
  const seen: string[] = [];
  const results = await compareAtFlops({
    runs,
    data,
    budgetFlops: budget,
    evalPoints: 2,
    train: { lr: 3e-3 },
    onResult: (r) => void seen.push(r.name),
  });
  assert.deepEqual(seen, runs.map((r) => r.name));
  for (const r of results) {
    const stepCost = budget / r.steps;
    const last = r.curve[r.curve.length - 1];
    assert.equal(last.step, r.steps, r.name);
    assert(
      // Byte windows carry exactly B·(T−1) bytes; BPE windows only on average (token lengths vary).
      r.family === "bpe"
        ? Math.abs(last.flops - budget) < 0.05 * budget
        : last.flops <= budget * 1.0001 && last.flops > budget - stepCost,
      `${r.name}: ${last.flops}`,
    );
    assert(r.curve.every((p, i) => i === 0 || p.flops > r.curve[i - 1].flops));
    assert(
      Number.isFinite(r.finalBitsPerByte) && r.finalBitsPerByte < 9,
      `${r.name}: ${r.finalBitsPerByte}`,
    );
  }
});

Deno.test("compare bad input: BPE vocab < 256 + specials, patch size vs window, tiny budget, no entropy model", async () => {
  const [byteRun, bpe, mega, , statik, entropy] = comparisonRuns(scale, [4]);
  const context = { tokenizers: new Map() };
  assert.throws(
    () => prepareRun({ ...bpe, vocabSize: 100 } as typeof bpe, data, context),
    /vocabSize must be an integer ≥ 256 bytes \+ 2 specials = 258, got 100/,
  );
  const short = { ...data, window: 3 };
  assert.throws(
    () => prepareRun(mega, short, context),
    /patchSize must be an integer from 1 to the window \(3 bytes\), found 4/,
  );
  assert.throws(() => prepareRun(statik, short, context), /found 4/);
  assert.throws(() => prepareRun(entropy, data, context), /needs a trained entropy model/);
  await assert.rejects(
    compareAtFlops({ runs: [byteRun], data, budgetFlops: 10 }),
    /too small for one step/,
  );
});
