import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { rmsNorm } from "../../lib/gpu/rms_norm.ts";
import { swiglu } from "../../lib/gpu/swiglu.ts";
import { adamwStep } from "../../lib/gpu/adamw.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";

function plainRmsNorm(x: tf.Tensor, w: tf.Tensor, eps = 1e-5): tf.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w);
}

Deno.test("rmsNorm forward and gradients equal plain tfjs; no tensor leak", async () => {
  await useWebgpu();
  const x = seeded([3, 5, 100], 31), w = seeded([100], 32), c = seeded([3, 5, 100], 33);
  const before = tf.memory().numTensors;
  const y = rmsNorm(x, w, 1e-5), yr = tf.tidy(() => plainRmsNorm(x, w, 1e-5));
  assert.ok(await maxAbsDiff(y, yr) < 1e-5);
  const loss = (f: typeof rmsNorm) => (a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(f(a, b, 1e-5), c));
  const g = tf.grads(loss(rmsNorm))([x, w]), gr = tf.grads(loss(plainRmsNorm))([x, w]);
  assert.ok(await maxAbsDiff(g[0], gr[0]) < 1e-4, "dx");
  assert.ok(await maxAbsDiff(g[1], gr[1]) < 1e-4, "dweight");
  tf.dispose([y, yr, ...g, ...gr]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("swiglu forward and gradients equal plain tfjs", async () => {
  await useWebgpu();
  const a = tf.mul(seeded([4, 300], 41), 4), b = seeded([4, 300], 42), c = seeded([4, 300], 43);
  const plain = (x: tf.Tensor, y: tf.Tensor) => tf.mul(tf.mul(x, tf.sigmoid(x)), y);
  assert.ok(await maxAbsDiff(swiglu(a, b), plain(a, b)) < 1e-5);
  const loss = (f: typeof swiglu) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x, y), c));
  const g = tf.grads(loss(swiglu))([a, b]), gr = tf.grads(loss(plain))([a, b]);
  assert.ok(await maxAbsDiff(g[0], gr[0]) < 1e-5, "dgate");
  assert.ok(await maxAbsDiff(g[1], gr[1]) < 1e-5, "dup");
});

Deno.test("adamwStep matches the AdamW formulas over three steps", async () => {
  await useWebgpu();
  const hyper = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const p0 = seeded([7, 13], 51);
  const p = tf.variable(p0.clone()),
    m = tf.variable(tf.zerosLike(p0)),
    v = tf.variable(tf.zerosLike(p0));
  const ep = Array.from(await p0.data()), em = ep.map(() => 0), ev = ep.map(() => 0);
  for (let step = 1; step <= 3; step++) {
    const g = seeded([7, 13], 60 + step);
    const ga = await g.data();
    adamwStep(p, g, m, v, { ...hyper, step });
    for (let i = 0; i < ep.length; i++) {
      em[i] = 0.9 * em[i] + 0.1 * ga[i];
      ev[i] = 0.95 * ev[i] + 0.05 * ga[i] * ga[i];
      const mh = em[i] / (1 - 0.9 ** step), vh = ev[i] / (1 - 0.95 ** step);
      ep[i] -= 0.01 * (mh / (Math.sqrt(vh) + 1e-8) + 0.1 * ep[i]);
    }
  }
  assert.ok(await maxAbsDiff(p, tf.tensor(ep, [7, 13])) < 1e-5, "param");
  assert.ok(await maxAbsDiff(m, tf.tensor(em, [7, 13])) < 1e-6, "first moment");
  assert.ok(await maxAbsDiff(v, tf.tensor(ev, [7, 13])) < 1e-6, "second moment");
});
