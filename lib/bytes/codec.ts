/**
 * The BLT byte codec: text ⇄ byte ids. Four special ids come first and every UTF-8 byte `b`
 * becomes id `b + 4`, so the vocabulary has 256 + 4 = 260 entries (paper §2, as in the official
 * `BltTokenizer` of facebookresearch/blt).
 *
 * @module
 */

/** Beginning-of-example id (reserved by the official tokenizer, unused by plain byte encoding). */
export const BOE_ID = 0;
/** Beginning-of-sequence id, put before the bytes by {@link encode}. */
export const BOS_ID = 1;
/** End-of-sequence id, put after the bytes by {@link encode}. */
export const EOS_ID = 2;
/** BPE delimiter id (used only by the official BPE-delimited variant). */
export const BPE_ID = 3;
/** Offset added to every raw byte: byte `b` has id `b + OFFSET`. */
export const OFFSET = 4;
/** Size of the byte vocabulary: 4 specials + 256 bytes. */
export const VOCAB_SIZE = 260;

/** Whether {@link encode} / {@link encodeBytes} wrap the bytes in BOS … EOS (both default to true). */
export interface EncodeOptions {
  readonly bos?: boolean;
  readonly eos?: boolean;
}

const utf8Encoder = new TextEncoder();
// fatal: false → invalid UTF-8 decodes to U+FFFD instead of throwing (a model may emit any bytes).
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

/**
 * Encodes text as byte ids: UTF-8 bytes + {@link OFFSET}, with BOS first and EOS last by default.
 * Lone UTF-16 surrogates become U+FFFD (TextEncoder's rule), never an error.
 *
 * @example
 * ```ts
 * import { encode } from "./mod.ts";
 * encode("hi"); // [1, 108, 109, 2]
 * encode("", { bos: true, eos: true }); // [1, 2]
 * ```
 */
export function encode(text: string, options: EncodeOptions = {}): number[] {
  if (typeof text !== "string") {
    throw new Error(
      `encode: argument 'text' must be a string, found ${describe(text)}; ` +
        "use encodeBytes() for a Uint8Array",
    );
  }
  return encodeBytes(utf8Encoder.encode(text), options);
}

/**
 * Encodes raw bytes (any bytes, valid UTF-8 or not) as byte ids, with BOS/EOS by default.
 *
 * @example
 * ```ts
 * import { encodeBytes } from "./mod.ts";
 * encodeBytes(new Uint8Array([0xff, 0x41]), { eos: false }); // [1, 259, 69]
 * ```
 */
export function encodeBytes(bytes: Uint8Array, options: EncodeOptions = {}): number[] {
  if (!(bytes instanceof Uint8Array)) {
    throw new Error(
      `encodeBytes: argument 'bytes' must be a Uint8Array, found ${describe(bytes)}; ` +
        "use encode() for a string",
    );
  }
  const { bos = true, eos = true } = options;
  const ids: number[] = [];
  if (bos) ids.push(BOS_ID);
  for (const b of bytes) ids.push(b + OFFSET);
  if (eos) ids.push(EOS_ID);
  return ids;
}

/**
 * Returns the raw bytes of byte ids, dropping the special ids (0–3).
 *
 * @example
 * ```ts
 * import { decodeBytes } from "./mod.ts";
 * decodeBytes([1, 199, 2]); // Uint8Array [195]
 * ```
 */
export function decodeBytes(ids: ArrayLike<number>): Uint8Array {
  checkIds(ids, "decodeBytes");
  let n = 0;
  for (let i = 0; i < ids.length; i++) if (ids[i] >= OFFSET) n++;
  const out = new Uint8Array(n);
  let j = 0;
  for (let i = 0; i < ids.length; i++) if (ids[i] >= OFFSET) out[j++] = ids[i] - OFFSET;
  return out;
}

/**
 * Decodes byte ids to text, dropping special ids. Never throws on invalid UTF-8: each bad byte
 * sequence shows as U+FFFD (use {@link decodeBytes} to keep the raw bytes).
 *
 * @example
 * ```ts
 * import { decode, encode } from "./mod.ts";
 * decode(encode("héllo")); // "héllo"
 * decode([1, 199]); // "\uFFFD" (a lone UTF-8 lead byte)
 * ```
 */
export function decode(ids: ArrayLike<number>): string {
  return utf8Decoder.decode(decodeBytes(ids));
}

function checkIds(ids: ArrayLike<number>, fn: string): void {
  if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
    throw new Error(
      `${fn}: argument 'ids' must be an array of byte ids, found ${describe(ids)}`,
    );
  }
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
      throw new Error(
        `${fn}: ids[${i}] must be an integer in [0, ${VOCAB_SIZE}), found ${String(id)}; ` +
          "byte ids come from encode() or a model over the 260-id byte vocabulary",
      );
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}
