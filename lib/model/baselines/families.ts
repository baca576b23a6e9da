/**
 * The model families of the paper's comparison (§4, Fig. 6, Table 1) made ready to train through
 * the one trainer: byte-level transformer, BPE transformer, MegaByte and BLT (entropy, space or
 * static patching, by `patching.mode`). For each, {@link prepareRun} builds the model, its seeded
 * training windows and validation batches over the same documents, and its FLOPs per byte.
 *
 * Every family sees the same context in bytes: the BPE window is the byte window divided by the
 * tokenizer's bytes per token, so steps carry the same bytes of text for all.
 *
 * @module
 */
import type { BltConfig, TransformerConfig } from "../../config.ts";
import { encodeDocuments, sampleBatches, sequentialBatches } from "../../data/batching.ts";
import { calibrateThreshold } from "../../patching/mod.ts";
import { type BpeTokenizer, trainBpe } from "../../tokenizers/mod.ts";
import type { Batch, BatchSource, TrainableModel } from "../../train/types.ts";
import { createBlt, PATCHER_PREFIX } from "../blt.ts";
import { type ByteLm, createByteLm } from "../byte_lm.ts";
import { bltFlopsPerByte, transformerFlopsPerByte } from "../flops.ts";
import { bpeTrainBatches, bpeValidationBatches, bytesPerToken } from "./bpe_data.ts";
import { BpeLM } from "./bpe_lm.ts";
import { megabyteFlopsPerByte } from "./flops.ts";
import { checkPatchSize, MegaByte, type MegaByteConfig } from "./megabyte.ts";

/**
 * One model to train in a comparison. For BLT in entropy mode, `targetPatchSize` calibrates θ to
 * that mean patch size on training windows (paper §4: BLT is compared at matched patch size).
 *
 * @example
 * ```ts
 * import type { RunSpec } from "./families.ts";
 * import { PRESETS } from "../../config.ts";
 * const runs: RunSpec[] = [
 *   { name: "byte", family: "byte", model: PRESETS.tiny.entropyModel! },
 *   { name: "BPE 512", family: "bpe", model: PRESETS.tiny.entropyModel!, vocabSize: 512 },
 *   { name: "BLT-space", family: "blt", blt: { ...PRESETS.tiny, patching: { ...PRESETS.tiny.patching, mode: "space" } } },
 * ];
 * ```
 */
export type RunSpec =
  | { readonly name: string; readonly family: "byte"; readonly model: TransformerConfig }
  | {
    readonly name: string;
    readonly family: "bpe";
    readonly model: TransformerConfig;
    readonly vocabSize: number;
  }
  | { readonly name: string; readonly family: "megabyte"; readonly megabyte: MegaByteConfig }
  | {
    readonly name: string;
    readonly family: "blt";
    readonly blt: BltConfig;
    readonly targetPatchSize?: number;
  };

/**
 * The shared data and shape of a comparison: documents, the byte window T, rows per batch.
 *
 * @example
 * ```ts
 * import type { RunData } from "./families.ts";
 * const data: RunData = { train: ["a text"], validation: ["another"], window: 64, batchSize: 4, seed: 0 };
 * ```
 */
export interface RunData {
  readonly train: readonly string[];
  readonly validation: readonly string[];
  /** Context in bytes (ids per window for byte models). */
  readonly window: number;
  readonly batchSize: number;
  readonly seed: number;
}

/**
 * A model with everything the trainer needs, and its cost.
 *
 * @example
 * ```ts
 * import type { PreparedRun } from "./families.ts";
 * const cost = (r: PreparedRun, steps: number) => r.trainFlopsPerByte * r.bytesPerStep * steps;
 * ```
 */
export interface PreparedRun {
  readonly spec: RunSpec;
  readonly model: TrainableModel & { dispose(): void };
  readonly data: BatchSource;
  readonly validation: readonly Batch[];
  readonly trainFlopsPerByte: number;
  readonly inferenceFlopsPerByte: number;
  /** Bytes of text in one full batch: B · (T − 1) predicted positions. */
  readonly bytesPerStep: number;
  /** Bytes per global step: 1 (byte LM), bytes per token (BPE), P (MegaByte), patches (BLT). */
  readonly meanPatchSize: number;
  /** BLT entropy mode: the calibrated θ. */
  readonly threshold?: number;
  readonly parameters: number;
}

/**
 * Shared resources: a trained entropy model (BLT entropy mode) and trained tokenizers by
 * vocabulary size (trained once per comparison).
 *
 * @example
 * ```ts
 * import type { RunContext } from "./families.ts";
 * const context: RunContext = { tokenizers: new Map() };
 * ```
 */
export interface RunContext {
  readonly entropyModel?: ByteLm;
  readonly tokenizers: Map<number, BpeTokenizer>;
}

function parameterCount(model: TrainableModel): number {
  let n = 0;
  for (const v of model.namedVariables().values()) n += v.size;
  return n;
}

/** The real (unpadded) prefix of each row of the first `batches` training batches. */
function sampleRows(source: BatchSource, batches: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < batches; i++) {
    const batch = source.batchAt(i);
    batch.ids.forEach((row, r) => {
      const mask = batch.targetMask?.[r];
      rows.push(row.slice(0, mask ? mask.lastIndexOf(1) + 1 : row.length));
    });
  }
  return rows.filter((row) => row.length >= 2);
}

