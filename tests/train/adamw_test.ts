import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { AdamW } from "../../lib/train/adamw.ts";
import { clipByGlobalNorm } from "../../lib/train/clip.ts";

await tf.setBackend("cpu");

interface TorchStep {
  lr: number;
  grad_w: number[];
  grad_b: number[];
  norm: number;
  w: number[];
  b: number[];
}
const fixturePath = new URL("../testdata/adamw_torch.json", import.meta.url);
const fixture = JSON.parse(await Deno.readTextFile(fixturePath)) as {
  init: { w: number[]; b: number[] };
  steps: TorchStep[];
};
const config = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

function assertClose(found: ArrayLike<number>, expected: number[], tol: number, what: string) {
  assert.deepEqual(found.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert(
      Math.abs(found[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])),
      `${what}[${i}]: ${found[i]} vs ${expected[i]}`,
    );
  }
}

Deno.test("AdamW + clipByGlobalNorm match torch.optim.AdamW + clip_grad_norm_ for 5 steps", () => {
  const w = tf.variable(tf.tensor(fixture.init.w, [3, 4]));
  const b = tf.variable(tf.tensor(fixture.init.b, [4]));
  const opt = new AdamW(new Map([["w", w], ["b", b]]), config);
  for (const [i, s] of fixture.steps.entries()) {
    const raw = new Map([["w", tf.tensor(s.grad_w, [3, 4])], ["b", tf.tensor(s.grad_b, [4])]]);
    const { grads, norm } = clipByGlobalNorm(raw, 1.0);
    assert(Math.abs(norm - s.norm) < 1e-5 * s.norm, `step ${i} norm ${norm} vs ${s.norm}`);
    opt.apply(grads, s.lr);
    [...raw.values(), ...grads.values()].forEach((t) => t.dispose());
    assertClose(w.dataSync(), s.w, 2e-6, `step ${i} w`);
    assertClose(b.dataSync(), s.b, 2e-6, `step ${i} b`);
  }
  assert.deepEqual(opt.step, 5);
  opt.dispose();
  w.dispose();
  b.dispose();
});

Deno.test("AdamW: decoupled decay shrinks matrices only; vectors are untouched by decay", async () => {
  const w = tf.variable(tf.fill([2, 2], 2));
  const g = tf.variable(tf.fill([2], 2));
  const opt = new AdamW(new Map([["w", w], ["g", g]]), config);
  const zeros = new Map([["w", tf.zeros([2, 2])], ["g", tf.zeros([2])]]);
  opt.apply(zeros, 0.5);
  assertClose(w.dataSync(), [1.9, 1.9, 1.9, 1.9], 1e-7, "w"); // 2·(1 − 0.5·0.1)
  assertClose(g.dataSync(), [2, 2], 0, "g");
  assert.deepEqual((await opt.state()).decay, { w: true, g: false });
  zeros.forEach((t) => t.dispose());
  opt.dispose();
  w.dispose();
  g.dispose();
});

Deno.test("AdamW: state() then load() into a fresh optimizer continues identically", async () => {
  const make = () => tf.variable(tf.tensor([[0.5, -1], [2, 0.25]]));
  const grad = (k: number) => new Map([["w", tf.tensor([[k, -k], [0.5 * k, 1]])]]);
  const a = make();
  const optA = new AdamW(new Map([["w", a]]), config);
  for (let k = 1; k <= 3; k++) {
    const g = grad(k);
    optA.apply(g, 0.01);
    g.forEach((t) => t.dispose());
  }
  const b = tf.variable(a.clone());
  const optB = new AdamW(new Map([["w", b]]), config);
  optB.load(await optA.state());
  for (let k = 4; k <= 6; k++) {
    const g = grad(k);
    optA.apply(g, 0.01);
    optB.apply(g, 0.01);
    g.forEach((t) => t.dispose());
  }
  assert.deepEqual([...b.dataSync()], [...a.dataSync()]);
  assert.throws(
    () => optB.load({ step: 1, decay: {}, moments: new Map() }),
    /optimizer state 'exp_avg.w' is missing/,
  );
  [optA, optB].forEach((o) => o.dispose());
  [a, b].forEach((t) => t.dispose());
});

Deno.test("AdamW: a step leaks no tensors; a missing gradient names the variable", () => {
  const w = tf.variable(tf.ones([4, 4]));
  const opt = new AdamW(new Map([["w", w]]), config);
  const g = new Map([["w", tf.ones([4, 4])]]);
  opt.apply(g, 0.01);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) opt.apply(g, 0.01);
  assert.deepEqual(tf.memory().numTensors, before);
  assert.throws(() => opt.apply(new Map(), 0.01), /no gradient for variable 'w'/);
  g.forEach((t) => t.dispose());
  opt.dispose();
  w.dispose();
});
