/**
 * Weights in Hugging Face format: a directory with `config.json` and `model.safetensors` holding
 * the exact tensor names of `BltForCausalLM` (or of a standalone `BltPatcher`), so checkpoints
 * load with `from_pretrained` and back. Loading validates every tensor before assigning any.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TransformerConfig } from "../../config.ts";
import { type Blt, createBltWith, PATCHER_PREFIX } from "../blt.ts";
import { ByteLm, initByteLm } from "../byte_lm.ts";
import { Params } from "../params.ts";
import { fromHfConfig, patcherFromHfConfig, patcherToHfConfig, toHfConfig } from "./hf_config.ts";
import { type FloatTensor, readSafetensorsFile, writeSafetensorsFile } from "./safetensors.ts";

const CONFIG = "config.json";
const WEIGHTS = "model.safetensors";

function join(dir: string, file: string): string {
  return dir.endsWith("/") ? dir + file : `${dir}/${file}`;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}; is this a model directory?`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Checks that `file` holds exactly the tensors of `vars` with matching shapes, then assigns all
 * of them; on any mismatch nothing is assigned.
 */
function assignAll(
  vars: Map<string, tf.Variable>,
  tensors: Map<string, FloatTensor>,
  file: string,
): void {
  for (const [name, v] of vars) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file}: missing tensor '${name}' (expected shape [${v.shape}])`);
    if (t.shape.length !== v.shape.length || t.shape.some((n, i) => n !== v.shape[i])) {
      throw new Error(`${file}: tensor '${name}' has shape [${t.shape}], expected [${v.shape}]`);
    }
  }
  for (const name of tensors.keys()) {
    if (!vars.has(name)) {
      throw new Error(`${file}: unexpected tensor '${name}'; the config does not describe it`);
    }
  }
  for (const [name, v] of vars) {
    const t = tensors.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape as number[], "float32")));
  }
}

async function writeWeights(
  dir: string,
  vars: Map<string, tf.Variable>,
  config: unknown,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, v] of [...vars].sort(([a], [b]) => a.localeCompare(b))) {
    tensors.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
  }
  await writeSafetensorsFile(join(dir, WEIGHTS), tensors, { format: "pt" });
  await Deno.writeTextFile(join(dir, CONFIG), JSON.stringify(config, null, 2) + "\n");
}

/**
 * Loads a BLT saved in Hugging Face format (`BltForCausalLM.save_pretrained` or
 * {@link saveBlt}).
 *
 * @example
 * ```ts
 * import { loadPretrained, saveBlt } from "./hf.ts";
 * import { createBlt } from "../blt.ts";
 * import { resolveConfig } from "../../config.ts";
 * const dir = await Deno.makeTempDir();
 * const blt = createBlt(resolveConfig("tiny", { "global.layers": 1, "hash.buckets": 16 }), 3);
 * await saveBlt(blt, dir);
 * const back = await loadPretrained(dir);
 * console.log(back.config.global.layers); // 1
 * blt.dispose();
 * back.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadPretrained(dir: string): Promise<Blt> {
  const configPath = join(dir, CONFIG), weightsPath = join(dir, WEIGHTS);
  const config = fromHfConfig(await readJson(configPath), configPath);
  const tensors = await readSafetensorsFile(weightsPath);
  const blt = createBltWith(config, new Params(0, true, false), new Params(0, false, false));
  try {
    assignAll(blt.allVariables(), tensors, weightsPath);
  } catch (e) {
    blt.dispose();
    throw e;
  }
  return blt;
}

/**
 * Saves a BLT as `config.json` + `model.safetensors` (Hugging Face names, float32).
 *
 * @example
 * ```ts
 * import { saveBlt } from "./hf.ts";
 * import { createBlt } from "../blt.ts";
 * import { resolveConfig } from "../../config.ts";
 * const dir = await Deno.makeTempDir();
 * const blt = createBlt(resolveConfig("tiny", { "global.layers": 1, "hash.buckets": 16 }), 3);
 * await saveBlt(blt, dir);
 * blt.dispose();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveBlt(blt: Blt, dir: string): Promise<void> {
  await writeWeights(dir, blt.allVariables(), toHfConfig(blt.config));
}

/**
 * Loads a standalone entropy model / byte LM saved as a Hugging Face `BltPatcher`, or the
 * patcher inside a full BLT checkpoint (`model.patcher.*` with the BLT `config.json`).
 *
 * @example
 * ```ts
 * import { loadByteLm, saveByteLm } from "./hf.ts";
 * import { createByteLm } from "../byte_lm.ts";
 * import { PRESETS } from "../../config.ts";
 * const dir = await Deno.makeTempDir();
 * const lm = createByteLm(PRESETS.tiny.entropyModel!, 5);
 * await saveByteLm(lm, dir);
 * console.log((await loadByteLm(dir)).config.layers); // 2
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadByteLm(dir: string): Promise<ByteLm> {
  const configPath = join(dir, CONFIG), weightsPath = join(dir, WEIGHTS);
  const json = await readJson(configPath) as Record<string, unknown>;
  const tensors = await readSafetensorsFile(weightsPath);
  let config: TransformerConfig;
  if (json?.model_type === "blt") {
    const full = fromHfConfig(json, configPath);
    if (full.entropyModel === null) {
      throw new Error(`${configPath}: this BLT has no patcher (patch_in_forward is false)`);
    }
    config = full.entropyModel;
    for (const name of [...tensors.keys()]) {
      if (name.startsWith(PATCHER_PREFIX)) {
        tensors.set(name.slice(PATCHER_PREFIX.length), tensors.get(name)!);
      }
      tensors.delete(name);
    }
  } else {
    config = patcherFromHfConfig(json, configPath);
  }
  const params = new Params(0, true, false);
  initByteLm(params, config, "");
  try {
    assignAll(params.variables(), tensors, weightsPath);
  } catch (e) {
    params.dispose();
    throw e;
  }
  return new ByteLm(config, params, "");
}

/**
 * Saves a byte LM as a standalone Hugging Face `BltPatcher` (`BltPatcher.from_pretrained`).
 *
 * @example
 * ```ts
 * import { saveByteLm } from "./hf.ts";
 * import { createByteLm } from "../byte_lm.ts";
 * import { PRESETS } from "../../config.ts";
 * const dir = await Deno.makeTempDir();
 * await saveByteLm(createByteLm(PRESETS.tiny.entropyModel!, 5), dir);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveByteLm(lm: ByteLm, dir: string): Promise<void> {
  const vars = new Map<string, tf.Variable>();
  for (const [name, v] of lm.params.variables()) vars.set(name.slice(lm.prefix.length), v);
  await writeWeights(dir, vars, patcherToHfConfig(lm.config));
}
