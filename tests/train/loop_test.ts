import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { shuffledBatches } from "../../lib/train/batches.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { resume, type StepMetrics, train } from "../../lib/train/loop.ts";
import { ToyBigram, toyExamples } from "./toy_model.ts";

// Exact resume is promised on CPU: the cpu backend is deterministic op by op.
await tf.setBackend("cpu");

const data = shuffledBatches(toyExamples(24, 17), { batchSize: 4, seed: 3 });
const validation = [{ ids: toyExamples(4, 33).map((e) => e.ids) }];
const config = { steps: 12, warmupSteps: 3, lr: 0.05, gradAccumulation: 2, evalEvery: 4 };

Deno.test("train: loss and validation bits per byte fall on the toy corpus; metrics are complete", async () => {
  const model = new ToyBigram();
  const steps: StepMetrics[] = [];
  const r = await train({
    model,
    data,
    validation,
    config: { ...config, steps: 16 },
    trainFlopsPerByte: 1e4,
    callbacks: { onStep: (m) => void steps.push(m) },
  });
  assert.equal(r.step, 16);
  assert.equal(steps.length, 16);
  const [first, last] = [r.history[0].loss, r.history[15].loss];
  assert(last < 0.7 * first, `${first} → ${last}`);
  assert.deepEqual(r.evals.map((e) => e.step), [4, 8, 12, 16]);
  assert(r.evals[3].bitsPerByte < r.evals[0].bitsPerByte);
  const m = r.history[0];
  assert.equal(m.bytes, 2 * 4 * 16); // 2 micro-batches × 4 rows × 16 predicted bytes
  assert(m.bytesPerSecond > 0 && m.tflops! > 0 && m.gradNorm > 0 && m.lr > 0);
  assert(Math.abs(m.bitsPerByte - m.loss / Math.LN2) < 1e-12);
  assert.equal(r.checkpoint, null);
  model.dispose();
});

Deno.test("resume: an interrupted-and-resumed run reproduces the uninterrupted losses exactly", async () => {
  const run = await Deno.makeTempDir();
  try {
    const full = new ToyBigram({ seed: 11 });
    const reference = await train({ model: full, data, validation, config });
    full.dispose();

    const first = new ToyBigram({ seed: 11 });
    const part = await train({
      model: first,
      data,
      validation,
      config,
      checkpointDir: run,
      callbacks: { shouldStop: (m) => m.step === 5 },
    });
    first.dispose();
    assert.equal(part.stopped, true);
    assert.equal(part.step, 5);
    assert.equal((await loadCheckpoint(run)).nextBatchIndex, 10);

    const second = new ToyBigram({ seed: 99 }); // different init: resume must overwrite it
    const rest = await resume(run, { model: second, data, validation });
    assert.equal(rest.step, 12);
    const losses = [...part.history, ...rest.history].map((m) => m.loss);
    assert.deepEqual(losses, reference.history.map((m) => m.loss));
    assert.deepEqual(
      rest.evals.map((e) => e.bitsPerByte),
      reference.evals.slice(1).map((e) => e.bitsPerByte),
    );
    const final = second.namedVariables().get("lm_head.weight")!.dataSync();
    assert.equal((await loadCheckpoint(run)).step, 12);
    assert.deepEqual([...(await loadCheckpoint(run)).weights.get("lm_head.weight")!.data], [
      ...final,
    ]);
    second.dispose();
  } finally {
    await Deno.remove(run, { recursive: true });
  }
});

