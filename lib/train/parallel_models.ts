/**
 * The models data-parallel workers can rebuild on their own (lib/train/parallel.ts): the BLT and
 * the byte LM (entropy model). Each worker calls one of the factories below with the model's
 * config; the weights start as zeros and are overwritten with the trainer's every step.
 *
 * @module
 */
import { type BltConfig, PRESETS, type TransformerConfig, validateConfig } from "../config.ts";
import { Blt, createBltWith } from "../model/blt.ts";
import { ByteLm, initByteLm } from "../model/byte_lm.ts";
import { Params } from "../model/params.ts";
import type { Json, TrainableModel, WorkerModelSpec } from "./types.ts";

/** This module's URL, which workers import. */
const HERE: string = new URL("./parallel_models.ts", import.meta.url).href;

/**
 * A BLT with zero weights built from `config` (a BltConfig as JSON); a worker's model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { resolveConfig } from "../config.ts";
 * import { bltForWorker } from "./parallel_models.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const cfg = resolveConfig("tiny", { "hash.buckets": 16, entropyModel: null });
 * const blt = bltForWorker(JSON.parse(JSON.stringify(cfg)));
 * console.log(blt.namedVariables().has("lm_head.weight")); // true
 * blt.dispose();
 * ```
 */
export function bltForWorker(config: Json): Blt {
  const cfg = validateConfig(config, "bltForWorker config");
  return createBltWith(cfg, new Params(0, true, false), new Params(0, false, false));
}

/**
 * A byte LM (entropy model) with zero weights built from `config` (a TransformerConfig as JSON).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { PRESETS } from "../config.ts";
 * import { byteLmForWorker } from "./parallel_models.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const lm = byteLmForWorker(JSON.parse(JSON.stringify(PRESETS.tiny.entropyModel)));
 * console.log(lm.namedVariables().size > 0); // true
 * lm.dispose();
 * ```
 */
export function byteLmForWorker(config: Json): ByteLm {
  // Validated as the entropy model of a BLT config, which checks every field of a stack.
  const cfg = validateConfig({ ...PRESETS.tiny, entropyModel: config }, "byteLmForWorker config")
    .entropyModel!;
  const params = new Params(0, true, false);
  initByteLm(params, cfg, "");
  return new ByteLm(cfg, params, "");
}

/**
 * How a worker rebuilds `model`, for the models this project trains (BLT, byte LM); null for
 * any other model (the caller then needs `TrainOptions.workerModel`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { resolveConfig } from "../config.ts";
 * import { createBlt } from "../model/blt.ts";
 * import { workerModelSpecFor } from "./parallel_models.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const blt = createBlt(resolveConfig("tiny", { "hash.buckets": 16, entropyModel: null }), 0);
 * console.log(workerModelSpecFor(blt)?.factory); // "bltForWorker"
 * blt.dispose();
 * ```
 */
export function workerModelSpecFor(model: TrainableModel): WorkerModelSpec | null {
  const json = (c: BltConfig | TransformerConfig) => JSON.parse(JSON.stringify(c)) as Json;
  if (model instanceof Blt) {
    return { module: HERE, factory: "bltForWorker", args: json(model.config) };
  }
  if (model instanceof ByteLm && model.prefix === "") {
    return { module: HERE, factory: "byteLmForWorker", args: json(model.config) };
  }
  return null;
}
