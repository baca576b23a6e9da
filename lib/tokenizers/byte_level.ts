/**
 * Byte-level pre-tokenization as GPT-2 and Hugging Face `tokenizers` do it: every byte maps to a
 * printable character (so a vocabulary can be stored as JSON strings), and text is first split
 * into word-like chunks that merges never cross.
 *
 * @module
 */

/**
 * The GPT-2 byte → character table: printable Latin-1 bytes map to themselves, the other 68 bytes
 * to U+0100 onwards, in byte order. `tokenizer.json` files store tokens in these characters.
 *
 * @example
 * ```ts
 * import { BYTE_TO_CHAR } from "./byte_level.ts";
 * console.log(BYTE_TO_CHAR[32]); // "Ġ" (the space byte)
 * ```
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return Object.freeze(table);
})();

/**
 * The inverse of {@link BYTE_TO_CHAR}.
 *
 * @example
 * ```ts
 * import { CHAR_TO_BYTE } from "./byte_level.ts";
 * console.log(CHAR_TO_BYTE.get("Ġ")); // 32
 * ```
 */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(
  BYTE_TO_CHAR.map((c, b) => [c, b]),
);

/** GPT-2's split pattern, as `tokenizers`' ByteLevel pre-tokenizer uses with `use_regex: true`. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Splits text into the chunks BPE merges stay inside (words with their leading space, numbers,
 * punctuation runs, whitespace).
 *
 * @example
 * ```ts
 * import { preTokenize } from "./byte_level.ts";
 * console.log(preTokenize("Hello, world!")); // ["Hello", ",", " world", "!"]
 * ```
 */
export function preTokenize(text: string): string[] {
  if (typeof text !== "string") {
    throw new Error(`preTokenize: 'text' must be a string, got ${typeof text}`);
  }
  return text.match(GPT2_SPLIT) ?? [];
}

const encoder = new TextEncoder();

/**
 * A chunk's UTF-8 bytes written in byte-level characters (the form vocab entries take).
 *
 * @example
 * ```ts
 * import { toByteChars } from "./byte_level.ts";
 * console.log(toByteChars(" é")); // "ĠÃ©"
 * ```
 */
export function toByteChars(chunk: string): string {
  let out = "";
  for (const b of encoder.encode(chunk)) out += BYTE_TO_CHAR[b];
  return out;
}

/**
 * The raw bytes behind a byte-level string; throws when a character is not in the table.
 *
 * @example
 * ```ts
 * import { fromByteChars } from "./byte_level.ts";
 * console.log(fromByteChars("Ġhi")); // Uint8Array [32, 104, 105]
 * ```
 */
export function fromByteChars(token: string): Uint8Array {
  const chars = [...token];
  const out = new Uint8Array(chars.length);
  chars.forEach((c, i) => {
    const b = CHAR_TO_BYTE.get(c);
    if (b === undefined) {
      throw new Error(
        `fromByteChars: character U+${
          c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")
        } in token '${token}' is not a byte-level character`,
      );
    }
    out[i] = b;
  });
  return out;
}
