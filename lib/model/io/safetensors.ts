/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors), the
 * weight format of Hugging Face checkpoints: an 8-byte little-endian header length N, N bytes of
 * JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {k: string}}`, then the
 * raw little-endian tensor bytes, offsets relative to the start of that data buffer.
 *
 * Every entry is validated before any byte is decoded, so a corrupt file fails with a message
 * naming the file, the tensor and what was expected, never with a RangeError from a typed array.
 *
 * @module
 */
import { writeSynced } from "../../fs.ts";

/** Floating-point dtypes this project reads; F16 and BF16 are widened to F32 on read. */
export type FloatDtype = "F32" | "F16" | "BF16";

/** Integer dtypes {@link parseSafetensorsMixed} reads into an Int32Array (I64 only if it fits). */
export type IntDtype = "I64" | "I32" | "I16" | "I8" | "U16" | "U8" | "BOOL";

/**
 * A floating-point tensor read from safetensors; `data` is row-major F32 whatever the file dtype.
 *
 * @example
 * ```ts
 * import type { FloatTensor } from "./safetensors.ts";
 * const t: FloatTensor = { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) };
 * console.assert(t.data.length === t.shape[0]);
 * ```
 */
export interface FloatTensor {
  readonly dtype: FloatDtype;
  readonly shape: number[];
  readonly data: Float32Array;
}

/**
 * An integer tensor (ids, lengths, masks) read by {@link parseSafetensorsMixed}.
 *
 * @example
 * ```ts
 * import type { IntTensor } from "./safetensors.ts";
 * const t: IntTensor = { dtype: "I32", shape: [3], data: new Int32Array([1, 2, 3]) };
 * console.assert(t.data.length === t.shape[0]);
 * ```
 */
export interface IntTensor {
  readonly dtype: IntDtype;
  readonly shape: number[];
  readonly data: Int32Array;
}

/**
 * What {@link serializeSafetensors} writes: an F32 tensor, row-major.
 *
 * @example
 * ```ts
 * import type { TensorToWrite } from "./safetensors.ts";
 * const t: TensorToWrite = { shape: [1, 2], data: new Float32Array([0.5, -1]) };
 * console.assert(t.data.length === 2);
 * ```
 */
export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

/** One validated header entry; `begin`/`end` are absolute byte offsets into the file. */
interface RawEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

interface ParsedHeader {
  readonly entries: RawEntry[];
  readonly metadata: Record<string, string>;
}

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Validates the header and every entry's offsets; decodes nothing. */
function parseHeader(bytes: Uint8Array, source: string): ParsedHeader {
  if (!(bytes instanceof Uint8Array)) {
    throw new Error(
      `safetensors ${source}: expected a Uint8Array of file bytes, found ${typeof bytes}`,
    );
  }
  if (bytes.length < 8) {
    throw new Error(
      `safetensors ${source}: file is ${bytes.length} bytes, shorter than the 8-byte header length; ` +
        "is it a safetensors file, and was it fully written?",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(
      `safetensors ${source}: header length ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit; ` +
        "the file is corrupt or not safetensors",
    );
  }
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) {
    throw new Error(
      `safetensors ${source}: header length ${headerLen} needs ${
        8 + headerLen
      } bytes but the file ` +
        `has ${bytes.length}; the file is truncated or not safetensors`,
    );
  }
  let json: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `safetensors ${source}: header is not valid UTF-8 JSON (${(e as Error).message}); ` +
        "the file is corrupt or not safetensors",
    );
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new Error(
      `safetensors ${source}: header must be a JSON object, found ${JSON.stringify(json)}`,
    );
  }
  const dataStart = 8 + headerLen;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: RawEntry[] = [];
  for (const [name, info] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info)) {
        throw new Error(`safetensors ${source}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== "string") {
          throw new Error(
            `safetensors ${source}: __metadata__.${k} must be a string, found ${JSON.stringify(v)}`,
          );
        }
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, info, source, dataStart, dataLength));
  }
  // Overlapping tensors would alias each other's bytes: the spec forbids it.
  const byBegin = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < byBegin.length; i++) {
    const prev = byBegin[i - 1], cur = byBegin[i];
    if (cur.begin < prev.end) {
      throw new Error(
        `safetensors ${source}: tensor '${cur.name}' data_offsets [${cur.begin - dataStart}, ` +
          `${cur.end - dataStart}] overlap tensor '${prev.name}' [${prev.begin - dataStart}, ` +
          `${prev.end - dataStart}]; each tensor needs its own byte range`,
      );
    }
  }
  return { entries, metadata };
}

