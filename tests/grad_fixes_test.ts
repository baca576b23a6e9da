import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "../lib/grad_fixes.ts";

Deno.test("Sum and Mean gradients: dy broadcast back over the reduced axes", async () => {
  await tf.setBackend("cpu");
  const x = tf.tensor3d([...Array(24).keys()].map((i) => i / 7), [2, 3, 4]);
  const w = tf.tensor3d([...Array(24).keys()].map((i) => (i % 5) - 2), [2, 3, 4]);
  for (const axis of [0, 1, 2, [0, 2], [1, 2], [0, 1, 2]]) {
    for (const keepDims of [false, true]) {
      // d/dx Σ w·g(x) with g = sum/mean over axis, then broadcast back: each x gets the sum of the
      // upstream weights of the output it feeds (÷ n for mean). Compare with a dense formulation.
      const f = (op: "sum" | "mean") => (t: tf.Tensor) =>
        tf.sum(tf.mul(tf[op](tf.mul(t, w), axis, keepDims), tf.scalar(1.5)));
      for (const op of ["sum", "mean"] as const) {
        const got = tf.grad(f(op))(x);
        const n = (Array.isArray(axis) ? axis : [axis]).reduce((p, a) => p * x.shape[a], 1);
        const want = tf.mul(w, op === "sum" ? 1.5 : 1.5 / n);
        assert.deepEqual(
          Array.from(await got.data()).map((v) => v.toFixed(5)),
          Array.from(await want.data()).map((v) => v.toFixed(5)),
          `${op} axis ${axis} keepDims ${keepDims}`,
        );
        tf.dispose([got, want]);
      }
    }
  }
  tf.dispose([x, w]);
});

Deno.test("Tile (and broadcastTo) gradient: one sum over the repetitions, equal to the slice loop", async () => {
  await tf.setBackend("cpu");
  const { tileGrad } = await import("../lib/grad_fixes.ts");
  const cases: [number[], number[]][] = [
    [[3], [4]],
    [[2, 3], [2, 2]],
    [[2, 1, 3], [1, 4, 1]],
    [[4, 1, 1, 3], [1, 5, 2, 1]],
    [[2, 2, 1, 2], [2, 1, 3, 2]],
    [[2, 3], [1, 1]],
  ];
  for (const [shape, reps] of cases) {
    const x = tf.randomNormal(shape, 0, 1, "float32", 1);
    const outShape = shape.map((d, i) => d * reps[i]);
    const w = tf.randomNormal(outShape, 0, 1, "float32", 2);
    const got = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, reps), w)))(x);
    // The slice loop tfjs 4.22 registers: Σ over every repetition of the matching block of w.
    const flat = (await w.data()) as Float32Array;
    const want = new Float32Array(x.size);
    const strides = outShape.map((_, i) => outShape.slice(i + 1).reduce((p, d) => p * d, 1));
    for (let o = 0; o < flat.length; o++) {
      let rem = o, xi = 0;
      for (let a = 0; a < shape.length; a++) {
        const c = Math.floor(rem / strides[a]);
        rem -= c * strides[a];
        xi = xi * shape[a] + (c % shape[a]);
      }
      want[xi] += flat[o];
    }
    const g = await got.data();
    for (let i = 0; i < want.length; i++) {
      assert.ok(Math.abs(g[i] - want[i]) < 1e-4, `[${shape}] reps [${reps}] at ${i}`);
    }
    assert.deepEqual(got.shape, shape);
    assert.deepEqual(tileGrad(w, shape, reps).shape, shape);
    tf.dispose([x, w, got]);
  }
  // broadcastTo runs Tile: its gradient must not slice once per repetition.
  const x = tf.ones([4, 1, 1, 8]);
  const profile = await tf.profile(() =>
    tf.grad((t: tf.Tensor) => tf.sum(tf.broadcastTo(t, [4, 33, 2, 8])))(x)
  );
  const slices = profile.kernels.filter((k) => k.name === "Slice").length;
  assert.equal(slices, 0, `${slices} Slice kernels in the broadcastTo gradient`);
});
