/**
 * Bytes: the BLT byte codec (BOE=0, BOS=1, EOS=2, BPE=3, bytes + 4, vocabulary 260) and UTF-8
 * helpers for byte-level models and their plots.
 *
 * @example
 * ```ts
 * import { decode, encode, VOCAB_SIZE } from "./mod.ts";
 * const ids = encode("Bytes, not tokens"); // [1, 70, 125, …, 2]
 * decode(ids); // "Bytes, not tokens"
 * ids.every((id) => id < VOCAB_SIZE); // true
 * ```
 *
 * @module
 */

export {
  BOE_ID,
  BOS_ID,
  BPE_ID,
  decode,
  decodeBytes,
  encode,
  encodeBytes,
  type EncodeOptions,
  EOS_ID,
  OFFSET,
  VOCAB_SIZE,
} from "./codec.ts";
export {
  byteGlyph,
  byteGlyphs,
  charBoundaries,
  isContinuationByte,
  utf8SequenceLength,
} from "./utf8.ts";
