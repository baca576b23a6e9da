import assert from "node:assert/strict";
import { Rng } from "../../lib/data/rng.ts";
import {
  checkSampling,
  greedy,
  rankByProbability,
  sample,
  sampleFrom,
  softmax,
  topKFilter,
  topPFilter,
} from "../../lib/eval/sampling.ts";

const close = (a: ArrayLike<number>, b: number[], tol = 1e-12) =>
  b.forEach((x, i) => assert.ok(Math.abs(a[i] - x) <= tol, `[${i}] ${a[i]} vs ${x}`));

Deno.test("greedy: argmax, lowest id on ties, NaN never chosen", () => {
  assert.equal(greedy([0, 3, 1]), 1);
  assert.equal(greedy(new Float32Array([2, 5, 5])), 1);
  assert.equal(greedy([NaN, -1, NaN]), 1);
  assert.equal(greedy([-Infinity, -Infinity]), 0);
  assert.throws(() => greedy([NaN]), /NaN/);
  assert.throws(() => greedy([]), /non-empty/);
});

Deno.test("softmax with temperature; filters keep the right ids and renormalise", () => {
  close(softmax([0, Math.log(3)]), [0.25, 0.75]);
  close(softmax([0, Math.log(9)], 2), [0.25, 0.75]); // T = 2 halves the log-odds
  close(softmax([1000, 1000, -Infinity]), [0.5, 0.5, 0]); // no overflow
  assert.deepEqual(rankByProbability([0.3, 0.5, 0.3, 0.1]), [1, 0, 2, 3]);
  close(topKFilter([0.1, 0.6, 0.3], 1), [0, 1, 0]);
  close(topKFilter([0.1, 0.6, 0.3], 2), [0, 6 / 9, 3 / 9]);
  close(topKFilter([0.1, 0.6, 0.3], 5), [0.1, 0.6, 0.3]);
  close(topPFilter([0.1, 0.6, 0.3], 0.6), [0, 1, 0]); // 0.6 alone reaches p
  close(topPFilter([0.1, 0.6, 0.3], 0.61), [0, 6 / 9, 3 / 9]);
  close(topPFilter([0.1, 0.6, 0.3], 1), [0.1, 0.6, 0.3]);
  close(topPFilter([0.1, 0.6, 0.3], 1e-9), [0, 1, 0]); // at least one id
});

Deno.test("sampling follows the distribution and is reproducible by seed", () => {
  const logits = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
  const draw = (seed: number, n: number, o = {}) => {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => sample(logits, { temperature: 1, ...o }, rng));
  };
  const n = 20000, counts = [0, 0, 0];
  for (const id of draw(1, n)) counts[id]++;
  [0.5, 0.3, 0.2].forEach((p, i) => {
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(
      Math.abs(counts[i] - n * p) < 5 * sd,
      `id ${i}: ${counts[i]} of ${n}, expected ${n * p}`,
    );
  });
  assert.deepEqual(draw(7, 50), draw(7, 50));
  assert.notDeepEqual(draw(7, 50), draw(8, 50));
  assert.ok(draw(3, 500, { topK: 2 }).every((id) => id !== 2));
  assert.ok(draw(3, 500, { topP: 0.5 }).every((id) => id === 0));
  const cold = draw(4, 500, { temperature: 0.05 });
  assert.ok(cold.filter((id) => id === 0).length > 495, "low temperature is nearly greedy");
});

Deno.test("greedy draws nothing from the rng; sampleFrom edge cases", () => {
  const rng = new Rng(5), ref = new Rng(5);
  assert.equal(sample([1, 9, 3], { temperature: 0 }, rng), 1);
  assert.equal(rng.uint32(), ref.uint32());
  assert.equal(sampleFrom([0, 0, 1], new Rng(0)), 2);
  assert.throws(() => sampleFrom([0, 0], new Rng(0)), /no id has a positive probability/);
});

Deno.test("bad sampling options name the field", () => {
  assert.throws(() => checkSampling({ temperature: -1 }), /sampling.temperature.*found -1/);
  assert.throws(() => checkSampling({ temperature: NaN }), /sampling.temperature/);
  assert.throws(() => checkSampling({ topK: 0 }), /sampling.topK must be an integer ≥ 1.*found 0/);
  assert.throws(() => checkSampling({ topK: 2.5 }), /sampling.topK/);
  assert.throws(() => checkSampling({ topP: 1.5 }), /sampling.topP must be a number in \(0, 1\]/);
  assert.throws(() => softmax([1, 2], 0), /temperature must be a finite number > 0/);
});
