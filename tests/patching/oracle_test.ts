import assert from "node:assert/strict";
import { encode } from "../../lib/bytes/mod.ts";
import {
  entropies,
  entropyPatchStarts,
  type PatcherConfig,
  patchIdsFromLengths,
  patchLengths,
} from "../../lib/patching/mod.ts";
import { loadEntropyFigure, loadHfPatcherCases, withoutPadding } from "./fixtures.ts";

const FIG4_LENGTHS = [1, 1, 1, 1, 1, 15, 3, 3, 1, 1, 3, 12, 1, 1, 1, 1, 1, 5, 5, 1, 2, 1, 19];

function entropyConfig(threshold: number): PatcherConfig {
  return {
    mode: "entropy",
    threshold,
    relativeThreshold: null,
    monotonic: false,
    patchSize: 4,
    maxPatchLength: null,
  };
}

Deno.test("Fig. 4: θ = 1.335442066192627 gives the paper's 23 patches over BOS … EOS", () => {
  const fig = loadEntropyFigure();
  assert.equal(fig.threshold, 1.335442066192627);
  // The figure patches the whole 81-token sequence, BOS and EOS included, covering it exactly.
  assert.deepEqual(fig.tokenIds, encode(fig.text));
  const lengths = patchLengths(fig.entropies, entropyConfig(fig.threshold));
  assert.equal(lengths.length, 23);
  assert.deepEqual(lengths, FIG4_LENGTHS);
  // The figure's own columns: start flags and the patch index of every token.
  const starts = entropyPatchStarts(fig.entropies, { kind: "global", threshold: fig.threshold });
  assert.deepEqual(fig.start.flatMap((s, i) => (s ? [i] : [])), starts);
  assert.deepEqual(Array.from(patchIdsFromLengths(lengths)), fig.patch);
  // float32 entropies patch identically (the smallest gap to θ is ≈ 1.6e-3).
  assert.deepEqual(
    patchLengths(Float32Array.from(fig.entropies), entropyConfig(fig.threshold)),
    lengths,
  );
});

Deno.test("HF tiny fixture: entropies from the patcher logits match the fixture's entropies", () => {
  const { cases } = loadHfPatcherCases();
  for (const c of cases) {
    const T = c.inputIds.length;
    const h = entropies(c.patcherLogits, T);
    assert.equal(h.length, T);
    let worst = 0;
    for (let t = 0; t < T; t++) worst = Math.max(worst, Math.abs(h[t] - c.entropies[t]));
    assert.ok(worst < 1e-5, `max |Δentropy| = ${worst} for "${c.text.slice(0, 20)}…"`);
  }
});

Deno.test("HF tiny fixture: patch lengths from the fixture entropies and θ = config threshold", () => {
  const { threshold, cases } = loadHfPatcherCases();
  assert.equal(cases.length, 2);
  for (const c of cases) {
    assert.deepEqual(c.inputIds, encode(c.text, { eos: false }));
    const expected = withoutPadding(c.patchLengths);
    assert.deepEqual(withoutPadding(c.summaryPatchLengths), expected);
    const lengths = patchLengths(c.entropies, entropyConfig(threshold));
    assert.deepEqual(lengths, expected);
    assert.equal(lengths.reduce((a, b) => a + b, 0), c.inputIds.length);
    // Also from our own entropies of the patcher logits (θ sits in a wide gap).
    assert.deepEqual(
      patchLengths(entropies(c.patcherLogits, c.inputIds.length), entropyConfig(threshold)),
      expected,
    );
  }
});
