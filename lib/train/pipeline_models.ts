/**
 * Trained models on disk for the workflow: an entropy model cached by what it was trained on (so
 * a second BLT run on the same corpus and settings reuses it), and loading a byte LM or a BLT
 * back from a checkpoint (a run directory or one step directory).
 *
 * @module
 */
import { type BltConfig, PRESETS, type TransformerConfig, validateConfig } from "../config.ts";
import { type Blt, createBlt, PATCHER_PREFIX } from "../model/blt.ts";
import { type ByteLm, createByteLm } from "../model/byte_lm.ts";
import { exists } from "../fs.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { corpusHash } from "./entropy_cache.ts";
import {
  assignWeights,
  type EncodedCorpus,
  type StageOptions,
  trainEntropyModel,
} from "./pipeline.ts";
import type { Json } from "./types.ts";

/**
 * Saves a model's weights and config as a checkpoint (no optimizer state) in `dir`, atomically.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { resolveConfig } from "../config.ts";
 * import { loadByteLm, saveModel } from "./pipeline_models.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const lm = createByteLm(resolveConfig("tiny", { "entropyModel.dim": 16 }).entropyModel!, 0);
 * const dir = await Deno.makeTempDir();
 * await saveModel(dir, lm.config, lm.params.variables());
 * const back = await loadByteLm(dir);
 * console.log(back.config.dim); // 16
 * back.dispose();
 * lm.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveModel(
  dir: string,
  config: Json | TransformerConfig | BltConfig,
  variables: ReadonlyMap<string, { readonly shape: number[]; data(): Promise<unknown> }>,
): Promise<string> {
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [n, v] of variables) {
    weights.set(n, { shape: v.shape, data: (await v.data()) as Float32Array });
  }
  return await saveCheckpoint(dir, {
    step: 0,
    nextBatchIndex: 0,
    modelConfig: config as Json,
    weights,
    optimizer: { step: 0, decay: {}, moments: new Map() },
    trainConfig: null,
  }, 1);
}

/**
 * Loads a byte LM (entropy model) from a checkpoint written by the trainer or {@link saveModel}.
 *
 * @example
 * ```ts
 * import { loadByteLm } from "./pipeline_models.ts";
 * await loadByteLm("/nonexistent").catch((e) => console.log(e.message.startsWith("No checkpoint"))); // true
 * ```
 */
export async function loadByteLm(path: string): Promise<ByteLm> {
  const ckpt = await loadCheckpoint(path);
  const json = ckpt.modelConfig;
  if (json === null || typeof json !== "object" || !("dim" in json) || "encoder" in json) {
    throw new Error(
      `${ckpt.dir}/config.json is not a byte LM's config (found keys ${
        Object.keys(json ?? {}).join(", ")
      }); pass the checkpoint of an entropy-model run (--model entropy)`,
    );
  }
  // Validated as the entropy model of a BLT config, which checks every field of a stack.
  const config = validateConfig({ ...PRESETS.tiny, entropyModel: json }, ckpt.dir).entropyModel!;
  const model = createByteLm(config, 0);
  try {
    assignWeights(model.params.variables(), ckpt.weights, ckpt.dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Loads a BLT from a checkpoint of a BLT run, with its patcher from `entropyModelDir` (a checkpoint
 * of the entropy model it trained with; required in entropy patching mode).
 *
 * @example
 * ```ts
 * import { loadBlt } from "./pipeline_models.ts";
 * await loadBlt("/nonexistent", null).catch((e) => console.log(e.message.startsWith("No checkpoint"))); // true
 * ```
 */
export async function loadBlt(path: string, entropyModelDir: string | null): Promise<Blt> {
  const ckpt = await loadCheckpoint(path);
  const config = validateConfig(ckpt.modelConfig, `${ckpt.dir}/config.json`);
  const model = createBlt(config, 0);
  try {
    assignWeights(model.params.variables(), ckpt.weights, ckpt.dir);
    if (model.patcher !== null && config.patching.mode === "entropy") {
      if (entropyModelDir === null) {
        throw new Error(
          `${ckpt.dir}: this BLT patches by entropy; pass the checkpoint of its entropy model`,
        );
      }
      const patcher = await loadCheckpoint(entropyModelDir);
      assignWeights(model.patcher.params.variables(), patcher.weights, patcher.dir, PATCHER_PREFIX);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * An entropy model trained on `corpus` with `config` and `options`, cached under
 * `<cacheDir>/entropy-models/<key>/` where the key hashes everything that decides the weights
 * (config, training ids, window, batch, seed, trainer overrides). A finished model is loaded; an
 * interrupted one resumes from its last checkpoint; otherwise one is trained.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { resolveConfig } from "../config.ts";
 * import { loadEncodedCorpus } from "./pipeline.ts";
 * import { entropyModelFor } from "./pipeline_models.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const cfg = resolveConfig("tiny", { "entropyModel.dim": 16, "entropyModel.layers": 1 });
 * const text = "the cat sat on the mat and the dog sat on the log. ".repeat(4);
 * const corpus = await loadEncodedCorpus({ name: "demo", train: [text], validation: [text] }, 32);
 * const cacheDir = await Deno.makeTempDir();
 * const o = { window: 32, batchSize: 2, seed: 0, train: { steps: 1 }, validationBatches: 1, cacheDir };
 * (await entropyModelFor(cfg.entropyModel!, corpus, o)).model.dispose();
 * const again = await entropyModelFor(cfg.entropyModel!, corpus, o);
 * console.log(again.hit); // true
 * again.model.dispose();
 * await Deno.remove(cacheDir, { recursive: true });
 * ```
 */
export async function entropyModelFor(
  config: TransformerConfig,
  corpus: EncodedCorpus,
  options: StageOptions & { readonly cacheDir: string },
): Promise<
  { readonly model: ByteLm; readonly dir: string; readonly hit: boolean; readonly stopped: boolean }
> {
  const identity = JSON.stringify({
    config,
    corpus: await corpusHash(corpus.train),
    window: options.window,
    batchSize: options.batchSize,
    seed: options.seed,
    // How many workers computed the gradients does not change the model (float rounding aside).
    train: { ...options.train, workers: undefined },
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(identity));
  const key = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const dir = `${options.cacheDir}/entropy-models/${key.slice(0, 24)}`;
  const done = `${dir}/done.json`;
  if (await exists(done)) return { model: await loadByteLm(dir), dir, hit: true, stopped: false };
  const { model, result } = await trainEntropyModel(config, corpus, {
    ...options,
    checkpointDir: dir,
    resumeFrom: (await exists(`${dir}/latest`)) ? dir : undefined,
  });
  // A run stopped early (Ctrl-C) stays resumable but is not the finished model.
  if (result.stopped) return { model, dir, hit: false, stopped: true };
  // Written last and renamed into place: its presence means the run finished.
  const tmp = `${done}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, identity + "\n");
  await Deno.rename(tmp, done);
  return { model, dir, hit: false, stopped: false };
}
