import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { encode } from "../../lib/bytes/codec.ts";
import { patchViews } from "../../lib/eval/robustness_view.ts";
import { entropyPlot, patchStripSvg } from "../../lib/viz/mod.ts";
import { tinyBlt } from "./robustness_fixtures.ts";

const SENTENCE = "Noise makes bytes hard to predict: é 🙂.";

Deno.test("patchViews: clean + one view per noise, patches cover every id, entropies match the patcher", () => {
  const blt = tinyBlt("entropy", 0);
  try {
    const before = tf.memory().numTensors;
    const views = patchViews(blt, SENTENCE, ["AntSpeak", "Drop", "UpperCase"], 4);
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(views.map((v) => v.noise), ["clean", "AntSpeak", "Drop", "UpperCase"]);
    assert.equal(views[3].text, SENTENCE.toUpperCase());
    for (const v of views) {
      assert.deepEqual(v.ids, encode(v.text, { bos: true, eos: true }));
      assert.equal(v.entropies.length, v.ids.length);
      assert.equal(v.patchLengths.reduce((a, b) => a + b, 0), v.ids.length);
      assert.ok(v.patchLengths.every((n) => n >= 1));
      assert.deepEqual(v.entropies, blt.patcher!.entropies([v.ids])[0]);
      // Fits the viz helpers as is.
      entropyPlot({ ...v, mode: "global" });
      patchStripSvg(v.ids, v.patchLengths);
    }
    assert.deepEqual(patchViews(blt, SENTENCE, ["Drop"], 4)[1], views[2], "seeded");
  } finally {
    blt.dispose();
  }
});

Deno.test("patchViews: empty text or a BLT without entropy patching is an error", () => {
  const spaced = tinyBlt("space", 0);
  const blt = tinyBlt("entropy", 0);
  try {
    assert.throws(
      () => patchViews(spaced, "a b", []),
      /patching\.mode 'space' and no entropy model/,
    );
    assert.throws(() => patchViews(blt, "", []), /'text' must be a non-empty string/);
  } finally {
    spaced.dispose();
    blt.dispose();
  }
});
