import assert from "node:assert/strict";
import { shuffledBatches } from "../../lib/train/batches.ts";

const examples = Array.from(
  { length: 10 },
  (_, i) => ({ ids: [1, 100 + i], patchLengths: [1, 1] }),
);
const firstIds = (ids: readonly (readonly number[])[]) => ids.map((r) => r[1]);

Deno.test("shuffledBatches: each epoch visits a permutation; epochs differ; last partial dropped", () => {
  const s = shuffledBatches(examples, { batchSize: 3, seed: 5 });
  assert.equal(s.batchesPerEpoch, 3);
  const epoch = (e: number) => [0, 1, 2].flatMap((i) => firstIds(s.batchAt(e * 3 + i).ids));
  for (const e of [0, 1, 2]) {
    const seen = epoch(e);
    assert.equal(new Set(seen).size, 9, `epoch ${e} repeats an example`);
  }
  assert.notDeepEqual(epoch(0), epoch(1));
  assert.deepEqual(s.batchAt(0).patchLengths, [[1, 1], [1, 1], [1, 1]]);
});

Deno.test("shuffledBatches: a pure function of (seed, index), whatever the access order", () => {
  const a = shuffledBatches(examples, { batchSize: 2, seed: 9 });
  const b = shuffledBatches(examples, { batchSize: 2, seed: 9 });
  const forward = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => firstIds(a.batchAt(i).ids));
  const backward = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((i) => firstIds(b.batchAt(i).ids))
    .reverse();
  assert.deepEqual(forward, backward);
  const other = shuffledBatches(examples, { batchSize: 2, seed: 10 });
  assert.notDeepEqual(forward, forward.map((_, i) => firstIds(other.batchAt(i).ids)));
});

Deno.test("shuffledBatches: bad inputs name the argument", () => {
  assert.throws(() => shuffledBatches(examples, { batchSize: 0, seed: 1 }), /batchSize must be/);
  assert.throws(
    () => shuffledBatches(examples, { batchSize: 11, seed: 1 }),
    /cannot fill one batch/,
  );
  assert.throws(
    () => shuffledBatches([{ ids: [1, 2] }, { ids: [1] }], { batchSize: 1, seed: 1 }),
    /example 1 has 1 ids, example 0 has 2/,
  );
});
