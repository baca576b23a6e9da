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
