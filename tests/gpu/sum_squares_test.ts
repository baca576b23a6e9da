import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { adamwStep } from "../../lib/gpu/adamw.ts";
import { sumOfSquaresGpu, sumSquaresGroups } from "../../lib/gpu/sum_squares.ts";
import { clipScale } from "../../lib/train/clip.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

Deno.test("sumSquaresGroups: one workgroup for small tensors, capped for huge ones", () => {
  assert.equal(sumSquaresGroups(1), 1);
  assert.equal(sumSquaresGroups(4096), 1);
  assert.equal(sumSquaresGroups(4097), 2);
  assert.equal(sumSquaresGroups(1e9), 512);
});

Deno.test("sumOfSquaresGpu equals Σ‖g‖² in float64 over 90 tensors of mixed sizes, empty included", async () => {
  await useWebgpu();
  const shapes = Array.from({ length: 90 }, (_, i) => (i % 9 === 0 ? [0] : [1 + i * 37, 3]));
  shapes.push([300_001]); // several workgroups and a ragged tail
  const ts = shapes.map((s, i) => seeded(s, i + 1));
  let want = 0;
  for (const t of ts) for (const v of await t.data()) want += v * v;
  const got = (await sumOfSquaresGpu(ts).data())[0];
  assert.ok(Math.abs(got - want) / want < 1e-5, `${got} vs ${want}`);
  assert.equal((await sumOfSquaresGpu([]).data())[0], 0);
  assert.throws(() => sumOfSquaresGpu([tf.ones([2], "int32")]), /float32 tensors expected/);
  tf.dispose(ts);
});

Deno.test("clipScale on webgpu equals the cpu backend (with prescale, with and without clipping)", async () => {
  const values = [await seeded([50, 7], 3).array(), await seeded([1000], 4).array()];
  const run = async () => {
    const g = new Map(values.map((v, i) => [`g${i}`, tf.tensor(v)]));
    const out: number[] = [];
    for (const [maxNorm, prescale] of [[1, 0.25], [1e6, 0.5], [0, 2]]) {
      const { norm, scale } = clipScale(g, maxNorm, prescale);
      out.push((await norm.data())[0], (await scale.data())[0]);
      tf.dispose([norm, scale]);
    }
    g.forEach((t) => t.dispose());
    return out;
  };
  await tf.setBackend("cpu");
  const cpu = await run();
  await useWebgpu();
  const gpu = await run();
  cpu.forEach((x, i) =>
    assert.ok(Math.abs(x - gpu[i]) < 1e-5 * Math.max(1, x), `${i}: ${x} vs ${gpu[i]}`)
  );
  assert.throws(() => clipScale(new Map(), 1, 0), /prescale must be a finite number > 0/);
});

Deno.test("adamwStep with scale equals adamwStep on the pre-multiplied gradient", async () => {
  await useWebgpu();
  const results: Float32Array[][] = [];
  for (const scaled of [true, false]) {
    const p = tf.variable(seeded([33, 5], 5)), m = tf.variable(seeded([33, 5], 6));
    const v = tf.variable(tf.abs(seeded([33, 5], 7)));
    const g = seeded([33, 5], 8), s = tf.tensor1d([0.3]);
    const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 };
    if (scaled) adamwStep(p, g, m, v, hyper, s);
    else adamwStep(p, tf.mul(g, 0.3), m, v, hyper);
    results.push([await p.data(), await m.data(), await v.data()] as Float32Array[]);
    tf.dispose([p, m, v, g, s]);
  }
  results[0].forEach((a, i) =>
    a.forEach((x, j) => assert.ok(Math.abs(x - results[1][i][j]) < 1e-6, `${i}/${j}`))
  );
  const p = tf.variable(tf.zeros([2])), g = tf.zeros([2]);
  assert.throws(
    () =>
      adamwStep(
        p,
        g,
        p,
        p,
        { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1, weightDecay: 0, step: 1 },
        tf.zeros([2]),
      ),
    /scale must hold one value/,
  );
});
