/**
 * Training-step throughput of our BLT on the chosen tfjs backend, on the presets the PyTorch peer
 * (`../shared/bench/hf_blt_peer.py`) measures: same shapes, static 4-byte patches (first patch 1),
 * random bytes, AdamW + clipping through the real trainer (`lib/train`).
 *
 * usage: deno task bench [--presets tiny,small,medium] [--steps 5] [--warmup 2] [--stock]
 *        [--batch B] [--seq T] [--json out/bench.json]
 * Backend: automatic (webgpu on a real GPU, else wasm), or `BLT_BACKEND=wasm|webgpu|cpu`.
 * `--stock` keeps tfjs's own webgpu kernels (no lib/gpu kernels), for the before/after column.
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
import type { StepMetrics } from "../lib/train/loop.ts";

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
  readonly bytesPerSecond: number;
  readonly tflops: number;
  readonly mfu: number | null;
  readonly peakGpuBytes: number | null;
  readonly loss: number;
  readonly steps: number;
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
export async function benchPreset(
  preset: string,
  opts: {
    steps: number;
    warmup: number;
    batch?: number;
    seq?: number;
    backend: string;
    kernels: BenchRow["kernels"];
    adapter: string;
  },
): Promise<BenchRow> {
  const shape = BENCH_SHAPES[preset];
  if (shape === undefined) {
    throw new Error(
      `Unknown preset '${preset}'; benchmark presets: ${Object.keys(BENCH_SHAPES).join(", ")}`,
    );
  }
  const batch = opts.batch ?? shape.batch;
  const seq = opts.seq ?? shape.seq;
  const config: BltConfig = resolveConfig(preset as PresetName, {
    entropyModel: null,
    patching: { mode: "static", patchSize: 4 },
  });
  const model = createBlt(config, 0);
  let params = 0;
  for (const v of model.namedVariables().values()) params += v.size;
  const rows = Array.from({ length: batch }, (_, b) => {
    const r = [1];
    for (let t = 1; t < seq; t++) r.push(4 + ((t * 2654435761 + b * 97) >>> 0) % 256);
    return r;
  });
  const pl = staticBenchPatches(seq);
  const data = { batchAt: () => ({ ids: rows, patchLengths: rows.map(() => pl) }) };
  const meanPatch = (seq - 1) / (pl.length - 1);
  const flopsPerByte =
    bltFlopsPerByte(config, { meanPatchSize: meanPatch, contextBytes: seq }).training;
  const history: StepMetrics[] = [];
  let peak = 0;
  await train({
    model,
    data,
    config: { steps: opts.warmup + opts.steps, warmupSteps: 1, evalEvery: 0, checkpointEvery: 0 },
    trainFlopsPerByte: flopsPerByte,
    callbacks: {
      onStep: (m) => {
        history.push(m);
        const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPUAllocated?: number };
        peak = Math.max(peak, mem.numBytesInGPUAllocated ?? mem.numBytes);
      },
    },
  });
  const timed = history.slice(opts.warmup);
  const seconds = median(timed.map((m) => m.seconds));
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
    bytesPerSecond: (batch * seq) / seconds,
    tflops,
    mfu: fp32Peak === null ? null : tflops / fp32Peak,
    peakGpuBytes: opts.backend === "webgpu" ? peak : null,
    loss: timed[timed.length - 1].loss,
    steps: timed.length,
  };
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
  let adapter = "cpu";
  const choice = await setupBackend({ log: (l) => console.log(l), gpuKernels: !stock });
  if (choice.backend === "webgpu") adapter = choice.reason;
  const kernels = choice.backend === "webgpu" ? (stock ? "stock" : "ours") : "n/a";
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
