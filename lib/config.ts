/**
 * Typed, frozen configs for the Byte Latent Transformer (BLT, arXiv 2412.09871), named presets
 * and `resolveConfig()` for overrides. Configs are plain JSON so checkpoints carry them; the
 * Hugging Face `config.json` mapping lives in `lib/model/io/hf_config.ts` and is re-exported here.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const cfg = resolveConfig("tiny", { "global.layers": 2, encoder: { heads: 2 } });
 * console.log(cfg.global.layers, cfg.encoder.headDim); // 2 64
 * ```
 *
 * @module
 */
export { fromHfConfig, toHfConfig } from "./model/io/hf_config.ts";

/**
 * One transformer stack (local encoder, latent global transformer, local decoder, entropy model).
 *
 * @example
 * ```ts
 * import { PRESETS, type TransformerConfig } from "./config.ts";
 * const g: TransformerConfig = PRESETS.tiny.global;
 * console.log(g.dim / g.heads === g.headDim); // true
 * ```
 */
export type TransformerConfig = {
  /** Hidden width h. */
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  /** dim / heads (Hugging Face derives the head width this way; it must stay consistent). */
  readonly headDim: number;
  /** SwiGLU hidden width. */
  readonly ffnDim: number;
  /** RMSNorm epsilon. */
  readonly normEps: number;
  /** RoPE base θ (interleaved pairs, as in the official BLT code). */
  readonly ropeTheta: number;
  /** Attend only to the last `slidingWindow` positions (self included); null = full causal. */
  readonly slidingWindow: number | null;
  /** Hugging Face `max_position_embeddings`; informational (default RoPE has no length limit). */
  readonly maxPositions: number;
};

/**
 * A local (byte-level) stack with cross-attention: encoder (bytes → patches, §3.2.2) or decoder
 * (patches → bytes, §3.3). `crossAttn: false` is the paper's cross-attention ablation (Table 8):
 * the encoder then only max-pools each patch's byte states (no cross-attention layers) and the
 * decoder adds its patch's projected global state to each byte instead of cross-attending.
 *
 * @example
 * ```ts
 * import { PRESETS, resolveConfig } from "./config.ts";
 * console.log(PRESETS.tiny.decoder.crossAttnAllLayers, PRESETS.tiny.decoder.crossAttn); // true true
 * console.log(resolveConfig("tiny", { "encoder.crossAttn": false }).encoder.crossAttn); // false
 * ```
 */
export type LocalStackConfig = TransformerConfig & {
  /** Cross-attention on (true, the paper's BLT) or off (false, the Table 8 ablation). Configs
   * saved before this switch existed have no such key and read as true. */
  readonly crossAttn: boolean;
  /** Cross-attention at every layer (true) or only after the last (encoder) / before the first
   * (decoder) layer. Ignored when `crossAttn` is false. */
  readonly crossAttnAllLayers: boolean;
};

/**
 * Hash n-gram embeddings (§3.2.1): one table of `buckets` rows per (function, n). `sizes: []`
 * switches them off (byte embeddings only, the paper's Table 3 baseline without n-grams).
 *
 * @example
 * ```ts
 * import { PRESETS } from "./config.ts";
 * console.log(PRESETS.tiny.hash.sizes); // [3, 4, 5, 6, 7, 8]
 * ```
 */
export type HashConfig = {
  /** n-gram sizes, e.g. [3, 4, 5, 6, 7, 8]; [] = no hash tables. */
  readonly sizes: readonly number[];
  /** Rows per table (Hugging Face `encoder_hash_byte_group_vocab`). */
  readonly buckets: number;
  /** Number of hash functions (primes). */
  readonly functions: number;
};

/**
 * How bytes are grouped into patches (§2). `entropy`: a new patch where the entropy model's
 * next-byte entropy exceeds θ (global rule), or where it rises by more than θ_r over the
 * previous byte's (approximate monotonic rule); the rules themselves live in `lib/patching`.
 *
 * @example
 * ```ts
 * import { PRESETS } from "./config.ts";
 * console.log(PRESETS.tiny.patching.mode); // "entropy"
 * ```
 */
export type PatchingConfig = {
  readonly mode: PatchingMode;
  /** Global entropy threshold θ (nats). */
  readonly threshold: number;
  /** Relative threshold θ_r: with `monotonic` the approximate monotonic rule alone, without it
   * combined with θ; null = global rule. */
  readonly relativeThreshold: number | null;
  /** Use only the approximate monotonic rule H(x_t) − H(x_{t−1}) > θ_r (needs θ_r). */
  readonly monotonic: boolean;
  /** Bytes per patch for `static` patching (and the nominal size for calibration). */
  readonly patchSize: number;
  /** Split longer patches; null = unbounded. */
  readonly maxPatchLength: number | null;
};

