/**
 * Training-step throughput of our BLT on the chosen tfjs backend, on the presets the PyTorch peer
 * (`../shared/bench/hf_blt_peer.py`) measures: same shapes, static 4-byte patches (first patch 1),
 * random bytes, AdamW + clipping through the real trainer (`lib/train`).
 *
 * usage: deno task bench [--presets tiny,small,medium] [--steps 5] [--warmup 2] [--stock]
 *        [--batch B] [--seq T] [--json out/bench.json] [--profile] [--top 25] [--diagnose]
 *        [--workers N] [--by-shape] [--micro R] [--attn-tuning F] [--no-host-cache]
 *        [--attn-layout bhtd|bthd] [--matmul-form auto|tuned|unrolled|loop]
 * Backend: automatic (webgpu on a real GPU, else wasm), or `BLT_BACKEND=wasm|webgpu|cpu`.
 * `--stock` keeps tfjs's own webgpu kernels (no lib/gpu kernels), for the before/after column.
 * `--profile`: after the timed steps, one more step counts GPU dispatches / queue submits /
 * uploads and its wall time, and one under `tf.profile` ranks the kernels by GPU time (real only
 * with timestamp queries; else by calls); prints tfjs memory. Both steps are not in the median.
 * `--diagnose`: prints the adapter's info and limits and those tfjs's device got; per preset the
 * largest parameters against maxStorageBufferBindingSize / maxBufferSize; traces model creation
 * and the first step in WebGPU error scopes so the first GPU error names its tfjs kernel.
 * `--workers N`: the trainer's data-parallel CPU workers (`TrainConfig.workers`; wasm/cpu only).
 * `--attn-tuning F`: applies the fused attention forms of `bench/attention_sweep.ts --json F`
 * (`{ "best": { "forward@32": {...}, ... } }`) before the steps, for a before/after in one run.
 * `--no-host-cache`: webgpu without lib/gpu/host_cache.ts's caches (uniforms, bind groups).
 * `--attn-layout`: the layout the model hands to the fused attention (`setAttentionLayout`;
 * default "auto": [B, T, H, d] on NVIDIA).
 * `--matmul-form`: our BatchMatMul's WGSL form (`setMatmulForm`; default "auto": "tuned" on NVIDIA).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { setupBackend } from "../lib/backend.ts";
import "../lib/wasm_kernels.ts";
import { type BltConfig, type PresetName, resolveConfig } from "../lib/config.ts";
import { createBlt } from "../lib/model/blt.ts";
import { bltFlopsPerByte } from "../lib/model/flops.ts";
import { train } from "../lib/train/loop.ts";
import { microBatching } from "../lib/train/pipeline_run.ts";
import type { StepMetrics } from "../lib/train/loop.ts";
import {
  bufferFindings,
  countGpuCalls,
  formatStepProfile,
  type GpuCallCounts,
  type KernelErrorTrace,
  limitsRecord,
  type ProfiledKernels,
  profileUntil,
  type SizedTensor,
  type StepProfileReport,
  summariseKernels,
  traceKernelErrors,
} from "../lib/gpu/profile.ts";
import { hostCacheStats, setHostCaching } from "../lib/gpu/host_cache.ts";
import { type MatmulForm, resolvedMatmulForm, setMatmulForm } from "../lib/gpu/matmul.ts";
import {
  attentionLayout,
  type AttnKernelKind,
  type AttnTuning,
  resolvedRowsPerThread,
  setAttentionLayout,
  setAttentionTuning,
} from "../lib/gpu/attention.ts";

/** Batch shapes of the benchmark presets (DESIGN.md's table; the peer uses the same). */
export const BENCH_SHAPES: Readonly<Record<string, { seq: number; batch: number }>> = {
  tiny: { seq: 1024, batch: 8 },
  small: { seq: 4096, batch: 16 },
  medium: { seq: 4096, batch: 16 },
};

/** Device FP32 peaks used for MFU (TFLOP/s, dense, no tensor cores). */
const FP32_PEAK_TFLOPS: readonly [RegExp, number][] = [[/H100/i, 67], [/H200/i, 67], [
  /A100/i,
  19.5,
]];

/** One benchmark row. */
export interface BenchRow {
  readonly preset: string;
  readonly backend: string;
  readonly kernels: "ours" | "stock" | "n/a";
  readonly batch: number;
  readonly seq: number;
  readonly params: number;
  readonly msPerStep: number;
  /** Median ms the host spent queueing forward, backward and clip (StepMetrics.queueSeconds). */
  readonly queueMs?: number;
  /** Median ms then spent waiting for the step's read-back (StepMetrics.readBackSeconds). */
  readonly readBackMs?: number;
  readonly bytesPerSecond: number;
  readonly tflops: number;
  readonly mfu: number | null;
  readonly peakGpuBytes: number | null;
  readonly loss: number;
  readonly steps: number;
  /** `--profile`'s report of one extra step. */
  readonly profile?: StepProfileReport;
}

