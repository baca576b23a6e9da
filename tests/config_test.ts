import assert from "node:assert/strict";
import {
  fromHfConfig,
  needsGlobalProjection,
  PRESETS,
  resolveConfig,
  toHfConfig,
  validateConfig,
} from "../lib/config.ts";

const hfPath = new URL("../../shared/testdata/hf-blt-tiny/config.json", import.meta.url);

function readHf(): Record<string, unknown> {
  try {
    return JSON.parse(Deno.readTextFileSync(hfPath));
  } catch {
    throw new Error(
      `missing fixture ${hfPath.pathname}: the shared testdata must sit beside the repo`,
    );
  }
}

Deno.test("presets follow the DESIGN.md table and the peer's SwiGLU width", () => {
  const rows = [
    ["tiny", 128, 256, [1, 4, 2], 4, 4096, 512, 768],
    ["small", 256, 512, [1, 8, 4], 8, 50002, 768, 1536],
    ["medium", 512, 1024, [1, 16, 6], 16, 100002, 1536, 2816],
  ] as const;
  for (const [name, hE, hG, layers, heads, buckets, ffnE, ffnG] of rows) {
    const c = PRESETS[name];
    assert.deepEqual([c.encoder.dim, c.decoder.dim, c.global.dim], [hE, hE, hG]);
    assert.deepEqual([c.encoder.layers, c.global.layers, c.decoder.layers], [...layers]);
    assert.deepEqual([c.encoder.heads, c.global.heads, c.decoder.heads], [heads, heads, heads]);
    assert.deepEqual([c.encoder.ffnDim, c.global.ffnDim], [ffnE, ffnG]);
    assert.deepEqual(c.hash.buckets, buckets);
    assert.deepEqual(Object.isFrozen(c) && Object.isFrozen(c.global), true);
  }
});

Deno.test("resolveConfig merges nested and dotted overrides and derives headDim", () => {
  const c = resolveConfig("tiny", {
    "global.layers": 2,
    encoder: { dim: 64, heads: 2 },
    "decoder.dim": 64,
    patching: { maxPatchLength: 8 },
  });
  assert.deepEqual(c.global.layers, 2);
  assert.deepEqual(c.encoder.headDim, 32);
  assert.deepEqual(c.decoder.headDim, 16);
  assert.deepEqual(c.patching.maxPatchLength, 8);
  assert.deepEqual(c.patching.threshold, PRESETS.tiny.patching.threshold);
  assert.deepEqual(needsGlobalProjection(c), true);
  assert.deepEqual(needsGlobalProjection(PRESETS.tiny), false);
  assert.deepEqual(resolveConfig(c, { entropyModel: null }).entropyModel, null);
});

Deno.test("resolveConfig rejects unknown keys with a suggestion, and broken invariants", () => {
  assert.throws(() => resolveConfig("tiny", { dimGlobl: 1 }), {
    message: "Unknown config key 'dimGlobl' (did you mean 'global.dim'?)",
  });
  assert.throws(() => resolveConfig("tiny", { "global.layrs": 1 }), {
    message: "Unknown config key 'global.layrs' (did you mean 'global.layers'?)",
  });
  assert.throws(
    () => resolveConfig("tiny", { global: { heads: 3 } }),
    /global.heads \(3\) must divide/,
  );
  assert.throws(
    () => resolveConfig("tiny", { "encoder.dim": 64 }),
    /decoder.dim \(128\) must equal/,
  );
  assert.throws(() => resolveConfig("tiny", { crossAttnK: 0 }), /crossAttnK must be a positive/);
  assert.throws(() => resolveConfig("tiny", { "patching.mode": "bpe" }), /patching.mode must be/);
  assert.throws(() => resolveConfig("huge" as "tiny"), /Unknown preset 'huge'/);
});

Deno.test("validateConfig needs every field", () => {
  const json = JSON.parse(JSON.stringify(PRESETS.tiny));
  delete json.hash.functions;
  assert.throws(() => validateConfig(json), /hash.functions is missing/);
});

Deno.test("HF config.json round trip and fixture mapping", () => {
  const hf = readHf();
  const c = fromHfConfig(hf);
  assert.deepEqual([c.encoder.dim, c.global.dim, c.decoder.layers, c.hash.buckets], [
    64,
    128,
    2,
    1009,
  ]);
  assert.deepEqual(c.entropyModel?.layers, 2);
  assert.deepEqual(c.patching.threshold, hf.patching_threshold);
  assert.deepEqual(fromHfConfig(toHfConfig(c)), c);
  const withWindow = resolveConfig("tiny", { "encoder.slidingWindow": 64, resetAtEos: true });
  assert.deepEqual(fromHfConfig(toHfConfig(withWindow)), withWindow);
  assert.throws(() => fromHfConfig({ ...hf, colour: 1 }), /unknown field 'colour'/);
  const missing = structuredClone(hf) as { global_config: Record<string, unknown> };
  delete missing.global_config.num_hidden_layers;
  assert.throws(() => fromHfConfig(missing), (e: Error) => {
    assert.match(e.message, /global_config: missing field 'num_hidden_layers'/);
    return true;
  });
});

Deno.test("ablation switches: dotted overrides, JSON round trip, defaults, clear errors", () => {
  assert.deepEqual([PRESETS.tiny.encoder.crossAttn, PRESETS.tiny.decoder.crossAttn], [true, true]);
  const c = resolveConfig("tiny", {
    "encoder.crossAttn": false,
    decoder: { crossAttn: false },
    "hash.sizes": [],
  });
  assert.deepEqual([c.encoder.crossAttn, c.decoder.crossAttn, c.hash.sizes], [false, false, []]);
  assert.ok(Object.isFrozen(c.hash.sizes));
  assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(c))), c);
  // Checkpoint configs written before the switch existed read as cross-attention on.
  const old = JSON.parse(JSON.stringify(PRESETS.tiny));
  delete old.encoder.crossAttn;
  delete old.decoder.crossAttn;
  assert.deepEqual(validateConfig(old), PRESETS.tiny);
  assert.throws(() => resolveConfig("tiny", { "decoder.crossAtn": false }), {
    message: "Unknown config key 'decoder.crossAtn' (did you mean 'decoder.crossAttn'?)",
  });
  assert.throws(
    () => resolveConfig("tiny", { "encoder.crossAttn": "no" }),
    { message: 'encoder.crossAttn must be true or false, found "no"' },
  );
  assert.throws(() => resolveConfig("tiny", { "hash.sizes": 3 }), /hash.sizes must be an array/);
  assert.throws(() => resolveConfig("tiny", { "global.crossAttn": false }), /global.crossAttn/);
});

Deno.test("toHfConfig refuses ablation configs, naming the switch; fromHfConfig reads HF as on", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ "encoder.crossAttn": false }, /encoder\.crossAttn is false/],
    [{ "decoder.crossAttn": false }, /decoder\.crossAttn is false/],
    [{ "hash.sizes": [] }, /hash\.sizes is \[\]/],
  ];
  for (const [overrides, flag] of cases) {
    assert.throws(() => toHfConfig(resolveConfig("tiny", overrides)), (e: Error) => {
      assert.match(e.message, flag);
      assert.match(e.message, /Hugging Face's BltForCausalLM cannot represent/);
      return true;
    });
  }
  const c = fromHfConfig(readHf());
  assert.deepEqual([c.encoder.crossAttn, c.decoder.crossAttn], [true, true]);
  assert.equal("crossAttn" in (toHfConfig(c).encoder_config as object), false);
});
