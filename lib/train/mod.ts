/**
 * Training: the model-agnostic loop (`train`, `resume`), AdamW, the learning-rate schedule,
 * gradient clipping, seeded batches, checkpoints, and the `TrainableModel` contract models
 * implement.
 *
 * @example
 * ```ts
 * import { learningRate, resolveTrainConfig } from "./mod.ts";
 * const config = resolveTrainConfig({ steps: 100, warmupSteps: 10, lr: 1e-3 });
 * console.log(learningRate(9, config)); // 0.001
 * ```
 * @module
 */
export type { Batch, BatchSource, Json, LossResult, TrainableModel } from "./types.ts";
export { defaultTrainConfig, resolveTrainConfig, type TrainConfig } from "./config.ts";
export { learningRate, type ScheduleConfig } from "./schedule.ts";
export { AdamW, type AdamWConfig, type AdamWState, decaysByDefault } from "./adamw.ts";
export { clipByGlobalNorm, clipOnDevice, globalNorm } from "./clip.ts";
export { type Example, shuffledBatches } from "./batches.ts";
export {
  type CheckpointData,
  loadCheckpoint,
  resolveCheckpointDir,
  saveCheckpoint,
} from "./checkpoint.ts";
export {
  type EvalMetrics,
  resume,
  type StepMetrics,
  train,
  type TrainCallbacks,
  type TrainOptions,
  type TrainResult,
} from "./loop.ts";
