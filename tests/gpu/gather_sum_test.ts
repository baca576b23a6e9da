import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { gatherSumGpu } from "../../lib/gpu/gather_sum.ts";
import { gatherSum } from "../../lib/model/hash_embedding.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";

function ids(shape: number[], rows: number, seed: number): tf.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const v = Array.from({ length: n }, (_, i) => ((i + 1) * 2654435761 + seed * 97) % rows);
  return tf.tensor(v, shape, "int32");
}

Deno.test("gatherSumGpu equals sum(gather) for vec4 and scalar rows, repeated ids included", async () => {
  await useWebgpu();
  for (const h of [8, 5]) {
    const table = seeded([23, h], 1);
    const idx = ids([3, 7, 6], 23, h);
    const expect = tf.sum(tf.gather(table, idx), 2);
    const ours = gatherSumGpu(table, idx);
    assert.deepEqual(ours.shape, [3, 7, h]);
    const d = await maxAbsDiff(ours, expect);
    assert.ok(d < 1e-5, `h=${h}: max diff ${d}`);
    tf.dispose([table, idx, expect, ours]);
  }
});

Deno.test("gatherSumGpu rejects a non-matrix table or float ids by name", async () => {
  await useWebgpu();
  assert.throws(
    () => gatherSumGpu(tf.ones([2, 3, 4]), tf.ones([2, 1], "int32")),
    /table \[2,3,4\]/,
  );
  assert.throws(() => gatherSumGpu(tf.ones([2, 3]), tf.ones([2, 1])), /float32 ids/);
});

Deno.test("gatherSum on webgpu (fused forward): value and table gradient equal the cpu backend", async () => {
  await useWebgpu();
  const tableValues = await seeded([31, 8], 2).array();
  const w = await seeded([2, 5, 8], 3).array();
  const idx = await ids([2, 5, 4], 31, 4).array();
  const run = () => {
    const f = (t: tf.Tensor) => tf.sum(tf.mul(gatherSum(t, tf.tensor(idx, undefined, "int32")), w));
    const t = tf.tensor(tableValues);
    return [f(t), tf.grad(f)(t)];
  };
  const gpu = await Promise.all(run().map((t) => t.data()));
  await tf.setBackend("cpu");
  try {
    const cpu = await Promise.all(run().map((t) => t.data()));
    for (let i = 0; i < 2; i++) {
      const worst = Array.from(gpu[i] as Float32Array).reduce(
        (m: number, v: number, j: number) => Math.max(m, Math.abs(v - cpu[i][j])),
        0,
      );
      assert.ok(worst < 1e-4, `output ${i}: max diff ${worst}`);
    }
  } finally {
    await useWebgpu();
  }
});
