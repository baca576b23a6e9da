/**
 * Where the CPU (wasm) training time of the tiny preset goes.
 *
 * usage: deno run -A bench/cpu_profile.ts [--kernels] [--micro R] [--repeat N] [--top 30]
 * `--kernels`: one micro-batch (R rows × 1024, default 2) forward + backward under `tf.profile`,
 * kernels ranked by time (BatchMatMul by shape, with GFLOP/s); `--step W`: N optimizer steps
 * (8×1024 bytes as micro-batches of R rows) over W data-parallel workers as lib/train/loop.ts
 * runs them (gradients from the workers, clip, one read-back, AdamW), each part timed; otherwise
 * wall time of N micro-batches (forward + backward, default 3 after one warm-up).
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
  once();
  if (Deno.args.includes("--kernels")) {
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
