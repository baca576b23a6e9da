/**
 * Tokenizers for the token baselines: byte-level BPE trained in TypeScript, stored as Hugging Face
 * `tokenizer.json`.
 *
 * @example
 * ```ts
 * import { trainBpe } from "./mod.ts";
 * const tok = trainBpe(["the cat sat on the mat"], { vocabSize: 262 });
 * console.log(tok.decode(tok.encode("the mat"))); // "the mat"
 * ```
 * @module
 */
export { BpeTokenizer, trainBpe } from "./bpe.ts";
export type { BpeTrainOptions } from "./bpe.ts";
export {
  BYTE_TO_CHAR,
  CHAR_TO_BYTE,
  fromByteChars,
  preTokenize,
  toByteChars,
} from "./byte_level.ts";
export {
  fromTokenizerJson,
  loadTokenizer,
  saveTokenizer,
  toTokenizerJson,
} from "./tokenizer_json.ts";
