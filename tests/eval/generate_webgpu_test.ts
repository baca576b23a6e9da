// Generation on tfjs-webgpu (the software adapter on CPU machines, as tests/gpu does): the async
// path runs there, cached = uncached, greedy and seeded; the sync path refuses with a pointer.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { resolveConfig } from "../../lib/config.ts";
import { generate, generateAsync, type GenerateOptions } from "../../lib/eval/generate.ts";
import { Blt, createBlt } from "../../lib/model/blt.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { entropies } from "../../lib/patching/mod.ts";
import { useWebgpu } from "../gpu/webgpu_setup.ts";

/** A tiny random BLT whose θ is the median entropy of a sample text (varied patches). */
async function tinyBlt(seed: number): Promise<Blt> {
  const blt = createBlt(
    resolveConfig("tiny", {
      encoder: { dim: 16, heads: 2, layers: 1, ffnDim: 32 },
      decoder: { dim: 16, heads: 2, layers: 2, ffnDim: 32 },
      global: { dim: 32, heads: 2, layers: 2, ffnDim: 64 },
      entropyModel: { dim: 16, heads: 2, layers: 1, ffnDim: 32 },
      hash: { buckets: 31, sizes: [3, 4] },
    }),
    seed,
  );
  const ids = [
    1,
    ...new TextEncoder().encode("The quick brown fox jumps over it").map((b) => b + 4),
  ];
  const logits = blt.patcher!.logits([ids]);
  const h = Array.from(entropies(await logits.data(), ids.length)).sort((a, b) => a - b);
  logits.dispose();
  const patching = { ...blt.config.patching, threshold: h[Math.floor(h.length / 2)] };
  return new Blt({ ...blt.config, patching }, blt.params, blt.patcher);
}

const GREEDY = { temperature: 0 };
const SAMPLED = { temperature: 1, topK: 50, topP: 0.95 };

Deno.test({
  name: "webgpu: generateAsync runs, cached = uncached (BLT and byte LM, greedy and seeded)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await useWebgpu();
    tf.env().set("WEBGPU_CPU_FORWARD", false); // as setupBackend: no readSync to CPU kernels
    assert.equal(tf.getBackend(), "webgpu");
    const blt = await tinyBlt(1);
    const lm = createByteLm(blt.config.entropyModel!, 2);
    try {
      for (const [name, model] of [["BLT", blt], ["byte LM", lm]] as const) {
        for (const sampling of [GREEDY, SAMPLED]) {
          const o: GenerateOptions = { maxBytes: 16, sampling, seed: 4, stopAtEos: false };
          const before = tf.memory().numTensors;
          const cached = await generateAsync(model, "Once upon", o);
          assert.equal(tf.memory().numTensors, before, `${name}: tensors left behind`);
          const uncached = await generateAsync(model, "Once upon", { ...o, useCache: false });
          const what = `${name} ${JSON.stringify(sampling)}`;
          assert.equal(cached.generated.length, 16);
          assert.deepEqual(cached.ids, uncached.ids, `${what}: ids`);
          assert.deepEqual(cached.patchLengths, uncached.patchLengths, `${what}: patch lengths`);
          assert.equal(cached.entropies.length, cached.ids.length - 1);
          for (let t = 0; t < cached.entropies.length; t++) {
            assert.ok(Math.abs(cached.entropies[t] - uncached.entropies[t]) < 1e-4, `${what} ${t}`);
          }
        }
      }
      assert.throws(
        () => generate(blt, "a", { maxBytes: 1 }),
        /'webgpu' backend cannot read tensors back synchronously.*generateAsync/,
      );
    } finally {
      blt.dispose();
      lm.dispose();
    }
  },
});
