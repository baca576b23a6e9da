/**
 * The BLT workflow end to end (paper §2.3, §3): train the entropy model (a byte LM) on a corpus,
 * score the corpus with it (cached, documents never bleed), calibrate θ to a target mean patch
 * size, then train the BLT on windows patched from the cached entropies. The same trainer
 * (`loop.ts`) runs both; this file only wires data, models and FLOP counts into it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BltConfig, TransformerConfig } from "../config.ts";
import { type Corpus, encodeDocuments, loadCorpus, sampleBatches } from "../data/mod.ts";
import { sequentialBatches } from "../data/batching.ts";
import { type Blt, createBlt, PATCHER_PREFIX } from "../model/blt.ts";
import { type ByteLm, createByteLm } from "../model/byte_lm.ts";
import { bltFlopsPerByte, transformerFlopsPerByte } from "../model/flops.ts";
import type { CalibrationResult } from "../patching/mod.ts";
import type { TrainConfig } from "./config.ts";
import { cachedEntropies } from "./entropy_cache.ts";
import { resume, train, type TrainCallbacks, type TrainResult } from "./loop.ts";
import {
  calibratePatching,
  meanPatchSize,
  patchedBatches,
  patchedValidation,
} from "./pipeline_batches.ts";
import type { Batch } from "./types.ts";

/**
 * A corpus encoded once as `BOS … EOS` id arrays per document.
 *
 * @example
 * ```ts
 * import type { EncodedCorpus } from "./pipeline.ts";
 * const c: EncodedCorpus = { name: "x", train: [Uint16Array.of(1, 76, 2)], validation: [] };
 * ```
 */
export interface EncodedCorpus {
  readonly name: string;
  readonly train: readonly Uint16Array[];
  readonly validation: readonly Uint16Array[];
}

/**
 * Loads and encodes a corpus (name or directory, see `loadCorpus`) and checks it can fill one
 * training window: an empty corpus or one shorter than `window` ids throws naming it.
 *
 * @example
 * ```ts
 * import { loadEncodedCorpus } from "./pipeline.ts";
 * const corpus = await loadEncodedCorpus("brown-small", 1024);
 * console.log(corpus.train.length); // 111
 * ```
 */
export async function loadEncodedCorpus(
  source: string | Corpus,
  window: number,
): Promise<EncodedCorpus> {
  const corpus = typeof source === "string" ? await loadCorpus(source) : source;
  const train = encodeDocuments(corpus.train);
  const validation = encodeDocuments(corpus.validation);
  const ids = train.reduce((n, d) => n + d.length, 0);
  if (train.length === 0 || corpus.train.every((d) => d.length === 0)) {
    throw new Error(
      `Corpus '${corpus.name}' has no training text (train.jsonl is empty); add documents to it`,
    );
  }
  if (ids < window) {
    throw new Error(
      `Corpus '${corpus.name}' has ${ids} training ids (BOS/EOS included), fewer than one window ` +
        `of ${window}; use a larger corpus or a smaller window (--window)`,
    );
  }
  return { name: corpus.name, train, validation };
}

/**
 * Shapes, seed and trainer settings shared by both stages.
 *
 * @example
 * ```ts
 * import type { StageOptions } from "./pipeline.ts";
 * const o: StageOptions = { window: 256, batchSize: 4, seed: 0, train: { steps: 10 } };
 * ```
 */
export interface StageOptions {
  /** Bytes per training window T. */
  readonly window: number;
  /** Windows per batch B. */
  readonly batchSize: number;
  /** Seed of the weights and of the data order. */
  readonly seed: number;
  /** Trainer overrides (steps, lr, …). */
  readonly train: Partial<TrainConfig>;
  /** Run directory for checkpoints; none are written when absent. */
  readonly checkpointDir?: string;
  /** Continue from this checkpoint (run or step directory) instead of starting fresh. */
  readonly resumeFrom?: string;
  readonly callbacks?: TrainCallbacks;
  /** Validation batches used for BPB (default 8; the first ones of the split, in order). */
  readonly validationBatches?: number;
}

function validationOf(corpus: EncodedCorpus, o: StageOptions): Batch[] {
  if (corpus.validation.length === 0) return [];
  const all = sequentialBatches(corpus.validation, { window: o.window, batchSize: o.batchSize });
  const n = Math.min(all.numBatches, o.validationBatches ?? 8);
  return Array.from({ length: n }, (_, i) => all.batchAt(i));
}

