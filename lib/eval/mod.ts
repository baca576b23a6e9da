/**
 * Evaluation: bits per byte, generation that patches as it goes, sampling, the paper's noise
 * types, HellaSwag-style multiple choice and CUTE-style character tasks.
 *
 * @example
 * ```ts
 * import { applyNoise, bitsPerByteFromNats } from "./mod.ts";
 * console.log(applyNoise("UpperCase", "bytes"), bitsPerByteFromNats(Math.LN2 * 8, 8)); // "BYTES" 1
 * ```
 * @module
 */
export { bitsPerByte, bitsPerByteAsync, bitsPerByteFromNats, type BpbResult } from "./bpb.ts";
export {
  CHAR_TASKS,
  type CharExample,
  type CharTask,
  corpusWords,
  exactMatchByTask,
  makeCharTasks,
  splitWords,
} from "./char_tasks.ts";
export {
  buildChoiceItems,
  choiceAccuracy,
  type ChoiceItem,
  type ChoiceOptions,
  type EndingScorer,
  noiseItems,
  type NoiseTarget,
} from "./multiple_choice.ts";
export {
  antSpeak,
  applyNoise,
  drop,
  type NoiseFn,
  type NoiseName,
  type NoiseOptions,
  NOISES,
  type NoiseSpec,
  randomCase,
  type RandomSource,
  repeat,
  type RepeatOptions,
  typoDelete,
  typoInsert,
  typoSubstitute,
  typoSwap,
  upperCase,
  whitespaceCollapse,
} from "./noise.ts";
export {
  generate,
  generateAsync,
  type GenerateOptions,
  type GenerateResult,
  promptToIds,
} from "./generate.ts";
export {
  checkSampling,
  greedy,
  rankByProbability,
  sample,
  sampleFrom,
  type SamplingOptions,
  softmax,
  topKFilter,
  topPFilter,
} from "./sampling.ts";
export {
  type BpbRow,
  charTaskProbe,
  type CharTaskRow,
  type ChoiceRow,
  choiceSummary,
  noisedBitsPerByte,
  noisedChoiceAccuracy,
  type NoiseSetting,
  PAPER_NOISES,
  type ProbeOptions,
  robustnessProbes,
} from "./robustness.ts";
export {
  bpeScoring,
  byteScoring,
  padRows,
  type ScoringModel,
  scoringModel,
} from "./robustness_scoring.ts";
export {
  continuationLogProbs,
  type ContinuationScore,
  greedyComplete,
  textBatches,
} from "./robustness_likelihood.ts";
export { type PatchView, patchViews } from "./robustness_view.ts";
export {
  charExampleBatch,
  charTaskAccuracy,
  charTaskBatches,
  type CharTaskScore,
  finetuneCharTasks,
  type FinetuneOptions,
} from "./char_finetune.ts";
export {
  compareAtFlops,
  type CompareOptions,
  type CurvePoint,
  fitPowerLaw,
  type RunResult,
  stepsForBudget,
  trainEntropyModel as trainComparisonEntropyModel,
} from "./compare.ts";
export { unigramBitsPerByte, type UnigramOptions } from "./unigram.ts";
