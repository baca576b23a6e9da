/**
 * The contract between the model-agnostic trainer and any model it trains (BLT, the byte-level
 * baseline, the BPE baseline, a test's toy LM). The trainer only ever calls these members.
 *
 * Bits per byte must be exact for models that predict tokens spanning several bytes (BPE), so a
 * model reports, next to its differentiable mean loss, how many predictions that mean is over and
 * how many bytes of text those predictions cover: BPB = Σ(loss · predictions) / (ln 2 · Σ bytes).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** A JSON value (configs, data positions and metadata travel inside checkpoints as JSON). */
export type Json = null | boolean | number | string | readonly Json[] | {
  readonly [k: string]: Json;
};

/**
 * One batch of training or evaluation data; plain arrays, tensors start at the model.
 *
 * @example
 * ```ts
 * import type { Batch } from "./types.ts";
 * const batch: Batch = { ids: [[1, 76, 105, 2]] }; // [B=1, T=4]: BOS "H" "e" EOS (+4 offset)
 * console.log(batch.ids[0].length); // 4
 * ```
 */
export interface Batch {
  /** Token ids per sequence, `[B, T]`; byte models: byte ids (BOS … EOS, vocab 260). The model
   * predicts ids[b][t + 1] from ids[b][0..t]. */
  readonly ids: readonly (readonly number[])[];
  /** Patch lengths per sequence (BLT), `[B, P]`, each row summing to T; absent for token models. */
  readonly patchLengths?: readonly (readonly number[])[];
  /** Which targets count, `[B, T]` of 0/1 aligned with ids (position t masks the prediction of
   * ids[b][t]); absent = every position after the first counts (padding is masked with 0). */
  readonly targetMask?: readonly (readonly number[])[];
}

/**
 * What a model's loss returns for one batch.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { LossResult } from "./types.ts";
 * const r: LossResult = { loss: tf.scalar(2.5), predictions: 6, bytes: 6 };
 * const bitsPerByte = (r.loss.dataSync()[0] * r.predictions) / (Math.LN2 * r.bytes);
 * console.log(bitsPerByte.toFixed(3)); // "3.607"
 * r.loss.dispose();
 * ```
 */
export interface LossResult {
  /** Mean cross-entropy in nats over the counted predictions; differentiable, `[]`. */
  readonly loss: tf.Scalar;
  /** How many predictions the mean is over (bytes for byte models, tokens for BPE). */
  readonly predictions: number;
  /** How many bytes of text those predictions cover (equals `predictions` for byte models). */
  readonly bytes: number;
}

/**
 * A model the trainer can train: its weights by (Hugging Face) name, and a loss.
 *
 * `loss` is called inside `tf.variableGrads`/`tf.tidy` by the trainer: it must build its result
 * from `namedVariables()` only, and must not dispose the variables.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { Batch, LossResult, TrainableModel } from "./types.ts";
 * class Unigram implements TrainableModel {
 *   readonly config = { vocab: 260 };
 *   private readonly logits = tf.variable(tf.zeros([260]), true, "logits");
 *   namedVariables() {
 *     return new Map([["logits", this.logits]]);
 *   }
 *   loss(batch: Batch): LossResult {
 *     const targets = batch.ids.flatMap((row) => row.slice(1));
 *     const loss = tf.tidy(() => {
 *       const logp = tf.logSoftmax(this.logits); // [V]
 *       return tf.neg(tf.mean(tf.gather(logp, targets))) as tf.Scalar;
 *     });
 *     return { loss, predictions: targets.length, bytes: targets.length };
 *   }
 * }
 * const m = new Unigram();
 * m.loss({ ids: [[1, 76, 2]] }).loss.dispose();
 * m.namedVariables().get("logits")!.dispose();
 * ```
 */
export interface TrainableModel {
  /** The model's config as JSON; checkpoints store it as `config.json`. */
  readonly config: Json;
  /** Every trainable weight, keyed by its Hugging Face name (the safetensors key). Names are
   * stable across calls; the trainer applies weight decay to rank ≥ 2 variables by default. */
  namedVariables(): Map<string, tf.Variable>;
  /** Mean next-id cross-entropy (nats) over the batch's counted targets, with the counts. */
  loss(batch: Batch): LossResult;
  /**
   * Optional: host-side work for a batch that `loss` will get next (e.g. the BLT's n-gram hash
   * ids), done while the device still runs the previous step. `loss` must produce the same
   * result with or without it; the batch object must reach `loss` unchanged.
   */
  prepare?(batch: Batch): void;
}

/**
 * Where batches come from: a pure function of the batch index, so a resumed run sees exactly
 * the batches the uninterrupted run would have seen (the checkpoint stores the next index).
 *
 * @example
 * ```ts
 * import type { BatchSource } from "./types.ts";
 * const source: BatchSource = { batchAt: (i) => ({ ids: [[1, 4 + (i % 256), 2]] }) };
 * source.batchAt(3);
 * ```
 */
export interface BatchSource {
  /** The batch at global index `index` (0, 1, 2, …; may wrap into later epochs). */
  batchAt(index: number): Batch;
}

/**
 * How a data-parallel worker (`TrainConfig.workers` > 1, lib/train/parallel.ts) builds its own
 * copy of the model: it imports `module` and calls its export `factory(args)`, which returns a
 * {@link TrainableModel} (or a promise of one) whose `namedVariables()` have the same names and
 * shapes as the trainer's model. Initial values do not matter: the worker receives the current
 * weights every step.
 *
 * @example
 * ```ts
 * import type { WorkerModelSpec } from "./types.ts";
 * const spec: WorkerModelSpec = {
 *   module: new URL("./parallel_models.ts", import.meta.url).href,
 *   factory: "bltForWorker",
 *   args: { note: "a BltConfig as JSON" },
 * };
 * ```
 */
export interface WorkerModelSpec {
  /** Module URL (e.g. `new URL("./m.ts", import.meta.url).href`). */
  readonly module: string;
  /** Name of the exported factory `(args: Json) => TrainableModel | Promise<TrainableModel>`. */
  readonly factory: string;
  /** The factory's argument, sent to the worker as JSON (usually the model config). */
  readonly args: Json;
}