function parseEntry(
  name: string,
  info: unknown,
  source: string,
  dataStart: number,
  dataLength: number,
): RawEntry {
  const where = `safetensors ${source}: tensor '${name}'`;
  if (info === null || typeof info !== "object" || Array.isArray(info)) {
    throw new Error(
      `${where}: expected {dtype, shape, data_offsets}, found ${JSON.stringify(info)}`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
    throw new Error(
      `${where}: unknown dtype ${JSON.stringify(dtype)}; expected one of ${
        Object.keys(DTYPE_BYTES).join(", ")
      }`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw new Error(
      `${where}: shape must be an array of non-negative integers, found ${JSON.stringify(shape)}`,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) ||
    offsets[0] > offsets[1]
  ) {
    throw new Error(
      `${where}: data_offsets must be [begin, end] with 0 <= begin <= end, found ${
        JSON.stringify(offsets)
      }`,
    );
  }
  const [begin, end] = offsets as number[];
  if (end > dataLength) {
    throw new Error(
      `${where}: data_offsets [${begin}, ${end}] reach past the ${dataLength}-byte data buffer; ` +
        "the file is truncated or its header is wrong",
    );
  }
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  if (end - begin !== expected) {
    throw new Error(
      `${where}: shape ${
        JSON.stringify(shape)
      } × ${dtype} needs ${expected} bytes but data_offsets ` +
        `[${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end };
}

/** Copies the entry's bytes into a fresh, aligned buffer (file offsets need not be aligned). */
function entryBuffer(bytes: Uint8Array, e: RawEntry): ArrayBuffer {
  return bytes.slice(e.begin, e.end).buffer;
}

/** IEEE half → single, exact (subnormals, infinities and NaN included). */
function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decodeFloat(bytes: Uint8Array, e: RawEntry): Float32Array {
  const buf = entryBuffer(bytes, e);
  if (e.dtype === "F32") return new Float32Array(buf);
  const halves = new Uint16Array(buf);
  const out = new Float32Array(halves.length);
  if (e.dtype === "BF16") {
    // bfloat16 is the top half of an f32: shifting its bits up is exact.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
  } else {
    for (let i = 0; i < halves.length; i++) out[i] = f16ToF32(halves[i]);
  }
  return out;
}

function decodeInt(bytes: Uint8Array, e: RawEntry, source: string): Int32Array {
  const buf = entryBuffer(bytes, e);
  switch (e.dtype) {
    case "I32":
      return new Int32Array(buf);
    case "I16":
      return Int32Array.from(new Int16Array(buf));
    case "U16":
      return Int32Array.from(new Uint16Array(buf));
    case "I8":
      return Int32Array.from(new Int8Array(buf));
    default: {
      if (e.dtype !== "I64") return Int32Array.from(new Uint8Array(buf)); // U8, BOOL
      const wide = new BigInt64Array(buf);
      const out = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) {
        const v = wide[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new Error(
            `safetensors ${source}: tensor '${e.name}' (I64) element ${i} = ${v} does not fit in ` +
              "int32; this reader keeps integer tensors as Int32Array",
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
}

const FLOAT_DTYPES: readonly string[] = ["F32", "F16", "BF16"];
const INT_DTYPES: readonly string[] = ["I64", "I32", "I16", "I8", "U16", "U8", "BOOL"];

/**
 * Parses safetensors bytes into float tensors (F16/BF16 widened to F32). Any other dtype throws,
 * naming `source`, the tensor and its dtype; use {@link parseSafetensorsMixed} for files that also
 * hold integer tensors.
 *
 * @example
 * ```ts
 * import { parseSafetensors, serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors(new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]));
 * const w = parseSafetensors(bytes).get("w")!;
 * console.assert(w.dtype === "F32" && w.data[1] === 2);
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source = "<bytes>"): Map<string, FloatTensor> {
  const { entries } = parseHeader(bytes, source);
  const out = new Map<string, FloatTensor>();
  for (const e of entries) {
    if (!FLOAT_DTYPES.includes(e.dtype)) {
      throw new Error(
        `safetensors ${source}: tensor '${e.name}' has dtype ${e.dtype}; parseSafetensors reads ` +
          "F32, F16 and BF16 only (use parseSafetensorsMixed for integer tensors)",
      );
    }
    out.set(e.name, { dtype: e.dtype as FloatDtype, shape: e.shape, data: decodeFloat(bytes, e) });
  }
  return out;
}

/**
 * Parses safetensors bytes holding float and integer tensors (e.g. a forward-pass dump with
 * `input_ids` beside activations). Narrow on `dtype` or `data instanceof Float32Array`.
 * Other dtypes (F64, U32, U64, F8) throw, naming `source`, the tensor and its dtype.
 *
 * @example
 * ```ts
 * import { parseSafetensorsMixed, serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors(new Map([["x", { shape: [1], data: new Float32Array([3]) }]]));
 * const x = parseSafetensorsMixed(bytes).get("x")!;
 * console.assert(x.data instanceof Float32Array && x.data[0] === 3);
 * ```
 */
export function parseSafetensorsMixed(
  bytes: Uint8Array,
  source = "<bytes>",
): Map<string, FloatTensor | IntTensor> {
  const { entries } = parseHeader(bytes, source);
  const out = new Map<string, FloatTensor | IntTensor>();
  for (const e of entries) {
    if (FLOAT_DTYPES.includes(e.dtype)) {
      out.set(e.name, {
        dtype: e.dtype as FloatDtype,
        shape: e.shape,
        data: decodeFloat(bytes, e),
      });
    } else if (INT_DTYPES.includes(e.dtype)) {
      out.set(e.name, {
        dtype: e.dtype as IntDtype,
        shape: e.shape,
        data: decodeInt(bytes, e, source),
      });
    } else {
      throw new Error(
        `safetensors ${source}: tensor '${e.name}' has dtype ${e.dtype}; supported are ` +
          `${[...FLOAT_DTYPES, ...INT_DTYPES].join(", ")}`,
      );
    }
  }
  return out;
}

/**
 * The header's `__metadata__` string map (`{}` if absent), after validating the whole header.
 *
 * @example
 * ```ts
 * import { parseSafetensorsMetadata, serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors(new Map(), { format: "pt" });
 * console.assert(parseSafetensorsMetadata(bytes).format === "pt");
 * ```
 */
export function parseSafetensorsMetadata(
  bytes: Uint8Array,
  source = "<bytes>",
): Record<string, string> {
  return parseHeader(bytes, source).metadata;
}

/**
 * Serializes F32 tensors to safetensors bytes: names sorted, data laid out in that order, the
 * JSON header padded with spaces to a multiple of 8 bytes as the spec asks (so tensor data is
 * aligned for zero-copy readers).
 *
 * @example
 * ```ts
 * import { serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors(
 *   new Map([["b", { shape: [2, 1], data: new Float32Array([1, 2]) }]]),
 *   { format: "pt" },
 * );
 * console.assert(bytes.length === 8 + 80 + 8); // 80 header bytes after padding, 8 data bytes
 * ```
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, TensorToWrite>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(
          `serializeSafetensors: metadata '${k}' must be a string, found ${typeof v}`,
        );
      }
    }
    header.__metadata__ = { ...metadata };
  }
  const names = [...tensors.keys()].sort();
  let offset = 0;
  for (const name of names) {
    const { shape, data } = tensors.get(name)!;
    if (name === "__metadata__") {
      throw new Error("serializeSafetensors: '__metadata__' is reserved and cannot name a tensor");
    }
    if (!(data instanceof Float32Array)) {
      throw new Error(`serializeSafetensors: tensor '${name}' data must be a Float32Array`);
    }
    if (!Array.isArray(shape) || !shape.every(isIndex)) {
      throw new Error(
        `serializeSafetensors: tensor '${name}' shape must be non-negative integers, found ${
          JSON.stringify(shape)
        }`,
      );
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new Error(
        `serializeSafetensors: tensor '${name}' shape ${
          JSON.stringify(shape)
        } has ${size} elements ` +
          `but data has ${data.length}`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: [...shape],
      data_offsets: [offset, offset + data.byteLength],
    };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const name of names) {
    const { data } = tensors.get(name)!;
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

async function readBytes(path: string | URL): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(
      `safetensors: cannot read file ${path} (${(e as Error).message}); check the path`,
    );
  }
}

/**
 * Reads a safetensors file of float tensors (see {@link parseSafetensors}).
 *
 * @example
 * ```ts
 * import { readSafetensorsFile, writeSafetensorsFile } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensorsFile(path, new Map([["w", { shape: [1], data: new Float32Array([7]) }]]));
 * console.assert((await readSafetensorsFile(path)).get("w")!.data[0] === 7);
 * await Deno.remove(path);
 * ```
 */
export async function readSafetensorsFile(path: string | URL): Promise<Map<string, FloatTensor>> {
  return parseSafetensors(await readBytes(path), String(path));
}

/**
 * Reads a safetensors file that may hold integer tensors too (see {@link parseSafetensorsMixed}).
 *
 * @example
 * ```ts
 * import { readSafetensorsFileMixed, writeSafetensorsFile } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensorsFile(path, new Map([["w", { shape: [1], data: new Float32Array([7]) }]]));
 * console.assert((await readSafetensorsFileMixed(path)).get("w")!.dtype === "F32");
 * await Deno.remove(path);
 * ```
 */
export async function readSafetensorsFileMixed(
  path: string | URL,
): Promise<Map<string, FloatTensor | IntTensor>> {
  return parseSafetensorsMixed(await readBytes(path), String(path));
}

/**
 * Writes tensors as a safetensors file atomically: the bytes go to a temporary file in the same
 * directory, are fsynced, then renamed over `path`, so a crash mid-write never leaves a torn
 * checkpoint (readers see the old file or the new one).
 *
 * @example
 * ```ts
 * import { writeSafetensorsFile } from "./safetensors.ts";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await writeSafetensorsFile(path, new Map([["w", { shape: [1], data: new Float32Array([7]) }]]));
 * await Deno.remove(path);
 * ```
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: ReadonlyMap<string, TensorToWrite>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const bytes = serializeSafetensors(tensors, metadata);
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const base = path.slice(slash + 1);
  const tmp = `${dir}.${base}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeSynced(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`writeSafetensorsFile: cannot write ${path} (${(e as Error).message})`);
  }
}
