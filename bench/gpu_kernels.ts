/**
 * Micro-benchmark of our WGSL kernels against tfjs's stock webgpu kernels: GFLOP/s of the matmul
 * shapes of the small/medium presets (forward and the two gradient products), then the fused
 * attention kernels (forward, dQ, dK/dV, and forward+backward through tf.grads) in both WGSL
 * forms (loops / unrolled, `setAttentionUnrolled`) against plain tfjs on the presets' attention
 * shapes. With `--rows-per-thread 1,2,4` the attention table instead compares those rows per
 * thread (`setAttentionRowsPerThread`, unrolled form): ms, TFLOP/s, speed-up and max |Δ| against
 * R = 1. Needs a WebGPU adapter (`navigator.gpu`).
 *
 *   deno run -A bench/gpu_kernels.ts                    # full shapes (a real GPU)
 *   deno run -A bench/gpu_kernels.ts --only attention   # attention only (or --only matmul)
 *   deno run -A bench/gpu_kernels.ts --quick            # tiny shapes (software adapter smoke run)
 *   deno run -A bench/gpu_kernels.ts --only attention --rows-per-thread 1,2,4
 *   deno bundle --platform deno -o .gpu/gpu_kernels.js bench/gpu_kernels.ts &&
 *     deno run -A .gpu/gpu_kernels.js --only attention
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import {
  attentionFlops,
  enableGpuKernels,
  matmulFlops,
  referenceAttention,
  stockMatMul,
  timeKernel,
} from "../lib/gpu/mod.ts";
import {
  attentionBackwardDkv,
  attentionBackwardDq,
  attentionForward,
  attentionRowsPerThread,
  attentionUnrolled,
  type AttnRowsPerThread,
  fusedAttention,
  setAttentionRowsPerThread,
  setAttentionScoreChunk,
  setAttentionUnrolled,
} from "../lib/gpu/attention.ts";
import { attnBlock } from "../lib/gpu/attention_wgsl.ts";

interface MatmulCase {
  readonly name: string;
  readonly a: number[];
  readonly b: number[];
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

/** x·W, dY·Wᵀ (input grad) and xᵀ·dY (weight grad) for a [rows, k] × [k, n] layer. */
function layerCases(label: string, rows: number, k: number, n: number): MatmulCase[] {
  return [
    { name: `${label} fwd`, a: [rows, k], b: [k, n], transposeA: false, transposeB: false },
    { name: `${label} dX`, a: [rows, n], b: [k, n], transposeA: false, transposeB: true },
    { name: `${label} dW`, a: [rows, k], b: [rows, n], transposeA: true, transposeB: false },
  ];
}

function flopsOf(c: MatmulCase): number {
  const m = c.transposeA ? c.a[1] : c.a[0];
  const k = c.transposeA ? c.a[0] : c.a[1];
  const n = c.transposeB ? c.b[0] : c.b[1];
  return matmulFlops(m, n, k);
}

const quick = Deno.args.includes("--quick");
const onlyAt = Deno.args.indexOf("--only");
const only = onlyAt < 0 ? "all" : Deno.args[onlyAt + 1];
if (!["all", "matmul", "attention", "elementwise"].includes(only)) {
  throw new Error(
    `bench/gpu_kernels.ts: --only takes 'matmul', 'attention' or 'elementwise', found '${only}'.`,
  );
}
const rowsAt = Deno.args.indexOf("--rows-per-thread");
const rowsList: AttnRowsPerThread[] | undefined = rowsAt < 0 ? undefined : (() => {
  const list = (Deno.args[rowsAt + 1] ?? "").split(",").map(Number);
  if (list.length === 0 || list.some((r) => r !== 1 && r !== 2 && r !== 4)) {
    throw new Error(
      `bench/gpu_kernels.ts: --rows-per-thread takes a comma list of 1, 2, 4, found '${
        Deno.args[rowsAt + 1]
      }'.`,
    );
  }
  return list as AttnRowsPerThread[];
})();
const chunksAt = Deno.args.indexOf("--chunks");
const chunkList: number[] | undefined = chunksAt < 0
  ? undefined
  : (Deno.args[chunksAt + 1] ?? "").split(",").map(Number);
