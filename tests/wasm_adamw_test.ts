import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { adamwModuleBytes, adamwWasm } from "../lib/wasm_adamw.ts";
import { AdamW } from "../lib/train/adamw.ts";

await tf.setBackend("wasm");

/** The tfjs form of lib/train/adamw.ts, op for op. */
function reference(
  p: tf.Tensor,
  raw: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  s: {
    beta1: number;
    beta2: number;
    eps: number;
    decay: number;
    bc2Sqrt: number;
    stepSize: number;
  },
  scale?: tf.Tensor,
): tf.Tensor[] {
  return tf.tidy(() => {
    const g = scale === undefined ? raw : tf.mul(raw, tf.reshape(scale, []));
    const mNew = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
    const vNew = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
    const denom = tf.add(tf.div(tf.sqrt(vNew), s.bc2Sqrt), s.eps);
    const decayed = s.decay === 1 ? p : tf.mul(p, s.decay);
    return [tf.sub(decayed, tf.mul(tf.div(mNew, denom), s.stepSize)), mNew, vNew];
  });
}

const values = (n: number, seed: number, f: (x: number) => number) =>
  tf.tensor1d(Float32Array.from({ length: n }, (_, i) => f(Math.sin(seed * 12.9898 + i * 78.233))));

Deno.test("adamwWasm equals the tfjs AdamW form bit for bit (SIMD groups and the 1-3 tail)", () => {
  assert.ok(WebAssembly.validate(adamwModuleBytes()));
  for (const n of [1, 3, 4, 7, 4099]) {
    const p = values(n, 1, (x) => x);
    const g = values(n, 2, (x) => 1e-3 * x);
    const m = values(n, 3, (x) => 1e-4 * x);
    const v = values(n, 4, (x) => 1e-7 * x * x);
    for (const [t, decay, scaled] of [[1, 1, false], [7, 1 - 3e-4 * 0.1, true]] as const) {
      const s = {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        decay,
        bc2Sqrt: Math.sqrt(1 - 0.95 ** t),
        stepSize: 3e-4 / (1 - 0.9 ** t),
      };
      const scale = scaled ? tf.tensor1d([0.0123]) : undefined;
      const want = reference(p, g, m, v, s, scale);
      const got = adamwWasm(p, g, m, v, s, scale)!;
      for (let j = 0; j < 3; j++) {
        assert.deepEqual(
          Array.from(got[j].dataSync()),
          Array.from(want[j].dataSync()),
          `n ${n} step ${t} output ${j}`,
        );
      }
      tf.dispose([...want, ...got, ...(scale ? [scale] : [])]);
    }
    tf.dispose([p, g, m, v]);
  }
});

Deno.test("AdamW on wasm takes the one-pass update and matches the cpu backend's tfjs form", async () => {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const w = tf.variable(values(10, 5, (x) => x).reshape([2, 5]));
    const b = tf.variable(values(3, 6, (x) => x));
    const opt = new AdamW(new Map([["w", w], ["b", b]]), {
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.1,
    });
    for (let step = 0; step < 3; step++) {
      const grads = new Map([
        ["w", values(10, 7 + step, (x) => x).reshape([2, 5])],
        ["b", values(3, 9 + step, (x) => x)],
      ]);
      const scale = tf.scalar(0.5);
      opt.apply(grads, 1e-2, scale);
      tf.dispose([...grads.values(), scale]);
    }
    const out = [...w.dataSync(), ...b.dataSync()];
    opt.dispose();
    w.dispose();
    b.dispose();
    return out;
  };
  const wasm = await run("wasm");
  const cpu = await run("cpu");
  await tf.setBackend("wasm");
  wasm.forEach((x, i) => assert.ok(Math.abs(x - cpu[i]) <= 1e-6 * (1 + Math.abs(cpu[i])), `${i}`));
});