/** Options of {@link benchPreset}. */
export interface BenchOptions {
  readonly steps: number;
  readonly warmup: number;
  readonly batch?: number;
  readonly seq?: number;
  readonly backend: string;
  readonly kernels: BenchRow["kernels"];
  readonly adapter: string;
  /** Profile one extra step after the timed ones (see the module doc). */
  readonly profile?: boolean;
  /** Kernels listed by the profile (default 25). */
  readonly top?: number;
  /** `--micro R`: rows per micro-batch (gradient accumulation within the step); must divide the
   * batch. Default: the whole batch on webgpu, what fits the wasm heap on the CPU backends. */
  readonly micro?: number;
  /** `--by-shape`: the profile's kernel table groups by name and input shapes. */
  readonly byShape?: boolean;
  /** Check sizes against the device limits and trace the first step's GPU errors. */
  readonly diagnose?: boolean;
  /** Data-parallel CPU workers of the trainer (`TrainConfig.workers`); unset keeps its default. */
  readonly workers?: number;
  /** Where profile and diagnosis lines go (default console.log). */
  readonly log?: (line: string) => void;
  /** Called after each training step with its 1-based number (e.g. bench/gpu_host_profile.ts). */
  readonly onStep?: (step: number) => void;
}

// The backend's members read here (tfjs-backend-webgpu 4.22.0).
interface WebgpuInternals {
  device: GPUDevice;
  supportTimestampQuery: boolean;
}

function webgpuInternals(): WebgpuInternals | null {
  return tf.getBackend() === "webgpu" ? tf.backend() as unknown as WebgpuInternals : null;
}

