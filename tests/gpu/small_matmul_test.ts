import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { planMatmul } from "../../lib/gpu/matmul.ts";
import { smallMatmulWgsl, useSmallMatmul } from "../../lib/gpu/small_matmul.ts";
import { smallBatchedMatMul } from "../../lib/model/layers/cross_attention.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";

Deno.test("useSmallMatmul routes tiny products, not the presets' linear layers", () => {
  assert.ok(useSmallMatmul(1, 2, 32)); // a byte's query against its patch's 2 slots
  assert.ok(useSmallMatmul(2, 32, 4)); // gradient of the weighted sum, per patch
  assert.ok(useSmallMatmul(16, 16, 256));
  assert.ok(!useSmallMatmul(17, 17, 32));
  assert.ok(!useSmallMatmul(1, 2, 257)); // long k: the tiled kernel
  assert.ok(!useSmallMatmul(65536, 768, 256));
  assert.ok(smallMatmulWgsl().includes("@workgroup_size(256, 1, 1)"));
});

// Plain JS oracle of tf.matMul for [batch, ·, ·] operands (a batch of 1 broadcasts).
async function oracle(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): Promise<tf.Tensor> {
  const [ba, ra, ca] = a.shape, [bb, rb, cb] = b.shape;
  const m = ta ? ca : ra, k = ta ? ra : ca, n = tb ? rb : cb;
  const batches = Math.max(ba, bb);
  const av = await a.data(), bv = await b.data();
  const out = new Float32Array(batches * m * n);
  for (let z = 0; z < batches; z++) {
    const oa = (ba === 1 ? 0 : z) * ra * ca, ob = (bb === 1 ? 0 : z) * rb * cb;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let r = 0; r < k; r++) {
          s += av[oa + (ta ? r * ca + i : i * ca + r)] * bv[ob + (tb ? j * cb + r : r * cb + j)];
        }
        out[(z * m + i) * n + j] = s;
      }
    }
  }
  return tf.tensor(out, [batches, m, n]);
}

// Cross-attention's shapes (N per-byte or per-patch matrices, Q, S ≤ 16, d = 32) and a ragged
// one, every transpose, batch broadcasts; against a JS oracle (stock kernels would compile a
// shader per shape, which the software adapter makes slow).
Deno.test("small-product matmul equals a JS oracle for every transpose and batch broadcast", async () => {
  await useWebgpu();
  const cases: [number[], number[], boolean, boolean][] = [];
  for (const [m, k, n] of [[1, 32, 2], [2, 4, 32], [3, 5, 7]]) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      cases.push([ta ? [37, k, m] : [37, m, k], tb ? [37, n, k] : [37, k, n], ta, tb]);
    }
  }
  cases.push([[5, 2, 8], [1, 3, 8], false, true], [[1, 3, 8], [5, 2, 8], false, true]);
  for (const [sa, sb, ta, tb] of cases) {
    const a = seeded(sa, 11), b = seeded(sb, 12);
    const ours = tf.matMul(a, b, ta, tb);
    const expect = await oracle(a, b, ta, tb);
    assert.deepEqual(ours.shape, expect.shape);
    const d = await maxAbsDiff(ours, expect);
    assert.ok(d < 1e-5, `a [${sa}] b [${sb}] ta=${ta} tb=${tb}: max diff ${d}`);
    tf.dispose([a, b, ours, expect]);
  }
});

Deno.test("small-product matmul runs past 65,535 batches (a flat grid) and matches a JS oracle", async () => {
  await useWebgpu();
  const N = 70_000, Q = 1, S = 2, d = 4;
  assert.equal(planMatmul([N, Q, d], [N, S, d], false, true).batches, N);
  const x = seeded([N, Q, d], 15), y = seeded([N, S, d], 16);
  const out = await tf.matMul(x, y, false, true).data();
  const xs = await x.data(), ys = await y.data();
  let worst = 0;
  for (let i = 0; i < N; i++) {
    for (let s = 0; s < S; s++) {
      let acc = 0;
      for (let r = 0; r < d; r++) acc += xs[i * d + r] * ys[(i * S + s) * d + r];
      worst = Math.max(worst, Math.abs(acc - out[i * S + s]));
    }
  }
  assert.ok(worst < 1e-5, `max diff ${worst}`);
  tf.dispose([x, y]);
});

Deno.test("cross-attention's smallBatchedMatMul on webgpu: values and gradients equal the cpu backend", async () => {
  await useWebgpu();
  const xs = seeded([300, 2, 8], 17), ys = seeded([300, 3, 8], 18), zs = seeded([300, 2, 3], 19);
  const x = await xs.array(), y = await ys.array(), z = await zs.array();
  const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(
      smallBatchedMatMul(smallBatchedMatMul(a, b, true), b, false),
      tf.reshape(c.slice([0, 0, 0], [300, 2, 1]), [300, 2, 1]),
    ));
  const run = () => {
    const [ga, gb] = tf.grads((a: tf.Tensor, b: tf.Tensor) => loss(a, b, tf.tensor(z)))([
      tf.tensor(x),
      tf.tensor(y),
    ]);
    return [loss(tf.tensor(x), tf.tensor(y), tf.tensor(z)), ga, gb];
  };
  const gpu = await Promise.all(run().map((t) => t.data()));
  await tf.setBackend("cpu");
  try {
    const cpu = await Promise.all(run().map((t) => t.data()));
    for (let i = 0; i < 3; i++) {
      const worst = Array.from(gpu[i] as Float32Array).reduce(
        (w: number, v: number, j: number) => Math.max(w, Math.abs(v - cpu[i][j])),
        0,
      );
      assert.ok(worst < 1e-3, `output ${i}: max diff ${worst}`);
    }
  } finally {
    await useWebgpu();
  }
});