async function runStage(
  model: { readonly config: unknown } & Parameters<typeof train>[0]["model"],
  data: Parameters<typeof train>[0]["data"],
  validation: Batch[],
  flops: number,
  o: StageOptions,
): Promise<TrainResult> {
  const options = {
    model,
    data,
    validation,
    config: o.train,
    checkpointDir: o.checkpointDir,
    callbacks: o.callbacks,
    trainFlopsPerByte: flops,
  };
  return o.resumeFrom === undefined ? await train(options) : await resume(o.resumeFrom, options);
}

/**
 * Trains the entropy model (a byte LM with `config`) on the corpus' training split.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { resolveConfig } from "../config.ts";
 * import { loadEncodedCorpus, trainEntropyModel } from "./pipeline.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const cfg = resolveConfig("tiny", { "entropyModel.dim": 16, "entropyModel.layers": 1 });
 * const text = "the cat sat on the mat and the dog sat on the log. ".repeat(4);
 * const corpus = await loadEncodedCorpus({ name: "demo", train: [text], validation: [text] }, 32);
 * const { model, result } = await trainEntropyModel(cfg.entropyModel!, corpus, {
 *   window: 32, batchSize: 2, seed: 0, train: { steps: 2, warmupSteps: 1 }, validationBatches: 1,
 * });
 * console.log(result.step); // 2
 * model.dispose();
 * ```
 */
