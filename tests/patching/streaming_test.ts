import assert from "node:assert/strict";
import { Rng } from "../../lib/data/rng.ts";
import {
  entropyPatchStarts,
  type EntropyRule,
  patchLengthsFromStarts,
  splitPatchLengths,
  StreamingPatcher,
} from "../../lib/patching/mod.ts";

function batchLengths(h: number[], rule: EntropyRule, max: number | null, next: boolean): number[] {
  const span = h.length + (next ? 1 : 0);
  const lengths = patchLengthsFromStarts(
    entropyPatchStarts(h, rule, { includeNextToken: next }),
    span,
  );
  return max === null ? lengths : splitPatchLengths(lengths, max);
}

Deno.test("property: the streaming patcher equals the batch patcher on random entropies", () => {
  const rng = new Rng(1234);
  let checked = 0;
  for (let trial = 0; trial < 300; trial++) {
    const T = rng.int(40);
    // Coarse values make ties and equal neighbours common (the > vs ≥ edge cases).
    const h = Array.from({ length: T }, () => Math.round(rng.float() * 12) / 4);
    const rules: EntropyRule[] = [
      { kind: "global", threshold: rng.float() * 3 },
      { kind: "monotonic", relativeThreshold: rng.float() - 0.25 },
      { kind: "combined", threshold: rng.float() * 2, relativeThreshold: rng.float() - 0.5 },
    ];
    const max = rng.float() < 0.5 ? null : 1 + rng.int(5);
    for (const rule of rules) {
      const patcher = new StreamingPatcher(rule, { maxPatchLength: max });
      const opened: boolean[] = h.map((x) => patcher.push(x));
      assert.equal(patcher.length, T);
      for (const next of [false, true]) {
        const expected = batchLengths(h, rule, max, next);
        assert.deepEqual(
          patcher.patchLengths({ includeNextToken: next }),
          expected,
          JSON.stringify({ h, rule, max, next }),
        );
      }
      // What push() reported is exactly the set of starts after position 0.
      assert.deepEqual(opened.flatMap((o, i) => (o ? [i + 1] : [])), patcher.starts.slice(1));
      checked++;
    }
  }
  assert.equal(checked, 900);
});

Deno.test("streaming patcher reports each boundary as soon as the byte before it is read", () => {
  const patcher = new StreamingPatcher({ kind: "global", threshold: 1 }, { maxPatchLength: 2 });
  assert.deepEqual([3, 0.2, 0.1, 0.3, 2, 0.5].map((h) => patcher.push(h)), [
    true,
    false,
    true,
    false,
    true,
    false,
  ]);
  assert.deepEqual(patcher.starts, [0, 1, 3, 5]); // 3: forced by maxPatchLength; 5: H[4] > θ
  assert.deepEqual(patcher.patchLengths(), [1, 2, 2, 1]);
  assert.deepEqual(patcher.patchLengths({ includeNextToken: true }), [1, 2, 2, 2]);
  assert.deepEqual(new StreamingPatcher({ kind: "global", threshold: 1 }).patchLengths(), []);
});

Deno.test("streaming patcher rejects bad entropies and settings, naming them", () => {
  const patcher = new StreamingPatcher({ kind: "global", threshold: 1 });
  patcher.push(0.5);
  assert.throws(() => patcher.push(NaN), /'entropy' \(byte 1\) must be a finite number/);
  assert.throws(() => patcher.push(Infinity), /'entropy'/);
  assert.throws(
    () => new StreamingPatcher({ kind: "global", threshold: NaN }),
    /'threshold' must be a finite number/,
  );
  assert.throws(
    () => new StreamingPatcher({ kind: "global", threshold: 1 }, { maxPatchLength: 0 }),
    /'maxPatchLength' must be an integer ≥ 1, found 0/,
  );
});
