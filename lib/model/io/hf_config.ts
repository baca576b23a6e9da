/**
 * Maps our {@link BltConfig} to and from Hugging Face's `BltConfig` JSON (`config.json` with its
 * four sub-configs: encoder, decoder, global, patcher), so that weights move both ways.
 *
 * Settings HF's BLT does not have (sliding windows, the monotonic patching rule, document reset
 * at EOS) travel under `blt_extensions`; transformers keeps that key but ignores it.
 *
 * @module
 */
import {
  type BltConfig,
  type LocalStackConfig,
  type PatchingMode,
  PRESETS,
  type TransformerConfig,
  validateConfig,
} from "../../config.ts";

type Obj = Record<string, unknown>;

/** HF bookkeeping fields that carry nothing our model needs. */
const IGNORED = [
  "_name_or_path",
  "architectures",
  "bos_token_id",
  "dropout",
  "dtype",
  "encoder_cross_output_size",
  "eos_token_id",
  "initializer_range",
  "model_type",
  "pad_token_id",
  "patching_batch_size",
  "patching_device",
  "torch_dtype",
  "transformers_version",
  "use_cache",
  "output_attentions",
  "output_hidden_states",
  "return_dict",
];
const STACK = [
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "num_key_value_heads",
  "head_dim",
  "intermediate_size",
  "rms_norm_eps",
  "rope_parameters",
  "rope_theta",
  "max_position_embeddings",
  "hidden_act",
  "tie_word_embeddings",
  "vocab_size",
];
const LOCAL = [...STACK, "cross_attn_all_layers", "cross_attn_k", "hidden_size_global"];
const TOP = [
  "cross_attn_k",
  "encoder_config",
  "decoder_config",
  "global_config",
  "patcher_config",
  "encoder_hash_byte_group_size",
  "encoder_hash_byte_group_vocab",
  "encoder_hash_byte_group_nb_functions",
  "patching_mode",
  "patching_threshold",
  "patch_size",
  "max_patch_length",
  "patch_in_forward",
  "vocab_size",
  "max_position_embeddings",
  "rope_parameters",
  "tie_word_embeddings",
  "blt_extensions",
];

function obj(x: unknown, where: string): Obj {
  if (typeof x !== "object" || x === null || Array.isArray(x)) {
    throw new Error(`${where} must be a JSON object, found ${JSON.stringify(x)}`);
  }
  return x as Obj;
}

function checkKeys(o: Obj, known: readonly string[], where: string): void {
  for (const key of Object.keys(o)) {
    if (!known.includes(key) && !IGNORED.includes(key)) {
      throw new Error(
        `${where}: unknown field '${key}'; this BLT port does not support it (known: ${
          known.join(", ")
        })`,
      );
    }
  }
}

function need(o: Obj, key: string, where: string): unknown {
  if (!(key in o)) throw new Error(`${where}: missing field '${key}'`);
  return o[key];
}

function expectEqual(found: unknown, expected: unknown, field: string): void {
  if (found !== undefined && found !== null && found !== expected) {
    throw new Error(
      `${field} is ${JSON.stringify(found)} but this BLT port needs ${JSON.stringify(expected)}`,
    );
  }
}

function ropeTheta(o: Obj, where: string): number {
  if (o.rope_parameters !== undefined && o.rope_parameters !== null) {
    const rp = obj(o.rope_parameters, `${where}.rope_parameters`);
    expectEqual(rp.rope_type, "default", `${where}.rope_parameters.rope_type`);
    return need(rp, "rope_theta", `${where}.rope_parameters`) as number;
  }
  if (o.rope_theta !== undefined) return o.rope_theta as number;
  throw new Error(`${where}: missing field 'rope_parameters' (with rope_theta)`);
}

function stackFromHf(
  x: unknown,
  where: string,
  slidingWindow: number | null,
): TransformerConfig {
  const o = obj(x, where);
  checkKeys(o, where.includes("encoder") || where.includes("decoder") ? LOCAL : STACK, where);
  const dim = need(o, "hidden_size", where) as number;
  const heads = need(o, "num_attention_heads", where) as number;
  expectEqual(o.num_key_value_heads, heads, `${where}.num_key_value_heads`);
  expectEqual(o.hidden_act, "silu", `${where}.hidden_act`);
  expectEqual(o.tie_word_embeddings, false, `${where}.tie_word_embeddings`);
  expectEqual(o.vocab_size, 260, `${where}.vocab_size`);
  expectEqual(o.head_dim, dim / heads, `${where}.head_dim`);
  return {
    dim,
    layers: need(o, "num_hidden_layers", where) as number,
    heads,
    headDim: dim / heads,
    ffnDim: need(o, "intermediate_size", where) as number,
    normEps: need(o, "rms_norm_eps", where) as number,
    ropeTheta: ropeTheta(o, where),
    slidingWindow,
    maxPositions: (o.max_position_embeddings as number | undefined) ?? 4096,
  };
}

