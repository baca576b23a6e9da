/**
 * What a reader should see for the bytes of a patch. Patches are byte spans, so a patch may end
 * inside a multi-byte UTF-8 character, and a byte model may be shown invalid UTF-8: a character
 * is shown whole only when all its bytes lie in the same patch and decode strictly; every other
 * byte is shown as hex (`xE6`), never silently dropped.
 *
 * @module
 */
import {
  BOE_ID,
  BOS_ID,
  BPE_ID,
  byteGlyph,
  EOS_ID,
  isContinuationByte,
  OFFSET,
  utf8SequenceLength,
} from "../bytes/mod.ts";

/** Display names of the special ids, as the viz figures show them. */
export const SPECIAL_LABELS: Readonly<Record<number, string>> = Object.freeze({
  [BOE_ID]: "<boe>",
  [BOS_ID]: "<bos>",
  [EOS_ID]: "<eos>",
  [BPE_ID]: "<bpe>",
});

/** One visible unit: a whole character, a stray byte in hex, or a special id. */
export interface ByteUnit {
  /** What to show: the character (`␣` for space, control pictures), `xE6`, or `<bos>`. */
  readonly text: string;
  readonly kind: "char" | "byte" | "special";
  /** Position of the unit's first id in the sequence. */
  readonly start: number;
  /** How many ids (bytes) the unit covers. */
  readonly length: number;
}

const strict = new TextDecoder("utf-8", { fatal: true });

/**
 * Splits `ids[start, end)` into display units without looking outside the span.
 *
 * @example
 * ```ts
 * import { encode } from "../bytes/mod.ts";
 * import { byteUnits } from "./byte_units.ts";
 * const ids = encode("a中", { bos: false, eos: false }); // 1 + 3 bytes
 * byteUnits(ids, 0, 4).map((u) => u.text); // ["a", "中"]
 * byteUnits(ids, 0, 3).map((u) => u.text); // ["a", "xE4", "xB8"] (the patch cuts the character)
 * ```
 */
export function byteUnits(ids: ArrayLike<number>, start: number, end: number): ByteUnit[] {
  const units: ByteUnit[] = [];
  let i = start;
  while (i < end) {
    const id = ids[i];
    if (id < OFFSET) {
      units.push({ text: SPECIAL_LABELS[id], kind: "special", start: i, length: 1 });
      i++;
      continue;
    }
    const n = utf8SequenceLength(id - OFFSET);
    const text = n >= 1 && i + n <= end ? decodeWhole(ids, i, n) : null;
    if (text === null) {
      units.push({ text: byteGlyph(id), kind: n === 1 ? "char" : "byte", start: i, length: 1 });
      i++;
    } else {
      units.push({ text, kind: "char", start: i, length: n });
      i += n;
    }
  }
  return units;
}

/** The character encoded by ids[i, i+n), or null if those bytes are not one valid character. */
function decodeWhole(ids: ArrayLike<number>, i: number, n: number): string | null {
  if (n === 1) return byteGlyph(ids[i]);
  const bytes = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const b = ids[i + k] - OFFSET;
    if (b < 0 || (k > 0 && !isContinuationByte(b))) return null;
    bytes[k] = b;
  }
  try {
    return strict.decode(bytes); // rejects overlong forms and surrogates
  } catch {
    return null;
  }
}
