import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { attentionForward, fusedAttention } from "../../lib/gpu/attention.ts";
import { referenceAttention } from "../../lib/gpu/attention_reference.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";

const cases = [
  { name: "causal", opts: {} },
  { name: "sliding window 7", opts: { window: 7 } },
  { name: "documents", docs: true, opts: {} },
  { name: "documents + window 5", docs: true, opts: { window: 5 } },
  { name: "non-causal documents", docs: true, opts: { causal: false } },
];

for (const c of cases) {
  Deno.test(`fused attention forward and gradients equal plain tfjs: ${c.name}`, async () => {
    await useWebgpu();
    const [b, h, t, d] = [2, 2, 70, 16];
    const q = seeded([b, h, t, d], 11), k = seeded([b, h, t, d], 12), v = seeded([b, h, t, d], 13);
    const w = seeded([b, h, t, d], 14); // random cotangent via sum(out * w)
    const ids = new Int32Array(b * t);
    for (let i = 0; i < t; i++) {
      ids[i] = i < 20 ? 0 : i < 45 ? 1 : 2;
      ids[t + i] = i < 66 ? 5 : 6;
    }
    const docIds = c.docs ? tf.tensor2d(ids, [b, t], "int32") : undefined;
    const opts = { ...c.opts, docIds };
    const before = tf.memory().numTensors;
    const loss = (fn: typeof fusedAttention) => (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
      tf.sum(tf.mul(fn(x, y, z, opts), w));
    const ours = fusedAttention(q, k, v, opts), ref = referenceAttention(q, k, v, opts);
    assert.ok(await maxAbsDiff(ours, ref) < 1e-4, "forward");
    const g = tf.grads(loss(fusedAttention))([q, k, v]);
    const gr = tf.grads(loss(referenceAttention))([q, k, v]);
    for (let i = 0; i < 3; i++) {
      const diff = await maxAbsDiff(g[i], gr[i]);
      assert.ok(diff < 1e-4, `${"qkv"[i]} gradient differs by ${diff}`);
    }
    tf.dispose([ours, ref, ...g, ...gr]);
    assert.equal(tf.memory().numTensors, before, "no tensor leak");
  });
}

Deno.test("attentionForward keeps the log-sum-exp of the scaled, masked scores", async () => {
  await useWebgpu();
  const q = seeded([1, 1, 9, 8], 21), k = seeded([1, 1, 9, 8], 22);
  const { out, lse } = attentionForward(q, k, k, { window: 3 });
  const qa = await q.data(), ka = await k.data(), la = await lse.data();
  for (let i = 0; i < 9; i++) {
    let s = 0;
    for (let j = Math.max(0, i - 2); j <= i; j++) {
      let dot = 0;
      for (let e = 0; e < 8; e++) dot += qa[i * 8 + e] * ka[j * 8 + e];
      s += Math.exp(dot / Math.sqrt(8));
    }
    assert.ok(Math.abs(la[i] - Math.log(s)) < 1e-5, `row ${i}`);
  }
  tf.dispose([out, lse]);
});

Deno.test("attention rejects a window without causal masking, naming the option", () => {
  const q = tf.zeros([1, 1, 4, 8]);
  assert.throws(() => referenceAttention(q, q, q, { causal: false, window: 2 }), /window must be/);
});

Deno.test("fused attention gradients survive the caller disposing docIds after the forward", async () => {
  await useWebgpu();
  const q = seeded([1, 1, 6, 8], 31);
  const docIds = tf.tensor2d([[0, 0, 0, 1, 1, 1]], [1, 6], "int32");
  const opts = { docIds };
  const ref = tf.grads((x: tf.Tensor) => tf.sum(referenceAttention(x, x, x, opts)))([q]);
  const g = tf.grads((x: tf.Tensor) => {
    const y = tf.sum(fusedAttention(x, x, x, { docIds: docIds.clone() }));
    return y; // the clone is disposed by the gradient scope before backward runs
  })([q]);
  const diff = await maxAbsDiff(g[0], ref[0]);
  assert.ok(diff < 1e-4, `gradient differs by ${diff}`);
  tf.dispose([q, docIds, ...ref, ...g]);
});