export async function trainEntropyModel(
  config: TransformerConfig,
  corpus: EncodedCorpus,
  options: StageOptions,
): Promise<{ readonly model: ByteLm; readonly result: TrainResult }> {
  const model = createByteLm(config, options.seed);
  try {
    const data = sampleBatches(corpus.train, { ...options, seed: options.seed });
    const flops = transformerFlopsPerByte(config, { contextTokens: options.window, vocab: 260 });
    const result = await runStage(
      model,
      data,
      validationOf(corpus, options),
      flops.training,
      options,
    );
    return { model, result };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Copies weights into variables by name (with `prefix` added to each stored name), checking
 * that every variable gets a value of its shape; `source` names the weights in errors.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { assignWeights } from "./pipeline.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const v = tf.variable(tf.zeros([2]));
 * assignWeights(new Map([["p.w", v]]), new Map([["w", { shape: [2], data: Float32Array.of(1, 2) }]]), "demo", "p.");
 * console.log(Array.from(v.dataSync())); // [1, 2]
 * v.dispose();
 * ```
 */
export function assignWeights(
  variables: ReadonlyMap<string, tf.Variable>,
  weights: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  source: string,
  prefix = "",
): void {
  for (const [name, v] of variables) {
    const w = name.startsWith(prefix) ? weights.get(name.slice(prefix.length)) : undefined;
    if (w === undefined || w.shape.join() !== v.shape.join()) {
      throw new Error(
        `${source}: weight '${name.slice(prefix.length)}' ${
          w === undefined ? "is missing" : `has shape [${w.shape}]`
        }, the model expects [${v.shape}]; load weights made with the same config`,
      );
    }
    tf.tidy(() => v.assign(tf.tensor(w.data, v.shape, "float32")));
  }
}

/** A model's weights as plain arrays, by name. */
async function weightsOf(variables: ReadonlyMap<string, tf.Variable>) {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, v] of variables) {
    out.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
  }
  return out;
}

/**
 * Options of {@link trainBlt}: the stage options plus the entropy cache and θ calibration.
 *
 * @example
 * ```ts
 * import type { BltStageOptions } from "./pipeline.ts";
 * const o: BltStageOptions = {
 *   window: 256, batchSize: 4, seed: 0, train: { steps: 10 }, cacheDir: "out/cache",
 *   targetPatchSize: 4.5,
 * };
 * ```
 */
export interface BltStageOptions extends StageOptions {
  /** Where entropies are cached (`<cacheDir>/entropies/`). */
  readonly cacheDir: string;
  /** Calibrate θ so the training windows' mean patch size is this; absent keeps the config's θ. */
  readonly targetPatchSize?: number;
  /** Context C for scoring the corpus (default `window`, the entropy model's training window). */
  readonly entropyContext?: number;
}

/**
 * What {@link trainBlt} returns; `config` carries the θ it trained with.
 *
 * @example
 * ```ts
 * import type { BltRun } from "./pipeline.ts";
 * const describe = (r: BltRun) => `θ = ${r.config.patching.threshold}, ${r.meanPatchSize} B/patch`;
 * ```
 */
export interface BltRun {
  readonly model: Blt;
  readonly result: TrainResult;
  readonly config: BltConfig;
  readonly calibration: CalibrationResult | null;
  /** Mean patch size of the training windows (entropy mode), else the nominal one. */
  readonly meanPatchSize: number;
  /** Whether the training split's entropies came from the cache (null: not entropy mode). */
  readonly cacheHit: boolean | null;
}

/**
 * Trains a BLT whose patches come from `entropyModel` (entropy mode): the corpus is scored once
 * (cached under `cacheDir`), θ is calibrated when `targetPatchSize` is given, and the entropy
 * model's weights become the BLT's frozen patcher. Other patching modes need no entropy model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { resolveConfig } from "../config.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { loadEncodedCorpus, trainBlt } from "./pipeline.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const cfg = resolveConfig("tiny", {
 *   "encoder.dim": 32, "decoder.dim": 32, "global.dim": 64, "global.layers": 1, "decoder.layers": 1,
 *   "hash.buckets": 64, "entropyModel.dim": 16, "entropyModel.layers": 1,
 * });
 * const lm = createByteLm(cfg.entropyModel!, 0);
 * const text = "the cat sat on the mat and the dog sat on the log. ".repeat(4);
 * const corpus = await loadEncodedCorpus({ name: "demo", train: [text], validation: [text] }, 32);
 * const cacheDir = await Deno.makeTempDir();
 * const run = await trainBlt(cfg, lm, corpus, {
 *   window: 32, batchSize: 2, seed: 0, train: { steps: 1 }, cacheDir, targetPatchSize: 4,
 *   validationBatches: 1,
 * });
 * console.log(run.result.step, run.cacheHit); // 1 false
 * run.model.dispose();
 * lm.dispose();
 * await Deno.remove(cacheDir, { recursive: true });
 * ```
 */
export async function trainBlt(
  config: BltConfig,
  entropyModel: ByteLm | null,
  corpus: EncodedCorpus,
  options: BltStageOptions,
): Promise<BltRun> {
  const entropy = config.patching.mode === "entropy";
  if (entropy && (entropyModel === null || config.entropyModel === null)) {
    throw new Error(
      "trainBlt: patching.mode is 'entropy' but no entropy model was given (or " +
        "config.entropyModel is null); train one first, or set patching.mode to 'space', " +
        "'static' or 'byte'",
    );
  }
  if (entropy && JSON.stringify(entropyModel!.config) !== JSON.stringify(config.entropyModel)) {
    throw new Error(
      `trainBlt: the entropy model's config ${JSON.stringify(entropyModel!.config)} differs ` +
        `from config.entropyModel ${JSON.stringify(config.entropyModel)}; make them match`,
    );
  }
  let cfg = config, calibration: CalibrationResult | null = null;
  let data: Parameters<typeof train>[0]["data"], validation: Batch[];
  let mean = config.patching.mode === "byte" ? 1 : config.patching.patchSize;
  let cacheHit: boolean | null = null;
  if (entropy) {
    const scoring = {
      context: options.entropyContext ?? options.window,
      batchSize: options.batchSize,
      cacheDir: options.cacheDir,
    };
    const trainH = await cachedEntropies(entropyModel!, corpus.train, scoring);
    const validH = corpus.validation.length === 0
      ? null
      : await cachedEntropies(entropyModel!, corpus.validation, scoring);
    cacheHit = trainH.hit;
    if (options.targetPatchSize !== undefined) {
      const c = calibratePatching(
        trainH.entropies,
        options.window,
        options.targetPatchSize,
        cfg.patching,
      );
      calibration = c.calibration;
      cfg = Object.freeze({ ...cfg, patching: c.patching });
    }
    const windows = {
      window: options.window,
      batchSize: options.batchSize,
      patching: cfg.patching,
    };
    data = patchedBatches(corpus.train, trainH.entropies, { ...windows, seed: options.seed });
    validation = validH === null ? [] : patchedValidation(corpus.validation, validH.entropies, {
      ...windows,
      maxBatches: options.validationBatches ?? 8,
    });
    mean = meanPatchSize(trainH.entropies, options.window, cfg.patching);
  } else {
    data = sampleBatches(corpus.train, { ...options, seed: options.seed });
    validation = validationOf(corpus, options);
  }
  const model = createBlt(cfg, options.seed);
  try {
    if (entropy) {
      assignWeights(
        model.patcher!.params.variables(),
        await weightsOf(entropyModel!.params.variables()),
        "entropy model",
        PATCHER_PREFIX,
      );
    }
    const flops = bltFlopsPerByte(cfg, { meanPatchSize: mean, contextBytes: options.window });
    const result = await runStage(model, data, validation, flops.training, options);
    return { model, result, config: cfg, calibration, meanPatchSize: mean, cacheHit };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
