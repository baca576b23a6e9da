import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "node:assert/strict";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { bitsPerByteAsync } from "../../lib/eval/bpb.ts";
import { gpuChecked, GpuFaultError, gpuFaultError, gpuGuard } from "../../lib/gpu/guard.ts";
import { train } from "../../lib/train/loop.ts";
import type { Batch, LossResult, TrainableModel } from "../../lib/train/types.ts";
import { ToyBigram, toyExamples } from "../train/toy_model.ts";

const context = {
  step: 7,
  phase: "step" as const,
  checkpoint: "runs/x/step-00000006",
  weights: 250_000_000,
  microBatch: "16×4096",
  gradAccumulation: 1,
  limits: { maxBufferSize: 2 ** 31 - 1, maxStorageBufferBindingSize: 2 ** 27 },
};

Deno.test("gpuFaultError: out of memory names the sizes, gradAccumulation and the checkpoint", () => {
  const e = gpuFaultError({ kind: "out-of-memory", message: "Not enough memory\nmore" }, context);
  assert.match(e.message, /^Training stopped at step 7: the GPU ran out of memory/);
  assert.match(e.message, /WebGPU: "Not enough memory"/);
  assert.match(e.message, /250000000 weights, 4\.00 GB with their gradients/);
  assert.match(e.message, /micro-batch of 16×4096 bytes/);
  assert.match(e.message, /gradAccumulation, now 1/);
  assert.match(e.message, /The weights were not updated at this step/);
  assert.match(e.message, /last good checkpoint is runs\/x\/step-00000006 \(intact\)/);
});

