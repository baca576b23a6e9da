import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { resolveConfig, type TransformerConfig } from "../../lib/config.ts";
import { encodeDocuments, sampleBatches } from "../../lib/data/mod.ts";
import { createBlt } from "../../lib/model/blt.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { resume, train } from "../../lib/train/loop.ts";
import type { TrainableModel } from "../../lib/train/types.ts";

// Exact resume with the project's real models, on the deterministic cpu backend.
await tf.setBackend("cpu");

const docs = encodeDocuments([
  "The quick brown fox jumps over the lazy dog.",
  "Patches scale better than tokens.",
  "Bytes in, bytes out: no tokenizer.",
]);
const data = sampleBatches(docs, { window: 16, batchSize: 2, seed: 4 });
const config = { steps: 6, warmupSteps: 2, lr: 0.01, evalEvery: 0 };

/** Losses of an uninterrupted run vs a run stopped after step 3 and resumed in a fresh model. */
async function compare(make: () => TrainableModel & { dispose(): void }): Promise<void> {
  const run = await Deno.makeTempDir();
  try {
    const full = make();
    const reference = await train({ model: full, data, config });
    full.dispose();
    const first = make();
    const part = await train({
      model: first,
      data,
      config,
      checkpointDir: run,
      callbacks: { shouldStop: (m) => m.step === 3 },
    });
    first.dispose();
    const second = make();
    const rest = await resume(run, { model: second, data });
    second.dispose();
    assert.deepEqual(
      [...part.history, ...rest.history].map((m) => m.loss),
      reference.history.map((m) => m.loss),
    );
  } finally {
    await Deno.remove(run, { recursive: true });
  }
}

Deno.test("resume: ByteLm continues exactly where it stopped", async () => {
  const lm: TransformerConfig = {
    dim: 16,
    layers: 1,
    heads: 2,
    headDim: 8,
    ffnDim: 32,
    normEps: 1e-5,
    ropeTheta: 10000,
    slidingWindow: null,
    maxPositions: 64,
  };
  await compare(() => createByteLm(lm, 7));
});

Deno.test("resume: BLT (static patches) continues exactly where it stopped", async () => {
  const small = { dim: 16, heads: 2, ffnDim: 32 };
  const blt = resolveConfig("tiny", {
    encoder: small,
    decoder: small,
    global: { dim: 32, heads: 2, ffnDim: 64, layers: 1 },
    "hash.buckets": 32,
    entropyModel: null,
    "patching.mode": "static",
  });
  await compare(() => createBlt(blt, 7));
});
