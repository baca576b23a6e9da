/**
 * Fault injection on configs: mistyped keys get the nearest valid key suggested; inconsistent
 * shapes (heads not dividing width, headDim, decoder vs encoder width) are refused with what to
 * change; k·h_E ≠ h_G is legal (the global transformer gets an input projection, §3.2.2).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { fromHfConfig, PRESETS, resolveConfig, validateConfig } from "../../lib/config.ts";
import { createBlt } from "../../lib/model/blt.ts";
import { resolveTrainConfig } from "../../lib/train/config.ts";
import { assertClearError, tinyBltConfig, useWasm } from "./helpers.ts";

await useWasm();

/** [overrides, the key the message must suggest] for misspellings at every nesting level. */
const TYPOS: readonly [Record<string, unknown>, string][] = [
  [{ maxPosition: 3 }, "maxPositions"],
  [{ crossAttK: 2 }, "crossAttnK"],
  [{ resetAtEOS: true }, "resetAtEos"],
  [{ dimGlobl: 3 }, "global.dim"],
  [{ encoder: { dims: 3 } }, "encoder.dim"],
  [{ encoder: { head: 2 } }, "encoder.heads"],
  [{ "global.layer": 3 }, "global.layers"],
  [{ "decoder.ffn_dim": 64 }, "decoder.ffnDim"],
  [{ hash: { bucket: 64 } }, "hash.buckets"],
  [{ "patching.treshold": 1 }, "patching.threshold"],
  [{ patching: { maxPatchLen: 8 } }, "patching.maxPatchLength"],
];

Deno.test("config: a mistyped key is refused, naming it and suggesting the nearest valid key", async () => {
  for (const [overrides, suggestion] of TYPOS) {
    const typo = Object.keys(overrides)[0];
    await assertClearError(() => resolveConfig("tiny", overrides), [
      new RegExp(`Unknown config key '[^']*${typo.split(".").pop()}`),
      new RegExp(`did you mean '${suggestion.replace(".", "\\.")}'\\?`),
    ]);
  }
});

Deno.test("config: a key far from any valid one lists the valid keys instead of guessing", async () => {
  await assertClearError(() => resolveConfig("tiny", { zzzzqqq: 1 }), [
    /Unknown config key 'zzzzqqq'/,
    /valid keys here: .*encoder.*patching/,
  ]);
  await assertClearError(() => resolveConfig("tinyy" as "tiny"), [
    /Unknown preset 'tinyy'/,
    /expected one of tiny, small, medium/,
  ]);
});

Deno.test("config: train config and HF config.json typos are refused with the known keys", async () => {
  await assertClearError(() => resolveTrainConfig({ step: 5 } as never), [
    /Unknown train config key 'step'/,
    /did you mean 'steps'\?/,
  ]);
  await assertClearError(() => fromHfConfig({ model_type: "blt", hidden_sizee: 3 } as never), [
    /unknown field 'hidden_sizee'/,
    /known: .*cross_attn_k/,
  ]);
});

Deno.test("config: inconsistent shapes are refused, naming both fields and what must hold", async () => {
  const cases: [Record<string, unknown>, RegExp[]][] = [
    [{ "global.heads": 3 }, [/global\.heads \(3\) must divide global\.dim \(256\)/, /change/]],
    [{ encoder: { heads: 5 } }, [/encoder\.heads \(5\) must divide encoder\.dim/, /change/]],
    [{ encoder: { headDim: 16 } }, [
      /encoder\.headDim must be encoder\.dim \/ encoder\.heads = 32/,
    ]],
    [{ "decoder.dim": 64 }, [/decoder\.dim \(64\) must equal encoder\.dim \(128\)/]],
    [{ "global.layers": "4" }, [/global\.layers must be a positive integer, found "4"/]],
    [{ "hash.buckets": -1 }, [/hash\.buckets must be a positive integer, found -1/]],
    [{ "patching.mode": "entropie" }, [/patching\.mode must be one of entropy, space/]],
    [{ vocabSize: 256 }, [/vocabSize must be 260/]],
  ];
  for (const [overrides, patterns] of cases) {
    await assertClearError(() => resolveConfig("tiny", overrides), patterns);
  }
});

Deno.test("config: a checkpoint's config.json with a field missing or added says which", async () => {
  const json = JSON.parse(JSON.stringify(PRESETS.tiny));
  delete json.hash;
  await assertClearError(() => validateConfig(json, "run/config.json"), [
    /run\/config\.json\.hash is missing/,
    /add it/,
  ]);
  const extra = JSON.parse(JSON.stringify(PRESETS.tiny));
  extra.encoder.dimm = 16;
  await assertClearError(() => validateConfig(extra, "run/config.json"), [
    /Unknown config key 'encoder\.dimm'/,
    /did you mean 'encoder\.dim'/,
  ]);
});

Deno.test("config: k·h_E ≠ h_G is legal and the model projects into the global width", () => {
  const base = tinyBltConfig();
  // k·h_E = 3·16 = 48 ≠ h_G = 32: the global transformer needs its input projection.
  const cfg = resolveConfig(base, { crossAttnK: 3 });
  const blt = createBlt(cfg, 0);
  try {
    const out = blt.forward([[1, 76, 105, 36, 40]], {
      patchLengths: [[1, 4]],
      intermediates: true,
    });
    assert.deepEqual(out.encoderPatches!.shape, [1, 2 * 3, 16]); // [B, P·k, hE]
    assert.deepEqual(out.globalHidden!.shape, [1, 2, 32]); // [B, P, hG]
    assert.deepEqual(out.logits.shape, [1, 5, 260]);
    tf.dispose(Object.values(out).filter((x) => x instanceof tf.Tensor) as tf.Tensor[]);
  } finally {
    blt.dispose();
  }
});

Deno.test("config: NaN and Infinity overrides are reported as such, not as null", async () => {
  await assertClearError(() => resolveConfig("tiny", { "patching.threshold": NaN }), [
    /patching\.threshold must be a finite number, found NaN/,
  ]);
  await assertClearError(() => resolveConfig("tiny", { "encoder.normEps": Infinity }), [
    /encoder\.normEps must be a positive finite number, found Infinity/,
  ]);
});