function byteSources(data: RunData): { data: BatchSource; validation: Batch[] } {
  const options = { window: data.window, batchSize: data.batchSize };
  return {
    data: sampleBatches(encodeDocuments(data.train), { ...options, seed: data.seed }),
    validation: [...sequentialBatches(encodeDocuments(data.validation), options).batches()]
      .map(({ batch }) => batch),
  };
}

function prepareBlt(
  spec: Extract<RunSpec, { family: "blt" }>,
  data: RunData,
  context: RunContext,
): PreparedRun {
  const sources = byteSources(data);
  const rows = sampleRows(sources.data, 8);
  let config: BltConfig = { ...spec.blt, entropyModel: null };
  let threshold: number | undefined;
  const em = context.entropyModel;
  if (spec.blt.patching.mode === "entropy") {
    if (em === undefined) {
      throw new Error(
        `run '${spec.name}': BLT entropy patching needs a trained entropy model; pass ` +
          "entropyModel (see trainEntropyModel) or use patching.mode 'space' or 'static'",
      );
    }
    threshold = spec.targetPatchSize === undefined
      ? spec.blt.patching.threshold
      : calibrateThreshold(em.entropies(rows), spec.targetPatchSize, { tolerance: 0.05 }).threshold;
    config = {
      ...config,
      entropyModel: em.config,
      patching: { ...config.patching, threshold },
    };
  }
  const model = createBlt(Object.freeze(config), data.seed);
  if (em !== undefined && model.patcher !== null) {
    for (const name of em.params.names()) {
      model.patcher.params.get(PATCHER_PREFIX + name).assign(em.params.get(name));
    }
  }
  const patches = model.patch(rows).patchLengths.flat().filter((n) => n > 0).length;
  const meanPatchSize = rows.reduce((n, r) => n + r.length, 0) / patches;
  const flops = bltFlopsPerByte(config, { meanPatchSize, contextBytes: data.window });
  return {
    spec,
    model,
    ...sources,
    trainFlopsPerByte: flops.training,
    inferenceFlopsPerByte: flops.inference,
    bytesPerStep: data.batchSize * (data.window - 1),
    meanPatchSize,
    ...(threshold === undefined ? {} : { threshold }),
    parameters: parameterCount(model),
  };
}

/**
 * Builds a run: model (seeded by `data.seed`), training windows, validation batches, FLOPs.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { prepareRun } from "./families.ts";
 * await tf.ready(); // the wasm backend (registered on import) initialises asynchronously
 * import { resolveConfig } from "../../config.ts";
 * const model = { ...resolveConfig("tiny", { "global.dim": 16, "global.heads": 2 }).global, layers: 1, ffnDim: 32 };
 * const data = { train: ["one two three"], validation: ["four"], window: 8, batchSize: 2, seed: 0 };
 * const run = prepareRun({ name: "byte", family: "byte", model }, data, { tokenizers: new Map() });
 * console.log(run.meanPatchSize, run.bytesPerStep); // 1 14
 * run.model.dispose();
 * ```
 */
export function prepareRun(spec: RunSpec, data: RunData, context: RunContext): PreparedRun {
  const bytesPerStep = data.batchSize * (data.window - 1);
  switch (spec.family) {
    case "byte": {
      const model = createByteLm(spec.model, data.seed);
      const f = transformerFlopsPerByte(spec.model, { contextTokens: data.window, vocab: 260 });
      return {
        spec,
        model,
        ...byteSources(data),
        trainFlopsPerByte: f.training,
        inferenceFlopsPerByte: f.inference,
        bytesPerStep,
        meanPatchSize: 1,
        parameters: parameterCount(model),
      };
    }
    case "bpe": {
      let tok = context.tokenizers.get(spec.vocabSize);
      if (tok === undefined) {
        tok = trainBpe(data.train, { vocabSize: spec.vocabSize });
        context.tokenizers.set(spec.vocabSize, tok);
      }
      const bpt = bytesPerToken(tok, data.train);
      const window = Math.max(2, Math.round(data.window / bpt));
      const options = { window, batchSize: data.batchSize };
      const model = new BpeLM(tok, spec.model, data.seed);
      const f = transformerFlopsPerByte(spec.model, {
        contextTokens: window,
        vocab: tok.vocabSize,
        bytesPerToken: bpt,
      });
      return {
        spec,
        model,
        data: bpeTrainBatches(tok, data.train, { ...options, seed: data.seed }),
        validation: bpeValidationBatches(tok, data.validation, options),
        trainFlopsPerByte: f.training,
        inferenceFlopsPerByte: f.inference,
        bytesPerStep: data.batchSize * (window - 1) * bpt,
        meanPatchSize: bpt,
        parameters: parameterCount(model),
      };
    }
    case "megabyte": {
      checkPatchSize(spec.megabyte.patchSize, data.window);
      const model = new MegaByte(spec.megabyte, data.seed);
      const f = megabyteFlopsPerByte(spec.megabyte, data.window);
      return {
        spec,
        model,
        ...byteSources(data),
        trainFlopsPerByte: f.training,
        inferenceFlopsPerByte: f.inference,
        bytesPerStep,
        meanPatchSize: spec.megabyte.patchSize,
        parameters: parameterCount(model),
      };
    }
    case "blt":
      if (spec.blt.patching.mode === "static") {
        checkPatchSize(spec.blt.patching.patchSize, data.window);
      }
      return prepareBlt(spec, data, context);
  }
}
