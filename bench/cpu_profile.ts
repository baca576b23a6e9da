/**
 * Where the CPU (wasm) training time of the tiny preset goes.
 *
 * usage: deno run -A bench/cpu_profile.ts [--kernels | --products | --peak | --step W]
 *        [--micro R] [--repeat N] [--top 30]
 * `--kernels`: one micro-batch (R rows × 1024, default 2) forward + backward under `tf.profile`,
 * kernels ranked by time (BatchMatMul by shape, with GFLOP/s). tf.profile times kernels only: the
 * fused passes' backward halves (attention, RMSNorm, SwiGLU…) run in gradient functions and are
 * not counted, so its total falls short of the wall time. `--products`: N micro-batches with every
 * call of our matrix product ({@link WasmGemm.matmul}, also inside the fused attention) timed,
 * by `[M, K, N]` and which operands are transposed (`T-`: A, `-T`: B), against the wall time.
 * `--peak`: the one-core ceiling of 128-bit wasm SIMD: a loop of 12 independent `relaxed_madd`
 * on registers (no memory), GFLOP/s; run two at once to see what the second core costs.
 * `--step W`: N optimizer steps (8×1024 bytes as micro-batches of R rows) over W data-parallel
 * workers as lib/train/loop.ts runs them (gradients from the workers, clip, one read-back,
 * AdamW), each part timed; otherwise wall time of N micro-batches (forward + backward, default 3
 * after one warm-up).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "../lib/wasm_kernels.ts";
import "../lib/grad_fixes.ts";
import { resolveConfig } from "../lib/config.ts";
import { createBlt } from "../lib/model/blt.ts";
import { staticBenchPatches } from "./train_bench.ts";
import { AdamW } from "../lib/train/adamw.ts";
import { clipScale } from "../lib/train/clip.ts";
import { resolveTrainConfig } from "../lib/train/config.ts";
import { startGradientWorkers } from "../lib/train/parallel.ts";
import { WasmGemm } from "../lib/wasm_gemm.ts";
import { get, I32, leb, name, section, set, simd, V128, vec } from "../lib/wasm_asm.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

/**
 * The bench's rows (bench/train_bench.ts): BOS then pseudo-random bytes, static patches of 4.
 *
 * @example
 * ```ts
 * import { benchRows } from "./cpu_profile.ts";
 * const { ids, patchLengths } = benchRows(2, 9);
 * console.log(ids.length, ids[0].length, patchLengths[0]); // 2 9 [1, 4, 4]
 * ```
 */
export function benchRows(
  rows: number,
  seq: number,
): { ids: number[][]; patchLengths: number[][] } {
  const ids = Array.from({ length: rows }, (_, b) => {
    const r = [1];
    for (let t = 1; t < seq; t++) r.push(4 + ((t * 2654435761 + b * 97) >>> 0) % 256);
    return r;
  });
  return { ids, patchLengths: ids.map(() => staticBenchPatches(seq)) };
}

/**
 * GFLOP/s of `n` iterations of 12 independent f32x4 `relaxed_madd`s on registers: the one-core
 * ceiling of a 128-bit wasm SIMD product (no loads or stores; the 12 running sums are returned,
 * so the engine cannot drop them). 44.5–46.5 GFLOP/s on the 2-core AMD EPYC VM of 2026-11-22.
 *
 * @example
 * ```ts
 * import { fmaPeak } from "./cpu_profile.ts";
 * console.log(fmaPeak(1000) > 0); // true
 * ```
 */
export function fmaPeak(n = 1e7): number {
  const N = 0, acc = Array.from({ length: 12 }, (_, i) => 1 + i), a = 13, b = 14;
  const splat = (x: number) => [...get(N), 0xb2, ...simd(0x13), ...set(x)]; // f32x4(n)
  const body = [
    ...splat(a),
    ...splat(b),
    ...[0x03, 0x40], // loop
    ...acc.flatMap((x) => [...get(a), ...get(b), ...get(x), ...simd(0x105), ...set(x)]),
    ...[...get(N), 0x41, 1, 0x6b, 0x22, N, 0x0d, 0, 0x0b], // n -= 1 while n ≠ 0
    ...get(acc[0]),
    ...acc.slice(1).flatMap((x) => [...get(x), ...simd(0xe4)]),
    ...simd(0x1f, 0), // f32x4.extract_lane 0: the result
    0x0b,
  ];
  const fn = [...vec([[...leb(14), V128]]), ...body];
  const bytes = new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vec([[0x60, ...vec([[I32]]), ...vec([[0x7d]])]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name("f"), 0, 0]])),
    ...section(10, vec([[...leb(fn.length), ...fn]])),
  ]);
  const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f as (
    n: number,
  ) => number;
  f(1000);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    f(n);
    best = Math.min(best, performance.now() - t);
  }
  return (n * 12 * 8) / best / 1e6;
}

