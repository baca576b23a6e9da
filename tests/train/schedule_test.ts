import assert from "node:assert/strict";
import { learningRate } from "../../lib/train/schedule.ts";

const s = { lr: 1e-3, warmupSteps: 10, steps: 110, minLrRatio: 0.1 };
const close = (a: number, b: number) => assert(Math.abs(a - b) < 1e-15, `${a} ≉ ${b}`);

Deno.test("learningRate: linear warm-up reaches the peak at the last warm-up step", () => {
  close(learningRate(0, s), 1e-4);
  close(learningRate(4, s), 5e-4);
  close(learningRate(9, s), 1e-3);
});

Deno.test("learningRate: cosine from the peak to the floor, halfway at the midpoint", () => {
  // Cosine runs over steps 9..109 (100 steps); step 59 is progress 0.5.
  close(learningRate(59, s), (1e-3 + 1e-4) / 2);
  close(learningRate(109, s), 1e-4);
  close(learningRate(500, s), 1e-4);
  for (let t = 10; t < 110; t++) assert(learningRate(t, s) < learningRate(t - 1, s), `step ${t}`);
});

Deno.test("learningRate: no warm-up starts at the peak; bad steps throw", () => {
  const flat = { ...s, warmupSteps: 0, steps: 3 };
  assert.deepEqual(learningRate(0, flat), 1e-3);
  close(learningRate(2, flat), 1e-4);
  assert.throws(() => learningRate(-1, s), /step must be an integer/);
});
