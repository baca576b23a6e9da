/**
 * Writes a randomly initialised BLT (and a standalone byte LM) with this project's code, plus
 * inputs and our logits, for `scripts/hf_interop_check.py` to load with Hugging Face transformers.
 *
 * usage: deno run -A scripts/hf_interop_export.ts OUT_DIR
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { resolveConfig } from "../lib/config.ts";
import { createBlt, createByteLm } from "../lib/model/mod.ts";
import { writeSafetensorsFile } from "../lib/model/io/safetensors.ts";

const out = Deno.args[0];
if (!out) throw new Error("usage: deno run -A scripts/hf_interop_export.ts OUT_DIR");
await tf.setBackend("wasm");
// Widths chosen so k·hE ≠ hG (the global input projection is exercised) and the encoder
// cross-attends at every layer.
const cfg = resolveConfig("tiny", {
  encoder: { dim: 32, heads: 2, layers: 2, ffnDim: 96, crossAttnAllLayers: true },
  decoder: { dim: 32, heads: 2, layers: 2, ffnDim: 96 },
  global: { dim: 96, heads: 4, layers: 2, ffnDim: 256 },
  entropyModel: { dim: 32, heads: 2, layers: 1, ffnDim: 96 },
  hash: { buckets: 257 },
  crossAttnK: 2,
});
const texts = ["Hello, BLT interop!", "Ünïcödé bytes: 日本語 🙂 and more text to patch."];
const toIds = (text: string) => [1, ...[...new TextEncoder().encode(text)].map((b) => b + 4)];
// θ in the widest gap between the middle half of the (seeded, hence identical) patcher's
// entropies: patching is not trivial, and float round-off cannot move a boundary.
const probe = createBlt(cfg, 2024);
const h = [...probe.patcher!.entropies([toIds(texts[1])])[0]].sort((a, b) => a - b);
probe.dispose();
let gap = h.length >> 2;
for (let i = gap; i < (3 * h.length) >> 2; i++) if (h[i + 1] - h[i] > h[gap + 1] - h[gap]) gap = i;
const theta = (h[gap] + h[gap + 1]) / 2;
const blt = createBlt(resolveConfig(cfg, { "patching.threshold": theta }), 2024);
await blt.save(`${out}/blt`);
const cases = [];
const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
for (const [i, text] of texts.entries()) {
  const ids = toIds(text);
  const self = blt.forward([ids]); // patched by its own entropy model
  const own = self.patchLengths[0];
  tensors.set(`case${i}.own_logits`, {
    shape: self.logits.shape.slice(1),
    data: self.logits.dataSync() as Float32Array,
  });
  self.logits.dispose();
  const lengths = [
    1,
    ...Array.from(
      { length: Math.ceil((ids.length - 1) / 3) },
      (_, p) => Math.min(3, ids.length - 1 - 3 * p),
    ),
  ];
  const { logits } = blt.forward([ids], { patchLengths: [lengths] });
  tensors.set(`case${i}.logits`, {
    shape: logits.shape.slice(1),
    data: logits.dataSync() as Float32Array,
  });
  logits.dispose();
  cases.push({ ids, patch_lengths: lengths, own_patch_lengths: own });
}
const lm = createByteLm(cfg.entropyModel!, 7);
await lm.save(`${out}/patcher`);
const p = lm.logits([cases[0].ids]);
tensors.set("patcher.logits", { shape: p.shape.slice(1), data: p.dataSync() as Float32Array });
await writeSafetensorsFile(`${out}/our_logits.safetensors`, tensors);
await Deno.writeTextFile(`${out}/cases.json`, JSON.stringify(cases));
console.log(
  `wrote ${out}: blt/, patcher/, cases.json, our_logits.safetensors; own patches ${
    cases.map((c) => c.own_patch_lengths.length)
  }`,
);
