import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  bufferFindings,
  countGpuCalls,
  formatStepProfile,
  profileUntil,
  summariseKernels,
  traceKernelErrors,
} from "../../lib/gpu/profile.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

Deno.test("summariseKernels ranks by total time, sums calls and shares", () => {
  const s = summariseKernels([
    { name: "Add", kernelTimeMs: 1 },
    { name: "BatchMatMul", kernelTimeMs: 4 },
    { name: "Add", kernelTimeMs: 1 },
    { name: "Reshape", kernelTimeMs: 0 },
    { name: "Neg", kernelTimeMs: { error: "no timer" } },
  ]);
  assert.equal(s.calls, 5);
  assert.equal(s.distinct, 4);
  assert.equal(s.timed, true);
  assert.equal(s.totalMs, 6);
  assert.deepEqual(s.top.map((k) => [k.name, k.calls, k.totalMs]), [
    ["BatchMatMul", 1, 4],
    ["Add", 2, 2],
    ["Neg", 1, 0],
    ["Reshape", 1, 0],
  ]);
  assert.equal(s.top[1].share, 2 / 6);
});

Deno.test("summariseKernels without times ranks by calls; top limits the rows", () => {
  const recs = ["Mul", "Add", "Mul", "Sub", "Mul", "Add"].map((name) => ({
    name,
    kernelTimeMs: 0,
  }));
  const s = summariseKernels(recs, 2);
  assert.equal(s.timed, false);
  assert.deepEqual(s.top.map((k) => [k.name, k.calls, k.share]), [["Mul", 3, 0.5], [
    "Add",
    2,
    2 / 6,
  ]]);
  assert.equal(summariseKernels([]).top.length, 0);
  assert.throws(() => summariseKernels(recs, -1), /top must be an integer/);
});

Deno.test("formatStepProfile prints counts, the kernel table and memory", () => {
  const lines = formatStepProfile({
    counts: {
      dispatches: 10,
      submits: 2,
      writeBuffers: 10,
      writeBytes: 3 * 2 ** 20,
      buffersCreated: 1,
      bytesCreated: 2 ** 20,
    },
    wallMs: 12.34,
    kernels: summariseKernels([{ name: "Add", kernelTimeMs: 0.5 }]),
    timestampQuery: true,
    memory: { numBytes: 2 ** 20, numTensors: 3 },
    gpuBytes: { used: 2 ** 20, allocated: 2 ** 21 },
    peakBytes: 2 ** 21,
    newBytes: 0,
    newTensors: 0,
  });
  assert.equal(
    lines[0],
    "step: 10 dispatches, 2 queue submits, 10 writeBuffer (3.0 MiB), 1 new buffers (1.0 MiB), wall 12.3 ms",
  );
  assert.match(lines[1], /GPU time 0\.50 ms/);
  assert.equal(lines[4], "| Add | 1 | 0.500 | 0.5000 | 100.0% |");
  assert.match(lines[5], /numTensors 3; GPU buffers in use 1\.0 MiB, allocated 2\.0 MiB/);
});

Deno.test("bufferFindings names tensors over either limit, biggest first", () => {
  const limits = { maxBufferSize: 1000, maxStorageBufferBindingSize: 100 };
  const lines = bufferFindings([
    { name: "small", shape: [10], bytes: 40 },
    { name: "huge", shape: [500], bytes: 2000 },
    { name: "big", shape: [50], bytes: 200 },
  ], limits);
  assert.match(lines[0], /^largest: huge \[500\] 2000 bytes/);
  assert.deepEqual(lines.slice(1), [
    "huge needs 2000 bytes > maxBufferSize 1000",
    "big needs 200 bytes > maxStorageBufferBindingSize 100",
  ]);
  assert.equal(
    bufferFindings([{ name: "s", shape: [1], bytes: 4 }], limits)[1],
    "all fit in one buffer and one binding",
  );
  assert.deepEqual(bufferFindings([], limits), ["no tensors to check"]);
});

Deno.test("countGpuCalls counts dispatches and submits on webgpu, then restores", async () => {
  await useWebgpu();
  const a = seeded([4096], 1); // above tfjs's size for handing small ops to the CPU
  const original = GPUQueue.prototype.submit;
  const counter = countGpuCalls();
  const b = tf.tidy(() => tf.mul(tf.add(a, 1), 2));
  await b.data(); // the read-back submits
  const c = counter.stop();
  assert.equal(GPUQueue.prototype.submit, original);
  assert.ok(c.dispatches >= 2, `dispatches ${c.dispatches}`);
  assert.ok(c.submits >= 1, `submits ${c.submits}`);
  assert.ok(c.writeBuffers >= 2, `uniform writes ${c.writeBuffers}`);
  tf.dispose([a, b]);
});

Deno.test("profileUntil records the kernels run before its promise settles", async () => {
  await useWebgpu();
  let finish = () => {};
  const profiled = profileUntil(new Promise<void>((r) => (finish = r)));
  const x = tf.tidy(() => tf.matMul(seeded([8, 8], 2), seeded([8, 8], 3)));
  finish();
  const info = await profiled;
  assert.ok(info.kernels.some((k) => k.name === "BatchMatMul"));
  const s = summariseKernels(info.kernels);
  assert.ok(s.calls >= 1);
  x.dispose();
});

// tfjs's device keeps WebGPU's default of 8 storage buffers per shader stage, so AddN over more
// than 7 tensors cannot build its pipeline: the trace must name that kernel.
Deno.test("traceKernelErrors names the kernel whose pipeline is invalid", async () => {
  await useWebgpu();
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const lines: string[] = [];
  const trace = traceKernelErrors(device, (l) => lines.push(l));
  const xs = Array.from({ length: 10 }, (_, i) => seeded([4], 10 + i));
  const sum = tf.addN(xs);
  const errors = await trace.settle();
  trace.stop();
  assert.ok(errors.length >= 1, "an AddN of 10 inputs exceeds 8 storage buffers");
  assert.equal(errors[0].kind, "validation");
  assert.match(errors[0].kernel, /^AddN\(0\[4\], 1\[4\]/);
  assert.match(lines[0], /GPU validation error in kernel AddN/);
  assert.equal(trace.largest()[0].name.startsWith("output of AddN"), true);
  assert.equal(Object.prototype.hasOwnProperty.call(tf.engine(), "runKernel"), false);
  tf.dispose([sum, ...xs]);
});