/**
 * Patching schemes of the paper (§2.1–2.3) plus one byte per patch.
 *
 * @example
 * ```ts
 * import type { PatchingMode } from "./config.ts";
 * const m: PatchingMode = "space";
 * ```
 */
export type PatchingMode = "entropy" | "space" | "static" | "byte";

/**
 * The whole BLT: local encoder, latent global transformer, local decoder, entropy model.
 *
 * @example
 * ```ts
 * import { PRESETS } from "./config.ts";
 * console.log(PRESETS.small.global.dim); // 512
 * ```
 */
export type BltConfig = {
  /** Byte vocabulary: 256 bytes + 4 specials (BOE, BOS, EOS, BPE). Always 260. */
  readonly vocabSize: number;
  readonly encoder: LocalStackConfig;
  readonly global: TransformerConfig;
  readonly decoder: LocalStackConfig;
  /** The small byte LM whose entropies place patch boundaries; null = no patcher weights
   * (patch lengths must then be given, or come from a non-entropy mode). */
  readonly entropyModel: TransformerConfig | null;
  readonly hash: HashConfig;
  /** Queries per patch in the encoder's cross-attention pooling (k, §3.2.2). */
  readonly crossAttnK: number;
  readonly patching: PatchingConfig;
  /** Block-causal attention in the byte stacks: positions after an EOS (id 2) start a new
   * document and see nothing before it. Off in Hugging Face's BLT. */
  readonly resetAtEos: boolean;
  /** Hugging Face top-level `max_position_embeddings` (informational). */
  readonly maxPositions: number;
};

/**
 * Names of the presets.
 *
 * @example
 * ```ts
 * import type { PresetName } from "./config.ts";
 * const p: PresetName = "tiny";
 * ```
 */
export type PresetName = "tiny" | "small" | "medium";

/** SwiGLU width of the benchmark peer: 256 · ceil(⌊8h/3⌋ / 256). */
function ffnWidth(h: number): number {
  return 256 * Math.ceil(Math.floor((8 * h) / 3) / 256);
}

function stack(dim: number, layers: number, heads: number, maxPositions: number) {
  return {
    dim,
    layers,
    heads,
    headDim: dim / heads,
    ffnDim: ffnWidth(dim),
    normEps: 1e-5,
    ropeTheta: 500000,
    slidingWindow: null,
    maxPositions,
  };
}

function preset(
  hE: number,
  hG: number,
  [le, lg, ld]: [number, number, number],
  heads: number,
  buckets: number,
  seqLen: number,
  entropy: [number, number, number],
): BltConfig {
  const bytePositions = Math.max(seqLen, 8192);
  return checkConfig({
    vocabSize: 260,
    encoder: { ...stack(hE, le, heads, bytePositions), crossAttn: true, crossAttnAllLayers: false },
    global: stack(hG, lg, heads, bytePositions),
    decoder: { ...stack(hE, ld, heads, bytePositions), crossAttn: true, crossAttnAllLayers: true },
    entropyModel: stack(entropy[0], entropy[1], entropy[2], bytePositions),
    hash: { sizes: [3, 4, 5, 6, 7, 8], buckets, functions: 1 },
    crossAttnK: 2,
    patching: {
      mode: "entropy",
      threshold: 1.335442066192627,
      relativeThreshold: null,
      monotonic: false,
      patchSize: 4,
      maxPatchLength: null,
    },
    resetAtEos: false,
    maxPositions: bytePositions,
  }, "preset");
}

/**
 * Nested partial overrides; dotted keys (`"global.layers": 2`) are accepted at any level.
 *
 * @example
 * ```ts
 * import type { ConfigOverrides } from "./config.ts";
 * const o: ConfigOverrides = { "patching.threshold": 1.2, hash: { buckets: 1009 } };
 * ```
 */
export type ConfigOverrides = { readonly [key: string]: unknown };

/**
 * Applies overrides to a preset or config and checks every invariant; returns a deep-frozen
 * config. Unknown keys throw with a suggestion. When `dim` or `heads` of a stack change and its
 * `headDim` is not given, `headDim` follows as dim / heads.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const cfg = resolveConfig("tiny", { encoder: { dim: 64 }, "decoder.dim": 64 });
 * console.log(cfg.encoder.headDim); // 16
 * try {
 *   resolveConfig("tiny", { dimGlobl: 3 });
 * } catch (e) {
 *   console.log((e as Error).message.includes("Unknown config key 'dimGlobl'")); // true
 * }
 * ```
 */