if (chunkList !== undefined && chunkList.some((c) => !Number.isInteger(c) || c < 1)) {
  throw new Error(`bench/gpu_kernels.ts: --chunks takes whole numbers, e.g. 4,8,16,32.`);
}
if (!(await tf.setBackend("webgpu"))) {
  throw new Error("bench/gpu_kernels.ts: tfjs could not start the 'webgpu' backend.");
}
enableGpuKernels();
const iters = quick ? 2 : 20;
// small preset: 16 × 4096 bytes, h_E = 256; medium: h_E = 512; global model rows ≈ bytes / 4.5.
async function benchMatmul(): Promise<void> {
  const cases = quick ? layerCases("quick [256,64]x[64,96]", 256, 64, 96) : [
    ...layerCases("small enc qkv [65536,256]x[256,768]", 16 * 4096, 256, 768),
    ...layerCases("small enc mlp [65536,256]x[256,1024]", 16 * 4096, 256, 1024),
    ...layerCases("medium enc qkv [65536,512]x[512,1536]", 16 * 4096, 512, 1536),
    ...layerCases("medium global mlp [14592,1024]x[1024,4096]", 14592, 1024, 4096),
  ];

  console.log("| case | stock ms | stock GFLOP/s | ours ms | ours GFLOP/s | speed-up | max |Δ| |");
  console.log("|---|---|---|---|---|---|---|");
  for (const c of cases) {
    const a = tf.randomNormal(c.a), b = tf.randomNormal(c.b);
    const flops = flopsOf(c);
    const stock = await timeKernel(() => stockMatMul(a, b, c.transposeA, c.transposeB), {
      flops,
      iters,
    });
    const ours = await timeKernel(() => tf.matMul(a, b, c.transposeA, c.transposeB), {
      flops,
      iters,
    });
    const diff = tf.tidy(() =>
      tf.max(tf.abs(tf.sub(
        tf.matMul(a, b, c.transposeA, c.transposeB),
        stockMatMul(a, b, c.transposeA, c.transposeB),
      )))
    );
    const d = (await diff.data())[0];
    console.log(
      `| ${c.name} | ${stock.ms.toFixed(3)} | ${stock.gflops.toPrecision(3)} | ${
        ours.ms.toFixed(3)
      } | ` +
        `${ours.gflops.toPrecision(3)} | ${(stock.ms / ours.ms).toFixed(2)}× | ${
          d.toExponential(1)
        } |`,
    );
    tf.dispose([a, b, diff]);
  }
}

/** One attention shape of a preset: [B, heads, T, headDim], causal as the presets train. */
interface AttnCase {
  readonly name: string;
  readonly shape: readonly [number, number, number, number];
}

// bench/train_bench.ts's batches (tiny 8×1024, small and medium 16×4096) with its static 4-byte
// patches (global T = 1 + ⌈(T − 1)/4⌉); heads and head sizes from lib/config.ts's presets.
const attnCases: readonly AttnCase[] = quick
  ? [{ name: "quick", shape: [1, 2, 100, 16] }] // headDim 16: the software adapter compiles
  // the forward at headDim 32/64 in 15–220 s per form
  : [
    { name: "tiny enc/dec", shape: [8, 4, 1024, 32] },
    { name: "tiny global", shape: [8, 4, 257, 64] },
    { name: "small enc/dec", shape: [16, 8, 4096, 32] },
    { name: "small global", shape: [16, 8, 1025, 64] },
    { name: "medium enc/dec", shape: [16, 16, 4096, 32] },
    { name: "medium global", shape: [16, 16, 1025, 64] },
  ];

/** Largest [B, H, T, T] f32 score tensor plain tfjs gets here (it is timed on a slice). */
const STOCK_SCORE_BYTES = 2 ** 28;

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const x = (await d.data())[0];
  d.dispose();
  return x;
}

const fmtMs = (ms: number) => ms.toFixed(3);