Deno.test("train: gradient accumulation over two half batches equals one full batch", async () => {
  const rows = toyExamples(8, 9);
  const half = {
    batchAt: (i: number) => ({ ids: rows.slice((i % 2) * 4, (i % 2) * 4 + 4).map((r) => r.ids) }),
  };
  const whole = { batchAt: () => ({ ids: rows.map((r) => r.ids) }) };
  const a = new ToyBigram({ seed: 5 });
  const b = new ToyBigram({ seed: 5 });
  const ra = await train({
    model: a,
    data: half,
    config: { steps: 1, gradAccumulation: 2, warmupSteps: 0 },
  });
  const rb = await train({ model: b, data: whole, config: { steps: 1, warmupSteps: 0 } });
  assert(Math.abs(ra.history[0].loss - rb.history[0].loss) < 1e-6);
  assert(Math.abs(ra.history[0].gradNorm - rb.history[0].gradNorm) < 1e-5 * rb.history[0].gradNorm);
  const wa = a.namedVariables().get("embed.weight")!.dataSync();
  const wb = b.namedVariables().get("embed.weight")!.dataSync();
  assert(wa.every((x, i) => Math.abs(x - wb[i]) < 1e-5));
  a.dispose();
  b.dispose();
});

Deno.test("train: a NaN loss stops with the step named and the last good checkpoint kept", async () => {
  const run = await Deno.makeTempDir();
  try {
    const poisonAt = 7; // batch index 7 is drawn during step 4 (2 micro-batches per step)
    let index = -1;
    const source = { batchAt: (i: number) => ((index = i), data.batchAt(i)) };
    const model = new ToyBigram({ poison: () => index === poisonAt });
    await assert.rejects(
      train({ model, data: source, config: { ...config, checkpointEvery: 2 }, checkpointDir: run }),
      (e: Error) => {
        assert.match(e.message, /Training stopped at step 4: loss is NaN/);
        assert.match(e.message, /Last good checkpoint: .*step-00000002/);
        return true;
      },
    );
    const ckpt = await loadCheckpoint(run);
    assert.equal(ckpt.step, 2);
    const w = model.namedVariables().get("embed.weight")!.dataSync();
    assert(w.every(Number.isFinite), "weights must not be updated with NaN");
    model.dispose();
  } finally {
    await Deno.remove(run, { recursive: true });
  }
});

Deno.test("train: no tensors leak per step", async () => {
  const model = new ToyBigram();
  const counts: number[] = [];
  await train({
    model,
    data,
    validation,
    config: { ...config, steps: 8, evalEvery: 2 },
    callbacks: { onStep: () => void counts.push(tf.memory().numTensors) },
  });
  assert.equal(new Set(counts).size, 1, `tensor counts per step: ${counts.join(", ")}`);
  model.dispose();
});

Deno.test("train: a model's prepare() gets each next batch ahead once; batches and losses unchanged", async () => {
  const seen: number[] = [];
  const counting = {
    batchAt: (i: number) => {
      seen.push(i);
      return data.batchAt(i);
    },
  };
  const plain = new ToyBigram({ seed: 5 });
  const reference = await train({ model: plain, data, config: { ...config, steps: 4 } });
  plain.dispose();
  const prepared: unknown[] = [];
  const model = Object.assign(new ToyBigram({ seed: 5 }), {
    prepare(batch: unknown) {
      prepared.push(batch);
    },
  });
  const r = await train({ model, data: counting, config: { ...config, steps: 4 } });
  model.dispose();
  assert.deepEqual(r.history.map((m) => m.loss), reference.history.map((m) => m.loss));
  // 4 steps × 2 micro-batches: each index fetched exactly once, in order.
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7]);
  // The first micro-batch of steps 2..4 was prepared ahead (none after the last step).
  assert.equal(prepared.length, 3);
});

Deno.test("outOfMemoryError: the wasm heap's 'memory access out of bounds' says what to do", async () => {
  const { outOfMemoryError } = await import("../../lib/train/loop.ts");
  const raw = new Error("memory access out of bounds");
  const e = outOfMemoryError(raw, "wasm", 110_000_000, "at step 3") as Error;
  assert.match(e.message, /Training stopped at step 3: the wasm backend ran out of memory/);
  assert.match(e.message, /110000000 weights, 1\.76 GB/);
  assert.match(e.message, /smaller preset|webgpu/);
  assert.equal(e.cause, raw);
  // Other errors, and the same words on other backends, pass through unchanged.
  const other = new Error("shapes differ");
  assert.equal(outOfMemoryError(other, "wasm", 1, "at step 1"), other);
  assert.equal(outOfMemoryError(raw, "webgpu", 1, "at step 1"), raw);
});
