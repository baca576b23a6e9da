/**
 * Where the host's time goes in a webgpu training step: wraps the WebGPU calls tfjs and lib/gpu
 * make (device, queue, encoders, buffers) and tfjs's kernel entry (`engine.runKernel`) with
 * timers, runs `benchPreset` and prints milliseconds per timed step for each (inclusive times:
 * runKernel contains the WebGPU calls its kernels make). Counts only the timed steps (after
 * warm-up). The timers cost ~1 µs a call, so the step itself runs a little slower than in
 * `train_bench.ts`.
 *
 * usage: deno run -A bench/gpu_host_profile.ts [--preset small] [--steps 3] [--warmup 2]
 * (bundle it for a GPU host like the other benchmarks).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { setupBackend } from "../lib/backend.ts";
import { benchPreset } from "./train_bench.ts";

const args = Deno.args;
const argOf = (n: string, d: string) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const preset = argOf("--preset", "small");
const steps = Number(argOf("--steps", "3"));
const warmup = Number(argOf("--warmup", "2"));

const totals = new Map<string, { ms: number; calls: number }>();
let counting = false;

/** Replaces `obj[name]` by a timed wrapper recorded under `label`. */
function timeMethod(obj: Record<string, unknown>, name: string, label: string): void {
  const f = obj[name];
  if (typeof f !== "function") return;
  obj[name] = function (this: unknown, ...a: unknown[]) {
    if (!counting) return f.apply(this, a);
    const t0 = performance.now();
    try {
      return f.apply(this, a);
    } finally {
      const e = totals.get(label) ?? { ms: 0, calls: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      totals.set(label, e);
    }
  };
}

const choice = await setupBackend({ log: (l) => console.log(l) });
if (choice.backend !== "webgpu") throw new Error("gpu_host_profile: needs the webgpu backend");
const backend = tf.backend() as unknown as Record<string, unknown> & { device: GPUDevice };
const device = backend.device as unknown as Record<string, unknown>;
for (
  const m of [
    "createBindGroup",
    "createBuffer",
    "createCommandEncoder",
    "createComputePipeline",
    "createComputePipelineAsync",
  ]
) timeMethod(device, m, `device.${m}`);
const queue = backend.device.queue as unknown as Record<string, unknown>;
for (const m of ["writeBuffer", "submit"]) timeMethod(queue, m, `queue.${m}`);
const protos: [string, Record<string, unknown>][] = [
  ["encoder", GPUCommandEncoder.prototype as unknown as Record<string, unknown>],
  ["pass", GPUComputePassEncoder.prototype as unknown as Record<string, unknown>],
  ["buffer", GPUBuffer.prototype as unknown as Record<string, unknown>],
  ["pipeline", GPUComputePipeline.prototype as unknown as Record<string, unknown>],
];
for (const [label, proto] of protos) {
  for (const m of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, m);
    if (m !== "constructor" && typeof d?.value === "function") {
      timeMethod(proto, m, `${label}.${m}`);
    }
  }
}
for (
  const m of [
    "runWebGPUProgram",
    "uploadToGPU",
    "makeUniforms",
    "makeTensorInfo",
    "disposeData",
    "submitQueue",
    "read",
  ]
) timeMethod(backend, m, `backend.${m}`);
const bm = backend.bufferManager as Record<string, unknown>;
for (const m of ["acquireBuffer", "releaseBuffer"]) timeMethod(bm, m, `bufferManager.${m}`);
const engine = tf.engine() as unknown as Record<string, unknown>;
timeMethod(engine, "runKernel", "engine.runKernel (all kernels, inclusive)");

let stepStart = 0;
let stepsCounted = 0;
let wall = 0;
await benchPreset(preset, {
  steps,
  warmup,
  backend: "webgpu",
  kernels: "ours",
  adapter: choice.reason,
  onStep: (step) => {
    const now = performance.now();
    if (counting) {
      wall += now - stepStart;
      stepsCounted++;
    }
    counting = step >= warmup && step < warmup + steps;
    stepStart = now;
  },
});
counting = false;
console.log(
  `\nhost time per step (${stepsCounted} steps, wall ${(wall / stepsCounted).toFixed(1)} ms each):`,
);
console.log("| call | ms per step | calls per step | µs per call |");
console.log("|---|---|---|---|");
for (const [label, e] of [...totals].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(
    `| ${label} | ${(e.ms / stepsCounted).toFixed(1)} | ${(e.calls / stepsCounted).toFixed(0)} | ${
      (1000 * e.ms / e.calls).toFixed(1)
    } |`,
  );
}