function localFromHf(
  x: unknown,
  where: string,
  slidingWindow: number | null,
  k: number,
  globalDim: number,
): LocalStackConfig {
  const o = obj(x, where);
  expectEqual(o.cross_attn_k, k, `${where}.cross_attn_k`);
  expectEqual(o.hidden_size_global, globalDim, `${where}.hidden_size_global`);
  return {
    ...stackFromHf(o, where, slidingWindow),
    crossAttn: true, // HF's BLT always cross-attends
    crossAttnAllLayers: need(o, "cross_attn_all_layers", where) as boolean,
  };
}

/**
 * Reads a Hugging Face BLT `config.json` (parsed) into a validated, frozen {@link BltConfig}.
 * Missing or unknown fields throw an Error naming the field.
 *
 * @example
 * ```ts
 * import { fromHfConfig, toHfConfig } from "./hf_config.ts";
 * import { PRESETS } from "../../config.ts";
 * const back = fromHfConfig(toHfConfig(PRESETS.tiny));
 * console.log(back.global.layers); // 4
 * ```
 */
export function fromHfConfig(json: unknown, source = "config.json"): BltConfig {
  const o = obj(json, source);
  checkKeys(o, TOP, source);
  expectEqual(o.vocab_size, 260, `${source}.vocab_size`);
  expectEqual(o.tie_word_embeddings, false, `${source}.tie_word_embeddings`);
  const ext = obj(o.blt_extensions ?? {}, `${source}.blt_extensions`);
  const windows = obj(ext.sliding_windows ?? {}, `${source}.blt_extensions.sliding_windows`);
  const win = (name: string) => (windows[name] as number | undefined) ?? null;
  const k = need(o, "cross_attn_k", source) as number;
  const global = stackFromHf(
    need(o, "global_config", source),
    `${source}.global_config`,
    win("global"),
  );
  const patchInForward = need(o, "patch_in_forward", source);
  const entropyModel = patchInForward === true
    ? stackFromHf(need(o, "patcher_config", source), `${source}.patcher_config`, win("patcher"))
    : null;
  return validateConfig({
    vocabSize: 260,
    encoder: localFromHf(
      need(o, "encoder_config", source),
      `${source}.encoder_config`,
      win("encoder"),
      k,
      global.dim,
    ),
    global,
    decoder: localFromHf(
      need(o, "decoder_config", source),
      `${source}.decoder_config`,
      win("decoder"),
      k,
      global.dim,
    ),
    entropyModel,
    hash: {
      sizes: need(o, "encoder_hash_byte_group_size", source),
      buckets: need(o, "encoder_hash_byte_group_vocab", source),
      functions: need(o, "encoder_hash_byte_group_nb_functions", source),
    },
    crossAttnK: k,
    patching: {
      mode: need(o, "patching_mode", source) as PatchingMode,
      threshold: need(o, "patching_threshold", source),
      relativeThreshold: ext.relative_threshold ?? null,
      monotonic: ext.monotonic ?? false,
      patchSize: need(o, "patch_size", source),
      maxPatchLength: need(o, "max_patch_length", source),
    },
    resetAtEos: ext.reset_at_eos ?? false,
    maxPositions: (o.max_position_embeddings as number | undefined) ?? 4096,
  }, source);
}

function stackToHf(s: TransformerConfig): Obj {
  return {
    hidden_size: s.dim,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.heads,
    head_dim: s.headDim,
    intermediate_size: s.ffnDim,
    rms_norm_eps: s.normEps,
    rope_parameters: { rope_theta: s.ropeTheta, rope_type: "default" },
    max_position_embeddings: s.maxPositions,
    hidden_act: "silu",
    dropout: 0,
    tie_word_embeddings: false,
  };
}

/** Written as patcher_config when the model has no entropy model (HF requires the section). */
const PLACEHOLDER_PATCHER: TransformerConfig = {
  dim: 64,
  layers: 1,
  heads: 4,
  headDim: 16,
  ffnDim: 256,
  normEps: 1e-5,
  ropeTheta: 500000,
  slidingWindow: null,
  maxPositions: 8192,
};

/**
 * The ablation switches HF's `BltForCausalLM` has no weights or code path for (it always
 * cross-attends and always has hash n-gram tables); throws naming every one that is set.
 */
function refuseAblations(c: BltConfig): void {
  const set = [
    !c.encoder.crossAttn && "encoder.crossAttn is false (pooling-only encoder)",
    !c.decoder.crossAttn && "decoder.crossAttn is false (decoder without cross-attention)",
    c.hash.sizes.length === 0 && "hash.sizes is [] (no hash n-gram embeddings)",
  ].filter((x): x is string => typeof x === "string");
  if (set.length > 0) {
    throw new Error(
      `toHfConfig: Hugging Face's BltForCausalLM cannot represent this config: ${
        set.join("; ")
      }. Save such models as training checkpoints instead (saveModel / loadBlt in lib/train keep ` +
        `this project's config.json), or turn the switches back on to export`,
    );
  }
}