export function resolveConfig(
  base: BltConfig | PresetName,
  overrides: ConfigOverrides = {},
): BltConfig {
  const start = typeof base === "string" ? presetByName(base) : base;
  return checkConfig(mergeOverrides(start, overrides), "config");
}

/**
 * Checks a complete config given as JSON (e.g. read back from a checkpoint): every field must be
 * present and valid, unknown fields are errors. Returns it deep-frozen.
 *
 * @example
 * ```ts
 * import { PRESETS, validateConfig } from "./config.ts";
 * const cfg = validateConfig(JSON.parse(JSON.stringify(PRESETS.tiny)));
 * console.log(cfg.crossAttnK); // 2
 * ```
 */
export function validateConfig(json: unknown, source = "config"): BltConfig {
  return checkConfig(json, source);
}

/**
 * Whether the global transformer needs an input projection: k · h_E ≠ h_G (§3.2.2).
 *
 * @example
 * ```ts
 * import { needsGlobalProjection, PRESETS } from "./config.ts";
 * console.log(needsGlobalProjection(PRESETS.tiny)); // false (2 · 128 = 256)
 * ```
 */
export function needsGlobalProjection(cfg: BltConfig): boolean {
  return cfg.crossAttnK * cfg.encoder.dim !== cfg.global.dim;
}

function presetByName(name: string): BltConfig {
  const p = (PRESETS as Record<string, BltConfig>)[name];
  if (!p) {
    throw new Error(
      `Unknown preset '${name}'; expected one of ${Object.keys(PRESETS).join(", ")}`,
    );
  }
  return p;
}

const STACK_KEYS = [
  "dim",
  "layers",
  "heads",
  "headDim",
  "ffnDim",
  "normEps",
  "ropeTheta",
  "slidingWindow",
  "maxPositions",
] as const;
const LOCAL_KEYS = [...STACK_KEYS, "crossAttn", "crossAttnAllLayers"] as const;
const SECTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  encoder: LOCAL_KEYS,
  global: STACK_KEYS,
  decoder: LOCAL_KEYS,
  entropyModel: STACK_KEYS,
  hash: ["sizes", "buckets", "functions"],
  patching: ["mode", "threshold", "relativeThreshold", "monotonic", "patchSize", "maxPatchLength"],
};
const TOP_KEYS = [
  "vocabSize",
  "encoder",
  "global",
  "decoder",
  "entropyModel",
  "hash",
  "crossAttnK",
  "patching",
  "resetAtEos",
  "maxPositions",
];
const MODES: readonly PatchingMode[] = ["entropy", "space", "static", "byte"];
/** Used when overrides add an entropy model to a config that has none. */
const DEFAULT_ENTROPY_MODEL: TransformerConfig = stack(64, 2, 4, 8192);

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** Top-level spellings of nested keys ("dimGlobal", "globalDim" → "global.dim") for hints. */
function nestedAliases(): { alias: string; path: string }[] {
  const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
  return Object.entries(SECTION_KEYS).flatMap(([section, keys]) =>
    keys.flatMap((k) => [
      { alias: k + cap(section), path: `${section}.${k}` },
      { alias: section + cap(k), path: `${section}.${k}` },
    ])
  );
}

function unknownKey(path: string, key: string, valid: readonly string[]): Error {
  const full = path ? `${path}.${key}` : key;
  const candidates = valid.map((v) => ({ alias: v, path: path ? `${path}.${v}` : v }));
  if (!path) candidates.push(...nestedAliases());
  const ranked = candidates
    .map((c) => ({ ...c, d: editDistance(key.toLowerCase(), c.alias.toLowerCase()) }))
    .sort((x, y) => x.d - y.d);
  const best = ranked[0];
  const hint = best && best.d <= Math.max(2, Math.floor(key.length / 3))
    ? `did you mean '${best.path}'?`
    : `valid keys here: ${valid.join(", ")}`;
  return new Error(`Unknown config key '${full}' (${hint})`);
}

/** Turns `{"a.b": 1, a: {c: 2}}` into `{a: {b: 1, c: 2}}`; later keys win. */
function expandDotted(overrides: Obj): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(overrides)) {
    const parts = key.split(".");
    let node = out;
    for (const part of parts.slice(0, -1)) {
      if (!isObj(node[part])) node[part] = {};
      node = node[part] as Obj;
    }
    const last = parts[parts.length - 1];
    node[last] = isObj(value) && isObj(node[last])
      ? { ...(node[last] as Obj), ...expandDotted(value) }
      : isObj(value)
      ? expandDotted(value)
      : value;
  }
  return out;
}

