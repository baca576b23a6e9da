/**
 * Sweep of the fused attention kernels' generated forms (`setAttentionTuning`: rows per thread,
 * workgroup size, split blocks, the forward's score chunk) on the presets' attention shapes,
 * causal, timed by the GPU itself (tf.profile's timestamp queries, median of `--runs`), each
 * form checked against the default form's outputs. Prints a table per shape and kernel and the
 * fastest form per kernel and head size (summed over the shapes with that head size); `--json F`
 * writes those as `{ "forward@32": {...}, ... }`, which `bench/train_bench.ts --attn-tuning F`
 * applies.
 *
 * usage: deno run -A bench/attention_sweep.ts [--runs 5] [--json out/attn_tuning.json] [--quick]
 *        [--first] [--kinds forward,dq,dkv]
 * On a GPU host bundle it: `deno bundle --platform deno -o .gpu/attention_sweep.js
 * bench/attention_sweep.ts`, then `deno run -A .gpu/attention_sweep.js`. `--quick`: tiny shapes in
 * the loop form, for the software adapter (a smoke run; its times mean nothing).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { attentionFlops, enableGpuKernels } from "../lib/gpu/mod.ts";
import {
  attentionBackwardDkv,
  attentionBackwardDq,
  attentionForward,
  type AttnKernelKind,
  type AttnTuning,
  clearAttentionTuning,
  setAttentionTuning,
  setAttentionUnrolled,
} from "../lib/gpu/attention.ts";

const args = Deno.args;
const quick = args.includes("--quick");
const argOf = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const runs = Number(argOf("--runs") ?? (quick ? 1 : 5));
const jsonPath = argOf("--json");
if (!Number.isInteger(runs) || runs < 1) {
  throw new Error(`bench/attention_sweep.ts: --runs takes a whole number ≥ 1, found ${runs}`);
}

/** The presets' attention shapes [B, H, T, headDim] (local layers: bytes; global: patches). */
const SHAPES: readonly { name: string; shape: [number, number, number, number] }[] = quick
  ? [
    { name: "quick local", shape: [2, 2, 300, 16] },
    { name: "quick global", shape: [2, 2, 90, 32] },
  ]
  : [
    { name: "small local", shape: [16, 8, 4096, 32] },
    { name: "small global", shape: [16, 8, 1025, 64] },
    { name: "medium local", shape: [16, 16, 4096, 32] },
    { name: "medium global", shape: [16, 16, 1025, 64] },
  ];

/**
 * Forms tried per kernel; `{}` is the default ("auto") form every other is compared with.
 * `--first`: the first sweep's list (18:31 UTC, against the unsplit 64-thread forms then default),
 * which chose `autoTuning`; the default list tries forms around that choice.
 */
const FIRST_FORMS: Record<AttnKernelKind, readonly AttnTuning[]> = {
  forward: [
    {},
    { split: true },
    { rows: 2, split: true, threads: 128 },
    { rows: 2, threads: 128 },
    { rows: 2, split: true, threads: 32 },
    { rows: 2, split: true, threads: 256 },
    { rows: 1, split: true },
    { rows: 1, split: true, threads: 128 },
    { rows: 1, split: true, scoreChunk: 4 },
    { rows: 2, split: true, scoreChunk: 4 },
  ],
  dq: [
    {},
    { split: true },
    { rows: 2, split: true },
    { rows: 2, split: true, threads: 128 },
    { rows: 1, split: true, threads: 128 },
    { rows: 2, split: true, threads: 32 },
    { rows: 1, split: true, threads: 32 },
  ],
  dkv: [
    {},
    { split: true },
    { rows: 1, split: true, threads: 128 },
    { rows: 1, split: true, threads: 32 },
    { rows: 1, split: true, threads: 256 },
    { rows: 2, split: true },
    { rows: 2, split: true, threads: 32 },
  ],
};
const FORMS: Record<AttnKernelKind, readonly AttnTuning[]> = args.includes("--first")
  ? FIRST_FORMS
  : {
    forward: [
      {},
      { rows: 2, split: true, threads: 128, scoreChunk: 4 },
      { rows: 2, split: true, threads: 128, scoreChunk: 16 },
      { rows: 1, split: true, threads: 128, scoreChunk: 4 },
      { rows: 1, split: true, threads: 128, scoreChunk: 2 },
      { rows: 1, split: true, scoreChunk: 2 },
      { rows: 1, split: true, scoreChunk: 8 },
      { rows: 2, split: true, threads: 64, scoreChunk: 8 },
    ],
    dq: [
      {},
      { rows: 2, split: true, threads: 256 },
      { rows: 1, split: true, threads: 256 },
      { rows: 1, split: true, threads: 128 },
      { rows: 2, split: true, threads: 128 },
    ],
    dkv: [
      {},
      { rows: 2, split: true, threads: 128 },
      { rows: 1, split: true, threads: 128 },
      { rows: 1, split: true, threads: 256 },
      { rows: 1, split: true },
      // dV and dK by two kernels (sixth session): fewer registers per key row.
      { rows: 1, split: true, parts: true },
      { rows: 1, split: true, threads: 128, parts: true },
    ],
  };
/** `--kinds forward,dq,dkv` (default all): the kernels to sweep. */
const KIND_LIST = (argOf("--kinds") ?? "forward,dq,dkv").split(",") as AttnKernelKind[];
for (const k of KIND_LIST) {
  if (!["forward", "dq", "dkv"].includes(k)) {
    throw new Error(`bench/attention_sweep.ts: --kinds takes forward, dq, dkv; found '${k}'`);
  }
}

