/**
 * Training memory of one BLT step: ONE forward + backward of the training loss (as
 * lib/train/loop.ts computes it: `tf.variableGrads` of loss × predictions) under `tf.profile`, on
 * the benchmark presets' shapes (bench/train_bench.ts: static 4-byte patches after a BOS patch,
 * random bytes), with `--batch`/`--seq` overrides so that a preset fits a CPU machine.
 *
 * usage: deno run -A bench/memory_bench.ts [--preset tiny|small|medium] [--batch B] [--seq T]
 *        [--backend cpu|wasm] [--top 25] [--json out/memory.json]
 *
 * Prints:
 * - tfjs's own counters: `tf.profile` peakBytes / newBytes. These count every tensor handle, so a
 *   reshape or a tensor kept for the backward pass (a clone sharing the data) counts twice.
 * - buffer bytes: the same run counted per data buffer (what a backend really holds), its peak,
 *   and the peak above the weights.
 * - the top kernels by output bytes (kernel, output shape, bytes of one output, count),
 *   forward and backward together;
 * - per model stage (hash embeddings, encoder with its pooling cross-attention, global, decoder
 *   with its cross-attentions, LM head, loss): buffer bytes still held at the stage's end (what
 *   the stage keeps for the backward pass) and bytes its kernels produced;
 * - the analytic expectation: activations a PyTorch-like implementation keeps for the backward
 *   pass (see {@link pytorchActivationBytes}).
 *
 * Tensor bytes do not depend on the backend, except where lib/gpu's fused kernels (webgpu only)
 * replace tf ops: on the CPU the self-attention materialises `[B, H, T, T]` scores (webgpu's fused
 * attention does not), and RMSNorm / RoPE / SwiGLU keep their elementwise intermediates. The
 * report lists the dense-score bytes separately so the GPU figure can be told apart.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "../lib/grad_fixes.ts";
import "../lib/wasm_kernels.ts";
import { type BltConfig, type PresetName, resolveConfig } from "../lib/config.ts";
import { createBlt, type ForwardStage } from "../lib/model/blt.ts";
import { nextByteLoss } from "../lib/model/loss.ts";
import { BENCH_SHAPES, staticBenchPatches } from "./train_bench.ts";

/** One row of the kernel table. */
export interface KernelRow {
  readonly kernel: string;
  readonly shape: readonly number[];
  /** Bytes of one output (float32/int32: 4 bytes an element). */
  readonly bytes: number;
  readonly count: number;
}

/** One model stage's bytes. */
export interface StageRow {
  readonly stage: string;
  /** Buffer bytes held at the stage's end minus at its start (kept for the backward pass). */
  readonly keptBytes: number;
  /** Output bytes of the kernels the stage ran. */
  readonly producedBytes: number;
}

/** What {@link measureStep} returns. */
export interface MemoryReport {
  readonly preset: string;
  readonly backend: string;
  readonly batch: number;
  readonly seq: number;
  readonly patches: number;
  readonly params: number;
  /** Weights' bytes (held before the step). */
  readonly weightBytes: number;
  /** `tf.profile`'s peakBytes and newBytes (tensor handles, aliases counted again). */
  readonly profilePeakBytes: number;
  readonly profileNewBytes: number;
  /** Peak of bytes in distinct data buffers during the step, and that peak minus the weights. */
  readonly bufferPeakBytes: number;
  readonly bufferPeakAboveWeights: number;
  /** Buffer bytes held when the forward pass ended (activations kept for backward + loss). */
  readonly keptAfterForward: number;
  /** Output bytes of `[B, H, T, T]`-shaped kernels (dense attention scores; not on webgpu). */
  readonly denseScoreBytes: number;
  readonly kernels: readonly KernelRow[];
  readonly stages: readonly StageRow[];
  readonly pytorchBytes: number;
  readonly loss: number;
  readonly seconds: number;
}