/** Wraps {@link WasmGemm.matmul} to time each call by shape while `on()` says so. */
function timeProducts(on: () => boolean) {
  const by = new Map<string, { ms: number; calls: number; flops: number }>();
  const matmul = WasmGemm.prototype.matmul;
  WasmGemm.prototype.matmul = function (this: WasmGemm, ...args: Parameters<typeof matmul>) {
    if (!on()) return matmul.apply(this, args);
    const t = performance.now();
    matmul.apply(this, args);
    const ms = performance.now() - t;
    const [a, b, , [M, K, N]] = args;
    const key = `${M}x${K}x${N} ${a.transposed ? "T" : "-"}${b.transposed ? "T" : "-"}`;
    const e = by.get(key) ?? { ms: 0, calls: 0, flops: 0 };
    by.set(key, { ms: e.ms + ms, calls: e.calls + 1, flops: e.flops + 2 * M * K * N });
  };
  return by;
}

if (import.meta.main && Deno.args.includes("--peak")) {
  console.log(`one core, 12 relaxed_madd chains: ${fmaPeak().toFixed(1)} GFLOP/s`);
  Deno.exit(0);
}

if (import.meta.main) {
  await tf.setBackend("wasm");
  await tf.ready();
  const micro = Number(arg("micro") ?? 2);
  const repeat = Number(arg("repeat") ?? 3);
  const top = Number(arg("top") ?? 30);
  const config = resolveConfig("tiny", {
    entropyModel: null,
    patching: { mode: "static", patchSize: 4 },
  });
  const model = createBlt(config, 0);
  const vars = [...model.namedVariables().values()];
  const batch = benchRows(micro, 1024);
  const once = () => {
    const { value, grads } = tf.variableGrads(() => {
      const r = model.loss(batch);
      return tf.mul(r.loss, r.predictions) as tf.Scalar;
    }, vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  if (arg("step") !== undefined) {
    await stepProfile(model, Number(arg("step")), repeat, micro);
    Deno.exit(0);
  }
  let timing = false;
  const products = timeProducts(() => timing);
  once();
  if (Deno.args.includes("--products")) {
    const walls: number[] = [];
    timing = true;
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      once();
      walls.push(performance.now() - t0);
    }
    let ms = 0, flops = 0;
    for (const e of products.values()) [ms, flops] = [ms + e.ms, flops + e.flops];
    const wall = walls.reduce((a, b) => a + b, 0);
    console.log(
      `micro-batch ${micro}×1024 wall ${walls.map((w) => w.toFixed(0)).join(", ")} ms; products ` +
        `${(ms / repeat).toFixed(0)} ms each (${(100 * ms / wall).toFixed(0)}%), ` +
        `${(flops / repeat / 1e9).toFixed(2)} GFLOP at ${(flops / ms / 1e6).toFixed(1)} GFLOP/s`,
    );
    for (const [k, e] of [...products].sort((x, y) => y[1].ms - x[1].ms).slice(0, top)) {
      console.log(
        `  ${(e.ms / repeat).toFixed(1).padStart(7)} ms ${String(e.calls / repeat).padStart(4)}× ` +
          `${k.padEnd(20)} ${(e.flops / e.ms / 1e6).toFixed(1)} GFLOP/s`,
      );
    }
  } else if (Deno.args.includes("--kernels")) {
    const info = await tf.profile(once);
    const by = new Map<string, { ms: number; calls: number; flops: number }>();
    let total = 0, mmFlops = 0, mmMs = 0;
    for (const k of info.kernels) {
      const ms = k.kernelTimeMs as number;
      total += ms;
      let key = k.name, flops = 0;
      if (k.name === "BatchMatMul") {
        const [a, b] = k.inputShapes as number[][];
        const out = k.outputShapes[0] as number[];
        const M = out[out.length - 2], N = out[out.length - 1];
        const K = a[a.length - 1] === M ? a[a.length - 2] : a[a.length - 1];
        const batchN = out.slice(0, -2).reduce((p, q) => p * q, 1);
        flops = 2 * batchN * M * N * K;
        key = `BatchMatMul [${a}]x[${b}]`;
        mmFlops += flops;
        mmMs += ms;
      }
      if (k.name !== "BatchMatMul") {
        key = `${k.name} ${k.inputShapes.map((x) => `[${x}]`).join("")}`;
      }
      const e = by.get(key) ?? { ms: 0, calls: 0, flops: 0 };
      by.set(key, { ms: e.ms + ms, calls: e.calls + 1, flops: e.flops + flops });
    }
    const byName = new Map<string, number>();
    for (const k of info.kernels) {
      byName.set(k.name, (byName.get(k.name) ?? 0) + (k.kernelTimeMs as number));
    }
    console.log(
      `kernels total ${total.toFixed(0)} ms; BatchMatMul ${mmMs.toFixed(0)} ms, ${
        (mmFlops / 1e9).toFixed(2)
      } GFLOP, ${(mmFlops / mmMs / 1e6).toFixed(1)} GFLOP/s`,
    );
    console.log("by kernel:");
    for (const [n, ms] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`  ${n.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms`);
    }
    console.log("by kernel and shape:");
    for (const [n, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
      const g = e.flops > 0 ? ` ${(e.flops / e.ms / 1e6).toFixed(1)} GFLOP/s` : "";
      console.log(`  ${e.ms.toFixed(1).padStart(8)} ms ${String(e.calls).padStart(4)}× ${n}${g}`);
    }
  } else {
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      once();
      times.push(performance.now() - t0);
    }
    console.log(
      `micro-batch ${micro}×1024 fwd+bwd ms: ${times.map((t) => t.toFixed(0)).join(", ")}`,
    );
  }
}

