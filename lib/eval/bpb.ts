/**
 * Bits per byte (BPB), the paper's tokenizer-independent measure (§2, §4): the total negative
 * log-likelihood of the text in nats, converted to bits, divided by the number of bytes, so byte
 * models and BPE models compare on the same footing.
 *
 * @module
 */
import type { Batch, TrainableModel } from "../train/types.ts";
import { gpuChecked } from "../gpu/guard.ts";

/**
 * Totals of an evaluation: summed loss in nats, predictions and bytes, and the resulting BPB.
 *
 * @example
 * ```ts
 * import type { BpbResult } from "./bpb.ts";
 * const r: BpbResult = { bitsPerByte: 1, lossNats: Math.LN2, sumNats: Math.LN2, predictions: 1, bytes: 1 };
 * ```
 */
export interface BpbResult {
  /** Σ nats / (ln 2 · Σ bytes). */
  readonly bitsPerByte: number;
  /** Mean loss per prediction in nats (per byte for byte models, per token for BPE). */
  readonly lossNats: number;
  /** Total negative log-likelihood in nats. */
  readonly sumNats: number;
  /** Predictions the loss covers. */
  readonly predictions: number;
  /** Bytes of text those predictions cover. */
  readonly bytes: number;
}

/**
 * Bits per byte from a total loss in nats and the number of bytes it covers.
 *
 * @example
 * ```ts
 * import { bitsPerByteFromNats } from "./bpb.ts";
 * console.log(bitsPerByteFromNats(8 * Math.LN2, 4)); // 2
 * ```
 */
export function bitsPerByteFromNats(sumNats: number, bytes: number): number {
  if (!(bytes > 0)) {
    throw new Error(
      `bitsPerByte: bytes must be > 0, found ${bytes}; the split has no predicted bytes`,
    );
  }
  return sumNats / (Math.LN2 * bytes);
}

/**
 * Evaluates `model` on `batches` (no gradients) and returns exact bits per byte: each batch's
 * mean loss is weighted by its prediction count, so batches of different sizes and BPE tokens
 * spanning several bytes are counted exactly.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { bitsPerByte } from "./bpb.ts";
 * // A uniform model over 256 byte values codes every byte in exactly 8 bits.
 * const model = {
 *   config: null,
 *   namedVariables: () => new Map<string, tf.Variable>(),
 *   loss: (b: { ids: readonly (readonly number[])[] }) => {
 *     const n = b.ids.reduce((s, row) => s + row.length - 1, 0);
 *     return { loss: tf.scalar(Math.log(256)), predictions: n, bytes: n };
 *   },
 * };
 * console.log(bitsPerByte(model, [{ ids: [[1, 70, 71, 72]] }]).bitsPerByte.toFixed(3)); // "8.000"
 * ```
 */
export function bitsPerByte(model: TrainableModel, batches: readonly Batch[]): BpbResult {
  return combine(batches.map((batch) => {
    const r = model.loss(batch);
    const mean = r.loss.dataSync()[0];
    r.loss.dispose();
    return { mean, n: r.predictions, b: r.bytes };
  }));
}

/**
 * {@link bitsPerByte} reading losses back asynchronously: the form that works on every backend,
 * WebGPU under Deno included (it has no synchronous reads).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { bitsPerByteAsync } from "./bpb.ts";
 * const model = {
 *   config: null,
 *   namedVariables: () => new Map<string, tf.Variable>(),
 *   loss: () => ({ loss: tf.scalar(Math.log(2)), predictions: 3, bytes: 3 }),
 * };
 * console.log((await bitsPerByteAsync(model, [{ ids: [[1, 5, 6, 7]] }])).bitsPerByte); // 1
 * ```
 */
export async function bitsPerByteAsync(
  model: TrainableModel,
  batches: readonly Batch[],
): Promise<BpbResult> {
  const parts: BatchLoss[] = [];
  // On webgpu, inside error scopes: a tensor over the device's limits would otherwise read 0.
  await gpuChecked("bitsPerByte", async () => {
    for (const batch of batches) {
      const r = model.loss(batch);
      const mean = (await r.loss.data())[0];
      r.loss.dispose();
      parts.push({ mean, n: r.predictions, b: r.bytes });
    }
  });
  return combine(parts);
}

interface BatchLoss {
  readonly mean: number;
  readonly n: number;
  readonly b: number;
}

function combine(parts: readonly BatchLoss[]): BpbResult {
  let sumNats = 0;
  let predictions = 0;
  let bytes = 0;
  for (const [i, { mean, n, b }] of parts.entries()) {
    if (!Number.isFinite(mean)) {
      throw new Error(
        `bitsPerByte: loss of batch ${i} is ${mean}; the model diverged or the batch is invalid`,
      );
    }
    sumNats += mean * n;
    predictions += n;
    bytes += b;
  }
  return {
    bitsPerByte: bitsPerByteFromNats(sumNats, bytes),
    lossNats: sumNats / predictions,
    sumNats,
    predictions,
    bytes,
  };
}
