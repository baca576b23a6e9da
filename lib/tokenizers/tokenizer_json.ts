/**
 * Hugging Face `tokenizer.json` for our byte-level BPE, so a trained tokenizer loads in
 * `tokenizers.Tokenizer.from_file` (and in transformers' `PreTrainedTokenizerFast`).
 *
 * @module
 */
import { BpeTokenizer } from "./bpe.ts";

/**
 * The `tokenizer.json` object of a tokenizer (ByteLevel pre-tokenizer and decoder, BPE model).
 *
 * @example
 * ```ts
 * import { trainBpe, toTokenizerJson } from "./mod.ts";
 * const json = toTokenizerJson(trainBpe(["aa aa aa"], { vocabSize: 259 }));
 * console.log((json.model as { type: string }).type); // "BPE"
 * ```
 */
export function toTokenizerJson(tok: BpeTokenizer): Record<string, unknown> {
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: tok.specials.map((content) => ({
      id: tok.vocab.get(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", ...byteLevel },
    post_processor: null,
    decoder: { type: "ByteLevel", ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(tok.tokens.map((t, i) => [t, i])),
      merges: tok.merges.map(([a, b]) => [a, b]),
    },
  };
}

/**
 * Rebuilds a tokenizer from a `tokenizer.json` object; rejects anything that is not a byte-level BPE
 * with a message naming the field.
 *
 * @example
 * ```ts
 * import { fromTokenizerJson, toTokenizerJson, trainBpe } from "./mod.ts";
 * const tok = trainBpe(["ab ab ab"], { vocabSize: 259 });
 * console.log(fromTokenizerJson(toTokenizerJson(tok)).encode("ab").length); // 1
 * ```
 */
export function fromTokenizerJson(json: unknown, source = "tokenizer.json"): BpeTokenizer {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (typeof json !== "object" || json === null) fail("expected a JSON object");
  const j = json as Record<string, unknown>;
  const model = j.model as Record<string, unknown> | undefined;
  if (model?.type !== "BPE") fail(`model.type must be "BPE", found ${JSON.stringify(model?.type)}`);
  if ((j.pre_tokenizer as { type?: string } | null)?.type !== "ByteLevel") {
    fail('pre_tokenizer.type must be "ByteLevel" (only byte-level BPE is supported)');
  }
  const vocab = model!.vocab as Record<string, number> | undefined;
  if (!vocab || typeof vocab !== "object") fail("model.vocab is missing");
  const rawMerges = model!.merges;
  if (!Array.isArray(rawMerges)) fail("model.merges must be an array");
  const merges = (rawMerges as unknown[]).map((m, i): [string, string] => {
    if (Array.isArray(m) && m.length === 2) return [String(m[0]), String(m[1])];
    if (typeof m === "string" && m.split(" ").length === 2) return m.split(" ") as [string, string];
    return fail(`model.merges[${i}] must be a pair, found ${JSON.stringify(m)}`);
  });
  const tokens: string[] = [];
  for (const [t, id] of Object.entries(vocab!)) {
    if (!Number.isInteger(id) || id < 0) {
      fail(`model.vocab['${t}'] must be a non-negative integer id`);
    }
    if (tokens[id] !== undefined) {
      fail(`model.vocab ids ${id} used twice ('${tokens[id]}', '${t}')`);
    }
    tokens[id] = t;
  }
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === undefined) fail(`model.vocab has no token with id ${i}`);
  }
  const added = (j.added_tokens ?? []) as { content: string; special?: boolean }[];
  const specials = added.filter((t) => t.special).map((t) => t.content);
  return new BpeTokenizer(specials, merges, tokens);
}

/**
 * Saves `tokenizer.json` into a directory (created if needed).
 *
 * @example
 * ```ts ignore
 * await saveTokenizer(tok, "out/bpe");
 * ```
 */
export async function saveTokenizer(tok: BpeTokenizer, dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/tokenizer.json`;
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, JSON.stringify(toTokenizerJson(tok)));
  await Deno.rename(tmp, path);
  return path;
}

/**
 * Loads `tokenizer.json` from a directory or a file path.
 *
 * @example
 * ```ts ignore
 * const tok = await loadTokenizer("out/bpe");
 * ```
 */
export async function loadTokenizer(dirOrFile: string): Promise<BpeTokenizer> {
  const path = dirOrFile.endsWith(".json") ? dirOrFile : `${dirOrFile}/tokenizer.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`Cannot read tokenizer '${path}': ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return fromTokenizerJson(json, path);
}
