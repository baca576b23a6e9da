import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  attentionForward,
  attentionUnrolled,
  fusedAttention,
  setAttentionUnrolled,
} from "../../lib/gpu/attention.ts";
import { type AttentionOptions, referenceAttention } from "../../lib/gpu/attention_reference.ts";
import { attentionForwardWgsl } from "../../lib/gpu/attention_wgsl.ts";
import {
  attentionBackwardDkvWgsl,
  attentionBackwardDqWgsl,
} from "../../lib/gpu/attention_backward_wgsl.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";

const cases = [
  { name: "causal", opts: {} },
  { name: "sliding window 7", opts: { window: 7 } },
  { name: "documents", docs: true, opts: {} },
  { name: "documents + window 5", docs: true, opts: { window: 5 } },
  { name: "non-causal documents", docs: true, opts: { causal: false } },
];

// Both WGSL forms (loop / unrolled, see setAttentionUnrolled) against the plain-tfjs reference.
// Compiling a new pipeline on the software adapter takes 2–220 s (the forward at headDim 64; mesa's
// shader cache keeps them for later runs), so every mask runs at headDim 16 and the presets' 32
// and 64 get one ragged case each: 21 attention pipelines in all, 12 of them unrolled.
const forms = [{ name: "unrolled", on: true }, { name: "loops", on: false }];
const shapes = [
  ...cases.map((c) => ({ ...c, d: 16, t: 70, forms })),
  { name: "documents + window 9", docs: true, opts: { window: 9 }, d: 32, t: 83, forms },
  // The loop form at 64 is the unchanged pre-unrolling kernel; its forward alone takes ~170 s
  // to compile here.
  { name: "causal", opts: {}, d: 64, t: 77, forms: forms.slice(0, 1) },
];

async function checkAgainstReference(
  [b, h, t, d]: number[],
  docs: boolean,
  opts: AttentionOptions,
): Promise<void> {
  const q = seeded([b, h, t, d], 11), k = seeded([b, h, t, d], 12), v = seeded([b, h, t, d], 13);
  const w = seeded([b, h, t, d], 14); // random cotangent via sum(out * w)
  const ids = new Int32Array(b * t);
  for (let i = 0; i < t; i++) {
    ids[i] = i < 20 ? 0 : i < 45 ? 1 : 2;
    ids[t + i] = i < t - 4 ? 5 : 6;
  }
  const docIds = docs ? tf.tensor2d(ids, [b, t], "int32") : undefined;
  const all = { ...opts, docIds };
  const before = tf.memory().numTensors;
  const loss = (fn: typeof fusedAttention) => (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
    tf.sum(tf.mul(fn(x, y, z, all), w));
  const ours = fusedAttention(q, k, v, all), ref = referenceAttention(q, k, v, all);
  const fwd = await maxAbsDiff(ours, ref);
  assert.ok(fwd < 1e-4, `forward differs by ${fwd}`);
  const g = tf.grads(loss(fusedAttention))([q, k, v]);
  const gr = tf.grads(loss(referenceAttention))([q, k, v]);
  for (let i = 0; i < 3; i++) {
    const diff = await maxAbsDiff(g[i], gr[i]);
    assert.ok(diff < 1e-4, `${"qkv"[i]} gradient differs by ${diff}`);
  }
  tf.dispose([ours, ref, ...g, ...gr]);
  assert.equal(tf.memory().numTensors, before, "no tensor leak");
  tf.dispose([q, k, v, w, ...(docIds ? [docIds] : [])]);
}

for (const c of shapes) {
  for (const form of c.forms) {
    Deno.test(
      `fused attention (${form.name}) forward and gradients equal plain tfjs: ${c.name}, ` +
        `headDim ${c.d}, T ${c.t}`,
      async () => {
        await useWebgpu();
        setAttentionUnrolled(form.on);
        try {
          await checkAgainstReference([2, 2, c.t, c.d], c.docs === true, c.opts);
        } finally {
          setAttentionUnrolled(true);
        }
      },
    );
  }
}

Deno.test("the two attention forms are distinct WGSL with the same bindings", () => {
  for (const hasDoc of [false, true]) {
    const loops = { headDim: 32, hasDoc }, unrolled = { ...loops, unrolled: true };
    for (const gen of [attentionForwardWgsl, attentionBackwardDqWgsl, attentionBackwardDkvWgsl]) {
      const a = gen(loops), b = gen(unrolled);
      assert.notEqual(a, b);
      const bindings = (s: string) => s.match(/@binding\(\d+\) var<[^>]+> \w+/g)?.join();
      assert.equal(bindings(b), bindings(a));
      assert.match(a, /var q: array<vec4<f32>, D4>|var k: array<vec4<f32>, D4>/);
      // No private array survives in the unrolled form; loops left index workgroup memory only.
      assert.doesNotMatch(b, /var \w+: array</);
      assert.doesNotMatch(b, /for \(var d /);
    }
  }
  assert.match(attentionForwardWgsl({ headDim: 64, hasDoc: false, unrolled: true }), /s31 > NEG/);
});

Deno.test("setAttentionUnrolled picks the form and rejects a non-boolean", () => {
  assert.equal(attentionUnrolled(), true, "default: unrolled");
  setAttentionUnrolled(false);
  assert.equal(attentionUnrolled(), false);
  setAttentionUnrolled(true);
  assert.throws(() => setAttentionUnrolled(1 as unknown as boolean), /must be a boolean/);
});

Deno.test("attentionForward keeps the log-sum-exp of the scaled, masked scores", async () => {
  await useWebgpu();
  const q = seeded([1, 1, 9, 16], 21), k = seeded([1, 1, 9, 16], 22);
  const { out, lse } = attentionForward(q, k, k, { window: 3 });
  const qa = await q.data(), ka = await k.data(), la = await lse.data();
  for (let i = 0; i < 9; i++) {
    let s = 0;
    for (let j = Math.max(0, i - 2); j <= i; j++) {
      let dot = 0;
      for (let e = 0; e < 16; e++) dot += qa[i * 16 + e] * ka[j * 16 + e];
      s += Math.exp(dot / 4);
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
  const q = seeded([1, 1, 6, 16], 31);
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
