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
export {
  type CachedEntropies,
  cachedEntropies,
  corpusHash,
  documentEntropies,
  type EntropyModel,
  modelHash,
  type ScoringOptions,
} from "./entropy_cache.ts";
export {
  assignWeights,
  type BltRun,
  type BltStageOptions,
  type EncodedCorpus,
  loadEncodedCorpus,
  type StageOptions,
  trainBlt,
  trainEntropyModel,
} from "./pipeline.ts";
export {
  calibratePatching,
  meanPatchSize,
  patchedBatches,
  patchedValidation,
  type PatchedWindowOptions,
  windowPatchLengths,
} from "./pipeline_batches.ts";
export {
  entropyModelFor,
  loadBlt as loadTrainedBlt,
  loadByteLm as loadTrainedByteLm,
  saveModel,
} from "./pipeline_models.ts";
export {
  formatDuration,
  formatProgress,
  formatRate,
  ProgressBar,
  type ProgressOptions,
  type ProgressState,
} from "./progress.ts";
export {
  parseSampleArgs,
  parseTrainArgs,
  SAMPLE_HELP,
  type SampleArgs,
  sampleMain,
  TRAIN_HELP,
  type TrainArgs,
  trainMain,
} from "./cli.ts";
export {
  type RunIo,
  runSample,
  type RunSettings,
  runTrain,
  type TrainSummary,
} from "./pipeline_run.ts";
