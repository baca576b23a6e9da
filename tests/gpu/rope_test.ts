// The fused webgpu RoPE against the tf-ops RoPE (interleaved pairs, the hf-blt reference form)
// computed on the cpu backend: forward values and input gradients within 1e-5. References are
// taken on cpu first (webgpu tensors cannot be read synchronously under Deno).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { applyRope, ropeTables } from "../../lib/model/layers/rope.ts";
import { ROPE_KERNELS, ropeFits, ropeGpu } from "../../lib/gpu/rope.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

interface Case {
  readonly name: string;
  readonly shape: number[];
  readonly theta: number;
}

const cases: Case[] = [
  { name: "[B, H, T, d] = [2, 3, 16, 8]", shape: [2, 3, 16, 8], theta: 10000 },
  { name: "long positions [1, 2, 300, 16], θ 5e5", shape: [1, 2, 300, 16], theta: 500000 },
  { name: "rank 2 [T, d] = [5, 4]", shape: [5, 4], theta: 10000 },
];

interface Reference {
  readonly x: Float32Array;
  readonly weights: Float32Array;
  readonly y: Float32Array;
  readonly dx: Float32Array;
}

// loss = Σ applyRope(x) · weights, so dloss/dx is the RoPE gradient applied to `weights`.
function lossOf(rope: typeof applyRope, cos: tf.Tensor, sin: tf.Tensor, w: tf.Tensor) {
  return (x: tf.Tensor) => tf.sum(tf.mul(rope(x, cos, sin), w));
}

async function reference(c: Case): Promise<Reference> {
  assert.ok(await tf.setBackend("cpu"));
  const T = c.shape[c.shape.length - 2], d = c.shape[c.shape.length - 1];
  const x = seeded(c.shape, 7), w = seeded(c.shape, 8);
  const { cos, sin } = ropeTables(T, d, c.theta);
  const y = applyRope(x, cos, sin);
  const dx = tf.grad(lossOf(applyRope, cos, sin, w))(x);
  const out = {
    x: await x.data() as Float32Array,
    weights: await w.data() as Float32Array,
    y: await y.data() as Float32Array,
    dx: await dx.data() as Float32Array,
  };
  tf.dispose([x, w, cos, sin, y, dx]);
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const c of cases) {
  Deno.test(`fused RoPE equals the tf-ops RoPE (values, gradient): ${c.name}`, async () => {
    const ref = await reference(c);
    await useWebgpu();
    const T = c.shape[c.shape.length - 2], d = c.shape[c.shape.length - 1];
    const before = tf.memory().numTensors;
    const x = tf.tensor(ref.x, c.shape), w = tf.tensor(ref.weights, c.shape);
    const { cos, sin } = ropeTables(T, d, c.theta);
    let y: tf.Tensor | undefined, dx: tf.Tensor | undefined;
    const profile = await tf.profile(() => {
      y = applyRope(x, cos, sin); // takes the fused kernel on webgpu
      dx = tf.grad(lossOf(applyRope, cos, sin, w))(x);
      return [];
    });
    const names = profile.kernels.map((k) => k.name);
    assert.deepEqual(
      names.filter((n) => n.startsWith("BltRope")),
      [ROPE_KERNELS.forward, ROPE_KERNELS.forward, ROPE_KERNELS.backward],
    );
    assert.ok(!names.includes("SplitV") && !names.includes("Concat"), names.join());
    const dy = maxDiff(await y!.data() as Float32Array, ref.y);
    assert.ok(dy <= 1e-5, `values differ by ${dy}`);
    const dg = maxDiff(await dx!.data() as Float32Array, ref.dx);
    assert.ok(dg <= 1e-5, `gradients differ by ${dg}`);
    tf.dispose([x, w, cos, sin, y!, dx!]);
    assert.equal(tf.memory().numTensors, before, "no tensor leak");
  });
}

Deno.test("tables that are not [T, d] take the tf-ops path on webgpu", async () => {
  await useWebgpu();
  const x = seeded([1, 2, 4, 8], 3);
  const { cos, sin } = ropeTables(4, 8, 10000);
  const c3 = tf.reshape(cos, [1, 4, 8]), s3 = tf.reshape(sin, [1, 4, 8]);
  let a: tf.Tensor | undefined, b: tf.Tensor | undefined;
  const profile = await tf.profile(() => {
    a = applyRope(x, c3, s3); // broadcast tables: tf ops
    b = applyRope(x, cos, sin); // fused
    return [];
  });
  const names = profile.kernels.map((k) => k.name);
  assert.equal(names.filter((n) => n === ROPE_KERNELS.forward).length, 1);
  assert.ok(names.includes("SplitV"));
  const diff = tf.max(tf.abs(tf.sub(a!, b!)));
  assert.ok((await diff.data())[0] <= 1e-6);
  tf.dispose([x, cos, sin, c3, s3, a!, b!, diff]);
});

Deno.test("ropeFits and ropeGpu refuse shapes they do not handle, naming them", async () => {
  await useWebgpu();
  assert.equal(ropeFits([2, 4, 16, 8], [16, 8], [16, 8], "float32"), true);
  assert.equal(ropeFits([2, 4, 16, 7], [16, 7], [16, 7], "float32"), false, "odd d");
  assert.equal(ropeFits([2, 4, 16, 8], [8, 8], [8, 8], "float32"), false, "T differs");
  assert.equal(ropeFits([2, 4, 16, 8], [16, 8], [16, 8], "int32"), false, "dtype");
  const x = seeded([2, 3, 4], 1), t = seeded([2, 4], 2);
  assert.throws(
    () => ropeGpu(x, t, t),
    /cos, sin \[T, d\]; found x \[2,3,4\] float32, cos \[2,4\]/,
  );
  tf.dispose([x, t]);
});
