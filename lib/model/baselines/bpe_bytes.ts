/**
 * BPE over arbitrary bytes: the tokenizer works on text, but a byte baseline's inputs (noised
 * text, binary-ish data, truncated UTF-8) need not be valid UTF-8. Valid stretches are encoded
 * as text; every byte of an invalid sequence becomes its own byte token (byte-level BPE has one
 * for each of the 256 values), so decoding the ids' bytes gives back the input exactly.
 *
 * @module
 */
import { type BpeTokenizer, BYTE_TO_CHAR } from "../../tokenizers/mod.ts";

/** Length of the valid UTF-8 sequence starting at `i` (WHATWG rules), or 0 when invalid. */
function validSequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  if (b < 0x80) return 1;
  let n: number, lo = 0x80, hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) n = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b === 0xe0) lo = 0xa0; // no overlong forms
    if (b === 0xed) hi = 0x9f; // no surrogates
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b === 0xf0) lo = 0x90;
    if (b === 0xf4) hi = 0x8f; // nothing above U+10FFFF
  } else return 0;
  if (i + n > bytes.length) return 0;
  for (let k = 1; k < n; k++) {
    const c = bytes[i + k];
    if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return 0;
  }
  return n;
}

/**
 * Token ids of raw bytes (no specials added); any byte string round-trips through
 * {@link decodeBpeBytes}.
 *
 * @example
 * ```ts
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * import { decodeBpeBytes, encodeBpeBytes } from "./bpe_bytes.ts";
 * const tok = trainBpe(["hello hello"], { vocabSize: 262 });
 * const bytes = new Uint8Array([104, 101, 0xff, 108, 0xc3]); // "he", invalid, "l", truncated
 * console.log(decodeBpeBytes(tok, encodeBpeBytes(tok, bytes))); // Uint8Array(5) [104, 101, 255, 108, 195]
 * ```
 */
export function encodeBpeBytes(tokenizer: BpeTokenizer, bytes: Uint8Array): number[] {
  if (!(bytes instanceof Uint8Array)) {
    throw new Error(`encodeBpeBytes: 'bytes' must be a Uint8Array, found ${typeof bytes}`);
  }
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const out: number[] = [];
  let runStart = 0;
  const flush = (end: number) => {
    if (end > runStart) {
      out.push(...tokenizer.encode(decoder.decode(bytes.subarray(runStart, end))));
    }
  };
  for (let i = 0; i < bytes.length;) {
    const n = validSequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    flush(i);
    out.push(tokenizer.vocab.get(BYTE_TO_CHAR[bytes[i]])!);
    runStart = ++i;
  }
  flush(bytes.length);
  return out;
}

/**
 * The bytes that token ids stand for (specials contribute none).
 *
 * @example
 * ```ts
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * import { decodeBpeBytes } from "./bpe_bytes.ts";
 * const tok = trainBpe(["ab"], { vocabSize: 258 });
 * console.log(decodeBpeBytes(tok, [0, 99, 1])); // Uint8Array(1) [97] (BOS, "a", EOS)
 * ```
 */
export function decodeBpeBytes(tokenizer: BpeTokenizer, ids: readonly number[]): Uint8Array {
  const parts = ids.map((id) => tokenizer.tokenBytes(id));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