/**
 * Writes a {@link BltConfig} as a Hugging Face BLT `config.json` object (loadable with
 * `BltForCausalLM.from_pretrained`). Ablation configs (`encoder.crossAttn` or
 * `decoder.crossAttn` false, `hash.sizes` empty) have no HF equivalent and throw.
 *
 * @example
 * ```ts
 * import { toHfConfig } from "./hf_config.ts";
 * import { PRESETS, resolveConfig } from "../../config.ts";
 * const hf = toHfConfig(PRESETS.tiny);
 * console.log(hf.model_type, hf.cross_attn_k); // blt 2
 * try {
 *   toHfConfig(resolveConfig("tiny", { "decoder.crossAttn": false }));
 * } catch (e) {
 *   console.log((e as Error).message.includes("decoder.crossAttn")); // true
 * }
 * ```
 */
export function toHfConfig(cfg: BltConfig): Record<string, unknown> {
  const c = validateConfig(JSON.parse(JSON.stringify(cfg)));
  refuseAblations(c);
  const local = (s: LocalStackConfig) => ({
    ...stackToHf(s),
    vocab_size: 260,
    cross_attn_k: c.crossAttnK,
    cross_attn_all_layers: s.crossAttnAllLayers,
    hidden_size_global: c.global.dim,
  });
  const windows: Obj = {};
  const stacks = { encoder: c.encoder, global: c.global, decoder: c.decoder };
  for (const [name, s] of Object.entries({ ...stacks, patcher: c.entropyModel })) {
    if (s && s.slidingWindow !== null) windows[name] = s.slidingWindow;
  }
  const ext: Obj = {};
  if (Object.keys(windows).length > 0) ext.sliding_windows = windows;
  if (c.patching.relativeThreshold !== null) ext.relative_threshold = c.patching.relativeThreshold;
  if (c.patching.monotonic) ext.monotonic = true;
  if (c.resetAtEos) ext.reset_at_eos = true;
  return {
    architectures: ["BltForCausalLM"],
    model_type: "blt",
    vocab_size: 260,
    max_position_embeddings: c.maxPositions,
    cross_attn_k: c.crossAttnK,
    encoder_hash_byte_group_size: [...c.hash.sizes],
    encoder_hash_byte_group_vocab: c.hash.buckets,
    encoder_hash_byte_group_nb_functions: c.hash.functions,
    patch_in_forward: c.entropyModel !== null,
    patching_mode: c.patching.mode,
    patching_threshold: c.patching.threshold,
    patch_size: c.patching.patchSize,
    max_patch_length: c.patching.maxPatchLength,
    rope_parameters: { rope_theta: c.global.ropeTheta, rope_type: "default" },
    tie_word_embeddings: false,
    dtype: "float32",
    encoder_config: local(c.encoder),
    decoder_config: local(c.decoder),
    global_config: stackToHf(c.global),
    patcher_config: { ...stackToHf(c.entropyModel ?? PLACEHOLDER_PATCHER), vocab_size: 260 },
    ...(Object.keys(ext).length > 0 ? { blt_extensions: ext } : {}),
  };
}

/**
 * Reads a standalone Hugging Face `BltPatcher` `config.json` (model_type `blt_patcher`) into the
 * entropy model's {@link TransformerConfig}.
 *
 * @example
 * ```ts
 * import { patcherFromHfConfig, patcherToHfConfig } from "./hf_config.ts";
 * import { PRESETS } from "../../config.ts";
 * console.log(patcherFromHfConfig(patcherToHfConfig(PRESETS.tiny.entropyModel!)).dim); // 64
 * ```
 */
export function patcherFromHfConfig(json: unknown, source = "config.json"): TransformerConfig {
  const o = obj(json, source);
  const ext = obj(o.blt_extensions ?? {}, `${source}.blt_extensions`);
  const { blt_extensions: _, ...rest } = o;
  const cfg = stackFromHf(rest, source, (ext.sliding_window as number | undefined) ?? null);
  return validateConfig({ ...toJsonConfig(), entropyModel: cfg }, source).entropyModel!;
}

/**
 * Writes the entropy model's config as a standalone Hugging Face `BltPatcher` `config.json`.
 *
 * @example
 * ```ts
 * import { patcherToHfConfig } from "./hf_config.ts";
 * import { PRESETS } from "../../config.ts";
 * console.log(patcherToHfConfig(PRESETS.tiny.entropyModel!).model_type); // blt_patcher
 * ```
 */
export function patcherToHfConfig(cfg: TransformerConfig): Record<string, unknown> {
  return {
    architectures: ["BltPatcher"],
    model_type: "blt_patcher",
    ...stackToHf(cfg),
    vocab_size: 260,
    dtype: "float32",
    ...(cfg.slidingWindow !== null
      ? { blt_extensions: { sliding_window: cfg.slidingWindow } }
      : {}),
  };
}

/** A complete config around a stack, so the stack can be validated with the shared rules. */
function toJsonConfig(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(PRESETS.tiny));
}
