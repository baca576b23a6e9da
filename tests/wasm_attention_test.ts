import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "../lib/wasm_kernels.ts";
import "../lib/grad_fixes.ts";
import { causalBias, denseAttention } from "../lib/model/layers/attention.ts";
import { fusedBlocksAvailable, setFusedBlocks } from "../lib/wasm_attention.ts";

await tf.setBackend("wasm");

/** Output and gradients (of Σ out ⊙ w) of denseAttention, fused or in tfjs ops. */
function run(fused: boolean, shape: number[], bias: tf.Tensor, block: number): number[][] {
  const before = setFusedBlocks(fused);
  try {
    return tf.tidy(() => {
      const [q, k, v, w] = [1, 2, 3, 4].map((s) => tf.randomNormal(shape, 0, 1, "float32", s));
      const scale = shape[3] ** -0.5;
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(denseAttention(a, b, c, scale, bias, block), w));
      const out = denseAttention(q, k, v, scale, bias, block);
      const grads = tf.grads(f)([q, k, v]);
      return [out, ...grads].map((t) => Array.from(t.dataSync()));
    });
  } finally {
    setFusedBlocks(before);
  }
}

Deno.test("fused block attention (wasm) = the tfjs block form bit for bit: values and gradients", () => {
  assert.ok(fusedBlocksAvailable());
  // Shapes whose products all run on our gemm in the tfjs form too (≥ 8 rows, > 32k multiply-adds).
  const cases: [number[], number | null, number][] = [
    [[2, 4, 300, 32], null, 128], // 3 blocks of 100
    [[1, 2, 257, 64], null, 128], // 3 blocks of 86 (the global stack's shape)
    [[2, 2, 256, 32], 100, 64], // a sliding window: blocks see keys from c0 > 0
  ];
  for (const [shape, window, block] of cases) {
    const bias = causalBias(shape[2], window);
    const fused = run(true, shape, bias, block);
    const plain = run(false, shape, bias, block);
    ["out", "dq", "dk", "dv"].forEach((name, i) =>
      assert.deepEqual(fused[i], plain[i], `${shape} window ${window}: ${name}`)
    );
    bias.dispose();
  }
});

Deno.test("fused block attention = tfjs form within 1e-5 on tiny shapes (stock products there)", () => {
  const bias = causalBias(7);
  const fused = run(true, [1, 2, 7, 4], bias, 3);
  const plain = run(false, [1, 2, 7, 4], bias, 3);
  fused.forEach((xs, i) =>
    xs.forEach((x, j) =>
      assert.ok(Math.abs(x - plain[i][j]) <= 1e-5 * (1 + Math.abs(x)), `${i}/${j}`)
    )
  );
  bias.dispose();
});

Deno.test("fused block attention leaks no tensors", () => {
  const bias = causalBias(40);
  run(true, [1, 2, 40, 8], bias, 16);
  const before = tf.memory().numTensors;
  run(true, [1, 2, 40, 8], bias, 16);
  assert.equal(tf.memory().numTensors, before);
  bias.dispose();
});
