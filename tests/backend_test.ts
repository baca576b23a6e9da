import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { findGpuAdapter, planBackends, setupBackend } from "../lib/backend.ts";

const ALL = ["cpu", "wasm", "webgpu"];

Deno.test("planBackends: a real GPU adapter puts webgpu first, then wasm, then cpu", () => {
  const plan = planBackends({ name: "NVIDIA H100 80GB HBM3", isFallback: false }, undefined, ALL);
  assert.deepEqual(plan.map((c) => c.backend), ["webgpu", "wasm", "cpu"]);
  assert.equal(plan[0].reason, 'GPU adapter "NVIDIA H100 80GB HBM3"');
});

Deno.test("planBackends: a software adapter or none skips webgpu and says why", () => {
  const soft = planBackends({ name: "llvmpipe (LLVM 15)", isFallback: true }, undefined, ALL);
  assert.deepEqual(soft.map((c) => c.backend), ["wasm", "cpu"]);
  assert.match(soft[0].reason, /software WebGPU adapter "llvmpipe \(LLVM 15\)"/);
  const none = planBackends(null, undefined, ALL);
  assert.deepEqual(none.map((c) => c.backend), ["wasm", "cpu"]);
  assert.equal(none[0].reason, "no WebGPU adapter");
  assert.deepEqual(planBackends(null, undefined, ["cpu"]).map((c) => c.backend), ["cpu"]);
});

Deno.test("planBackends: BLT_BACKEND forces one registered backend, rejects unknown ones", () => {
  const gpu = { name: "GPU", isFallback: false };
  assert.deepEqual(planBackends(gpu, "cpu", ALL), [
    { backend: "cpu", reason: "forced by BLT_BACKEND" },
  ]);
  assert.deepEqual(planBackends(gpu, "", ALL).map((c) => c.backend), ["webgpu", "wasm", "cpu"]);
  assert.throws(
    () => planBackends(gpu, "tensorflow", ALL),
    /BLT_BACKEND: expected one of cpu, wasm, webgpu, found 'tensorflow'/,
  );
});

Deno.test("setupBackend: automatic choice matches the adapter, one log line", async () => {
  const adapter = await findGpuAdapter();
  const expected = adapter !== null && !adapter.isFallback ? "webgpu" : "wasm";
  const lines: string[] = [];
  const choice = await setupBackend({ override: "", log: (l) => lines.push(l) });
  assert.equal(choice.backend, expected);
  assert.equal(tf.getBackend(), expected);
  assert.deepEqual(lines, [`tfjs backend: ${expected} (${choice.reason})`]);
  if (adapter !== null) assert.ok(choice.reason.includes(adapter.name), choice.reason);
});

Deno.test("setupBackend: BLT_BACKEND=cpu is obeyed and tfjs's Node.js banner stays silent", async () => {
  const previous = Deno.env.get("BLT_BACKEND");
  Deno.env.set("BLT_BACKEND", "cpu");
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
  try {
    const choice = await setupBackend({ log: () => {} });
    assert.deepEqual(choice, { backend: "cpu", reason: "forced by BLT_BACKEND" });
    const before = tf.memory().numTensors;
    tf.tidy(() => tf.tensor([1, 2, 3]).sum()).dispose();
    assert.equal(tf.memory().numTensors, before);
  } finally {
    console.warn = warn;
    if (previous === undefined) Deno.env.delete("BLT_BACKEND");
    else Deno.env.set("BLT_BACKEND", previous);
  }
  assert.deepEqual(warnings.filter((w) => w.includes("TensorFlow.js in Node.js")), []);
});

Deno.test("setupBackend: an unknown forced backend throws naming BLT_BACKEND", async () => {
  await assert.rejects(
    () => setupBackend({ override: "tpu", log: () => {} }),
    /BLT_BACKEND: expected one of .*found 'tpu'/,
  );
});