function mergeSection(section: string, base: Obj | null, over: unknown): unknown {
  if (over === null || !isObj(over)) return over;
  const valid = SECTION_KEYS[section];
  const start: Obj = { ...(base ?? (section === "entropyModel" ? DEFAULT_ENTROPY_MODEL : {})) };
  for (const [key, value] of Object.entries(over)) {
    if (!valid.includes(key)) throw unknownKey(section, key, valid);
    start[key] = value;
  }
  const reshaped = ("dim" in over || "heads" in over) && !("headDim" in over);
  const dim = start.dim, heads = start.heads;
  if (reshaped && typeof dim === "number" && typeof heads === "number" && dim % heads === 0) {
    start.headDim = dim / heads;
  }
  return start;
}

function mergeOverrides(base: BltConfig, overrides: ConfigOverrides): Obj {
  if (!isObj(overrides)) {
    throw new Error(`resolveConfig: overrides must be an object, found ${typeof overrides}`);
  }
  const out: Obj = { ...(base as unknown as Obj) };
  for (const [key, value] of Object.entries(expandDotted(overrides as Obj))) {
    if (!TOP_KEYS.includes(key)) throw unknownKey("", key, TOP_KEYS);
    out[key] = key in SECTION_KEYS ? mergeSection(key, out[key] as Obj | null, value) : value;
  }
  return out;
}

/** A value as an error message shows it: JSON, except numbers JSON cannot spell (NaN, ±Infinity). */
function shown(x: unknown): string {
  return typeof x === "number" ? String(x) : JSON.stringify(x);
}

function posInt(x: unknown, field: string): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 1) {
    throw new Error(`${field} must be a positive integer, found ${shown(x)}`);
  }
  return x;
}

function posNumber(x: unknown, field: string): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) {
    throw new Error(`${field} must be a positive finite number, found ${shown(x)}`);
  }
  return x;
}

function finite(x: unknown, field: string): number {
  if (typeof x !== "number" || !Number.isFinite(x)) {
    throw new Error(`${field} must be a finite number, found ${shown(x)}`);
  }
  return x;
}

function bool(x: unknown, field: string): boolean {
  if (typeof x !== "boolean") {
    throw new Error(`${field} must be true or false, found ${shown(x)}`);
  }
  return x;
}

function fields(x: unknown, path: string, valid: readonly string[]): Obj {
  if (!isObj(x)) throw new Error(`${path} must be an object, found ${shown(x)}`);
  for (const key of Object.keys(x)) {
    if (!valid.includes(key)) throw unknownKey(path, key, valid);
  }
  for (const key of valid) {
    if (!(key in x)) throw new Error(`${path}.${key} is missing; add it (see PRESETS.tiny)`);
  }
  return x;
}

function checkStack(x: unknown, path: string, local: boolean): TransformerConfig {
  // Configs written before the cross-attention switch existed (checkpoints) mean it on.
  const withDefaults = local && isObj(x) && !("crossAttn" in x) ? { ...x, crossAttn: true } : x;
  const o = fields(withDefaults, path, local ? LOCAL_KEYS : STACK_KEYS);
  const dim = posInt(o.dim, `${path}.dim`);
  const heads = posInt(o.heads, `${path}.heads`);
  if (dim % heads !== 0) {
    throw new Error(`${path}.heads (${heads}) must divide ${path}.dim (${dim}); change either`);
  }
  const headDim = posInt(o.headDim, `${path}.headDim`);
  if (headDim * heads !== dim) {
    throw new Error(
      `${path}.headDim must be ${path}.dim / ${path}.heads = ${dim / heads}, found ${headDim}`,
    );
  }
  if (headDim % 2 !== 0) {
    throw new Error(`${path}.headDim (${headDim}) must be even for RoPE's rotated pairs`);
  }
  const sw = o.slidingWindow;
  const out = {
    dim,
    layers: posInt(o.layers, `${path}.layers`),
    heads,
    headDim,
    ffnDim: posInt(o.ffnDim, `${path}.ffnDim`),
    normEps: posNumber(o.normEps, `${path}.normEps`),
    ropeTheta: posNumber(o.ropeTheta, `${path}.ropeTheta`),
    slidingWindow: sw === null ? null : posInt(sw, `${path}.slidingWindow`),
    maxPositions: posInt(o.maxPositions, `${path}.maxPositions`),
  };
  return Object.freeze(
    local
      ? {
        ...out,
        crossAttn: bool(o.crossAttn, `${path}.crossAttn`),
        crossAttnAllLayers: bool(o.crossAttnAllLayers, `${path}.crossAttnAllLayers`),
      }
      : out,
  );
}

