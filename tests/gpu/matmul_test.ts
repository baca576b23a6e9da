import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  disableGpuKernels,
  enableGpuKernels,
  STOCK_BATCH_MAT_MUL,
  stockMatMul,
} from "../../lib/gpu/register.ts";
import {
  matmulForm,
  matmulUnrolled,
  planMatmul,
  resolvedMatmulForm,
  setMatmulForm,
  setMatmulUnrolled,
} from "../../lib/gpu/matmul.ts";
import { matmulWgsl } from "../../lib/gpu/matmul_wgsl.ts";
import { onNvidia } from "../../lib/gpu/dispatch.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";

// Plain JS oracle for a single [m,k]x[k,n] product (independent of any tfjs kernel).
function naive(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

// Runs `body` with our matmul emitting the given WGSL form, then restores the previous one.
async function withForm(unrolled: boolean, body: () => Promise<void>): Promise<void> {
  await useWebgpu();
  const before = matmulForm();
  setMatmulForm(unrolled ? "unrolled" : "loop");
  try {
    await body();
  } finally {
    setMatmulForm(before);
  }
}

// Both WGSL forms of matmulWgsl (loops; fully unrolled) on ragged sizes. vec4 access per
// operand follows divisibility, so these sizes cover all-scalar, all-vec4 and mixed combinations
// over the four transposes.
for (const unrolled of [false, true]) {
  const form = unrolled ? "unrolled" : "loop";
  for (const [m, k, n] of [[133, 37, 141], [132, 36, 140], [133, 36, 140], [132, 37, 141]]) {
    Deno.test(`our matmul (${form} WGSL) equals a JS oracle and the stock kernel (all transposes) [${m},${k}]x[${k},${n}]`, async () => {
      await withForm(unrolled, async () => {
        const a = seeded([m, k], 1), b = seeded([k, n], 2);
        const expect = tf.tensor(
          naive(await a.data() as Float32Array, await b.data() as Float32Array, m, k, n),
          [m, n],
        );
        for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
          const aa = ta ? tf.transpose(a) : a, bb = tb ? tf.transpose(b) : b;
          const ours = tf.matMul(aa, bb, ta, tb);
          assert.deepEqual(ours.shape, [m, n]);
          assert.ok(await maxAbsDiff(ours, expect) < 1e-4, `transposeA=${ta} transposeB=${tb}`);
          assert.ok(await maxAbsDiff(ours, stockMatMul(aa, bb, ta, tb)) < 1e-4);
        }
      });
    });
  }

  Deno.test(`batched matmul (${form} WGSL) broadcasts a batch of 1, like the stock kernel`, async () => {
    await withForm(unrolled, async () => {
      tf.tidy(() => {
        const a = seeded([2, 3, 20, 24], 3), w = seeded([24, 40], 4);
        const ours = tf.matMul(a, w);
        assert.deepEqual(ours.shape, [2, 3, 20, 40]);
        return ours;
      });
      const a = seeded([3, 20, 24], 5), b = seeded([1, 40, 24], 6);
      const d = await maxAbsDiff(tf.matMul(a, b, false, true), stockMatMul(a, b, false, true));
      assert.ok(d < 1e-4, `max diff ${d}`);
    });
  });

  Deno.test(`split-K path (${form} WGSL; small output, long K) matches the stock kernel`, async () => {
    await withForm(unrolled, async () => {
      const plan = planMatmul([1100, 48], [1100, 40], true, false);
      assert.ok(plan.splits > 1, "this shape must exercise split-K");
      const a = seeded([1100, 48], 7), b = seeded([1100, 40], 8);
      const d = await maxAbsDiff(tf.matMul(a, b, true, false), stockMatMul(a, b, true, false));
      assert.ok(d < 1e-3, `max diff ${d}`);
    });
  });
}

// The tuned form (NVIDIA's default; the software adapter runs "unrolled" unless asked). Three
// pipelines, to keep cold shader compiles on the software adapter short: whole k steps with
// ragged M/N edges (clamped loads), a ragged K (the last k tile loaded with checks), and split-K
// on transposed A (the weight-gradient form).
async function withTuned(body: () => Promise<void>): Promise<void> {
  await useWebgpu();
  const before = matmulForm();
  setMatmulForm("tuned");
  try {
    await body();
  } finally {
    setMatmulForm(before);
  }
}

/** The pipeline keys our dispatches used while running `f` (tf.profile's extra info). */
async function matmulKeys(f: () => tf.Tensor): Promise<string> {
  const info = await tf.profile(f);
  tf.dispose(info.result as tf.Tensor);
  return JSON.stringify(info.kernels.map((k) => k.extraInfo));
}

Deno.test("tuned matmul: whole k steps, ragged M/N (clamped loads) equals the oracle", async () => {
  await withTuned(async () => {
    const [m, k, n] = [133, 48, 140];
    const a = seeded([m, k], 21), b = seeded([k, n], 22);
    const expect = naive(await a.data() as Float32Array, await b.data() as Float32Array, m, k, n);
    const ours = tf.matMul(a, b);
    assert.ok(await maxAbsDiff(ours, tf.tensor(expect, [m, n])) < 1e-4);
    assert.ok(await maxAbsDiff(ours, stockMatMul(a, b)) < 1e-4);
    // The tuned pipeline (unchecked: "_tu") ran, not another form.
    assert.match(await matmulKeys(() => tf.matMul(a, b)), /blt_matmul_NN_444_tu/);
  });
});

