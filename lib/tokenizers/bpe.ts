/**
 * Byte-level BPE, the tokenizer of the paper's token baseline (Llama 3 style; here trained on our
 * own corpus). Training and encoding are plain TypeScript so options (vocabulary size, minimum pair
 * frequency, specials) are ours to set.
 *
 * Vocabulary layout: specials first, then the 256 byte tokens in byte order, then one token per merge.
 *
 * @module
 */
import { BYTE_TO_CHAR, fromByteChars, preTokenize, toByteChars } from "./byte_level.ts";

/** Options of {@link trainBpe}. */
export interface BpeTrainOptions {
  /** Final vocabulary size: specials + 256 bytes + merges. */
  readonly vocabSize: number;
  /** Special tokens, given the first ids. Default `["<|bos|>", "<|eos|>"]`. */
  readonly specials?: readonly string[];
  /** A pair seen fewer times than this is never merged. Default 2. */
  readonly minFrequency?: number;
}

/**
 * A trained byte-level BPE tokenizer.
 *
 * @example
 * ```ts
 * import { trainBpe } from "./bpe.ts";
 * const tok = trainBpe(["the cat the hat the bat"], { vocabSize: 260 });
 * const ids = tok.encode("the hat");
 * console.log(tok.decode(ids)); // "the hat"
 * ```
 */
export class BpeTokenizer {
  /** token string (byte-level characters, or a special) → id */
  readonly vocab: ReadonlyMap<string, number>;
  /** id → token string */
  readonly tokens: readonly string[];
  /** merge pairs in rank order */
  readonly merges: readonly (readonly [string, string])[];
  readonly specials: readonly string[];
  readonly #rank: Map<string, number>;
  readonly #cache = new Map<string, number[]>();
  readonly #bytes: (Uint8Array | null)[];

  constructor(
    specials: readonly string[],
    merges: readonly (readonly [string, string])[],
    tokens?: readonly string[],
  ) {
    this.specials = specials;
    this.merges = merges;
    this.tokens = tokens ?? [
      ...specials,
      ...BYTE_TO_CHAR,
      ...merges.map(([a, b]) => a + b),
    ];
    const vocab = new Map<string, number>();
    this.tokens.forEach((t, i) => {
      if (vocab.has(t)) {
        throw new Error(`BpeTokenizer: token '${t}' appears twice (ids ${vocab.get(t)} and ${i})`);
      }
      vocab.set(t, i);
    });
    this.vocab = vocab;
    this.#rank = new Map(merges.map(([a, b], i) => [a + " " + b, i]));
    const specialSet = new Set(specials);
    this.#bytes = this.tokens.map((t) => (specialSet.has(t) ? null : fromByteChars(t)));
  }

  /** Number of ids. */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /** Id of a special token; throws naming the known specials when absent. */
  specialId(name: string): number {
    const id = this.specials.includes(name) ? this.vocab.get(name) : undefined;
    if (id === undefined) {
      throw new Error(
        `Unknown special token '${name}'; this tokenizer has: ${this.specials.join(", ")}`,
      );
    }
    return id;
  }

  /** Token ids of `text` (no specials added). */
  encode(text: string): number[] {
    if (typeof text !== "string") {
      throw new Error(`encode: 'text' must be a string, got ${typeof text}`);
    }
    const out: number[] = [];
    for (const chunk of preTokenize(text)) out.push(...this.#encodeChunk(toByteChars(chunk)));
    return out;
  }

  /** The UTF-8 bytes a token stands for (empty for specials). */
  tokenBytes(id: number): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
      throw new Error(`tokenBytes: id ${id} is outside 0..${this.tokens.length - 1}`);
    }
    return this.#bytes[id] ?? new Uint8Array(0);
  }

  /** Text of token ids; specials are dropped, invalid UTF-8 shows as U+FFFD. */
  decode(ids: readonly number[]): string {
    const parts = ids.map((id) => this.tokenBytes(id));
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return new TextDecoder().decode(all);
  }

  #encodeChunk(chunk: string): number[] {
    const hit = this.#cache.get(chunk);
    if (hit) return hit;
    let symbols = [...chunk];
    while (symbols.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = this.#rank.get(symbols[i] + " " + symbols[i + 1]);
        if (r !== undefined && r < bestRank) [bestRank, best] = [r, i];
      }
      if (best < 0) break;
      const [a, b] = this.merges[bestRank];
      const next: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(symbols[i]);
      }
      symbols = next;
    }
    const ids = symbols.map((s) => this.vocab.get(s)!);
    if (this.#cache.size < 100_000) this.#cache.set(chunk, ids);
    return ids;
  }
}

/**
 * Learns byte-level BPE merges from texts: the most frequent adjacent pair inside pre-tokenized
 * chunks is merged until the vocabulary is full (ties: the pair first seen in the corpus).
 *
 * @example
 * ```ts
 * import { trainBpe } from "./bpe.ts";
 * const tok = trainBpe(["low lower lowest"], { vocabSize: 262 });
 * console.log(tok.vocabSize); // 262
 * ```
 */
export function trainBpe(texts: readonly string[], options: BpeTrainOptions): BpeTokenizer {
  const specials = options.specials ?? ["<|bos|>", "<|eos|>"];
  const minFrequency = options.minFrequency ?? 2;
  const floor = 256 + specials.length;
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < floor) {
    throw new Error(
      `trainBpe: vocabSize must be an integer ≥ 256 bytes + ${specials.length} specials = ${floor}, got ${options.vocabSize}`,
    );
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new Error(`trainBpe: minFrequency must be an integer ≥ 1, got ${minFrequency}`);
  }
  const merges = learnMerges(countChunks(texts), options.vocabSize - floor, minFrequency);
  return new BpeTokenizer(specials, merges);
}

function countChunks(texts: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [i, text] of texts.entries()) {
    if (typeof text !== "string") throw new Error(`trainBpe: texts[${i}] must be a string`);
    for (const chunk of preTokenize(text)) {
      const key = toByteChars(chunk);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Incremental pair counting: only words that contain the merged pair are revisited. */
function learnMerges(
  chunkCounts: Map<string, number>,
  nMerges: number,
  minFrequency: number,
): [string, string][] {
  const names: string[] = [];
  const idOf = new Map<string, number>();
  const sym = (s: string) => {
    let id = idOf.get(s);
    if (id === undefined) {
      id = names.length;
      names.push(s);
      idOf.set(s, id);
    }
    return id;
  };
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [chunk, n] of chunkCounts) {
    words.push([...chunk].map(sym));
    freq.push(n);
  }
  const SHIFT = 2 ** 21;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: number) => {
    const s = words[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] * SHIFT + s[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * freq[w]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, set = new Set());
        set.add(w);
      }
    }
  };
  words.forEach((_, w) => addPairs(w, 1));

  const merges: [string, string][] = [];
  while (merges.length < nMerges) {
    let bestKey = -1;
    let bestCount = minFrequency - 1;
    for (const [key, c] of pairCount) {
      if (c > bestCount) [bestKey, bestCount] = [key, c];
    }
    if (bestKey < 0) break;
    const a = Math.floor(bestKey / SHIFT);
    const b = bestKey % SHIFT;
    const merged = sym(names[a] + names[b]);
    merges.push([names[a], names[b]]);
    for (const w of pairWords.get(bestKey) ?? []) {
      addPairs(w, -1);
      const s = words[w];
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(s[i]);
      }
      words[w] = next;
      addPairs(w, 1);
    }
    pairCount.delete(bestKey);
    pairWords.delete(bestKey);
  }
  return merges;
}