function checkHash(x: unknown): HashConfig {
  const o = fields(x, "hash", SECTION_KEYS.hash);
  if (!Array.isArray(o.sizes)) {
    throw new Error(
      `hash.sizes must be an array of n-gram sizes ([] = no hash n-grams), found ${shown(o.sizes)}`,
    );
  }
  const sizes = o.sizes.map((n, i) => posInt(n, `hash.sizes[${i}]`));
  return Object.freeze({
    sizes: Object.freeze(sizes),
    buckets: posInt(o.buckets, "hash.buckets"),
    functions: posInt(o.functions, "hash.functions"),
  });
}

function checkPatching(x: unknown): PatchingConfig {
  const o = fields(x, "patching", SECTION_KEYS.patching);
  if (!MODES.includes(o.mode as PatchingMode)) {
    throw new Error(`patching.mode must be one of ${MODES.join(", ")}, found ${o.mode}`);
  }
  const monotonic = bool(o.monotonic, "patching.monotonic");
  if (monotonic && o.relativeThreshold === null) {
    throw new Error("patching.relativeThreshold must be set when patching.monotonic is true");
  }
  return Object.freeze({
    mode: o.mode as PatchingMode,
    monotonic,
    threshold: finite(o.threshold, "patching.threshold"),
    relativeThreshold: o.relativeThreshold === null
      ? null
      : finite(o.relativeThreshold, "patching.relativeThreshold"),
    patchSize: posInt(o.patchSize, "patching.patchSize"),
    maxPatchLength: o.maxPatchLength === null
      ? null
      : posInt(o.maxPatchLength, "patching.maxPatchLength"),
  });
}

function checkConfig(json: unknown, source: string): BltConfig {
  const o = fields(json, source, TOP_KEYS);
  if (o.vocabSize !== 260) {
    throw new Error(
      `${source}.vocabSize must be 260 (256 bytes + 4 specials), found ${o.vocabSize}`,
    );
  }
  const encoder = checkStack(o.encoder, "encoder", true) as LocalStackConfig;
  const decoder = checkStack(o.decoder, "decoder", true) as LocalStackConfig;
  if (decoder.dim !== encoder.dim) {
    throw new Error(
      `decoder.dim (${decoder.dim}) must equal encoder.dim (${encoder.dim}): the decoder starts ` +
        `from the encoder's byte states`,
    );
  }
  const cfg: BltConfig = {
    vocabSize: 260,
    encoder,
    global: checkStack(o.global, "global", false),
    decoder,
    entropyModel: o.entropyModel === null
      ? null
      : checkStack(o.entropyModel, "entropyModel", false),
    hash: checkHash(o.hash),
    crossAttnK: posInt(o.crossAttnK, "crossAttnK"),
    patching: checkPatching(o.patching),
    resetAtEos: bool(o.resetAtEos, "resetAtEos"),
    maxPositions: posInt(o.maxPositions, "maxPositions"),
  };
  return Object.freeze(cfg);
}

/**
 * The shared presets (DESIGN.md table; SwiGLU width as the PyTorch benchmark peer). The entropy
 * model is a small byte LM (tiny: 64 wide × 2 layers, small: 128 × 2, medium: 256 × 4).
 *
 * @example
 * ```ts
 * import { PRESETS } from "./config.ts";
 * console.log(PRESETS.medium.global.layers, PRESETS.medium.global.ffnDim); // 16 2816
 * ```
 */
export const PRESETS: Readonly<Record<PresetName, BltConfig>> = Object.freeze({
  tiny: preset(128, 256, [1, 4, 2], 4, 4096, 1024, [64, 2, 4]),
  small: preset(256, 512, [1, 8, 4], 8, 50002, 4096, [128, 2, 4]),
  medium: preset(512, 1024, [1, 16, 6], 16, 100002, 4096, [256, 4, 8]),
});

/**
 * Bytes per sequence and batch size that go with each preset in the benchmarks.
 *
 * @example
 * ```ts
 * import { PRESET_SHAPES } from "./config.ts";
 * console.log(PRESET_SHAPES.tiny); // { seqLen: 1024, batchSize: 8 }
 * ```
 */
export const PRESET_SHAPES: Readonly<
  Record<PresetName, { readonly seqLen: number; readonly batchSize: number }>
> = Object.freeze({
  tiny: Object.freeze({ seqLen: 1024, batchSize: 8 }),
  small: Object.freeze({ seqLen: 4096, batchSize: 16 }),
  medium: Object.freeze({ seqLen: 4096, batchSize: 16 }),
});