Deno.test("tuned matmul: ragged K (checked k tail) equals the stock kernel", async () => {
  await withTuned(async () => {
    const a = seeded([70, 37], 23), b = seeded([37, 68], 24);
    assert.ok(await maxAbsDiff(tf.matMul(a, b), stockMatMul(a, b)) < 1e-4);
  });
});

Deno.test("tuned matmul: split-K with a ragged last split (transposed A) equals the stock kernel", async () => {
  await withTuned(async () => {
    const plan = planMatmul([1030, 40], [1030, 36], true, false);
    assert.ok(plan.splits > 1 && 1030 % plan.kChunk !== 0, JSON.stringify(plan));
    const a = seeded([1030, 40], 25), b = seeded([1030, 36], 26);
    const d = await maxAbsDiff(tf.matMul(a, b, true, false), stockMatMul(a, b, true, false));
    assert.ok(d < 1e-3, `max diff ${d}`);
  });
});

Deno.test("tuned matmul: batched, transposed B, ragged K equals the stock kernel", async () => {
  await withTuned(async () => {
    const a = seeded([2, 70, 36], 27), b = seeded([2, 68, 36], 28);
    const d = await maxAbsDiff(tf.matMul(a, b, false, true), stockMatMul(a, b, false, true));
    assert.ok(d < 1e-4, `max diff ${d}`);
  });
});

Deno.test("setMatmulForm: 'auto' resolves by adapter; bad names are refused", async () => {
  await useWebgpu();
  assert.equal(matmulForm(), "auto");
  assert.equal(resolvedMatmulForm(), onNvidia() ? "tuned" : "unrolled");
  assert.throws(() => setMatmulForm("fast" as never), /unknown form 'fast'/);
  setMatmulUnrolled(false);
  assert.equal(resolvedMatmulForm(), "loop");
  assert.equal(matmulUnrolled(), false);
  setMatmulUnrolled(true);
  assert.equal(matmulForm(), "auto");
});

Deno.test("matmulWgsl's unrolled form keeps the bindings and uniforms and has no register arrays", () => {
  const loop = matmulWgsl(true, false, true, true, true);
  const unrolled = matmulWgsl(true, false, true, true, true, true);
  const header = (src: string) => src.split("\n").filter((l) => /@binding|struct Uniforms/.test(l));
  assert.deepEqual(header(unrolled), header(loop));
  assert.ok(loop.includes("var acc: array<vec4<f32>, 16>"));
  assert.ok(!/array<(vec4<f32>|f32), \d+>;\s*$/m.test(unrolled.split("fn main")[1]));
  assert.ok(!unrolled.includes("for (var k = 0u"), "k-loop must be unrolled");
  assert.ok(unrolled.includes("c1_3_1"), "named accumulators");
});

Deno.test("gradients through our BatchMatMul equal stock gradients; no tensor leak", async () => {
  await useWebgpu();
  const a = seeded([2, 30, 20], 9), b = seeded([2, 20, 25], 10);
  const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y)));
  const before = tf.memory().numTensors;
  const [ga, gb] = tf.grads(f)([a, b]);
  disableGpuKernels();
  const [sa, sb] = tf.grads(f)([a, b]);
  enableGpuKernels();
  assert.ok(await maxAbsDiff(ga, sa) < 1e-3);
  assert.ok(await maxAbsDiff(gb, sb) < 1e-3);
  tf.dispose([ga, gb, sa, sb]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("planMatmul: K = 0 plans one split over an empty k range", () => {
  const p = planMatmul([40, 0], [0, 36], false, false);
  assert.deepEqual([p.splits, p.kChunk, p.k], [1, 16, 0]);
});

Deno.test("planMatmul rejects mismatched inner dims with a message naming both shapes", () => {
  assert.throws(() => planMatmul([4, 5], [6, 7], false, false), /inner dims differ: a \[4,5\]/);
});

Deno.test("enableGpuKernels replaces BatchMatMul and keeps the stock kernel; disable restores it", async () => {
  await useWebgpu();
  const ours = tf.getKernel(tf.BatchMatMul, "webgpu")?.kernelFunc;
  const stock = tf.getKernel(STOCK_BATCH_MAT_MUL, "webgpu")?.kernelFunc;
  assert.ok(ours !== undefined && stock !== undefined);
  assert.notEqual(ours, stock);
  disableGpuKernels();
  assert.equal(tf.getKernel(tf.BatchMatMul, "webgpu")?.kernelFunc, stock);
  assert.equal(tf.getKernel(STOCK_BATCH_MAT_MUL, "webgpu"), undefined);
  enableGpuKernels();
  enableGpuKernels(); // idempotent
  assert.equal(tf.getKernel(tf.BatchMatMul, "webgpu")?.kernelFunc === stock, false);
});
