import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { type BltConfig, PRESETS, resolveConfig } from "../../lib/config.ts";
import { createBlt } from "../../lib/model/blt.ts";
import { bltParameterCounts, crossAttentionParameters } from "../../lib/viz/parameter_counts.ts";

await tf.setBackend("wasm");

const MODEL = new URL("../../../shared/testdata/hf-blt-tiny/model.safetensors", import.meta.url);

/** Element count per tensor name, read from the safetensors header (8-byte length + JSON). */
async function shapesOf(url: URL): Promise<Map<string, number>> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(url);
  } catch {
    throw new Error(`missing shared fixture ${url.pathname}: mount /work/shared/testdata`);
  }
  try {
    const head = new Uint8Array(8);
    await file.read(head);
    const n = Number(new DataView(head.buffer).getBigUint64(0, true));
    const json = new Uint8Array(n);
    let got = 0;
    while (got < n) got += (await file.read(json.subarray(got))) ?? n;
    const header = JSON.parse(new TextDecoder().decode(json)) as Record<
      string,
      { shape: number[] }
    >;
    const counts = new Map<string, number>();
    for (const [name, v] of Object.entries(header)) {
      if (name !== "__metadata__") counts.set(name, v.shape.reduce((a, b) => a * b, 1));
    }
    return counts;
  } finally {
    file.close();
  }
}

function sumWhere(counts: Map<string, number>, keep: (name: string) => boolean): number {
  let s = 0;
  for (const [name, n] of counts) if (keep(name)) s += n;
  return s;
}

/** The BltConfig of ../shared/testdata/hf-blt-tiny/config.json, written out by hand. */
function fixtureConfig(): BltConfig {
  const stack = (dim: number, layers: number, ffnDim: number) => ({
    dim,
    layers,
    heads: 4,
    headDim: dim / 4,
    ffnDim,
  });
  return resolveConfig("tiny", {
    encoder: { ...stack(64, 1, 192), crossAttnAllLayers: false },
    global: stack(128, 2, 384),
    decoder: { ...stack(64, 2, 192), crossAttnAllLayers: true },
    entropyModel: stack(64, 2, 192),
    hash: { sizes: [3, 4, 5, 6, 7, 8], buckets: 1009, functions: 1 },
    crossAttnK: 2,
  });
}

Deno.test("bltParameterCounts matches the HF fixture's weights, module by module", async () => {
  const shapes = await shapesOf(MODEL);
  const c = bltParameterCounts(fixtureConfig());
  const has = (prefix: string) => (name: string) => name.startsWith(prefix);
  assert.equal(c.hashEmbeddings, shapes.get("model.encoder_hash_tok_embedding.weight"));
  assert.equal(c.encoder.total, sumWhere(shapes, has("model.local_encoder.")));
  assert.equal(c.encoder.crossAttention, sumWhere(shapes, has("model.local_encoder.cross_attn")));
  assert.equal(c.global.total, sumWhere(shapes, has("model.global_transformer.")));
  assert.equal(c.global.inputProjection, 0); // k·h_E = 2·64 = h_G: identity in HF
  assert.equal(
    c.decoder.total,
    sumWhere(shapes, has("model.local_decoder.")) + (shapes.get("lm_head.weight") ?? NaN),
  );
  assert.equal(c.decoder.crossAttention, sumWhere(shapes, has("model.local_decoder.cross_attn")));
  assert.equal(c.entropyModel, sumWhere(shapes, has("model.patcher.")));
  assert.equal(c.totalWithEntropyModel, sumWhere(shapes, () => true));
  assert.equal(c.totalWithEntropyModel, 1_221_632);
});

Deno.test("bltParameterCounts adds the global input projection when k·h_E ≠ h_G", () => {
  const cfg = resolveConfig("tiny", { crossAttnK: 4 }); // 4·128 = 512 ≠ 256
  const c = bltParameterCounts(cfg);
  assert.equal(c.global.inputProjection, 4 * 128 * 256);
  assert.equal(c.decoder.patchProjection, 256 * 4 * 128);
  assert.equal(bltParameterCounts(PRESETS.tiny).global.inputProjection, 0);
  const noPatcher = bltParameterCounts(resolveConfig("tiny", { entropyModel: null }));
  assert.equal(noPatcher.entropyModel, 0);
  assert.equal(noPatcher.totalWithEntropyModel, noPatcher.total);
});

Deno.test("bltParameterCounts follows the ablation switches, and the built models agree", () => {
  const base = resolveConfig("tiny", {
    "hash.buckets": 64,
    "global.layers": 1,
    entropyModel: null,
  });
  const hE = 128, hG = 256, k = 2;
  const full = bltParameterCounts(base);
  const cases: [Record<string, unknown>, number][] = [
    // One encoder cross-attention block (after the last layer).
    [{ "encoder.crossAttn": false }, crossAttentionParameters(hE)],
    // Two decoder cross-attention blocks (every layer) and the projection's k − 1 extra slots.
    [{ "decoder.crossAttn": false }, 2 * crossAttentionParameters(hE) + (k - 1) * hE * hG],
    [{ "hash.sizes": [] }, 6 * 64 * hE],
  ];
  for (const [overrides, dropped] of cases) {
    const cfg = resolveConfig(base, overrides);
    const c = bltParameterCounts(cfg);
    assert.equal(c.total, full.total - dropped, JSON.stringify(overrides));
    const blt = createBlt(cfg, 0);
    let built = 0;
    for (const v of blt.namedVariables().values()) built += v.size;
    blt.dispose();
    assert.equal(built, c.total, `built model of ${JSON.stringify(overrides)}`);
  }
  const off = bltParameterCounts(resolveConfig(base, { "decoder.crossAttn": false }));
  assert.deepEqual([off.decoder.crossAttention, off.decoder.patchProjection], [0, hG * hE]);
});
