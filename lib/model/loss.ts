/**
 * Next-byte cross-entropy shared by BLT and the byte LM: position t predicts ids[t + 1].
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, LossResult } from "../train/types.ts";
import { nextBytePicksWasm } from "../wasm_elementwise.ts";

/**
 * Mean cross-entropy (nats) of `logits()` `[B, T, V]` against the next ids, counting target t
 * (t ≥ 1) when `batch.targetMask[b][t]` is 1 (all targets when absent).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { nextByteLoss } from "./loss.ts";
 * const r = nextByteLoss(() => tf.zeros([1, 3, 260]), { ids: [[1, 72, 105]] });
 * console.log(r.predictions, r.loss.dataSync()[0].toFixed(4)); // 2 "5.5607" (= ln 260)
 * ```
 */
export function nextByteLoss(logits: () => tf.Tensor3D, batch: Batch): LossResult {
  const B = batch.ids.length, T = batch.ids[0].length;
  if (T < 2) {
    throw new Error(`loss needs sequences of at least 2 ids to predict one, found T = ${T}`);
  }
  const targets = new Int32Array(B * (T - 1));
  const weights = new Float32Array(B * (T - 1));
  let count = 0;
  batch.ids.forEach((row, b) => {
    const mask = batch.targetMask?.[b];
    if (mask !== undefined && mask.length !== T) {
      throw new Error(`targetMask[${b}] has ${mask.length} entries but ids[${b}] has ${T}`);
    }
    for (let t = 1; t < T; t++) {
      targets[b * (T - 1) + t - 1] = row[t];
      const wgt = mask === undefined ? 1 : mask[t];
      weights[b * (T - 1) + t - 1] = wgt;
      count += wgt;
    }
  });
  if (count === 0) throw new Error("targetMask counts no targets; the loss would be undefined");
  const loss = tf.tidy(() => {
    const all = logits();
    const V = all.shape[2];
    // wasm: the picks and their gradient as one pass, bit for bit this form (wasm_elementwise.ts)
    const picked = nextBytePicksWasm(all, targets) ?? tf.tidy(() => {
      const predicting = tf.reshape(tf.slice(all, [0, 0, 0], [B, T - 1, V]), [B * (T - 1), V]);
      const logp = tf.logSoftmax(predicting); // [B·(T−1), V]
      return tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, "int32"), V)), 1); // [B·(T−1)]
    });
    return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(weights)))), count) as tf.Scalar;
  });
  return { loss, predictions: count, bytes: count };
}