const FLOP_FACTOR: Record<AttnKernelKind, number> = { forward: 1, dq: 1.5, dkv: 2 };

/** GPU milliseconds of one call (the sum of its kernels' timestamp-query times), median of n. */
async function gpuMs(fn: () => tf.Tensor[], n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const info = await tf.profile(() => fn());
    times.push(
      info.kernels.reduce(
        (a, k) => a + (typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0),
        0,
      ),
    );
    tf.dispose(info.result as tf.Tensor[]);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function maxDiff(a: tf.Tensor[], b: tf.Tensor[]): Promise<number> {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a[i], b[i]))));
    m = Math.max(m, (await d.data())[0]);
    d.dispose();
  }
  return m;
}

/** One row of the sweep. */
export interface SweepRow {
  readonly shape: string;
  readonly headDim: number;
  readonly kind: AttnKernelKind;
  readonly form: AttnTuning;
  readonly gpuMs: number;
  readonly tflops: number;
  readonly maxDiff: number;
  readonly error?: string;
}

await tf.setBackend("webgpu");
await tf.ready();
enableGpuKernels();
setAttentionUnrolled(!quick);
const info = (tf.backend() as unknown as { adapterInfo?: Record<string, unknown> }).adapterInfo;
console.log(`adapter: ${JSON.stringify(info ?? {})}; GPU ms = median of ${runs} profiled calls\n`);
console.log("| shape | kernel | form | GPU ms | TFLOP/s | vs default | max |Δ| vs default |");
console.log("|---|---|---|---|---|---|---|");
const rows: SweepRow[] = [];
for (const { name, shape } of SHAPES) {
  const [b, h, t, d] = shape;
  const q = tf.randomNormal(shape), k = tf.randomNormal(shape), v = tf.randomNormal(shape);
  const dO = tf.randomNormal(shape);
  clearAttentionTuning();
  const f0 = attentionForward(q, k, v);
  const stats = tf.tidy(() => tf.stack([f0.lse, tf.sum(tf.mul(dO, f0.out), -1)], -1));
  const calls: Record<AttnKernelKind, () => tf.Tensor[]> = {
    forward: () => {
      const { out, lse } = attentionForward(q, k, v);
      return [out, lse];
    },
    dq: () => [attentionBackwardDq(q, k, v, dO, stats)],
    dkv: () => attentionBackwardDkv(q, k, v, dO, stats),
  };
  for (const kind of KIND_LIST) {
    const flops = attentionFlops(b, h, t, d, true) * FLOP_FACTOR[kind];
    clearAttentionTuning();
    const base = calls[kind]();
    let baseMs = NaN;
    for (const form of FORMS[kind]) {
      clearAttentionTuning();
      setAttentionTuning(kind, form, d);
      const label = Object.keys(form).length === 0 ? "default" : JSON.stringify(form);
      try {
        const got = calls[kind]();
        const diff = await maxDiff(got, base);
        tf.dispose(got);
        const ms = await gpuMs(calls[kind], runs);
        if (Object.keys(form).length === 0) baseMs = ms;
        const row = {
          shape: name,
          headDim: d,
          kind,
          form,
          gpuMs: ms,
          tflops: flops / ms / 1e9,
          maxDiff: diff,
        };
        rows.push(row);
        console.log(
          `| ${name} [${shape}] | ${kind} | ${label} | ${ms.toFixed(3)} | ${
            row.tflops.toFixed(2)
          } | ${(baseMs / ms).toFixed(2)}× | ${diff.toExponential(1)} |`,
        );
      } catch (e) {
        const error = (e as Error).message.split("\n")[0];
        rows.push({
          shape: name,
          headDim: d,
          kind,
          form,
          gpuMs: NaN,
          tflops: NaN,
          maxDiff: NaN,
          error,
        });
        console.log(`| ${name} [${shape}] | ${kind} | ${label} | failed: ${error} | | | |`);
      }
    }
    tf.dispose(base);
  }
  tf.dispose([q, k, v, dO, stats, f0.out, f0.lse]);
}
clearAttentionTuning();

/** Fastest correct form per kernel and head size, by GPU ms summed over that head size's shapes. */
const best: Record<string, AttnTuning> = {};
console.log("\nfastest form per kernel and head size (GPU ms summed over the shapes):");
for (const kind of KIND_LIST) {
  for (const d of [...new Set(SHAPES.map((s) => s.shape[3]))]) {
    const sums = FORMS[kind].map((form) => {
      const mine = rows.filter((r) => r.kind === kind && r.headDim === d && r.form === form);
      const ok = mine.every((r) => Number.isFinite(r.gpuMs) && r.maxDiff < 1e-3);
      return { form, ms: ok ? mine.reduce((a, r) => a + r.gpuMs, 0) : Infinity };
    });
    sums.sort((a, b) => a.ms - b.ms);
    const def = sums.find((s) => Object.keys(s.form).length === 0)?.ms ?? NaN;
    best[`${kind}@${d}`] = sums[0].form;
    console.log(
      `  ${kind}@${d}: ${JSON.stringify(sums[0].form)} ${sums[0].ms.toFixed(2)} ms vs default ${
        def.toFixed(2)
      } ms`,
    );
  }
}
if (jsonPath !== undefined) {
  await Deno.writeTextFile(jsonPath, JSON.stringify({ best, rows }, null, 1));
  console.log(`wrote ${jsonPath}`);
}
