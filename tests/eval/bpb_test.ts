import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { bitsPerByte, bitsPerByteFromNats } from "../../lib/eval/bpb.ts";
import type { Batch, TrainableModel } from "../../lib/train/types.ts";

await tf.setBackend("cpu");

/** A model whose loss per prediction is fixed: `nats` per token, each token `bytesPerToken`. */
function fixedModel(nats: number, bytesPerToken: number): TrainableModel {
  return {
    config: null,
    namedVariables: () => new Map(),
    loss: (b: Batch) => {
      const n = b.ids.reduce((s, row) => s + row.length - 1, 0);
      return { loss: tf.scalar(nats), predictions: n, bytes: n * bytesPerToken };
    },
  };
}

Deno.test("bitsPerByte: a uniform byte model costs 8 bits per byte", () => {
  const r = bitsPerByte(fixedModel(Math.log(256), 1), [{ ids: [[1, 5, 6, 7, 8]] }]);
  assert(Math.abs(r.bitsPerByte - 8) < 1e-6); // the loss is float32
  assert.equal(r.bytes, 4);
  assert.equal(r.predictions, 4);
});

Deno.test("bitsPerByte: BPE tokens spanning several bytes divide by bytes, not tokens", () => {
  // 3 tokens of 4 bytes each at ln(2^12) nats per token: 12 bits / 4 bytes = 3 bits per byte.
  const r = bitsPerByte(fixedModel(12 * Math.LN2, 4), [{ ids: [[1, 9, 9, 9]] }]);
  assert(Math.abs(r.bitsPerByte - 3) < 1e-6);
  assert(Math.abs(r.lossNats - 12 * Math.LN2) < 1e-6);
});

Deno.test("bitsPerByte: batches weigh by their predictions (exact, not a mean of means)", () => {
  // Loss depends on the batch: 1 nat per prediction on a 1-prediction batch, 3 on a 3-prediction one.
  const model: TrainableModel = {
    config: null,
    namedVariables: () => new Map(),
    loss: (b: Batch) => {
      const n = b.ids[0].length - 1;
      return { loss: tf.scalar(n), predictions: n, bytes: n };
    },
  };
  const r = bitsPerByte(model, [{ ids: [[1, 4]] }, { ids: [[1, 4, 4, 4]] }]);
  assert(Math.abs(r.sumNats - 10) < 1e-12); // 1·1 + 3·3
  assert(Math.abs(r.bitsPerByte - 10 / (4 * Math.LN2)) < 1e-12);
});

Deno.test("bitsPerByte: no tensor leaks; NaN loss and empty splits throw with the cause", () => {
  const before = tf.memory().numTensors;
  bitsPerByte(fixedModel(1, 1), [{ ids: [[1, 4, 5]] }, { ids: [[1, 6]] }]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(
    () => bitsPerByte(fixedModel(NaN, 1), [{ ids: [[1, 4]] }]),
    /loss of batch 0 is NaN/,
  );
  assert.throws(() => bitsPerByte(fixedModel(1, 1), []), /bytes must be > 0, found 0/);
  assert.equal(bitsPerByteFromNats(16 * Math.LN2, 2), 8);
});
