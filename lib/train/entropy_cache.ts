/**
 * Entropies of a whole corpus under an entropy model (paper §2.3), computed document by document
 * and cached on disk, so BLT training patches its windows without re-running the entropy model.
 *
 * Each document is scored from its own BOS: rows never mix documents (the reference flattens a
 * batch into one stream, so a document's first bytes see the previous document — its issue
 * #123; here batching changes nothing but padding after the row's end, which causal attention
 * never sees). A document longer than the context C is scored in overlapping chunks of C ids that
 * advance by a stride S ≤ C: the first chunk keeps all its positions, each later chunk only the
 * S newest, so every byte past the first chunk is scored with at least C − S bytes of left
 * context (the default S = C/2 gives at least half a window, for C/S times the forward work).
 *
 * The cache file `<cacheDir>/entropies/<key>.safetensors` is keyed by SHA-256 of the model
 * (config, weight names, shapes and values), of the corpus ids and of (C, S): retraining the
 * model or editing one byte of the corpus misses.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { BOE_ID } from "../bytes/mod.ts";
import type { TransformerConfig } from "../config.ts";
import { readSafetensorsFile, writeSafetensorsFile } from "../model/io/safetensors.ts";

/**
 * What scoring needs from an entropy model (`ByteLm` fits): its config, its weights (for the
 * cache key) and next-byte entropies of padded rows.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { PRESETS } from "../config.ts";
 * import type { EntropyModel } from "./entropy_cache.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const lm: EntropyModel = createByteLm(PRESETS.tiny.entropyModel!, 0);
 * lm.params.variables().forEach((v) => v.dispose());
 * ```
 */
export interface EntropyModel {
  readonly config: TransformerConfig;
  readonly params: { variables(): Map<string, tf.Variable> };
  /** Next-byte entropies in nats, `[B][T]`, for byte ids `[B, T]`; causal. */
  entropies(ids: readonly (readonly number[])[]): Float32Array[];
  /** The same, read back asynchronously (the only way on WebGPU under Deno). */
  entropiesAsync?(ids: readonly (readonly number[])[]): Promise<Float32Array[]>;
}

/**
 * How to chunk and batch the scoring.
 *
 * @example
 * ```ts
 * import type { ScoringOptions } from "./entropy_cache.ts";
 * const o: ScoringOptions = { context: 1024, stride: 512, batchSize: 8 };
 * ```
 */
export interface ScoringOptions {
  /** Context C: ids per row (use the window the entropy model was trained on). */
  readonly context: number;
  /** New positions per chunk after the first, 1 ≤ S ≤ C; default ⌈C / 2⌉. */
  readonly stride?: number;
  /** Rows per forward pass; default 8. */
  readonly batchSize?: number;
}

function checkOptions(o: ScoringOptions): Required<ScoringOptions> {
  const context = o.context;
  if (!Number.isInteger(context) || context < 2) {
    throw new Error(`ScoringOptions.context must be an integer ≥ 2, found ${context}`);
  }
  const stride = o.stride ?? Math.ceil(context / 2);
  if (!Number.isInteger(stride) || stride < 1 || stride > context) {
    throw new Error(`ScoringOptions.stride must be an integer in [1, ${context}], found ${stride}`);
  }
  const batchSize = o.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`ScoringOptions.batchSize must be an integer ≥ 1, found ${batchSize}`);
  }
  return { context, stride, batchSize };
}

/** One row of scoring: ids [start, start + n) of document `doc`, keeping [keepFrom, start + n). */
interface Chunk {
  readonly doc: number;
  readonly start: number;
  readonly n: number;
  readonly keepFrom: number;
}

function chunksOf(docs: readonly ArrayLike<number>[], context: number, stride: number): Chunk[] {
  const chunks: Chunk[] = [];
  docs.forEach((d, doc) => {
    const L = d.length;
    chunks.push({ doc, start: 0, n: Math.min(context, L), keepFrom: 0 });
    for (let kept = context; kept < L; kept += stride) {
      const end = Math.min(kept + stride, L);
      chunks.push({ doc, start: end - context, n: context, keepFrom: kept });
    }
  });
  return chunks;
}

