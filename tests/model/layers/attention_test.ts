import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "../../../lib/grad_fixes.ts";
import { causalBias, denseAttention } from "../../../lib/model/layers/attention.ts";

const plain = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, scale: number, bias: tf.Tensor) =>
  tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), scale), bias)), v);

Deno.test("denseAttention: values and gradients of the plain tf formulation", async () => {
  await tf.setBackend("cpu");
  const [B, H, T, d] = [2, 3, 5, 4];
  const r = (seed: number) => tf.randomNormal([B, H, T, d], 0, 1, "float32", seed);
  const q = r(1), k = r(2), v = r(3), w = r(4);
  const bias = causalBias(T, 3, tf.tensor2d([0, 0, 0, 1, 1, 0, 1, 1, 1, 1], [B, T], "int32"));
  const loss = (f: typeof plain) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(f(a, b, c, 0.5, bias), w));
  const ours = tf.grads(loss(denseAttention))([q, k, v]);
  const ref = tf.grads(loss(plain))([q, k, v]);
  const check = (a: tf.Tensor, b: tf.Tensor, what: string) => {
    const x = a.dataSync(), y = b.dataSync();
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-5, `${what}[${i}]`);
  };
  check(denseAttention(q, k, v, 0.5, bias), plain(q, k, v, 0.5, bias), "value");
  ["dq", "dk", "dv"].forEach((name, i) => check(ours[i], ref[i], name));
});

Deno.test("denseAttention: keeps one [B, H, T, T] tensor for backward, not three", async () => {
  await tf.setBackend("cpu");
  const [B, H, T, d] = [1, 2, 64, 4];
  const q = tf.variable(tf.randomNormal([B, H, T, d], 0, 1, "float32", 1));
  const bias = causalBias(T);
  const keptBy = (f: typeof plain) => {
    let kept = 0;
    const { value, grads } = tf.variableGrads(() => {
      const before = tf.memory().numBytes;
      const z = tf.sum(f(q, q, q, 0.5, bias));
      kept = tf.memory().numBytes - before;
      return z as tf.Scalar;
    }, [q]);
    tf.dispose([value, ...Object.values(grads)]);
    return kept;
  };
  const scores = 4 * B * H * T * T;
  const ours = keptBy(denseAttention), ref = keptBy(plain);
  assert.ok(ours <= ref - 2 * scores, `kept ${ours} bytes, the plain form ${ref}`);
  tf.dispose([q, bias]);
});
