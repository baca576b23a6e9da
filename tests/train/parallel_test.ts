import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { type BltConfig, resolveConfig } from "../../lib/config.ts";
import { createBlt } from "../../lib/model/blt.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { resolveTrainConfig } from "../../lib/train/config.ts";
import { resume, train, type TrainOptions, type TrainResult } from "../../lib/train/loop.ts";
import { sliceRows, splitShares, startGradientWorkers } from "../../lib/train/parallel.ts";
import type { Batch } from "../../lib/train/types.ts";

// Workers run the trainer's backend; wasm is the CPU path they exist for.
await tf.setBackend("wasm");

const small = { dim: 16, heads: 2, ffnDim: 32 };
const STATIC: BltConfig = resolveConfig("tiny", {
  encoder: small,
  decoder: small,
  global: { dim: 32, heads: 2, ffnDim: 64, layers: 1 },
  "hash.buckets": 32,
  entropyModel: null,
  "patching.mode": "static",
});

/** Deterministic rows of byte ids (BOS first), `rows` × `T`. */
function rowsOf(rows: number, T: number, salt: number): number[][] {
  return Array.from({ length: rows }, (_, b) => {
    const r = [1];
    for (let t = 1; t < T; t++) r.push(4 + ((t * 2654435761 + (b + salt) * 97) >>> 0) % 256);
    return r;
  });
}

const source = (rows: number, T = 24) => ({
  batchAt: (i: number): Batch => ({ ids: rowsOf(rows, T, 7 * i) }),
});

async function weightsAfter(
  config: BltConfig,
  options: Omit<TrainOptions, "model">,
): Promise<{ result: TrainResult; weights: Map<string, Float32Array> }> {
  const model = createBlt(config, 3);
  try {
    const result = await train({ ...options, model });
    const weights = new Map<string, Float32Array>();
    for (const [n, v] of model.namedVariables()) weights.set(n, (await v.data()) as Float32Array);
    return { result, weights };
  } finally {
    model.dispose();
  }
}

function maxDifference(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  let worst = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
}

async function compareWorkers(
  config: BltConfig,
  rows: number,
  train: Record<string, number>,
  steps = 1,
) {
  const base = { steps, warmupSteps: 1, evalEvery: 0, ...train };
  const one = await weightsAfter(config, { data: source(rows), config: { ...base, workers: 1 } });
  const two = await weightsAfter(config, { data: source(rows), config: { ...base, workers: 2 } });
  const diff = maxDifference(one.weights, two.weights);
  assert(diff < 1e-5, `weights differ by ${diff}`);
  for (const [i, m] of one.result.history.entries()) {
    const p = two.result.history[i];
    assert(Math.abs(m.loss - p.loss) < 1e-5, `step ${i + 1} loss ${m.loss} vs ${p.loss}`);
    assert(Math.abs(m.gradNorm - p.gradNorm) < 1e-4 * m.gradNorm, `${m.gradNorm} ${p.gradNorm}`);
    assert.equal(m.bytes, p.bytes);
  }
}

Deno.test("splitShares: whole micro-batches while they divide evenly, the rest by rows", () => {
  const b = (n: number, x: number): Batch => ({
    ids: rowsOf(n, 4, x),
    patchLengths: rowsOf(n, 4, x).map(() => [1, 3]),
    targetMask: rowsOf(n, 4, x).map(() => [0, 1, 1, 1]),
  });
  const four = [b(2, 0), b(2, 1), b(2, 2), b(2, 3)];
  assert.deepEqual(splitShares(four, 2), [[four[0], four[1]], [four[2], four[3]]]);
  const split = splitShares([b(5, 0)], 2);
  assert.deepEqual(split.map((s) => s.map((x) => x.ids.length)), [[2], [3]]);
  assert.deepEqual(split[1][0], sliceRows(b(5, 0), 2, 5));
  assert.equal(split[1][0].patchLengths!.length, 3);
  assert.equal(split[1][0].targetMask!.length, 3);
  // Fewer rows than workers: some shares stay empty; every row is used exactly once.
  const few = splitShares([b(1, 0)], 3);
  assert.deepEqual(few.map((s) => s.length), [0, 0, 1]);
  assert.throws(() => splitShares(four, 0), /integer ≥ 1, found 0/);
});

Deno.test("workers: train config accepts integers ≥ 1 only", () => {
  assert.equal(resolveTrainConfig({}).workers, 1);
  assert.throws(() => resolveTrainConfig({ workers: 0 }), /'workers' must be > 0, found 0/);
  assert.throws(() => resolveTrainConfig({ workers: 1.5 }), /'workers' must be an integer/);
});

Deno.test("workers=2: one step over 2 micro-batches gives workers=1's weights and loss", async () => {
  await compareWorkers(STATIC, 2, { gradAccumulation: 2 });
});

Deno.test("workers=2: a batch split by rows (3 rows, no accumulation) matches over 2 steps", async () => {
  await compareWorkers(STATIC, 3, { gradAccumulation: 1, lr: 1e-3 }, 2);
});