async function benchAttention(): Promise<void> {
  console.log(
    "\nfused attention, causal; ms per call (FLOPs: QKᵀ and PV over the causal half; backward" +
      " kernels recompute P, so dQ and dK/dV each count 1.5× and 2× of that)",
  );
  console.log(
    "| shape | kernel | loops ms | unrolled ms | loops/unrolled | unrolled TFLOP/s | " +
      "plain tfjs ms | max |Δ| unrolled vs loops |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  const initial = attentionUnrolled();
  for (const c of attnCases) {
    const [b, h, t, d] = c.shape;
    const q = tf.randomNormal([...c.shape]), k = tf.randomNormal([...c.shape]);
    const v = tf.randomNormal([...c.shape]), dO = tf.randomNormal([...c.shape]);
    const flops = attentionFlops(b, h, t, d, true);
    const timings = new Map<string, number[]>();
    const diffs = new Map<string, number>();
    const outputs: tf.Tensor[][] = [];
    for (const unrolled of [false, true]) {
      setAttentionUnrolled(unrolled);
      const { out, lse } = attentionForward(q, k, v);
      const stats = tf.tidy(() => tf.stack([lse, tf.sum(tf.mul(dO, out), -1)], -1));
      const grad = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.sum(tf.mul(fusedAttention(x, y, z), dO))
      );
      const kernels: [string, () => tf.Tensor | tf.Tensor[], number][] = [
        ["forward", () => attentionForward(q, k, v).out, flops],
        ["dQ", () => attentionBackwardDq(q, k, v, dO, stats), 1.5 * flops],
        ["dK/dV", () => attentionBackwardDkv(q, k, v, dO, stats), 2 * flops],
        ["forward+backward (tf.grads)", () => grad([q, k, v]), 4.5 * flops],
      ];
      for (const [name, fn, f] of kernels) {
        const r = await timeKernel(fn, { flops: f, iters });
        timings.set(name, [...(timings.get(name) ?? []), r.ms, r.tflops]);
      }
      const dq = attentionBackwardDq(q, k, v, dO, stats);
      const [dk, dv] = attentionBackwardDkv(q, k, v, dO, stats);
      outputs.push([out, dq, dk, dv]);
      tf.dispose([lse, stats]);
    }
    const names = ["forward", "dQ", "dK/dV", "dK/dV"];
    for (let i = 0; i < 4; i++) {
      const x = await maxDiff(outputs[0][i], outputs[1][i]);
      diffs.set(names[i], Math.max(diffs.get(names[i]) ?? 0, x));
    }
    tf.dispose(outputs.flat());
    // Plain tfjs on the largest slice of heads whose [T, T] scores stay within STOCK_SCORE_BYTES.
    const n = Math.max(1, Math.min(b * h, Math.floor(STOCK_SCORE_BYTES / (t * t * 4))));
    const slice = (x: tf.Tensor) => tf.reshape(x, [b * h, t, d]).slice(0, n).reshape([1, n, t, d]);
    const [sq, sk, sv, sdo] = [q, k, v, dO].map(slice);
    const stockGrad = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
      tf.sum(tf.mul(referenceAttention(x, y, z), sdo))
    );
    const stockFwd = await timeKernel(() => referenceAttention(sq, sk, sv), { iters });
    const stockFb = await timeKernel(() => stockGrad([sq, sk, sv]), { iters });
    const scaleUp = (b * h) / n;
    const stockNote = (ms: number) =>
      n === b * h
        ? fmtMs(ms)
        : `${fmtMs(ms)} for ${n} of ${b * h} heads (×${scaleUp} ≈ ${fmtMs(ms * scaleUp)})`;
    for (const [name, [lms, , ums, utf]] of timings) {
      const stock = name === "forward"
        ? stockNote(stockFwd.ms)
        : name.startsWith("forward+")
        ? stockNote(stockFb.ms)
        : "–";
      const diff = diffs.get(name);
      console.log(
        `| ${c.name} [${c.shape}] | ${name} | ${fmtMs(lms)} | ${fmtMs(ums)} | ${
          (lms / ums).toFixed(2)
        }× | ${utf.toPrecision(3)} | ${stock} | ${
          diff === undefined ? "–" : diff.toExponential(1)
        } |`,
      );
    }
    tf.dispose([q, k, v, dO, sq, sk, sv, sdo]);
  }
  setAttentionUnrolled(initial);
}

