// The tfjs form of block-causal attention (lib/model/layers/attention.ts) on webgpu without our
// fused kernels: more than 7 query blocks must not hit WebGPU's 8-storage-buffer limit in AddN.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { disableGpuKernels, enableGpuKernels } from "../../lib/gpu/register.ts";
import { causalBias, denseAttention } from "../../lib/model/layers/attention.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

/** Values and gradients of Σ w ⊙ attention(q, k, v) with 10 query blocks of 4 (T = 40). */
async function blockedGrads(): Promise<Float32Array[]> {
  const [q, k, v, w] = [1, 2, 3, 4].map((s) => seeded([1, 2, 40, 8], s));
  const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
    tf.sum(tf.mul(denseAttention(a, b, c, 0.35, causalBias(40), 4), w));
  const out = tf.tidy(() => [loss(q, k, v), ...tf.grads(loss)([q, k, v])]);
  const values = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([...out, q, k, v, w]);
  return values;
}

Deno.test("block-causal attention's tfjs form on webgpu (10 blocks) equals the cpu backend", async () => {
  await tf.setBackend("cpu");
  const want = await blockedGrads();
  await useWebgpu();
  disableGpuKernels(); // the tfjs form: causalBias gives a dense bias, attention runs in blocks
  try {
    const got = await blockedGrads();
    ["loss", "dq", "dk", "dv"].forEach((name, i) => {
      let worst = 0;
      want[i].forEach((x, j) => (worst = Math.max(worst, Math.abs(x - got[i][j]))));
      assert.ok(worst < 1e-4, `${name}: max diff ${worst}`);
    });
  } finally {
    enableGpuKernels();
  }
});
