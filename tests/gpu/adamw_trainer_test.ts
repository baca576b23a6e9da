import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { AdamW } from "../../lib/train/adamw.ts";
import { fusedKernelsActive } from "../../lib/gpu/active.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

/** Three AdamW steps on a matrix (decayed) and a vector (not decayed); returns the weights. */
async function run(): Promise<Float32Array[]> {
  const w = tf.variable(seeded([6, 5], 1), true, `w_${tf.getBackend()}`);
  const b = tf.variable(seeded([5], 2), true, `b_${tf.getBackend()}`);
  const opt = new AdamW(new Map([["w", w], ["b", b]]), {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0.1,
  });
  for (let k = 1; k <= 3; k++) {
    const grads = new Map([["w", seeded([6, 5], 10 + k)], ["b", seeded([5], 20 + k)]]);
    opt.apply(grads, 0.01 * k);
    grads.forEach((g) => g.dispose());
  }
  const out = [await w.data(), await b.data()] as Float32Array[];
  opt.dispose();
  tf.dispose([w, b]);
  return out;
}

Deno.test("AdamW on webgpu takes the one-dispatch kernel and equals the tfjs-op path", async () => {
  await tf.setBackend("cpu");
  const reference = await run();
  await useWebgpu();
  assert.ok(fusedKernelsActive(), "kernels should be active on webgpu");
  const fused = await run();
  reference.forEach((r, i) =>
    r.forEach((x, j) =>
      assert.ok(Math.abs(x - fused[i][j]) < 1e-6, `${i}/${j}: ${x} vs ${fused[i][j]}`)
    )
  );
});