/** The fused kernels' outputs [out, dQ, dK, dV] at the current settings. */
function attnOutputs(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, dO: tf.Tensor, stats: tf.Tensor) {
  const { out, lse } = attentionForward(q, k, v);
  lse.dispose();
  return [
    out,
    attentionBackwardDq(q, k, v, dO, stats),
    ...attentionBackwardDkv(q, k, v, dO, stats),
  ];
}

/**
 * Rows per thread (`setAttentionRowsPerThread`) compared on the unrolled kernels: ms, TFLOP/s,
 * speed-up over R = 1 and max |Δ| of out, dQ, dK/dV against R = 1.
 */
async function benchAttentionRows(list: readonly AttnRowsPerThread[]): Promise<void> {
  console.log(
    "\nfused attention (unrolled), causal, rows per thread R; ms per call (FLOPs as in the" +
      " loops/unrolled table: dQ and dK/dV count 1.5× and 2× the forward's)",
  );
  console.log("| shape | kernel | R | ms | TFLOP/s | speed-up vs R=1 | max |Δ| vs R=1 |");
  console.log("|---|---|---|---|---|---|---|");
  const initial = [attentionUnrolled(), attentionRowsPerThread()] as const;
  setAttentionUnrolled(true);
  for (const c of attnCases) {
    const [b, h, t, d] = c.shape;
    const q = tf.randomNormal([...c.shape]), k = tf.randomNormal([...c.shape]);
    const v = tf.randomNormal([...c.shape]), dO = tf.randomNormal([...c.shape]);
    const flops = attentionFlops(b, h, t, d, true);
    setAttentionRowsPerThread(1);
    const { out, lse } = attentionForward(q, k, v);
    const stats = tf.tidy(() => tf.stack([lse, tf.sum(tf.mul(dO, out), -1)], -1));
    tf.dispose([out, lse]);
    const baseline = attnOutputs(q, k, v, dO, stats);
    const kernels: [string, () => tf.Tensor | tf.Tensor[], number, number[]][] = [
      ["forward", () => attentionForward(q, k, v).out, flops, [0]],
      ["dQ", () => attentionBackwardDq(q, k, v, dO, stats), 1.5 * flops, [1]],
      ["dK/dV", () => attentionBackwardDkv(q, k, v, dO, stats), 2 * flops, [2, 3]],
    ];
    const oneMs = new Map<string, number>();
    for (const r of list) {
      setAttentionRowsPerThread(r);
      const outs = attnOutputs(q, k, v, dO, stats);
      for (const [name, fn, f, which] of kernels) {
        const res = await timeKernel(fn, { flops: f, iters });
        if (r === 1) oneMs.set(name, res.ms);
        let diff = 0;
        for (const i of which) diff = Math.max(diff, await maxDiff(outs[i], baseline[i]));
        const one = oneMs.get(name);
        console.log(
          `| ${c.name} [${c.shape}] | ${name} | ${r} | ${fmtMs(res.ms)} | ${
            res.tflops.toPrecision(3)
          } | ${one === undefined ? "–" : `${(one / res.ms).toFixed(2)}×`} | ${
            which.length === 0 ? "–" : diff.toExponential(1)
          } |`,
        );
      }
      tf.dispose(outs);
    }
    tf.dispose([q, k, v, dO, stats, ...baseline]);
  }
  setAttentionUnrolled(initial[0]);
  setAttentionRowsPerThread(initial[1]);
}