/** Static patches of 4 after a BOS patch of 1, as the peer: [1, 4, 4, …, rest]. */
export function staticBenchPatches(seq: number): number[] {
  const out = [1];
  for (let left = seq - 1; left > 0; left -= 4) out.push(Math.min(4, left));
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Runs one preset and returns its row (median over the timed steps after warm-up). */
export async function benchPreset(preset: string, opts: BenchOptions): Promise<BenchRow> {
  const shape = BENCH_SHAPES[preset];
  if (shape === undefined) {
    throw new Error(
      `Unknown preset '${preset}'; benchmark presets: ${Object.keys(BENCH_SHAPES).join(", ")}`,
    );
  }
  const log = opts.log ?? console.log;
  const batch = opts.batch ?? shape.batch;
  const seq = opts.seq ?? shape.seq;
  const config: BltConfig = resolveConfig(preset as PresetName, {
    entropyModel: null,
    patching: { mode: "static", patchSize: 4 },
  });
  const gpu = webgpuInternals();
  // Model creation uploads nothing yet (weights reach the GPU in the first kernel using them),
  // so tracing from here through step 1 covers every first upload.
  const trace = opts.diagnose && gpu !== null ? traceKernelErrors(gpu.device, log) : null;
  try {
    return await runPreset(preset, opts, config, batch, seq, trace, log);
  } catch (e) {
    if (trace !== null) await reportTrace(trace, gpu!.device.limits, log, "failed step");
    throw e;
  } finally {
    trace?.stop();
  }
}

async function reportTrace(
  trace: KernelErrorTrace,
  limits: GPUSupportedLimits,
  log: (line: string) => void,
  when: string,
): Promise<void> {
  const errors = await trace.settle();
  trace.stop();
  const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  log(
    `diagnose (${when}): ${trace.kernels()} kernels traced, ${errors.length} GPU errors; ` +
      `tf.memory numBytes ${mem.numBytes}, numTensors ${mem.numTensors}` +
      (mem.numBytesInGPU === undefined ? "" : `, numBytesInGPU ${mem.numBytesInGPU}`),
  );
  if (errors.length > 0) {
    const e = errors[0];
    log(`diagnose: FIRST GPU ERROR (${e.kind}) in ${e.kernel}: ${e.message}`);
  }
  log("diagnose: largest kernel outputs of the traced step:");
  for (const line of bufferFindings(trace.largest(), limits)) log(`  ${line}`);
}

async function runPreset(
  preset: string,
  opts: BenchOptions,
  config: BltConfig,
  batch: number,
  seq: number,
  trace: KernelErrorTrace | null,
  log: (line: string) => void,
): Promise<BenchRow> {
  const model = createBlt(config, 0);
  let params = 0;
  const sized: SizedTensor[] = [];
  for (const [name, v] of model.namedVariables()) {
    params += v.size;
    sized.push({ name, shape: v.shape, bytes: v.size * 4 });
  }
  const gpu = webgpuInternals();
  if (opts.diagnose) {
    const limits = gpu?.device.limits;
    log(`diagnose ${preset}: ${sized.length} parameters, ${params} floats (${params * 4} bytes)`);
    const lines = limits === undefined
      ? [`largest: ${[...sized].sort((a, b) => b.bytes - a.bytes)[0]?.name} (no WebGPU device)`]
      : bufferFindings(sized, limits);
    for (const line of lines) log(`  ${line}`);
  }
  const rows = Array.from({ length: batch }, (_, b) => {
    const r = [1];
    for (let t = 1; t < seq; t++) r.push(4 + ((t * 2654435761 + b * 97) >>> 0) % 256);
    return r;
  });
  const pl = staticBenchPatches(seq);
  // On the CPU backends the batch runs as micro-batches with gradient accumulation, as
  // `deno task train` does: the tiny preset's 8×1024 batch in one piece overflows the wasm heap.
  // `--micro R`: R rows per micro-batch on any backend (e.g. the medium preset on an 80 GB GPU).
  if (opts.micro !== undefined && (!(opts.micro >= 1) || batch % opts.micro !== 0)) {
    throw new Error(
      `--micro ${opts.micro}: must be a whole number of rows dividing the batch ${batch}.`,
    );
  }
  const micro = opts.micro === undefined || opts.micro === batch
    ? microBatching(batch, seq, tf.getBackend(), {})
    : { batchSize: opts.micro, gradAccumulation: batch / opts.micro };
  const accumulate = micro.gradAccumulation ?? 1;
  const data = {
    batchAt: (i: number) => {
      const part = rows.slice(
        (i % accumulate) * micro.batchSize,
        (i % accumulate + 1) * micro.batchSize,
      );
      return { ids: part, patchLengths: part.map(() => pl) };
    },
  };
  if (accumulate > 1) {
    log(`${preset}: ${accumulate} micro-batches of ${micro.batchSize} rows per step`);
  }
  const meanPatch = (seq - 1) / (pl.length - 1);
  const flopsPerByte =
    bltFlopsPerByte(config, { meanPatchSize: meanPatch, contextBytes: seq }).training;
  const history: StepMetrics[] = [];
  let peak = 0;
  // --profile: step P+1 is counted (GPU calls, wall time), step P+2 runs under tf.profile.
  const P = opts.warmup + opts.steps;
  let counter: ReturnType<typeof countGpuCalls> | null = null;
  let counts: GpuCallCounts | null = null;
  let wallMs = 0;
  let finishProfile = () => {};
  let profiled: Promise<ProfiledKernels> | null = null;
  try {
    await train({
      model,
      data,
      config: {
        steps: P + (opts.profile ? 2 : 0),
        warmupSteps: 1,
        evalEvery: 0,
        checkpointEvery: 0,
        ...(accumulate > 1 ? { gradAccumulation: accumulate } : {}),
        ...(opts.workers === undefined ? {} : { workers: opts.workers }),
      },
      trainFlopsPerByte: flopsPerByte,
      callbacks: {
        onStep: async (m) => {
          history.push(m);
          opts.onStep?.(m.step);
          // tfjs-webgpu reports its buffer pool as numBytesAllocatedInGPU (used + free buffers).
          const mem = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
          peak = Math.max(peak, mem.numBytesAllocatedInGPU ?? mem.numBytes);
          if (trace !== null && m.step === 1) {
            await reportTrace(trace, gpu!.device.limits, log, "first step");
          }
          if (!opts.profile) return;
          if (m.step === P) counter = countGpuCalls();
          else if (m.step === P + 1) {
            counts = counter!.stop();
            wallMs = m.seconds * 1000;
            profiled = profileUntil(new Promise<void>((r) => (finishProfile = r)));
          } else if (m.step === P + 2) finishProfile();
        },
      },
    });
  } finally {
    (counter as ReturnType<typeof countGpuCalls> | null)?.stop();
    finishProfile();
  }
  let profile: StepProfileReport | undefined;
  if (profiled !== null) {
    const info: ProfiledKernels = await profiled;
    const mem = tf.memory() as tf.MemoryInfo & {
      numBytesInGPU?: number;
      numBytesAllocatedInGPU?: number;
    };
    profile = {
      counts: counts!,
      wallMs,
      kernels: summariseKernels(
        info.kernels,
        opts.top ?? 25,
        opts.byShape ?? false,
      ),
      timestampQuery: gpu?.supportTimestampQuery ?? false,
      memory: { numBytes: mem.numBytes, numTensors: mem.numTensors },
      gpuBytes: mem.numBytesInGPU === undefined
        ? undefined
        : { used: mem.numBytesInGPU, allocated: mem.numBytesAllocatedInGPU ?? 0 },
      peakBytes: info.peakBytes,
      newBytes: info.newBytes,
      newTensors: info.newTensors,
    };
    log(`profile ${preset} (${opts.backend}, ${opts.kernels} kernels, ${batch}×${seq}):`);
    for (const line of formatStepProfile(profile)) log(`  ${line}`);
  }
  const timed = history.slice(opts.warmup, P);
  const seconds = median(timed.map((m) => m.seconds));
  if (opts.backend === "webgpu") {
    const c = hostCacheStats();
    log(
      `${preset}: host caches ${c.enabled ? "on" : "off"}: uniforms ${c.uniformHits} hits / ` +
        `${c.uniformMisses} misses, bind groups ${c.bindGroupHits} / ${c.bindGroupMisses}, ` +
        `${c.uploads} uploads by writeBuffer (so far)`,
    );
  }
  const queueMs = median(timed.map((m) => (m.queueSeconds ?? NaN) * 1000));
  const readBackMs = median(timed.map((m) => (m.readBackSeconds ?? NaN) * 1000));
  log(
    `${preset}: per step (medians) ${(seconds * 1000).toFixed(1)} ms = host queueing forward, ` +
      `backward and clip ${queueMs.toFixed(1)} ms + until the read-back arrived (next batch ` +
      `prepared meanwhile) ${readBackMs.toFixed(1)} ms + the update and the rest ${
        (seconds * 1000 - queueMs - readBackMs).toFixed(1)
      } ms`,
  );
  const tflops = (flopsPerByte * batch * seq) / seconds / 1e12;
  const fp32Peak = FP32_PEAK_TFLOPS.find(([re]) => re.test(opts.adapter))?.[1] ?? null;
  for (const v of model.namedVariables().values()) v.dispose();
  model.dispose();
  return {
    preset,
    backend: opts.backend,
    kernels: opts.kernels,
    batch,
    seq,
    params,
    msPerStep: seconds * 1000,
    queueMs,
    readBackMs,
    bytesPerSecond: (batch * seq) / seconds,
    tflops,
    mfu: fp32Peak === null ? null : tflops / fp32Peak,
    peakGpuBytes: opts.backend === "webgpu" ? peak : null,
    loss: timed[timed.length - 1].loss,
    steps: timed.length,
    profile,
  };
}

/**
 * Lines describing the WebGPU adapter (info, features, limits) and the limits tfjs's device got
 * (tfjs asks for the adapter's maxStorageBufferBindingSize, maxBufferSize and a few others;
 * everything else stays at the WebGPU defaults).
 *
 * @example
 * ```ts
 * import { describeGpu } from "./train_bench.ts";
 * console.log((await describeGpu()).length > 0); // true
 * ```
 */
export async function describeGpu(): Promise<string[]> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (gpu === undefined) return ["diagnose: no navigator.gpu in this runtime"];
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) return ["diagnose: navigator.gpu has no adapter"];
  const i = adapter.info;
  const lines = [
    `diagnose: adapter "${i.description}" vendor ${i.vendor} device ${i.device} architecture ` +
    `"${i.architecture}" fallback ${i.isFallbackAdapter === true}`,
    `diagnose: adapter features: ${[...adapter.features].sort().join(", ")}`,
  ];
  const a = limitsRecord(adapter.limits);
  const d = webgpuInternals()?.device;
  const dl = d === undefined ? null : limitsRecord(d.limits);
  lines.push(
    d === undefined
      ? `diagnose: tfjs backend is '${tf.getBackend()}', not webgpu: no device limits`
      : `diagnose: tfjs device features: ${[...d.features].sort().join(", ")}`,
    "| limit | adapter | tfjs device |",
    "|---|---|---|",
  );
  for (const key of Object.keys(a).sort()) {
    const mark = dl !== null && dl[key] !== a[key] ? " (lower)" : "";
    lines.push(`| ${key} | ${a[key]} | ${dl === null ? "–" : `${dl[key]}${mark}`} |`);
  }
  lines.push(
    `diagnose: tfjs flags WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=${
      tf.env().getNumber("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE")
    } WEBGPU_CPU_FORWARD=${tf.env().getBool("WEBGPU_CPU_FORWARD")}`,
  );
  return lines;
}

