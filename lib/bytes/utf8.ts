/**
 * UTF-8 helpers for byte-level models: which bytes continue a character, where characters
 * start, and short per-byte labels for entropy plots (one label per byte id).
 *
 * @module
 */

import { BOE_ID, BOS_ID, BPE_ID, EOS_ID, OFFSET, VOCAB_SIZE } from "./codec.ts";

/**
 * True for a UTF-8 continuation byte (0b10xx_xxxx), which never starts a character.
 *
 * @example
 * ```ts
 * import { isContinuationByte } from "./mod.ts";
 * isContinuationByte(0xa9); // true  (second byte of "é" = C3 A9)
 * isContinuationByte(0x41); // false ("A")
 * ```
 */
export function isContinuationByte(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * Number of bytes a UTF-8 sequence announces by its lead byte: 1–4, or 0 for a byte that cannot
 * lead (a continuation byte or one of the never-valid 0xF8–0xFF).
 *
 * @example
 * ```ts
 * import { utf8SequenceLength } from "./mod.ts";
 * utf8SequenceLength(0xe6); // 3 (a CJK character)
 * ```
 */
export function utf8SequenceLength(leadByte: number): number {
  if (leadByte < 0x80) return 1;
  if (leadByte < 0xc0) return 0;
  if (leadByte < 0xe0) return 2;
  if (leadByte < 0xf0) return 3;
  if (leadByte < 0xf8) return 4;
  return 0;
}

/**
 * Byte offsets at which a character starts: every byte that is not a continuation byte.
 * (An invalid stray lead byte still counts as a start, as a decoder shows it as one U+FFFD.)
 *
 * @example
 * ```ts
 * import { charBoundaries } from "./mod.ts";
 * charBoundaries(new TextEncoder().encode("aé😀")); // [0, 1, 3]
 * ```
 */
export function charBoundaries(bytes: Uint8Array): number[] {
  const starts: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (!isContinuationByte(bytes[i])) starts.push(i);
  return starts;
}

const SPECIAL_GLYPHS: Readonly<Record<number, string>> = {
  [BOE_ID]: "<boe>",
  [BOS_ID]: "<s>",
  [EOS_ID]: "</s>",
  [BPE_ID]: "<bpe>",
};

/**
 * Short label of one byte id for a plot axis: specials as `<s>`/`</s>`, space as `␣`, control
 * bytes as Unicode control pictures, printable ASCII as itself, other bytes as hex (`xC3`).
 *
 * @example
 * ```ts
 * import { byteGlyph } from "./mod.ts";
 * [byteGlyph(1), byteGlyph(36), byteGlyph(101), byteGlyph(199)]; // ["<s>", "␣", "a", "xC3"]
 * ```
 */
export function byteGlyph(id: number): string {
  if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
    throw new Error(
      `byteGlyph: argument 'id' must be an integer in [0, ${VOCAB_SIZE}), found ${id}`,
    );
  }
  if (id < OFFSET) return SPECIAL_GLYPHS[id];
  const b = id - OFFSET;
  if (b === 0x20) return "␣";
  if (b < 0x20) return String.fromCharCode(0x2400 + b); // ␀ … ␟
  if (b === 0x7f) return "␡";
  if (b < 0x80) return String.fromCharCode(b);
  return "x" + b.toString(16).toUpperCase().padStart(2, "0");
}

/**
 * One label per byte id, for entropy plots: a complete multi-byte character is shown on its lead
 * byte and its continuation bytes get `·`, so a reader sees "é" once; bytes of broken sequences
 * keep their hex label from {@link byteGlyph}.
 *
 * @example
 * ```ts
 * import { byteGlyphs, encode } from "./mod.ts";
 * byteGlyphs(encode("é!")); // ["<s>", "é", "·", "!", "</s>"]
 * ```
 */
export function byteGlyphs(ids: ArrayLike<number>): string[] {
  const labels: string[] = [];
  for (let i = 0; i < ids.length; i++) labels.push(byteGlyph(ids[i]));
  for (let i = 0; i < ids.length; i++) {
    const lead = ids[i] - OFFSET;
    const n = lead >= 0 ? utf8SequenceLength(lead) : 0;
    if (n < 2 || i + n > ids.length) continue;
    const bytes = new Uint8Array(n);
    bytes[0] = lead;
    let ok = true;
    for (let k = 1; k < n && ok; k++) {
      const b = ids[i + k] - OFFSET;
      ok = b >= 0 && isContinuationByte(b);
      bytes[k] = b;
    }
    if (!ok) continue;
    const text = glyphDecoder.decode(bytes);
    if (text.includes("\uFFFD")) continue;
    labels[i] = text;
    for (let k = 1; k < n; k++) labels[i + k] = "·";
    i += n - 1;
  }
  return labels;
}

// Non-fatal: a U+FFFD in its output marks an overlong or surrogate sequence, which keeps hex labels.
const glyphDecoder = new TextDecoder("utf-8");