interface EngineInternals {
  state: {
    activeProfile: { kernels: { outputShapes: number[][]; name: string }[] };
    tensorInfo: { has(id: object): boolean; get(id: object): { bytes: number } | undefined };
  };
  trackTensor(a: tf.Tensor, backend: unknown): void;
  removeDataId(id: object, backend: unknown): void;
}

/** Counts bytes per distinct data buffer by watching the engine register and free buffers. */
function watchBuffers(): {
  bytes: () => number;
  peak: () => number;
  reset: () => void;
  stop: () => void;
} {
  const engine = tf.engine() as unknown as EngineInternals;
  const track = engine.trackTensor, remove = engine.removeDataId;
  let bytes = 0, peak = 0;
  for (const v of Object.values(tf.engine().registeredVariables)) bytes += v.size * 4;
  engine.trackTensor = function (a: tf.Tensor, backend: unknown) {
    const fresh = !engine.state.tensorInfo.has(a.dataId);
    track.call(engine, a, backend);
    if (fresh) {
      bytes += engine.state.tensorInfo.get(a.dataId)?.bytes ?? 0;
      if (bytes > peak) peak = bytes;
    }
  };
  engine.removeDataId = function (id: object, backend: unknown) {
    bytes -= engine.state.tensorInfo.get(id)?.bytes ?? 0;
    remove.call(engine, id, backend);
  };
  return {
    bytes: () => bytes,
    peak: () => peak,
    reset: () => void (peak = bytes),
    stop: () => {
      engine.trackTensor = track;
      engine.removeDataId = remove;
    },
  };
}

/**
 * Activations a PyTorch-like implementation (autograd frees as it goes, SDPA attention, fp32)
 * keeps for the backward pass, in bytes. Per token and transformer layer of width h and SwiGLU
 * width F: 10h + 4F floats (norm input and normed output ×2 norms, q and k before and after RoPE,
 * v, attention output; gate, up, silu(gate), their product). Per byte and cross-attention: 6h
 * (normed queries, q, output, and the k/v slots it reads, shared per patch) — an estimate that
 * counts the k per-byte slots once. Plus hash embeddings (h), logits and log-probs (2·260).
 *
 * @example
 * ```ts
 * import { pytorchActivationBytes } from "./memory_bench.ts";
 * import { PRESETS } from "../lib/config.ts";
 * console.log(pytorchActivationBytes(PRESETS.tiny, 8, 1024, 257) > 0); // true
 * ```
 */
export function pytorchActivationBytes(
  cfg: BltConfig,
  batch: number,
  seq: number,
  patches: number,
): number {
  const layer = (h: number, f: number) => 10 * h + 4 * f;
  const e = cfg.encoder, g = cfg.global, d = cfg.decoder;
  const decCross = !d.crossAttn ? 0 : d.crossAttnAllLayers ? d.layers : 1;
  const encCross = e.crossAttn ? 1 : 0;
  const perByte = e.layers * layer(e.dim, e.ffnDim) + d.layers * layer(d.dim, d.ffnDim) +
    decCross * 6 * d.dim + e.dim + 2 * d.dim + 2 * cfg.vocabSize;
  const perPatch = g.layers * layer(g.dim, g.ffnDim) +
    encCross * 6 * e.dim * cfg.crossAttnK + cfg.crossAttnK * d.dim;
  return 4 * batch * (seq * perByte + patches * perPatch);
}

function lcgBytes(batch: number, seq: number, seed: number): number[][] {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  return Array.from({ length: batch }, () => {
    const row = [1];
    for (let t = 1; t < seq; t++) row.push(4 + (next() >>> 24));
    return row;
  });
}

/**
 * tfjs-backend-cpu's UnsortedSegmentSum (the gradient of `tf.gather`) loops over the segments
 * with a mask each: minutes for a hash table's gradient. Same sums with one pass, so that the
 * cpu backend can measure real shapes; bytes are unchanged.
 */