/** A markdown row for bench/README.md. */
export function formatRow(r: BenchRow): string {
  const mb = r.peakGpuBytes === null ? "–" : `${(r.peakGpuBytes / 2 ** 20).toFixed(0)} MiB`;
  const mfu = r.mfu === null ? "–" : `${(100 * r.mfu).toFixed(1)}%`;
  return `| ${r.preset} | ${r.backend} (${r.kernels}) | ${r.batch}×${r.seq} | ${
    (r.params / 1e6).toFixed(1)
  }M | ` +
    `${r.msPerStep.toFixed(1)} | ${(r.bytesPerSecond / 1e3).toFixed(1)} kB/s | ${
      r.tflops.toFixed(2)
    } | ${mfu} | ${mb} |`;
}

if (import.meta.main) {
  const args = Deno.args;
  const presets = (arg(args, "presets") ?? "tiny").split(",");
  const steps = Number(arg(args, "steps") ?? 5);
  const warmup = Number(arg(args, "warmup") ?? 2);
  const batch = arg(args, "batch") === undefined ? undefined : Number(arg(args, "batch"));
  const seq = arg(args, "seq") === undefined ? undefined : Number(arg(args, "seq"));
  const stock = args.includes("--stock");
  const profile = args.includes("--profile");
  const diagnose = args.includes("--diagnose");
  const top = Number(arg(args, "top") ?? 25);
  const byShape = args.includes("--by-shape");
  const micro = arg(args, "micro") === undefined ? undefined : Number(arg(args, "micro"));
  const workers = arg(args, "workers") === undefined ? undefined : Number(arg(args, "workers"));
  let adapter = "cpu";
  const choice = await setupBackend({ log: (l) => console.log(l), gpuKernels: !stock });
  if (choice.backend === "webgpu") adapter = choice.reason;
  const kernels = choice.backend === "webgpu" ? (stock ? "stock" : "ours") : "n/a";
  if (diagnose) { for (const line of await describeGpu()) console.log(line); }
  if (args.includes("--no-host-cache")) setHostCaching(false);
  const layout = arg(args, "attn-layout");
  if (layout !== undefined) setAttentionLayout(layout as "bhtd" | "bthd");
  const mmForm = arg(args, "matmul-form");
  if (mmForm !== undefined) setMatmulForm(mmForm as MatmulForm);
  if (kernels === "ours") console.log(`matmul form: ${resolvedMatmulForm()}`);
  const tuningFile = arg(args, "attn-tuning");
  if (tuningFile !== undefined) {
    const best = (JSON.parse(await Deno.readTextFile(tuningFile)) as {
      best?: Record<string, AttnTuning>;
    }).best;
    if (best === undefined) throw new Error(`--attn-tuning ${tuningFile}: no "best" entry`);
    for (const [key, form] of Object.entries(best)) {
      const [kind, d] = key.split("@");
      setAttentionTuning(kind as AttnKernelKind, form, d === undefined ? undefined : Number(d));
    }
    console.log(`fused attention forms from ${tuningFile}: ${JSON.stringify(best)}`);
  }
  if (kernels === "ours") {
    const r = (["forward", "dq", "dkv"] as const).map((k) =>
      `${k} ${resolvedRowsPerThread(k, 32)}/${resolvedRowsPerThread(k, 64)}`
    );
    console.log(
      `fused attention rows per thread (headDim 32/64): ${
        r.join(", ")
      }; layout ${attentionLayout()}`,
    );
  }
  console.log(
    "| preset | backend | batch | params | ms/step | train bytes/s | TFLOP/s | MFU (fp32) | peak GPU mem |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  const rows: BenchRow[] = [];
  for (const p of presets) {
    try {
      const row = await benchPreset(p, {
        steps,
        warmup,
        batch,
        seq,
        backend: choice.backend,
        kernels,
        adapter,
        profile,
        top,
        byShape,
        micro,
        diagnose,
        workers,
      });
      rows.push(row);
      console.log(formatRow(row));
    } catch (e) {
      console.log(`| ${p} | failed: ${(e as Error).message.split("\n")[0]} |`);
    }
  }
  const json = arg(args, "json");
  if (json !== undefined) {
    await Deno.writeTextFile(
      json,
      JSON.stringify({ date: new Date().toISOString(), adapter, rows }, null, 1),
    );
  }
}
