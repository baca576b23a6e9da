import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "../../../lib/grad_fixes.ts";
import { smallBatchedMatMul } from "../../../lib/model/layers/cross_attention.ts";

function close(a: tf.Tensor, b: tf.Tensor, what: string) {
  const x = a.dataSync(), y = b.dataSync();
  assert.deepEqual(a.shape, b.shape, what);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-5, `${what}[${i}]`);
}

Deno.test("smallBatchedMatMul: values and gradients of tf.matMul, both forms", async () => {
  await tf.setBackend("cpu");
  const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);
  for (const [Q, S, d] of [[1, 2, 4], [2, 4, 3], [3, 1, 5]]) {
    const N = 5;
    const x = rand([N, Q, d], 1), yT = rand([N, S, d], 2), p = rand([N, Q, S], 3);
    const wT = rand([N, Q, S], 4), w = rand([N, Q, d], 5);
    const ours = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(smallBatchedMatMul(a, b, true), wT))
    )([x, yT]);
    const ref = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(a, b, false, true), wT))
    )([x, yT]);
    close(smallBatchedMatMul(x, yT, true), tf.matMul(x, yT, false, true), "x·yᵀ");
    close(ours[0], ref[0], "d x (x·yᵀ)");
    close(ours[1], ref[1], "d y (x·yᵀ)");
    const ours2 = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(smallBatchedMatMul(a, b, false), w))
    )([p, yT]);
    const ref2 = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b), w)))(
      [p, yT],
    );
    close(smallBatchedMatMul(p, yT, false), tf.matMul(p, yT), "p·y");
    close(ours2[0], ref2[0], "d p (p·y)");
    close(ours2[1], ref2[1], "d y (p·y)");
  }
});

Deno.test("smallBatchedMatMul: does not keep its [N, Q, S, d] products for backward", async () => {
  await tf.setBackend("cpu");
  const N = 64, Q = 1, S = 2, d = 32;
  const x = tf.variable(tf.ones([N, Q, d])), y = tf.variable(tf.ones([N, S, d]));
  const keptBy = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => {
    let kept = 0;
    const { value, grads } = tf.variableGrads(() => {
      const before = tf.memory().numBytes;
      const z = tf.sum(f(x, y));
      kept = tf.memory().numBytes - before;
      return z as tf.Scalar;
    }, [x, y]);
    tf.dispose([value, ...Object.values(grads)]);
    return kept;
  };
  const ours = keptBy((a, b) => smallBatchedMatMul(a, b, true));
  const plain = keptBy((a, b) => tf.sum(tf.mul(tf.expandDims(a, 2), tf.expandDims(b, 1)), 3));
  const products = 4 * N * Q * S * d;
  assert.ok(ours <= plain - products, `kept ${ours} bytes, the plain form ${plain}`);
  tf.dispose([x, y]);
});