Deno.test("gpuFaultError: lost device, validation limits, phases, no checkpoint", () => {
  const lost = gpuFaultError({ kind: "device lost", message: "destroyed: device was lost" }, {
    ...context,
    phase: "update",
    checkpoint: null,
  });
  assert.match(lost.message, /the GPU device was lost \(WebGPU: "destroyed: device was lost"\)/);
  assert.match(lost.message, /start a new process/);
  assert.match(lost.message, /do not trust the weights in memory/);
  assert.match(lost.message, /No checkpoint was written yet/);
  const bad = gpuFaultError(
    { kind: "validation", message: "Buffer binding 0 range 160000000 exceeds limit" },
    { ...context, phase: "checkpoint" },
    new Error("inner"),
  );
  assert.match(bad.message, /a validation error \(WebGPU: "Buffer binding 0 range 160000000/);
  assert.match(bad.message, /storage bindings up to 0\.13 GB/);
  assert.match(bad.message, /checkpoint could not be read back and was not written/);
  assert.equal((bad.cause as Error).message, "inner");
});

Deno.test("gpuGuard is null off webgpu", async () => {
  await tf.setBackend("cpu");
  assert.equal(gpuGuard(), null);
});

/** The toy model, plus one op on an over-limit tensor in the loss of the marked batches. */
class OverLimit implements TrainableModel {
  readonly config: ToyBigram["config"];
  constructor(
    readonly inner: ToyBigram,
    readonly marked: WeakSet<Batch>,
    readonly elements: number,
  ) {
    this.config = inner.config;
  }
  namedVariables(): Map<string, tf.Variable> {
    return this.inner.namedVariables();
  }
  loss(batch: Batch): LossResult {
    const r = this.inner.loss(batch);
    if (!this.marked.has(batch)) return r;
    // The sum of a tensor over the storage-binding limit: tfjs gives 0 without a word.
    const loss = tf.tidy(() =>
      tf.add(r.loss, tf.mul(tf.sum(tf.add(tf.fill([this.elements], 1), 1)), 0)) as tf.Scalar
    );
    r.loss.dispose();
    return { ...r, loss };
  }
}

const adapter = await navigator.gpu?.requestAdapter();
const bindingLimit = adapter?.limits.maxStorageBufferBindingSize ?? Infinity;

Deno.test({
  name:
    "trainer on webgpu: a tensor over the binding limit stops the step, weights and checkpoint intact",
  // Needs an adapter whose limit is small enough to exceed cheaply (the software adapter: 128 MiB).
  ignore: adapter === null || bindingLimit > 2 ** 28,
  fn: async () => {
    assert.ok(await tf.setBackend("webgpu"));
    const run = await Deno.makeTempDir({ prefix: "gpu_guard_" });
    const model = new OverLimit(
      new ToyBigram({ dim: 8, seed: 2 }),
      new WeakSet(),
      bindingLimit / 4 + 1024,
    );
    const rows = toyExamples(8, 33);
    const afterStep2 = new Map<string, Float32Array>();
    try {
      const error = await train({
        model,
        data: {
          batchAt: (i) => {
            const batch = { ids: [rows[i % 8].ids, rows[(i + 3) % 8].ids] };
            if (i === 2) model.marked.add(batch);
            return batch;
          },
        },
        config: { steps: 4, checkpointEvery: 1, warmupSteps: 1, lr: 0.05 },
        checkpointDir: run,
        callbacks: {
          onStep: async (m) => {
            if (m.step !== 2) return;
            for (const [name, v] of model.namedVariables()) {
              afterStep2.set(name, (await v.data()) as Float32Array);
            }
          },
        },
      }).then(() => null, (e) => e);
      assert.ok(error instanceof GpuFaultError, `expected a GpuFaultError, got ${error}`);
      assert.equal(error.fault.kind, "validation");
      assert.match(error.message, /^Training stopped at step 3: the GPU reported a validation/);
      assert.match(error.message, /storage bindings up to 0\.13 GB/);
      assert.match(error.message, /The weights were not updated at this step/);
      assert.match(error.message, /step-00000002 \(intact\)/);
      for (const [name, v] of model.namedVariables()) {
        assert.deepEqual(await v.data(), afterStep2.get(name), `${name} changed after the fault`);
      }
      const ckpt = await loadCheckpoint(run);
      assert.equal(ckpt.step, 2);
      assert.deepEqual(ckpt.weights.get("lm_head.bias")?.data, afterStep2.get("lm_head.bias"));
    } finally {
      model.inner.dispose();
      await Deno.remove(run, { recursive: true });
    }
  },
});

Deno.test({
  name: "trainer on webgpu: a lost device stops with a clear error and the last checkpoint intact",
  ignore: adapter === null,
  fn: async () => {
    const run = await Deno.makeTempDir({ prefix: "gpu_lost_" });
    try {
      const child = new URL("./gpu_lost_child.ts", import.meta.url).pathname;
      const config = new URL("../../deno.json", import.meta.url).pathname;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", config, child, run],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `child failed:\n${stderr}`);
      const line = stdout.trim().split("\n").at(-1)!;
      const r = JSON.parse(line) as { threw: boolean; gpuFault: string | null; message: string };
      assert.equal(r.threw, true, "training went on after the device was destroyed");
      assert.equal(r.gpuFault, "device lost", r.message);
      assert.match(r.message, /^Training stopped at step 4: the GPU device was lost/);
      assert.match(r.message, /step-00000002 \(intact\)/);
      const ckpt = await loadCheckpoint(run);
      assert.equal(ckpt.step, 2);
    } finally {
      await Deno.remove(run, { recursive: true });
    }
  },
});

Deno.test({
  name: "gpuChecked on webgpu: passes results and other errors through, names GPU faults",
  ignore: adapter === null || bindingLimit > 2 ** 28,
  fn: async () => {
    assert.ok(await tf.setBackend("webgpu"));
    assert.equal(await gpuChecked("two", () => Promise.resolve(2)), 2);
    const plain = new Error("not the GPU's fault");
    await assert.rejects(gpuChecked("x", () => Promise.reject(plain)), (e) => e === plain);
    const error = await gpuChecked("big sum", async () => {
      const s = tf.tidy(() => tf.sum(tf.add(tf.fill([bindingLimit / 4 + 1024], 1), 1)));
      const v = (await s.data())[0];
      s.dispose();
      return v;
    }).then(() => null, (e) => e);
    assert.ok(error instanceof GpuFaultError, `expected a GpuFaultError, got ${error}`);
    assert.equal(error.step, null);
    assert.match(error.message, /^big sum stopped: the GPU reported a validation error/);
    assert.match(error.message, /smaller batches or a smaller model/);
  },
});

Deno.test({
  name: "bitsPerByteAsync on webgpu: an over-limit tensor is an error, not a wrong number",
  ignore: adapter === null || bindingLimit > 2 ** 28,
  fn: async () => {
    assert.ok(await tf.setBackend("webgpu"));
    const model = new OverLimit(new ToyBigram({ dim: 8, seed: 4 }), new WeakSet(), 0);
    const rows = toyExamples(2, 17);
    const batch = { ids: rows.map((r) => r.ids) };
    try {
      const fine = await bitsPerByteAsync(model, [batch]);
      assert.ok(fine.bitsPerByte > 0);
      const big = new OverLimit(model.inner, new WeakSet([batch]), bindingLimit / 4 + 1024);
      await assert.rejects(
        bitsPerByteAsync(big, [batch]),
        /^GpuFaultError: bitsPerByte stopped: the GPU reported a validation error/,
      );
    } finally {
      model.inner.dispose();
    }
  },
});

Deno.test({
  name: "trainer on webgpu: a fault in validation names the step and the evaluation",
  ignore: adapter === null || bindingLimit > 2 ** 28,
  fn: async () => {
    assert.ok(await tf.setBackend("webgpu"));
    const rows = toyExamples(4, 17);
    const held = { ids: [rows[3].ids] };
    const model = new OverLimit(
      new ToyBigram({ dim: 8, seed: 5 }),
      new WeakSet([held]),
      bindingLimit / 4 + 1024,
    );
    try {
      const error = await train({
        model,
        data: { batchAt: (i) => ({ ids: [rows[i % 3].ids] }) },
        validation: [held],
        config: { steps: 3, evalEvery: 2, warmupSteps: 1, lr: 0.05 },
      }).then(() => null, (e) => e);
      assert.ok(error instanceof GpuFaultError, `expected a GpuFaultError, got ${error}`);
      assert.equal(error.step, 2);
      assert.match(error.message, /^Training stopped at step 2: the GPU reported a validation/);
      assert.match(error.message, /its evaluation could not be read back/);
      assert.match(error.message, /No checkpoint was written yet/);
    } finally {
      model.inner.dispose();
    }
  },
});