async function stepProfile(
  model: ReturnType<typeof createBlt>,
  workers: number,
  steps: number,
  micro: number,
) {
  const count = 8 / micro;
  const config = resolveTrainConfig({ gradAccumulation: count, workers });
  const named = model.namedVariables();
  const optimizer = new AdamW(named, config);
  const pool = (await startGradientWorkers(model, workers))!;
  const rows = benchRows(8, 1024);
  const batches = Array.from({ length: count }, (_, i) => ({
    ids: rows.ids.slice(micro * i, micro * (i + 1)),
    patchLengths: rows.patchLengths.slice(micro * i, micro * (i + 1)),
  }));
  const f = (x: number) => x.toFixed(0);
  try {
    for (let s = 0; s <= steps; s++) {
      const t0 = performance.now();
      const acc = await pool.accumulate(model, batches, s + 1);
      const t1 = performance.now();
      const clip = clipScale(acc.grads, config.gradClip, acc.prescale);
      const both = tf.stack([acc.sumNats, clip.norm]);
      await both.data();
      tf.dispose([both, acc.sumNats, clip.norm]);
      const t2 = performance.now();
      optimizer.apply(acc.grads, 1e-4, clip.scale);
      acc.grads.forEach((g) => g.dispose());
      clip.scale.dispose();
      const t3 = performance.now();
      const p = pool.lastParts!;
      const w = p.workers.map((x, i) =>
        x === null ? "idle" : `w${i}: trip ${f(p.roundTripMs[i])} = assign ${f(x.assignMs)} + ` +
          `batches ${x.batchMs.map(f).join("+")} + read ${f(x.readMs)}`
      );
      console.log(
        `${s === 0 ? "warm-up " : ""}step ${f(t3 - t0)} ms: accumulate ${
          f(t1 - t0)
        } (read weights ` +
          `${f(p.readWeightsMs)}, copy ${f(p.copyWeightsMs)}, sum ${f(p.sumMs)}, tensors ` +
          `${f(p.tensorsMs)}; ${w.join("; ")}), clip+read ${f(t2 - t1)}, AdamW ${f(t3 - t2)}`,
      );
    }
  } finally {
    pool.terminate();
    optimizer.dispose();
  }
}