/** Median GPU time (ms) of the single kernel `fn` runs, from tf.profile's timestamp queries. */
async function kernelGpuMs(fn: () => tf.Tensor, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const info = await tf.profile(() => fn());
    const ms = info.kernels
      .map((k) => k.kernelTimeMs)
      .reduce((a: number, b) => a + (typeof b === "number" ? b : 0), 0);
    times.push(ms);
    tf.dispose(info.result as tf.Tensor);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Memory bandwidth of tfjs's elementwise kernels (we register none of our own): bytes read and
 * written per call over (a) the GPU time of the kernel alone (tf.profile's timestamp queries,
 * median of the runs) and (b) wall time of `iters` queued calls, which includes the host's
 * per-op overhead and the buffer pool.
 */
async function benchElementwise(): Promise<void> {
  const sizes = quick ? [1 << 12] : [1 << 20, 1 << 24, 1 << 26];
  console.log("| op | elements | GPU ms (timestamps) | GB/s (GPU) | wall ms | GB/s (wall) |");
  console.log("|---|---|---|---|---|---|");
  for (const n of sizes) {
    const a = tf.randomNormal([n / 256, 256]), b = tf.randomNormal([n / 256, 256]);
    const row = tf.randomNormal([256]);
    const ops: [string, () => tf.Tensor, number][] = [
      ["add a+b", () => tf.add(a, b), 12 * n],
      ["mul a·b", () => tf.mul(a, b), 12 * n],
      ["add a+row (broadcast)", () => tf.add(a, row), 8 * n],
      ["neg −a", () => tf.neg(a), 8 * n],
      ["sum over last axis", () => tf.sum(a, -1), 4 * n],
    ];
    for (const [name, fn, bytes] of ops) {
      const wall = await timeKernel(fn, { iters });
      const gpu = await kernelGpuMs(fn, quick ? 1 : 7);
      const bw = (ms: number) => (ms > 0 ? (bytes / (ms * 1e6)).toFixed(0) : "–");
      console.log(
        `| ${name} | ${n} | ${gpu.toFixed(4)} | ${bw(gpu)} | ${fmtMs(wall.ms)} | ${bw(wall.ms)} |`,
      );
    }
    tf.dispose([a, b, row]);
  }
}

console.log(`device: ${tf.getBackend()}; ${iters} timed calls each\n`);
if (only === "all" || only === "matmul") await benchMatmul();
/** The R > 1 forward kernel's score chunk (keys per chunk), `--chunks 4,8,16,32`. */
async function benchScoreChunks(chunks: readonly number[], rows: AttnRowsPerThread): Promise<void> {
  console.log(
    `\nfused attention forward (unrolled), R = ${rows}, keys per score chunk; ms per call`,
  );
  console.log("| shape | chunk | ms | TFLOP/s | max |Δ| vs default chunk |");
  console.log("|---|---|---|---|---|");
  setAttentionUnrolled(true);
  setAttentionRowsPerThread(rows);
  for (const c of attnCases) {
    const [b, h, t, d] = c.shape;
    const q = tf.randomNormal([...c.shape]), k = tf.randomNormal([...c.shape]);
    const v = tf.randomNormal([...c.shape]);
    setAttentionScoreChunk("auto");
    const base = attentionForward(q, k, v);
    for (const ch of chunks) {
      if (attnBlock(d) % ch !== 0) continue; // must divide the staged block
      setAttentionScoreChunk(ch);
      try {
        const r = await timeKernel(() => attentionForward(q, k, v).out, {
          flops: attentionFlops(b, h, t, d, true),
          iters,
        });
        const out = attentionForward(q, k, v);
        const diff = await maxDiff(out.out, base.out);
        tf.dispose([out.out, out.lse]);
        console.log(
          `| ${c.name} [${c.shape}] | ${ch} | ${fmtMs(r.ms)} | ${r.tflops.toPrecision(3)} | ${
            diff.toExponential(1)
          } |`,
        );
      } catch (e) {
        console.log(`| ${c.name} [${c.shape}] | ${ch} | failed: ${(e as Error).message} | | |`);
      }
    }
    setAttentionScoreChunk("auto");
    tf.dispose([q, k, v, base.out, base.lse]);
  }
  setAttentionRowsPerThread("auto");
}

if (only === "all" || only === "attention") {
  if (chunkList !== undefined) await benchScoreChunks(chunkList, rowsList?.[0] ?? 2);
  else await (rowsList === undefined ? benchAttention() : benchAttentionRows(rowsList));
}
if (only === "all" || only === "elementwise") await benchElementwise();
