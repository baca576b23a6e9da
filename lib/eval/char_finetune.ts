/**
 * Character-task fine-tuning and exact-match scoring for any family (paper §6.2, Table 4; CUTE):
 * the LIMA idea of a brief fine-tune on few curated examples, through the real trainer. Each
 * example is one sequence `BOS prompt␠ answer\n`; the loss is masked to the answer and its
 * newline (`Batch.targetMask`), so the model learns to answer and to stop, not to write prompts.
 * At test time the model completes `BOS prompt␠` greedily until a newline or EOS.
 *
 * @module
 */
import { Rng } from "../data/rng.ts";
import { train, type TrainResult } from "../train/loop.ts";
import type { Batch, BatchSource } from "../train/types.ts";
import { type CharExample, type CharTask, exactMatchByTask } from "./char_tasks.ts";
import { greedyComplete } from "./robustness_likelihood.ts";
import { padRows, type ScoringModel } from "./robustness_scoring.ts";

/** The prompt as the model sees it before its answer. */
const promptText = (ex: CharExample) => `${ex.prompt} `;

function checkExamples(examples: readonly CharExample[], where: string): void {
  if (examples.length === 0) throw new Error(`${where}: 'examples' is empty; pass ≥ 1 example`);
  examples.forEach((ex, i) => {
    if (typeof ex?.prompt !== "string" || typeof ex?.answer !== "string") {
      throw new Error(`${where}: examples[${i}] needs string 'prompt' and 'answer'`);
    }
  });
}

/**
 * One padded batch `[B, T]` of examples with `targetMask` 1 exactly on answer ids and the newline.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { charExampleBatch } from "./char_finetune.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const ex = { task: "spelling" as const, prompt: "Q:", answer: "a b" };
 * const b = charExampleBatch(byteScoring("byte", lm), [ex]);
 * console.log(b.targetMask![0]); // [0, 0, 0, 0, 1, 1, 1, 1] (BOS Q : ␠ | a ␠ b \n)
 * lm.dispose();
 * ```
 */
export function charExampleBatch(model: ScoringModel, examples: readonly CharExample[]): Batch {
  checkExamples(examples, "charExampleBatch");
  const rows = examples.map((ex) => {
    const prompt = [model.bos, ...model.encode(promptText(ex))];
    const answer = model.encode(`${ex.answer}\n`);
    return { ids: [...prompt, ...answer], start: prompt.length };
  });
  const ids = padRows(rows.map((r) => r.ids), model.pad);
  const targetMask = rows.map((r) =>
    ids[0].map((_, t) => (t >= r.start && t < r.ids.length ? 1 : 0))
  );
  return { ids, targetMask };
}

/**
 * Seeded batches of `batchSize` examples drawn with replacement: `batchAt(i)` depends only on
 * the inputs and i (the trainer's contract).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { charTaskBatches } from "./char_finetune.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const ex = { task: "spelling" as const, prompt: "Q:", answer: "a" };
 * console.log(charTaskBatches(byteScoring("byte", lm), [ex], { batchSize: 3, seed: 0 }).batchAt(5).ids.length); // 3
 * lm.dispose();
 * ```
 */
export function charTaskBatches(
  model: ScoringModel,
  examples: readonly CharExample[],
  { batchSize, seed }: { readonly batchSize: number; readonly seed: number },
): BatchSource {
  checkExamples(examples, "charTaskBatches");
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`charTaskBatches: batchSize must be an integer ≥ 1, found ${batchSize}`);
  }
  const root = new Rng(seed);
  return {
    batchAt: (index) => {
      const rng = root.fork(index);
      const picked = Array.from({ length: batchSize }, () => examples[rng.int(examples.length)]);
      return charExampleBatch(model, picked);
    },
  };
}

/**
 * Options of {@link finetuneCharTasks}.
 *
 * @example
 * ```ts
 * import type { FinetuneOptions } from "./char_finetune.ts";
 * const o: FinetuneOptions = { steps: 200, batchSize: 8, lr: 1e-3, seed: 0 };
 * ```
 */
export interface FinetuneOptions {
  readonly steps: number;
  readonly batchSize: number;
  readonly seed: number;
  /** Peak learning rate (default 1e-3); warm-up is a tenth of the steps. */
  readonly lr?: number;
}

/**
 * Fine-tunes `model` in place on the examples through `lib/train` (AdamW, cosine schedule).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { finetuneCharTasks } from "./char_finetune.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const ex = { task: "spelling" as const, prompt: "Q:", answer: "a" };
 * const r = await finetuneCharTasks(byteScoring("byte", lm), [ex], { steps: 2, batchSize: 1, seed: 0 });
 * console.log(r.step); // 2
 * lm.dispose();
 * ```
 */
export async function finetuneCharTasks(
  model: ScoringModel,
  examples: readonly CharExample[],
  options: FinetuneOptions,
): Promise<TrainResult> {
  const { steps, batchSize, seed, lr = 1e-3 } = options;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`finetuneCharTasks: steps must be an integer ≥ 1, found ${steps}`);
  }
  return await train({
    model: model.model,
    data: charTaskBatches(model, examples, { batchSize, seed }),
    config: { steps, lr, warmupSteps: Math.max(1, Math.floor(steps / 10)), evalEvery: 0 },
  });
}

/**
 * Exact-match accuracy per task and overall, with each prediction.
 *
 * @example
 * ```ts
 * import type { CharTaskScore } from "./char_finetune.ts";
 * const s: CharTaskScore = { perTask: { spelling: 0.5 }, mean: 0.5, predictions: ["c a t", "dg"] };
 * ```
 */
export interface CharTaskScore {
  readonly perTask: Partial<Record<CharTask, number>>;
  /** Fraction of all examples answered exactly. */
  readonly mean: number;
  readonly predictions: readonly string[];
}

/**
 * Greedy answers to held-out examples, scored by exact match (surrounding whitespace trimmed).
 * The byte budget per answer is the longest answer's bytes plus `slack` (default 8).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { charTaskAccuracy } from "./char_finetune.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const ex = { task: "spelling" as const, prompt: "Q:", answer: "a" };
 * const s = await charTaskAccuracy(byteScoring("byte", lm), [ex]);
 * console.log(s.predictions.length, s.mean >= 0); // 1 true
 * lm.dispose();
 * ```
 */
export async function charTaskAccuracy(
  model: ScoringModel,
  examples: readonly CharExample[],
  { slack = 8, batchSize = 16 }: { readonly slack?: number; readonly batchSize?: number } = {},
): Promise<CharTaskScore> {
  checkExamples(examples, "charTaskAccuracy");
  const encoder = new TextEncoder();
  const maxBytes = Math.max(...examples.map((ex) => encoder.encode(ex.answer).length)) + slack;
  const predictions = await greedyComplete(model, examples.map(promptText), {
    maxBytes,
    batchSize,
  });
  const hits = predictions.filter((p, i) => p.trim() === examples[i].answer).length;
  return {
    perTask: exactMatchByTask(examples, predictions),
    mean: hits / examples.length,
    predictions,
  };
}
