import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "../../../lib/grad_fixes.ts";
import "../../../lib/wasm_kernels.ts";
import {
  attentionBlocks,
  causalBias,
  denseAttention,
  QUERY_BLOCK,
} from "../../../lib/model/layers/attention.ts";

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

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => {
  const x = a.dataSync(), y = b.dataSync();
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
};

// The dense form of denseAttention (one block) against its causal blocks: values and gradients.
async function blocksMatchDense(
  backend: string,
  [B, H, T, d]: number[],
  window: number | null,
  docs: boolean,
  block: number,
) {
  await tf.setBackend(backend);
  const r = (seed: number) => tf.randomNormal([B, H, T, d], 0, 1, "float32", seed);
  const q = r(1), k = r(2), v = r(3), w = r(4);
  const docIds = docs
    ? tf.tensor2d(
      Array.from({ length: B * T }, (_, i) => Math.floor((i % T) / (5 + (i >= T ? 3 : 0)))),
      [B, T],
      "int32",
    )
    : null;
  const bias = causalBias(T, window, docIds);
  const loss = (qb: number) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(denseAttention(a, b, c, 0.3, bias, qb), w));
  const what = `${backend} ${[B, H, T, d]} window ${window} docs ${docs} block ${block}`;
  const dense = denseAttention(q, k, v, 0.3, bias, T),
    blocked = denseAttention(q, k, v, 0.3, bias, block);
  assert.ok(maxDiff(dense, blocked) < 1e-5, `value: ${what}: ${maxDiff(dense, blocked)}`);
  const ref = tf.grads(loss(T))([q, k, v]), ours = tf.grads(loss(block))([q, k, v]);
  ["dq", "dk", "dv"].forEach((name, i) => {
    const m = maxDiff(ref[i], ours[i]);
    assert.ok(m < 1e-5, `${name}: ${what}: ${m}`);
  });
  tf.dispose([q, k, v, w, bias, dense, blocked, ...ref, ...ours, ...(docIds ? [docIds] : [])]);
}

Deno.test("attentionBlocks: equal query blocks, keys up to the last query, back to the window", () => {
  assert.deepEqual(attentionBlocks(1024, null).length, 8);
  assert.deepEqual(attentionBlocks(257, null).map((b) => b.r1 - b.r0), [86, 86, 85]);
  assert.deepEqual(attentionBlocks(10, 3, 4), [
    { r0: 0, r1: 4, c0: 0, c1: 4 },
    { r0: 4, r1: 8, c0: 2, c1: 8 },
    { r0: 8, r1: 10, c0: 6, c1: 10 },
  ]);
  assert.deepEqual(attentionBlocks(3, null, 8), [{ r0: 0, r1: 3, c0: 0, c1: 3 }]);
  assert.throws(() => attentionBlocks(8, null, 0), /query block must be a positive integer/);
});

Deno.test("denseAttention in causal query blocks = the dense form within 1e-5 (values, gradients)", async () => {
  for (const backend of ["cpu", "wasm"]) {
    await blocksMatchDense(backend, [2, 3, 37, 8], null, false, 8); // ragged last block
    await blocksMatchDense(backend, [2, 3, 37, 8], 6, false, 5); // window shorter than a block
    await blocksMatchDense(backend, [2, 3, 37, 8], 11, true, 8); // window wider, documents
    await blocksMatchDense(backend, [1, 2, 40, 4], null, true, 1); // one query per block
  }
  // The tiny preset's byte stacks: T = 1024, head size 32, default blocks (wasm products).
  await blocksMatchDense("wasm", [1, 2, 1024, 32], null, false, QUERY_BLOCK);
});

Deno.test("denseAttention: a bias not from causalBias keeps the dense form", async () => {
  await tf.setBackend("cpu");
  const [B, H, T, d] = [1, 2, 9, 4];
  const q = tf.randomNormal([B, H, T, d], 0, 1, "float32", 1);
  // Keys after the query visible: blocks would drop them.
  const bias = tf.zeros([1, 1, T, T]);
  const out = denseAttention(q, q, q, 0.5, bias, 2);
  assert.ok(maxDiff(out, plain(q, q, q, 0.5, bias)) < 1e-6);
  tf.dispose([q, bias, out]);
});

Deno.test("denseAttention in blocks keeps about half the probabilities of the dense form", async () => {
  await tf.setBackend("cpu");
  const [B, H, T, d] = [1, 2, 64, 4];
  const q = tf.variable(tf.randomNormal([B, H, T, d], 0, 1, "float32", 1));
  const bias = causalBias(T);
  const keptBy = (block: number) => {
    let kept = 0;
    const { value, grads } = tf.variableGrads(() => {
      const before = tf.memory().numBytes;
      const z = tf.sum(denseAttention(q, q, q, 0.5, bias, block));
      kept = tf.memory().numBytes - before;
      return z as tf.Scalar;
    }, [q]);
    tf.dispose([value, ...Object.values(grads)]);
    return kept;
  };
  const scores = 4 * B * H * T * T;
  // 8 blocks keep 36/64 of the scores, and the output [B, H, T, d] (1/16 of the scores here).
  const dense = keptBy(T), blocked = keptBy(8);
  assert.ok(
    blocked <= dense - (28 / 64 - 1 / 16) * scores,
    `blocks kept ${blocked} bytes, dense ${dense}`,
  );
  tf.dispose([q, bias]);
});
