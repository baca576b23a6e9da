// The model on webgpu with lib/gpu's kernels (fused attention without [T, T] scores, fused
// RMSNorm and SwiGLU) must compute what the dense wasm path computes: logits and every weight
// gradient of the training loss, for plain causal, sliding-window and block-causal (resetAtEos)
// configs. Reference values are taken on wasm first because webgpu tensors cannot be read back
// synchronously under Deno, which moving them to another backend would need.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import "../../lib/wasm_kernels.ts"; // gather gradients on wasm
import { type BltConfig, resolveConfig } from "../../lib/config.ts";
import { enableGpuKernels } from "../../lib/gpu/register.ts";
import { ATTENTION_KERNELS } from "../../lib/gpu/attention.ts";
import { createBlt } from "../../lib/model/mod.ts";
import type { Batch } from "../../lib/train/types.ts";

function tinyConfig(overrides: Record<string, unknown>): BltConfig {
  return resolveConfig("tiny", {
    encoder: { dim: 16, heads: 2, layers: 1, ffnDim: 32 },
    decoder: { dim: 16, heads: 2, layers: 1, ffnDim: 32 },
    global: { dim: 24, heads: 2, layers: 1, ffnDim: 32 },
    entropyModel: { dim: 8, heads: 2, layers: 1, ffnDim: 16 },
    hash: { buckets: 31, sizes: [3, 4] },
    crossAttnK: 2,
    ...overrides,
  });
}

// Row 0 holds two EOS (id 2) so resetAtEos starts new documents mid-sequence.
const batch: Batch = {
  ids: [
    [1, 76, 101, 2, 1, 88, 99, 120, 2, 33, 44, 55, 66, 77],
    [1, 200, 17, 45, 90, 12, 4, 5, 6, 7, 8, 9, 10, 11],
  ],
  patchLengths: [[1, 3, 2, 4, 4], [1, 4, 4, 2, 3]],
};

interface Result {
  logits: Float32Array;
  grads: Map<string, Float32Array>;
}

async function run(cfg: BltConfig): Promise<Result> {
  const blt = createBlt(cfg, 7);
  const vars = [...blt.namedVariables()];
  const logitsT = blt.forward(batch.ids, { patchLengths: batch.patchLengths }).logits;
  const { value, grads } = tf.variableGrads(
    () => blt.loss(batch).loss,
    vars.map(([, v]) => v),
  );
  const logits = await logitsT.data() as Float32Array;
  const out = new Map<string, Float32Array>();
  for (const [name, v] of vars) out.set(name, await grads[v.name].data() as Float32Array);
  tf.dispose([logitsT, value, ...Object.values(grads)]);
  blt.dispose();
  return { logits, grads: out };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// [name, overrides, self-attention layers on the fused kernel (encoder + global + decoder)]
const cases: [string, Record<string, unknown>, number][] = [
  ["causal", {}, 3],
  [
    "sliding windows + resetAtEos",
    { resetAtEos: true, "encoder.slidingWindow": 3, "decoder.slidingWindow": 5 },
    3,
  ],
  // Head size 6 is outside the fused kernel's range: the compact mask falls back to dense scores.
  ["global head size 6 (dense fallback) + resetAtEos", {
    resetAtEos: true,
    global: { dim: 12, heads: 2, layers: 1, ffnDim: 32 },
  }, 2],
];

for (const [name, overrides, fusedLayers] of cases) {
  Deno.test(`webgpu with fused kernels equals the wasm path: ${name}`, async () => {
    const cfg = tinyConfig(overrides);
    assert.ok(await tf.setBackend("wasm"));
    const ref = await run(cfg);
    assert.ok(await tf.setBackend("webgpu"), "tfjs could not start webgpu (navigator.gpu?)");
    enableGpuKernels();
    const before = tf.memory().numTensors;
    let gpu: Result | undefined;
    const profile = await tf.profile(async () => {
      gpu = await run(cfg);
      return [];
    });
    if (gpu === undefined) throw new Error("the profiled run returned nothing");
    assert.equal(tf.memory().numTensors, before, "no tensor leak on the gpu path");
    const count = (name: string) => profile.kernels.filter((k) => k.name === name).length;
    // run() makes two forward passes (logits, loss) and one backward pass.
    assert.equal(count(ATTENTION_KERNELS.forward), 2 * fusedLayers, "fused attention forwards");
    assert.equal(count(ATTENTION_KERNELS.backwardDkv), fusedLayers, "fused attention backwards");
    assert.ok(count("BltRmsNormForward") > 0 && count("BltSwigluForward") > 0, "fused norm/mlp");
    const dl = maxDiff(gpu.logits, ref.logits);
    assert.ok(dl < 1e-4, `logits differ by ${dl}`);
    assert.equal(gpu.grads.size, ref.grads.size);
    for (const [w, g] of ref.grads) {
      const d = maxDiff(gpu.grads.get(w)!, g);
      assert.ok(d < 1e-4, `gradient of ${w} differs by ${d}`);
    }
  });
}