Deno.test("workers=2: an entropy-patched BLT gets its frozen entropy model", async () => {
  const overrides = {
    encoder: small,
    decoder: small,
    global: { dim: 32, heads: 2, ffnDim: 64, layers: 1 },
    "hash.buckets": 32,
    "entropyModel.dim": 16,
    "entropyModel.layers": 1,
    "entropyModel.heads": 2,
    "entropyModel.ffnDim": 32,
  };
  // θ = the median entropy of the seeded entropy model on the data: its patches are mixed, while
  // a worker left with the zeros it starts with (uniform, ln 260 everywhere) would cut every byte.
  const probe = createBlt(resolveConfig("tiny", overrides), 3);
  const h = probe.patcher!.entropies(source(2).batchAt(0).ids).flatMap((r) => [...r]);
  probe.dispose();
  const theta = h.sort((a, b) => a - b)[h.length >> 1];
  assert(theta < Math.log(260) - 1e-3, `median entropy ${theta}`);
  // Batches without patchLengths: each worker patches with its copy of the patcher.
  const config = resolveConfig("tiny", { ...overrides, "patching.threshold": theta });
  await compareWorkers(config, 2, { gradAccumulation: 2 });
});

Deno.test("workers=2: a worker's error names the worker and the step; checkpoints stay intact", async () => {
  const dir = await Deno.makeTempDir();
  const model = createBlt(STATIC, 3);
  try {
    const good = source(2);
    // Step 2's second micro-batch has an id outside the vocabulary: its worker throws.
    const data = {
      batchAt: (i: number): Batch => i === 3 ? { ids: [[1, 5, 9999], [1, 6, 7]] } : good.batchAt(i),
    };
    await assert.rejects(
      () =>
        train({
          model,
          data,
          config: { steps: 3, warmupSteps: 1, evalEvery: 0, gradAccumulation: 2, workers: 2 },
          checkpointDir: dir,
          callbacks: {},
        }).then(() => undefined),
      /Worker 2 of 2 failed at step 2; the weights were not updated: .*9999/,
    );
    // Nothing was checkpointed: the run had not reached its end (the next test checks survival).
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workers=2: the step-1 checkpoint survives a worker failure at step 2", async () => {
  const dir = await Deno.makeTempDir();
  const model = createBlt(STATIC, 3);
  try {
    const good = source(2);
    const data = {
      batchAt: (i: number): Batch => i === 2 ? { ids: [[1, 5, -3], [1, 6, 7]] } : good.batchAt(i),
    };
    const saved = new Map<string, Float32Array>();
    await assert.rejects(
      () =>
        train({
          model,
          data,
          config: {
            steps: 3,
            warmupSteps: 1,
            evalEvery: 0,
            gradAccumulation: 2,
            workers: 2,
            checkpointEvery: 1,
          },
          checkpointDir: dir,
          callbacks: {
            onCheckpoint: async () => {
              for (const [n, v] of model.namedVariables()) {
                saved.set(n, (await v.data()) as Float32Array);
              }
            },
          },
        }).then(() => undefined),
      /Worker 1 of 2 failed at step 2/,
    );
    const ckpt = await loadCheckpoint(dir);
    assert.equal(ckpt.step, 1);
    assert(saved.size > 0);
    for (const [n, w] of ckpt.weights) assert.deepEqual(w.data, saved.get(n), n);
    // And the model still holds step 1's weights: the failed step changed nothing.
    for (const [n, v] of model.namedVariables()) {
      assert.deepEqual((await v.data()) as Float32Array, saved.get(n), n);
    }
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workers=2: resume continues a checkpoint as workers=1 does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = createBlt(STATIC, 3);
    const config = { steps: 3, warmupSteps: 1, evalEvery: 0, gradAccumulation: 2 };
    await train({
      model: first,
      data: source(2),
      config: { ...config, steps: 1 },
      checkpointDir: dir,
    });
    first.dispose();
    const losses: number[][] = [];
    for (const workers of [1, 2]) {
      const model = createBlt(STATIC, 99); // weights come from the checkpoint
      const out = await Deno.makeTempDir();
      try {
        const r = await resume(dir, {
          model,
          data: source(2),
          config: { ...config, workers },
          checkpointDir: out,
        });
        assert.equal(r.step, 3);
        losses.push(r.history.map((m) => m.loss));
      } finally {
        model.dispose();
        await Deno.remove(out, { recursive: true });
      }
    }
    losses[0].forEach((l, i) => assert(Math.abs(l - losses[1][i]) < 1e-5, `${l} ${losses[1][i]}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workers=2: a stop request ends the run with a checkpoint (workers terminated)", async () => {
  const dir = await Deno.makeTempDir();
  const model = createBlt(STATIC, 3);
  try {
    const r = await train({
      model,
      data: source(2),
      config: { steps: 5, warmupSteps: 1, evalEvery: 0, workers: 2 },
      checkpointDir: dir,
      callbacks: { shouldStop: (m) => m.step === 1 },
    });
    assert.equal(r.stopped, true);
    assert.equal((await loadCheckpoint(dir)).step, 1);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workers: a model the workers cannot rebuild, or a factory that fails, is refused clearly", async () => {
  const model = {
    config: null,
    namedVariables: () => new Map<string, tf.Variable>(),
    loss: () => ({ loss: tf.scalar(0), predictions: 1, bytes: 1 }),
  };
  await assert.rejects(() => startGradientWorkers(model, 2), /TrainOptions\.workerModel/);
  assert.equal(await startGradientWorkers(model, 1), null);
  const spec = { module: "file:///nonexistent/m.ts", factory: "make", args: null };
  await assert.rejects(
    () => startGradientWorkers(model, 2, spec),
    /Worker [12] of 2 failed while starting: .*nonexistent/,
  );
});
