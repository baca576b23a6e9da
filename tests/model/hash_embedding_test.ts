import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "../../lib/grad_fixes.ts";
import { gatherSum } from "../../lib/model/hash_embedding.ts";

Deno.test("gatherSum: value and table gradient of tf.sum(tf.gather(table, ids), 2)", async () => {
  await tf.setBackend("cpu");
  const table = tf.randomNormal([7, 3], 0, 1, "float32", 1);
  const ids = tf.tensor3d([0, 6, 6, 2, 1, 0, 3, 3, 5, 4, 6, 1], [2, 2, 3], "int32");
  const w = tf.randomNormal([2, 2, 3], 0, 1, "float32", 2);
  const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherSum(t, ids), w)))(table);
  const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sum(tf.gather(t, ids), 2), w)))(table);
  const a = gatherSum(table, ids).dataSync(), b = tf.sum(tf.gather(table, ids), 2).dataSync();
  assert.deepEqual(a, b);
  const g = ours.dataSync(), h = ref.dataSync();
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - h[i]) < 1e-6, `grad[${i}]`);
});
