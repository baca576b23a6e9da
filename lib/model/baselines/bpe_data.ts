/**
 * Data for the BPE baseline: documents tokenized once as `BOS tokens… EOS`, then cut into
 * windows by the same document-bounded samplers as the byte models (`lib/data/batching.ts`), so
 * no window mixes two documents and padding is masked out of the loss.
 *
 * @module
 */
import {
  sampleBatches,
  type SampledBatches,
  sequentialBatches,
  type WindowBatch,
  type WindowOptions,
} from "../../data/batching.ts";
import type { BpeTokenizer } from "../../tokenizers/mod.ts";
import { BPE_BOS, BPE_EOS, checkBpeVocab } from "./bpe_lm.ts";

/**
 * Token ids of each document: `[BOS, …encode(text), EOS]` (`[N][L_d]`).
 *
 * @example
 * ```ts
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * import { tokenizeDocuments } from "./bpe_data.ts";
 * const tok = trainBpe(["hi hi"], { vocabSize: 258 });
 * console.log([...tokenizeDocuments(tok, ["hi"])[0]]); // [0, 106, 107, 1]
 * ```
 */
export function tokenizeDocuments(tokenizer: BpeTokenizer, texts: readonly string[]): Int32Array[] {
  checkBpeVocab(tokenizer);
  const bos = tokenizer.specialId(BPE_BOS), eos = tokenizer.specialId(BPE_EOS);
  return texts.map((text, i) => {
    if (typeof text !== "string") {
      throw new Error(`tokenizeDocuments: texts[${i}] must be a string, found ${typeof text}`);
    }
    return Int32Array.from([bos, ...tokenizer.encode(text), eos]);
  });
}

/**
 * Mean bytes per predicted token over documents (UTF-8 bytes + one per EOS, over tokens + EOS):
 * what turns per-token FLOPs into FLOPs per byte and a byte context into a token window.
 *
 * @example
 * ```ts
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * import { bytesPerToken } from "./bpe_data.ts";
 * const tok = trainBpe(["ab ab ab"], { vocabSize: 259 }); // merges "ab"
 * console.log(bytesPerToken(tok, ["ab"])); // 1.5 (3 bytes with EOS over 2 tokens)
 * ```
 */
export function bytesPerToken(tokenizer: BpeTokenizer, texts: readonly string[]): number {
  const encoder = new TextEncoder();
  let bytes = 0;
  let tokens = 0;
  for (const [i, doc] of tokenizeDocuments(tokenizer, texts).entries()) {
    bytes += encoder.encode(texts[i]).length + 1;
    tokens += doc.length - 1;
  }
  return bytes / tokens;
}

/**
 * Seeded random training windows of `window` tokens; `batchAt(i)` depends only on the inputs
 * and i (the trainer's `BatchSource` contract, for exact resume).
 *
 * @example
 * ```ts
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * import { bpeTrainBatches } from "./bpe_data.ts";
 * const texts = ["the cat sat", "on the mat"];
 * const tok = trainBpe(texts, { vocabSize: 262 });
 * const source = bpeTrainBatches(tok, texts, { window: 4, batchSize: 2, seed: 1 });
 * console.log(source.batchAt(0).ids.length, source.batchAt(0).ids[0].length); // 2 4
 * ```
 */
export function bpeTrainBatches(
  tokenizer: BpeTokenizer,
  texts: readonly string[],
  options: WindowOptions & { readonly seed: number },
): SampledBatches {
  return sampleBatches(tokenizeDocuments(tokenizer, texts), options);
}

/**
 * Every token of every validation document exactly once, as a list of batches (see
 * `sequentialBatches`): bits per byte over them covers each document's bytes and EOS once.
 *
 * @example
 * ```ts
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * import { bpeValidationBatches } from "./bpe_data.ts";
 * const tok = trainBpe(["a b c"], { vocabSize: 258 });
 * const batches = bpeValidationBatches(tok, ["a b", "c"], { window: 3, batchSize: 4 });
 * console.log(batches.reduce((n, b) => n + b.targets, 0)); // 6 (4 + 2 tokens incl. EOS)
 * ```
 */
export function bpeValidationBatches(
  tokenizer: BpeTokenizer,
  texts: readonly string[],
  options: WindowOptions,
): WindowBatch[] {
  const source = sequentialBatches(tokenizeDocuments(tokenizer, texts), options);
  return [...source.batches()].map(({ batch }) => batch);
}
