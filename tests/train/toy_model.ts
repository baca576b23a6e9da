/**
 * A tiny byte-bigram MLP language model implementing TrainableModel, so trainer tests need no BLT:
 * logits(next | byte) = embed[byte] · W + bias.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Batch, LossResult, TrainableModel } from "../../lib/train/types.ts";

/** Toy model options: `dim` of the embedding; `poison` makes the loss NaN on chosen batches. */
export interface ToyOptions {
  readonly dim?: number;
  readonly seed?: number;
  readonly poison?: (batch: Batch) => boolean;
}

/** Byte-bigram MLP over the 260 byte ids. */
export class ToyBigram implements TrainableModel {
  readonly config: { kind: string; dim: number; vocab: number };
  readonly #vars: Map<string, tf.Variable>;
  readonly #poison?: (batch: Batch) => boolean;

  constructor(options: ToyOptions = {}) {
    const dim = options.dim ?? 8;
    const seed = options.seed ?? 1;
    this.config = { kind: "toy-bigram", dim, vocab: 260 };
    this.#poison = options.poison;
    this.#vars = new Map([
      ["embed.weight", tf.variable(tf.randomNormal([260, dim], 0, 0.5, "float32", seed))],
      ["lm_head.weight", tf.variable(tf.randomNormal([dim, 260], 0, 0.5, "float32", seed + 1))],
      ["lm_head.bias", tf.variable(tf.zeros([260]))],
    ]);
  }

  namedVariables(): Map<string, tf.Variable> {
    return this.#vars;
  }

  loss(batch: Batch): LossResult {
    const inputs: number[] = [];
    const targets: number[] = [];
    const mask: number[] = [];
    for (const [b, row] of batch.ids.entries()) {
      for (let t = 1; t < row.length; t++) {
        inputs.push(row[t - 1]);
        targets.push(row[t]);
        mask.push(batch.targetMask?.[b][t] ?? 1);
      }
    }
    const predictions = mask.reduce((a, b) => a + b, 0);
    const poisoned = this.#poison?.(batch) === true;
    const loss = tf.tidy(() => {
      const h = tf.gather(this.#vars.get("embed.weight")!, inputs); // [N, d]
      const logits = tf.add(
        tf.matMul(h, this.#vars.get("lm_head.weight")!),
        this.#vars.get("lm_head.bias")!,
      ); // [N, V]
      const logp = tf.logSoftmax(logits);
      const picked = tf.sum(tf.mul(logp, tf.oneHot(targets, 260)), -1); // [N]
      const nll = tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(mask)))), predictions);
      return (poisoned ? tf.mul(nll, NaN) : nll) as tf.Scalar;
    });
    return { loss, predictions, bytes: predictions };
  }

  dispose(): void {
    this.#vars.forEach((v) => v.dispose());
  }
}

/** Deterministic byte rows of `length` ids drawn from a short English text. */
export function toyExamples(count: number, length: number): { ids: number[] }[] {
  const text = new TextEncoder().encode(
    "the quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun. ",
  );
  return Array.from({ length: count }, (_, i) => ({
    ids: [1, ...Array.from({ length: length - 1 }, (_, t) => text[(i * 7 + t) % text.length] + 4)],
  }));
}
