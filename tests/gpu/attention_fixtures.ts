// Shared by the fused-attention tests (attention_rows_test.ts, attention_tuning_test.ts).
import * as tf from "@tensorflow/tfjs";
import {
  attentionBackwardDkv,
  attentionBackwardDq,
  attentionForward,
} from "../../lib/gpu/attention.ts";
import type { AttentionOptions } from "../../lib/gpu/attention_reference.ts";

/** Names of `attentionKernels`' outputs, in order. */
export const ATTENTION_OUTPUTS = ["output", "log-sum-exp", "dQ", "dK", "dV"];

/**
 * [2, t] document ids with boundaries inside workgroups: row 0 at 20 and 145, row 1 four
 * positions before the end.
 */
export function docIdsOf(b: number, t: number): tf.Tensor {
  const ids = new Int32Array(b * t);
  for (let i = 0; i < t; i++) {
    ids[i] = i < 20 ? 0 : i < 145 ? 1 : 2;
    ids[t + i] = i < t - 4 ? 5 : 6;
  }
  return tf.tensor2d(ids, [b, t], "int32");
}

/** out, lse, dQ, dK, dV of the three fused kernels at the current settings. */
export function attentionKernels(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  dO: tf.Tensor,
  stats: tf.Tensor,
  opts: AttentionOptions,
): tf.Tensor[] {
  const { out, lse } = attentionForward(q, k, v, opts);
  const dq = attentionBackwardDq(q, k, v, dO, stats, opts);
  const [dk, dv] = attentionBackwardDkv(q, k, v, dO, stats, opts);
  return [out, lse, dq, dk, dv];
}
