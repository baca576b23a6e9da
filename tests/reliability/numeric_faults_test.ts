/**
 * NaN / ±Inf injected into the loss or into the gradients of a real (tiny) byte LM at a chosen
 * step: training must stop with an error naming that step and the last good checkpoint, leave
 * the weights and that checkpoint untouched, leak no tensors, and resume from it cleanly.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type ByteLm, createByteLm } from "../../lib/model/byte_lm.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { resume, train } from "../../lib/train/loop.ts";
import type { Batch, LossResult, TrainableModel } from "../../lib/train/types.ts";
import { assertClearError, TINY_LM, tinyData, useWasm, withTempDir } from "./helpers.ts";

await useWasm();

type Where = "loss" | "gradient";

/** The tiny byte LM with a fault injected into the `at`-th loss call (0-based). */
class Faulty implements TrainableModel {
  calls = 0;
  constructor(
    readonly lm: ByteLm,
    readonly at: number,
    readonly where: Where,
    readonly value: number,
  ) {}
  get config() {
    return this.lm.config;
  }
  namedVariables() {
    return this.lm.namedVariables();
  }
  loss(batch: Batch): LossResult {
    const r = this.lm.loss(batch);
    if (this.calls++ !== this.at) return r;
    const bad = this.value;
    const loss = this.where === "loss"
      ? tf.tidy(() => tf.add(r.loss, bad) as tf.Scalar)
      // Identity forward, poisoned backward: the loss stays finite, every gradient is not.
      : tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
        value: tf.clone(args[0] as tf.Tensor),
        gradFunc: (dy: tf.Tensor) => tf.mul(dy, bad),
      }))(r.loss) as tf.Scalar;
    if (loss !== r.loss) r.loss.dispose();
    return { ...r, loss };
  }
}

const CASES: readonly [Where, number, RegExp][] = [
  ["loss", NaN, /loss is NaN/],
  ["loss", Infinity, /loss is Infinity/],
  ["loss", -Infinity, /loss is -Infinity/],
  ["gradient", NaN, /gradient norm is NaN/],
  ["gradient", Infinity, /gradient norm is (Infinity|NaN)/],
];

for (const [where, value, what] of CASES) {
  for (const gradAccumulation of [1, 2]) {
    Deno.test(`numeric: ${value} in the ${where} (accumulation ${gradAccumulation}) stops at its step and keeps the last checkpoint`, async () => {
      await withTempDir(async (run) => {
        const lm = createByteLm(TINY_LM, 11);
        // Poison the last micro-batch of step 4 (1-based): loss call 4·acc − 1 (0-based).
        const model = new Faulty(lm, 4 * gradAccumulation - 1, where, value);
        const config = {
          steps: 6,
          warmupSteps: 1,
          lr: 0.01,
          gradAccumulation,
          checkpointEvery: 1,
          keepCheckpoints: 2,
          evalEvery: 0,
        };
        try {
          const before = tf.memory().numTensors;
          let weightsAtStep3: Map<string, Float32Array> | null = null;
          await assertClearError(
            () =>
              train({
                model,
                data: tinyData(),
                config,
                checkpointDir: run,
                callbacks: {
                  onStep: (m) => {
                    if (m.step !== 3) return;
                    weightsAtStep3 = new Map(
                      [...lm.namedVariables()].map(([n, v]) => [n, v.dataSync() as Float32Array]),
                    );
                  },
                },
              }),
            [/Training stopped at step 4/, what, /step-00000003/, /resume/],
          );
          assert.equal(tf.memory().numTensors, before, "the failed step leaked tensors");
          for (const [n, v] of lm.namedVariables()) {
            assert.deepEqual(v.dataSync(), weightsAtStep3!.get(n), `${n} changed by the bad step`);
          }
          const last = await loadCheckpoint(run);
          assert.equal(last.step, 3);
          for (const [n, w] of last.weights) assert.deepEqual(w.data, weightsAtStep3!.get(n));
          // The healthy model resumes from the kept checkpoint and finishes the run.
          const rest = await resume(run, { model: lm, data: tinyData() });
          assert.equal(rest.step, 6);
          assert.ok(rest.history.every((m) => Number.isFinite(m.loss)));
        } finally {
          lm.dispose();
        }
      });
    });
  }
}

Deno.test("numeric: a NaN before any checkpoint says none was written", async () => {
  const lm = createByteLm(TINY_LM, 11);
  try {
    await assertClearError(
      () =>
        train({
          model: new Faulty(lm, 0, "loss", NaN),
          data: tinyData(),
          config: { steps: 3, warmupSteps: 1, evalEvery: 0 },
        }),
      [/Training stopped at step 1/, /no checkpoint written yet/],
    );
  } finally {
    lm.dispose();
  }
});