function fastCpuSegmentSum(): void {
  const stock = tf.getKernel("UnsortedSegmentSum", "cpu");
  if (stock === undefined) return;
  tf.unregisterKernel("UnsortedSegmentSum", "cpu");
  tf.registerKernel({
    ...stock,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const { numSegments } = attrs as unknown as { numSegments: number };
      const cpu = backend as unknown as {
        data: { get(id: object): { values: Float32Array | Int32Array } };
        makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
      };
      const xs = cpu.data.get(x.dataId).values, ids = cpu.data.get(segmentIds.dataId).values;
      const rest = x.shape.slice(segmentIds.shape.length);
      const inner = rest.reduce((a, n) => a * n, 1);
      const out = new Float32Array(numSegments * inner);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (id < 0 || id >= numSegments) continue;
        const from = i * inner, to = id * inner;
        for (let j = 0; j < inner; j++) out[to + j] += xs[from + j];
      }
      return cpu.makeTensorInfo([numSegments, ...rest], x.dtype, out);
    },
  });
}

const shapeBytes = (shape: readonly number[]) => 4 * shape.reduce((a, n) => a * n, 1);

/** Runs one profiled forward + backward of `preset` at `batch × seq` on the current backend. */
export async function measureStep(
  preset: PresetName,
  batch: number,
  seq: number,
  top = 25,
): Promise<MemoryReport> {
  const config = resolveConfig(preset, {
    entropyModel: null,
    patching: { mode: "static", patchSize: 4 },
  });
  const model = createBlt(config, 0);
  const ids = lcgBytes(batch, seq, 1);
  const lengths = ids.map(() => staticBenchPatches(seq));
  const P = lengths[0].length;
  const vars = [...model.namedVariables().values()];
  const params = vars.reduce((a, v) => a + v.size, 0);
  const engine = tf.engine() as unknown as EngineInternals;
  const buffers = watchBuffers();
  const weightBytes = buffers.bytes();
  const marks: { stage: string; kernels: number; bytes: number }[] = [];
  const mark = (stage: string) =>
    marks.push({
      stage,
      kernels: engine.state.activeProfile.kernels.length,
      bytes: buffers.bytes(),
    });
  let loss = NaN, keptAfterForward = 0;
  const start = performance.now();
  buffers.reset();
  const info = await tf.profile(() => {
    mark("start");
    const { value, grads } = tf.variableGrads(() => {
      const r = nextByteLoss(
        () =>
          model.forward(ids, {
            patchLengths: lengths,
            onStage: (s: ForwardStage) => mark(s),
          }).logits,
        { ids, patchLengths: lengths },
      );
      const scaled = tf.mul(r.loss, r.predictions) as tf.Scalar;
      r.loss.dispose();
      mark("loss");
      keptAfterForward = buffers.bytes() - weightBytes;
      return scaled;
    }, vars);
    mark("backward");
    loss = value.dataSync()[0] / (batch * (seq - 1));
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
  });
  const seconds = (performance.now() - start) / 1000;
  const bufferPeakBytes = buffers.peak();
  buffers.stop();
  model.dispose();

  const rows = new Map<string, { kernel: string; shape: number[]; bytes: number; count: number }>();
  let denseScoreBytes = 0;
  const heads = new Set([config.encoder.heads, config.global.heads, config.decoder.heads]);
  for (const k of info.kernels) {
    for (const shape of k.outputShapes) {
      const key = `${k.name} ${shape.join("x")}`;
      const row = rows.get(key) ?? { kernel: k.name, shape, bytes: shapeBytes(shape), count: 0 };
      row.count++;
      rows.set(key, row);
      const [b, h, q, s] = shape;
      if (shape.length === 4 && b === batch && heads.has(h) && q === s && (q === seq || q === P)) {
        denseScoreBytes += shapeBytes(shape);
      }
    }
  }
  const kernels = [...rows.values()].sort((a, b) => b.bytes * b.count - a.bytes * a.count)
    .slice(0, top);
  const stages: StageRow[] = [];
  for (let i = 1; i < marks.length; i++) {
    let produced = 0;
    for (const k of info.kernels.slice(marks[i - 1].kernels, marks[i].kernels)) {
      for (const s of k.outputShapes) produced += shapeBytes(s);
    }
    stages.push({
      stage: marks[i].stage === "lm_head" ? "lm head" : marks[i].stage,
      keptBytes: marks[i].bytes - marks[i - 1].bytes,
      producedBytes: produced,
    });
  }
  return {
    preset,
    backend: tf.getBackend(),
    batch,
    seq,
    patches: P,
    params,
    weightBytes,
    profilePeakBytes: info.peakBytes,
    profileNewBytes: info.newBytes,
    bufferPeakBytes,
    bufferPeakAboveWeights: bufferPeakBytes - weightBytes,
    keptAfterForward,
    denseScoreBytes,
    kernels,
    stages,
    pytorchBytes: pytorchActivationBytes(config, batch, seq, P),
    loss,
    seconds,
  };
}

