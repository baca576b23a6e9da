import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { hostCacheStats, hostCaching, setHostCaching } from "../../lib/gpu/host_cache.ts";
import { train } from "../../lib/train/loop.ts";
import { ToyBigram, toyExamples } from "../train/toy_model.ts";
import { onNvidia } from "../../lib/gpu/dispatch.ts";
import { useWebgpu } from "./webgpu_setup.ts";

/** Five AdamW steps of a toy bigram model on webgpu; its losses and final weights. */
async function trainToy(): Promise<{ losses: number[]; weights: Map<string, Float32Array> }> {
  const model = new ToyBigram({ dim: 8, seed: 5 });
  const rows = toyExamples(8, 33);
  const losses: number[] = [];
  try {
    await train({
      model,
      data: { batchAt: (i) => ({ ids: [rows[i % 8].ids, rows[(i + 3) % 8].ids] }) },
      config: { steps: 5, warmupSteps: 1, lr: 0.05 },
      callbacks: { onStep: (m) => void losses.push(m.loss) },
    });
    const weights = new Map<string, Float32Array>();
    for (const [name, v] of model.namedVariables()) {
      weights.set(name, (await v.data()) as Float32Array);
    }
    return { losses, weights };
  } finally {
    model.dispose();
  }
}

Deno.test("host caches (uniforms, layouts, bind groups) change no result and are hit", async () => {
  await useWebgpu(); // installs the caches on the webgpu backend
  try {
    setHostCaching(false);
    const plain = await trainToy();
    setHostCaching(true);
    const before = hostCacheStats();
    const cached = await trainToy();
    const after = hostCacheStats();
    // Bit for bit on the software adapter. On a parallel GPU the embedding gradient (a scatter-add
    // by float compare-exchange atomics, lib/gpu/segment_sum.ts) adds in a varying order, so two
    // identical runs differ in the last bits (H100: embed.weight by ~1e-7); hence a tolerance there.
    const tol = onNvidia() ? 1e-5 : 0;
    const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
      assert.equal(a.length, b.length, what);
      for (let i = 0; i < a.length; i++) {
        assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what} [${i}]: ${a[i]} vs ${b[i]}`);
      }
    };
    close(cached.losses, plain.losses, "losses differ with the caches on");
    for (const [name, w] of plain.weights) {
      close(cached.weights.get(name)!, w, `${name} differs with the caches on`);
    }
    // Steps 2..5 repeat step 1's dispatches: their uniforms and bind groups come from the caches.
    assert.ok(after.uniformHits > before.uniformHits, "no uniform buffer was reused");
    assert.ok(after.bindGroupHits > before.bindGroupHits, "no bind group was reused");
    assert.equal(after.enabled, true);
  } finally {
    setHostCaching(true);
  }
});

Deno.test("setHostCaching takes a boolean", () => {
  assert.throws(
    () => setHostCaching("yes" as unknown as boolean),
    /must be a boolean, found string/,
  );
  assert.equal(hostCaching(), true);
});

Deno.test("uploads by writeBuffer: float32, int32, bool and views of host values arrive intact", async () => {
  await useWebgpu();
  // tfjs-webgpu would run ops this small on the CPU (no upload) unless told not to.
  const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  const before = hostCacheStats().uploads;
  const backing = new Float32Array([9, 1.5, -2.25, 3e-8, 7]);
  const f = tf.tensor1d(backing.subarray(1, 4)); // a view with a byte offset
  const i = tf.tensor2d([[1, -2], [2 ** 30, 0]], [2, 2], "int32");
  const b = tf.tensor1d([true, false, true], "bool");
  const sum = tf.add(f, tf.scalar(0)); // forces the upload through a kernel
  assert.deepEqual(Array.from(await sum.data()), [1.5, -2.25, Math.fround(3e-8)]);
  assert.deepEqual(Array.from(await tf.add(i, tf.scalar(0, "int32")).data()), [1, -2, 2 ** 30, 0]);
  assert.deepEqual(Array.from(await tf.logicalNot(b).data()), [0, 1, 0]);
  assert.ok(hostCacheStats().uploads >= before + 3, "uploads did not take the writeBuffer path");
  tf.dispose([f, i, b, sum]);
  tf.env().set("WEBGPU_CPU_FORWARD", forward);
});
