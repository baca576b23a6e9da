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

Deno.test("prepareHashIds: the next hashEmbeddings of that batch uses them once; same values either way", async () => {
  await tf.setBackend("cpu");
  const { hashEmbeddings, prepareHashIds } = await import("../../lib/model/hash_embedding.ts");
  const { resolveConfig } = await import("../../lib/config.ts");
  const { Params } = await import("../../lib/model/params.ts");
  const { initHashEmbedding } = await import("../../lib/model/hash_embedding.ts");
  const cfg = resolveConfig("tiny", { "hash.buckets": 31 });
  const p = new Params(1);
  initHashEmbedding(p, cfg);
  const ids = [[1, 72, 105, 33, 9], [1, 5, 6, 7, 8]];
  const plain = await hashEmbeddings(p, cfg, ids).data();
  prepareHashIds(ids, cfg);
  const ahead = await hashEmbeddings(p, cfg, ids).data();
  assert.deepEqual(Array.from(ahead), Array.from(plain));
  // A prepared entry is used once and only for the config it was made with.
  prepareHashIds(ids, resolveConfig("tiny", { "hash.buckets": 7 }));
  const other = await hashEmbeddings(p, cfg, ids).data();
  assert.deepEqual(Array.from(other), Array.from(plain));
  p.dispose();
});
