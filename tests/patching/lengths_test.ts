import assert from "node:assert/strict";
import {
  bytePatchLengths,
  patchIdsFromLengths,
  patchLengthsFromStarts,
  splitPatchLengths,
  staticPatchLengths,
} from "../../lib/patching/mod.ts";

Deno.test("patch lengths from starts cover the span", () => {
  assert.deepEqual(patchLengthsFromStarts([0, 1, 4], 6), [1, 3, 2]);
  assert.deepEqual(patchLengthsFromStarts([0], 1), [1]);
  assert.deepEqual(patchLengthsFromStarts([], 0), []);
  assert.throws(() => patchLengthsFromStarts([1, 2], 4), /starts\[0\] must be 0/);
  assert.throws(
    () => patchLengthsFromStarts([0, 2, 2], 4),
    /strictly increasing.*starts\[1\] = 2 is followed by 2/,
  );
  assert.throws(() => patchLengthsFromStarts([0, 5], 4), /below span 4/);
});

Deno.test("static and byte patches", () => {
  assert.deepEqual(staticPatchLengths(10, 4), [4, 4, 2]);
  assert.deepEqual(staticPatchLengths(8, 4), [4, 4]);
  assert.deepEqual(staticPatchLengths(0, 4), []);
  assert.deepEqual(bytePatchLengths(3), [1, 1, 1]);
  assert.throws(() => staticPatchLengths(10, 0), /'patchSize' must be an integer ≥ 1, found 0/);
  assert.throws(() => staticPatchLengths(-1, 2), /'span' must be an integer ≥ 0/);
});

Deno.test("maximum patch length split keeps the order and the total", () => {
  assert.deepEqual(splitPatchLengths([1, 7, 2], 3), [1, 3, 3, 1, 2]);
  assert.deepEqual(splitPatchLengths([6], 3), [3, 3]);
  assert.deepEqual(splitPatchLengths([5, 0], 8), [5, 0]);
  for (const bad of [0, -2, 1.5, NaN]) {
    assert.throws(() => splitPatchLengths([4], bad), /'maxPatchLength' must be an integer ≥ 1/);
  }
  assert.throws(
    () => splitPatchLengths([4, -1], 2),
    /lengths\[1\] must be an integer ≥ 0, found -1/,
  );
});

Deno.test("patch ids follow HF _patch_ids_from_lengths (zero-length patches own no byte)", () => {
  assert.deepEqual(Array.from(patchIdsFromLengths([1, 3, 2])), [0, 1, 1, 1, 2, 2]);
  assert.deepEqual(Array.from(patchIdsFromLengths([1, 0, 2])), [0, 2, 2]);
  // The decoder's view in HF: lengths[1:] over T positions; positions past the end keep the last id.
  assert.deepEqual(Array.from(patchIdsFromLengths([3, 2], 6)), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(Array.from(patchIdsFromLengths([2, 2], 3)), [0, 0, 1]);
});
