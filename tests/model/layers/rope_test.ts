import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { ropeTables } from "../../../lib/model/layers/rope.ts";

Deno.test("ropeTables: cos/sin of p·θ^(−2i/d), pairs repeated; repeated calls give fresh, equal tensors", async () => {
  await tf.setBackend("cpu");
  const a = ropeTables(5, 4, 10000);
  const want = (t: number, i: number) => Math.fround(t * (1 / Math.fround(10000 ** (i / 2))));
  const cos = await a.cos.data();
  for (let t = 0; t < 5; t++) {
    for (let i = 0; i < 2; i++) {
      assert.ok(Math.abs(cos[t * 4 + 2 * i] - Math.cos(want(t, i))) < 1e-6);
      assert.equal(cos[t * 4 + 2 * i], cos[t * 4 + 2 * i + 1]);
    }
  }
  // Writing into one call's values must not change the next call's (the host values are cached).
  (a.cos.dataSync() as Float32Array).fill(7);
  const b = ropeTables(5, 4, 10000);
  assert.notEqual(b.cos.dataId, a.cos.dataId);
  assert.ok(Math.abs((await b.cos.data())[4] - Math.cos(1)) < 1e-6);
  assert.deepEqual(b.sin.shape, [5, 4]);
  tf.dispose([a.cos, a.sin, b.cos, b.sin]);
});
