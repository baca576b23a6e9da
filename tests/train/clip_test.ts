import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { clipByGlobalNorm, globalNorm } from "../../lib/train/clip.ts";

await tf.setBackend("cpu");

Deno.test("clipByGlobalNorm: scales all gradients together to maxNorm", () => {
  const g = new Map([["a", tf.tensor([3, 0])], ["b", tf.tensor([[4]])]]);
  const { grads, norm } = clipByGlobalNorm(g, 1);
  assert.deepEqual(norm, 5);
  assert.deepEqual(globalNorm(grads).toFixed(5), "1.00000");
  assert.deepEqual([...grads.get("a")!.dataSync()].map((x) => x.toFixed(5)), [
    "0.60000",
    "0.00000",
  ]);
  [...g.values(), ...grads.values()].forEach((t) => t.dispose());
});

Deno.test("clipByGlobalNorm: below maxNorm or with maxNorm 0 the gradients pass unchanged", () => {
  const g = new Map([["a", tf.tensor([3, 4])]]);
  for (const maxNorm of [10, 0]) {
    const before = tf.memory().numTensors;
    const { grads, norm } = clipByGlobalNorm(g, maxNorm);
    assert.deepEqual(norm, 5);
    assert.deepEqual([...grads.get("a")!.dataSync()], [3, 4]);
    grads.forEach((t) => t.dispose());
    assert.deepEqual(tf.memory().numTensors, before);
  }
  g.forEach((t) => t.dispose());
});

Deno.test("globalNorm: NaN and Infinity propagate so the trainer can stop on them", () => {
  const g = new Map([["a", tf.tensor([1, NaN])]]);
  assert.deepEqual(globalNorm(g), NaN);
  g.forEach((t) => t.dispose());
  assert.deepEqual(globalNorm(new Map()), 0);
});
