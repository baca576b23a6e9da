import assert from "node:assert/strict";
import { Rng } from "../../lib/data/rng.ts";
import { calibrateThreshold, entropyPatchStarts, patchLengths } from "../../lib/patching/mod.ts";
import { loadEntropyFigure } from "./fixtures.ts";

function meanPatchSize(list: number[][], threshold: number): number {
  let bytes = 0;
  let patches = 0;
  for (const h of list) {
    bytes += h.length;
    patches += entropyPatchStarts(h, { kind: "global", threshold }).length;
  }
  return bytes / patches;
}

Deno.test("calibrateThreshold reaches target mean patch sizes on random entropies", () => {
  const rng = new Rng(7);
  const list = Array.from({ length: 8 }, () => Array.from({ length: 500 }, () => rng.float() * 4));
  for (const target of [1, 1.5, 3, 4.5, 8]) {
    const r = calibrateThreshold(list, target, { tolerance: 0.02 });
    assert.ok(r.converged, `target ${target}: got ${r.meanPatchSize}`);
    assert.ok(Math.abs(r.meanPatchSize - target) <= 0.02);
    // The reported mean is what the batch patcher really produces with the returned θ.
    assert.ok(Math.abs(meanPatchSize(list, r.threshold) - r.meanPatchSize) < 1e-12);
    assert.equal(r.targetMeanPatchSize, target);
    assert.equal(r.tolerance, 0.02);
    assert.ok(r.iterations <= 60);
  }
});

Deno.test("calibrateThreshold on Fig. 4: a θ with the paper's 23 patches, centred in its gap", () => {
  const fig = loadEntropyFigure();
  const r = calibrateThreshold([fig.entropies], 81 / 23, { tolerance: 1e-9 });
  assert.ok(r.converged);
  const config = {
    mode: "entropy",
    threshold: r.threshold,
    relativeThreshold: null,
    monotonic: false,
    patchSize: 4,
    maxPatchLength: null,
  } as const;
  assert.equal(patchLengths(fig.entropies, config).length, 23);
  // Neighbouring entropy values around θ are both farther than round-off.
  const gap = Math.min(...fig.entropies.slice(1, -1).map((h) => Math.abs(h - r.threshold)));
  assert.ok(gap > 1e-4, `θ is only ${gap} from an entropy`);
});

Deno.test("calibrateThreshold reports non-convergence honestly and rejects bad arguments", () => {
  // Three deciding values: means can only be 5/5, 5/4, 5/3, 5/2 for one sequence of 5.
  const r = calibrateThreshold([[0, 1, 2, 3, 4]], 1.4, { tolerance: 0.01, maxIterations: 30 });
  assert.equal(r.converged, false);
  assert.equal(r.meanPatchSize, 1.25);
  assert.equal(r.iterations, 30);
  assert.throws(
    () => calibrateThreshold([[1, 2, 3]], 0.5),
    /'targetMeanPatchSize' must be a finite number ≥ 1, found 0.5/,
  );
  assert.throws(() => calibrateThreshold([[1, 2, 3]], 2), /above 1.500, the largest mean/);
  assert.throws(
    () => calibrateThreshold([[1, NaN, 3]], 1.2),
    /entropiesList\[0\]\[1\] must be a finite number/,
  );
  assert.throws(() => calibrateThreshold([], 2), /'entropiesList' must be a non-empty array/);
  assert.throws(() => calibrateThreshold([[1, 2, 3]], 1.2, { tolerance: -1 }), /'tolerance'/);
  assert.throws(
    () => calibrateThreshold([[1, 2, 3]], 1.2, { maxIterations: 0 }),
    /'maxIterations'/,
  );
});