/**
 * Next-byte entropies `[N][L_d]` (nats) of every document, each scored from its own beginning
 * (see the module doc for the chunking of long documents). Row order and padding inside a batch
 * do not change the result.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { resolveConfig } from "../config.ts";
 * import { encodeDocuments } from "../data/mod.ts";
 * import { documentEntropies } from "./entropy_cache.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const cfg = resolveConfig("tiny", { "entropyModel.dim": 16, "entropyModel.layers": 1 });
 * const lm = createByteLm(cfg.entropyModel!, 0);
 * const h = documentEntropies(lm, encodeDocuments(["hello", "a longer document"]), { context: 8 });
 * console.log(h.map((x) => x.length)); // [7, 19]
 * lm.dispose();
 * ```
 */
export function documentEntropies(
  model: EntropyModel,
  docs: readonly ArrayLike<number>[],
  options: ScoringOptions,
): Float32Array[] {
  const { out, batches } = scoringPlan(docs, options);
  for (const { rows, place } of batches) place(model.entropies(rows));
  return out;
}

/**
 * {@link documentEntropies} with asynchronous read-backs (uses the model's `entropiesAsync`
 * when it has one): the form that runs on WebGPU.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { resolveConfig } from "../config.ts";
 * import { encodeDocuments } from "../data/mod.ts";
 * import { documentEntropiesAsync } from "./entropy_cache.ts";
 * await tf.ready();
 * const cfg = resolveConfig("tiny", { "entropyModel.dim": 16, "entropyModel.layers": 1 });
 * const lm = createByteLm(cfg.entropyModel!, 0);
 * const h = await documentEntropiesAsync(lm, encodeDocuments(["hello"]), { context: 8 });
 * console.log(h[0].length); // 7
 * lm.dispose();
 * ```
 */
export async function documentEntropiesAsync(
  model: EntropyModel,
  docs: readonly ArrayLike<number>[],
  options: ScoringOptions,
): Promise<Float32Array[]> {
  const { out, batches } = scoringPlan(docs, options);
  for (const { rows, place } of batches) {
    place(model.entropiesAsync ? await model.entropiesAsync(rows) : model.entropies(rows));
  }
  return out;
}