const GB = (n: number) => `${(n / 1e9).toFixed(3)} GB`;

/** The report as text lines. */
export function formatReport(r: MemoryReport): string[] {
  const out = [
    `preset ${r.preset} ${r.batch}x${r.seq} (P=${r.patches} patches), backend ${r.backend}, ` +
    `${r.params} params (${GB(r.weightBytes)}), loss ${r.loss.toFixed(4)}, ${
      r.seconds.toFixed(1)
    } s`,
    `tf.profile: peakBytes ${GB(r.profilePeakBytes)}, newBytes ${GB(r.profileNewBytes)} ` +
    `(tensor handles; aliases count again)`,
    `buffers: peak ${GB(r.bufferPeakBytes)}, peak above weights ${
      GB(r.bufferPeakAboveWeights)
    }, kept after forward ${GB(r.keptAfterForward)}`,
    `dense [B,H,T,T] score outputs (CPU path only; fused on webgpu): ${GB(r.denseScoreBytes)}`,
    `PyTorch-like activations kept for backward (estimate): ${GB(r.pytorchBytes)}`,
    "",
    "stage        kept for backward   kernel outputs",
  ];
  for (const s of r.stages) {
    out.push(
      `${s.stage.padEnd(12)} ${GB(s.keptBytes).padStart(16)}   ${GB(s.producedBytes).padStart(14)}`,
    );
  }
  out.push("", `top ${r.kernels.length} kernels by output bytes (bytes of one output × count):`);
  for (const k of r.kernels) {
    out.push(
      `  ${k.kernel.padEnd(22)} ${`[${k.shape.join(",")}]`.padEnd(22)} ${
        GB(k.bytes).padStart(12)
      } ×${String(k.count).padStart(4)} = ${GB(k.bytes * k.count)}`,
    );
  }
  return out;
}

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = Deno.args;
  const preset = (arg(args, "preset") ?? "tiny") as PresetName;
  const shape = BENCH_SHAPES[preset];
  if (shape === undefined) {
    throw new Error(
      `Unknown preset '${preset}'; use one of ${Object.keys(BENCH_SHAPES).join(", ")}`,
    );
  }
  const backend = arg(args, "backend") ?? "cpu";
  if (!["cpu", "wasm"].includes(backend)) {
    throw new Error(
      `--backend must be cpu or wasm (tensor bytes do not depend on it), found ${backend}`,
    );
  }
  await tf.setBackend(backend);
  await tf.ready();
  fastCpuSegmentSum();
  const num = (name: string, fallback: number) => {
    const v = Number(arg(args, name) ?? fallback);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer`);
    return v;
  };
  const report = await measureStep(
    preset,
    num("batch", shape.batch),
    num("seq", shape.seq),
    num("top", 25),
  );
  for (const line of formatReport(report)) console.log(line);
  const json = arg(args, "json");
  if (json !== undefined) await Deno.writeTextFile(json, JSON.stringify(report, null, 2));
}
