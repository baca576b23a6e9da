import assert from "node:assert/strict";
import { PRESETS } from "../../lib/config.ts";
import {
  type BltFlopsConfig,
  bltFlopsPerByte,
  transformerFlopsPerByte,
  transformerForwardFlops,
} from "../../lib/model/flops.ts";

// A tiny BLT small enough to count by hand: h_E = h_D = 4, h_G = 8, k = 2, V = 260.
const tiny: BltFlopsConfig = {
  vocabSize: 260,
  crossAttnK: 2,
  encoder: { dim: 4, layers: 1, ffnDim: 8, slidingWindow: null, crossAttnAllLayers: false },
  global: { dim: 8, layers: 2, ffnDim: 16, slidingWindow: null },
  decoder: { dim: 4, layers: 2, ffnDim: 8, slidingWindow: null, crossAttnAllLayers: true },
  entropyModel: { dim: 4, layers: 1, ffnDim: 8, slidingWindow: 16 },
};

Deno.test("bltFlopsPerByte: matches hand-counted FLOPs for a tiny config (n_p = 4, 32 bytes)", () => {
  const f = bltFlopsPerByte(tiny, { meanPatchSize: 4, contextBytes: 32 });
  // encoder, 1 layer, m = 32: 8·4² + 4·4·32 + 6·4·8 = 128 + 512 + 192
  assert.equal(f.encoder, 832);
  // global per patch, 2 layers, m = 32/4 = 8 patches: 2·(8·64 + 4·8·8 + 6·8·16) = 3072, ÷ 4 bytes
  assert.equal(f.global, 768);
  // decoder, 2 layers, m = 32, plus de-embedding 2·4·260 = 2080
  assert.equal(f.decoder, 2 * 832 + 2080);
  // encoder cross-attn, 1 layer: per patch k=2 queries: QO 2·(2·2·16) = 128, KV for 4 bytes
  // 4·(2·2·16) = 256, attention 2 queries × 4 keys × 4·4 = 128; per byte (128+256+128)/4
  assert.equal(f.encoderCrossAttn, 128);
  // decoder cross-attn, 2 layers, per byte: QO 4·16 = 64, KV of 2 slots shared by 4 bytes
  // 2·(2·2·16)/4 = 32, attention over 2 slots 4·4·2 = 32
  assert.equal(f.decoderCrossAttn, 2 * (64 + 32 + 32));
  // per patch: encoder queries 2·4·8 = 64, no global projection (k·h_E = h_G), decoder 2·8·8 = 128
  assert.equal(f.projections, 192 / 4);
  assert.equal(f.forward, 832 + 768 + 3744 + 128 + 256 + 48);
  assert.equal(f.inference, f.forward);
  assert.equal(f.training, 3 * 5776);
  // Entropy model (window 16 < 32): 8·16 + 4·4·16 + 6·4·8 + 2·4·260, outside the total.
  assert.equal(f.entropyModel, 128 + 256 + 192 + 2080);
});

Deno.test("transformerFlopsPerByte: a BPE model divides per-token FLOPs by bytes per token", () => {
  const stack = { dim: 8, layers: 2, ffnDim: 16, slidingWindow: null };
  // 2·(512 + 4·8·8 + 768) + 2·8·260 = 3072 + 4160 per token
  assert.equal(transformerForwardFlops(stack, 8, 260), 7232);
  const f = transformerFlopsPerByte(stack, { contextTokens: 8, vocab: 260, bytesPerToken: 4 });
  assert.deepEqual(f, { forward: 1808, inference: 1808, training: 5424 });
  assert.throws(
    () => transformerFlopsPerByte(stack, { contextTokens: 8, vocab: 260, bytesPerToken: 0 }),
    /bytesPerToken must be a finite number > 0, found 0/,
  );
});

Deno.test("bltFlopsPerByte: larger patches cut global FLOPs per byte (§4.5's trade-off)", () => {
  const a = bltFlopsPerByte(PRESETS.small, { meanPatchSize: 4, contextBytes: 4096 });
  const b = bltFlopsPerByte(PRESETS.small, { meanPatchSize: 8, contextBytes: 4096 });
  // The global model runs once per patch (÷ n_p) over half as many patches (m = n_ctx / n_p).
  assert(b.global < a.global / 2);
  assert(b.forward < a.forward);
  assert.equal(b.encoder, a.encoder);
  assert.throws(
    () => bltFlopsPerByte(PRESETS.small, { meanPatchSize: NaN, contextBytes: 4096 }),
    /meanPatchSize must be a finite number > 0/,
  );
});

Deno.test("bltFlopsPerByte: cross-attention switches drop exactly their terms", () => {
  const opts = { meanPatchSize: 4, contextBytes: 32 };
  const full = bltFlopsPerByte(tiny, opts);
  const encOff = bltFlopsPerByte({ ...tiny, encoder: { ...tiny.encoder, crossAttn: false } }, opts);
  assert.equal(encOff.encoderCrossAttn, 0);
  assert.equal(encOff.forward, full.forward - 128); // the encoder cross-attn term above
  assert.equal(encOff.projections, full.projections); // the max pool is still projected
  const decOff = bltFlopsPerByte({ ...tiny, decoder: { ...tiny.decoder, crossAttn: false } }, opts);
  assert.equal(decOff.decoderCrossAttn, 0);
  // The decoder projection is h_G → h_D (2·8·4 = 64) instead of h_G → k·h_D (128), per patch.
  assert.equal(decOff.projections, (64 + 64) / 4);
  assert.equal(decOff.forward, full.forward - 256 - 64 / 4);
  assert.equal(decOff.training, 3 * decOff.forward);
  // Explicitly on is the default.
  const on = { ...tiny, decoder: { ...tiny.decoder, crossAttn: true } };
  assert.deepEqual(bltFlopsPerByte(on, opts), full);
});