/** The batches of chunk rows to score and where each row's kept entropies go. */
function scoringPlan(docs: readonly ArrayLike<number>[], options: ScoringOptions) {
  const { context, stride, batchSize } = checkOptions(options);
  docs.forEach((d, i) => {
    if (d.length < 1) throw new Error(`docs[${i}] is empty; encode documents with BOS … EOS`);
  });
  const out = docs.map((d) => new Float32Array(d.length)); // [N][L_d]
  // Longest rows first so each batch pads little.
  const chunks = chunksOf(docs, context, stride).sort((a, b) => b.n - a.n);
  const batches: { rows: number[][]; place: (h: Float32Array[]) => void }[] = [];
  for (let i = 0; i < chunks.length; i += batchSize) {
    const batch = chunks.slice(i, i + batchSize);
    const T = batch[0].n;
    const rows = batch.map((c) => {
      const row = new Array<number>(T).fill(BOE_ID); // [T]
      for (let t = 0; t < c.n; t++) row[t] = docs[c.doc][c.start + t];
      return row;
    });
    const place = (h: Float32Array[]) =>
      batch.forEach((c, b) => {
        out[c.doc].set(h[b].subarray(c.keepFrom - c.start, c.n), c.keepFrom);
      });
    batches.push({ rows, place });
  }
  return { out, batches };
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * SHA-256 (hex) of an entropy model: its config and every weight's name, shape and values.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { PRESETS } from "../config.ts";
 * import { modelHash } from "./entropy_cache.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const lm = createByteLm(PRESETS.tiny.entropyModel!, 0);
 * console.log((await modelHash(lm)).length); // 64
 * lm.dispose();
 * ```
 */
export async function modelHash(model: EntropyModel): Promise<string> {
  const text = new TextEncoder();
  const parts: Uint8Array[] = [text.encode(JSON.stringify(model.config))];
  const named = [...model.params.variables()].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [name, v] of named) {
    parts.push(text.encode(`\n${name}[${v.shape.join(",")}]`));
    const data = (await v.data()) as Float32Array;
    parts.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return await sha256Hex(concat(parts));
}

/**
 * SHA-256 (hex) of encoded documents: each one's length and ids, so document boundaries count.
 *
 * @example
 * ```ts
 * import { encodeDocuments } from "../data/mod.ts";
 * import { corpusHash } from "./entropy_cache.ts";
 * const a = await corpusHash(encodeDocuments(["ab", "c"]));
 * const b = await corpusHash(encodeDocuments(["a", "bc"]));
 * console.log(a !== b); // true
 * ```
 */
export async function corpusHash(docs: readonly ArrayLike<number>[]): Promise<string> {
  const total = docs.reduce((n, d) => n + 1 + d.length, 0);
  const words = new Uint32Array(total);
  let at = 0;
  for (const d of docs) {
    words[at++] = d.length;
    for (let i = 0; i < d.length; i++) words[at++] = d[i];
  }
  return await sha256Hex(new Uint8Array(words.buffer));
}

/**
 * What {@link cachedEntropies} returns.
 *
 * @example
 * ```ts
 * import type { CachedEntropies } from "./entropy_cache.ts";
 * const report = (c: CachedEntropies) => `${c.hit ? "hit" : "miss"} ${c.path}`;
 * ```
 */
export interface CachedEntropies {
  /** `[N][L_d]` entropies in nats, one array per document. */
  readonly entropies: Float32Array[];
  /** The cache key (hex SHA-256 of model, corpus and chunking). */
  readonly key: string;
  /** The cache file. */
  readonly path: string;
  /** True when the file existed and was read instead of scoring. */
  readonly hit: boolean;
}

/**
 * {@link documentEntropies}, read from `<cacheDir>/entropies/<key>.safetensors` when present,
 * else computed and written there atomically (temp file, fsync, rename).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { resolveConfig } from "../config.ts";
 * import { encodeDocuments } from "../data/mod.ts";
 * import { cachedEntropies } from "./entropy_cache.ts";
 * await tf.ready(); // model code registers the wasm backend; let it initialise
 * const cfg = resolveConfig("tiny", { "entropyModel.dim": 16, "entropyModel.layers": 1 });
 * const lm = createByteLm(cfg.entropyModel!, 0);
 * const cacheDir = await Deno.makeTempDir();
 * const docs = encodeDocuments(["some text"]);
 * await cachedEntropies(lm, docs, { context: 8, cacheDir });
 * console.log((await cachedEntropies(lm, docs, { context: 8, cacheDir })).hit); // true
 * lm.dispose();
 * await Deno.remove(cacheDir, { recursive: true });
 * ```
 */
export async function cachedEntropies(
  model: EntropyModel,
  docs: readonly ArrayLike<number>[],
  options: ScoringOptions & { readonly cacheDir: string },
): Promise<CachedEntropies> {
  const { context, stride } = checkOptions(options);
  const [m, c] = await Promise.all([modelHash(model), corpusHash(docs)]);
  const key = await sha256Hex(new TextEncoder().encode(`${m}\n${c}\n${context}\n${stride}`));
  const dir = `${options.cacheDir}/entropies`;
  const path = `${dir}/${key}.safetensors`;
  const lengths = docs.map((d) => d.length);
  const cached = await readCache(path, lengths);
  if (cached !== null) return { entropies: cached, key, path, hit: true };
  const entropies = await documentEntropiesAsync(model, docs, options);
  const flat = new Float32Array(lengths.reduce((a, b) => a + b, 0)); // [Σ L_d]
  let at = 0;
  for (const h of entropies) {
    flat.set(h, at);
    at += h.length;
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensorsFile(path, new Map([["entropies", { shape: [flat.length], data: flat }]]), {
    lengths: JSON.stringify(lengths),
    model: m,
    corpus: c,
    context: String(context),
    stride: String(stride),
  });
  return { entropies, key, path, hit: false };
}

/** The cached entropies split per document, or null when the file is absent. */
async function readCache(path: string, lengths: readonly number[]): Promise<Float32Array[] | null> {
  try {
    await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const flat = (await readSafetensorsFile(path)).get("entropies");
  const total = lengths.reduce((a, b) => a + b, 0);
  if (flat === undefined || flat.data.length !== total) {
    throw new Error(
      `Entropy cache ${path} holds ${flat?.data.length ?? "no"} entropies, the corpus has ` +
        `${total} ids; delete the file to recompute it`,
    );
  }
  let at = 0;
  return lengths.map((n) => {
    const h = flat.data.slice(at, at + n);
    at += n;
    return h;
  });
}
