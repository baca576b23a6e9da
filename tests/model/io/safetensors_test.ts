import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import {
  parseSafetensors,
  parseSafetensorsMetadata,
  parseSafetensorsMixed,
  readSafetensorsFile,
  readSafetensorsFileMixed,
  serializeSafetensors,
  type TensorToWrite,
  writeSafetensorsFile,
} from "../../../lib/model/io/safetensors.ts";

const FIXTURE = new URL("../../../../shared/testdata/hf-blt-tiny/", import.meta.url);

async function fixtureBytes(name: string): Promise<Uint8Array> {
  const url = new URL(name, FIXTURE);
  try {
    return await Deno.readFile(url);
  } catch (e) {
    throw new Error(`missing HF fixture ${url.pathname}: ${(e as Error).message}`);
  }
}

/** Builds a safetensors file by hand from a header object and a data buffer. */
function build(header: unknown, data: Uint8Array, headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

Deno.test("reads the HF tiny model: 90 F32 tensors with HF names and shapes", async () => {
  const bytes = await fixtureBytes("model.safetensors");
  const t = parseSafetensors(bytes, "model.safetensors");
  equal(t.size, 90);
  const lm = t.get("lm_head.weight")!;
  deepEqual(lm.shape, [260, 64]);
  equal(lm.dtype, "F32");
  equal(lm.data.length, 260 * 64);
  deepEqual(t.get("model.encoder_hash_tok_embedding.weight")!.shape, [6054, 64]);
  deepEqual(parseSafetensorsMetadata(bytes), { format: "pt" });
  // First weight read independently from the raw bytes.
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  equal(lm.data[0], new DataView(bytes.buffer).getFloat32(8 + n, true));
  ok(lm.data.every(Number.isFinite));
});

Deno.test("intermediates: floats via parseSafetensors error on I32, mixed reads both", async () => {
  const bytes = await fixtureBytes("intermediates.safetensors");
  throws(
    () => parseSafetensors(bytes, "intermediates.safetensors"),
    /intermediates\.safetensors: tensor 'case0\.input_ids' has dtype I32/,
  );
  const t = await readSafetensorsFileMixed(new URL("intermediates.safetensors", FIXTURE));
  equal(t.size, 20);
  const ids = t.get("case0.input_ids")!;
  equal(ids.dtype, "I32");
  ok(ids.data instanceof Int32Array);
  const summary = JSON.parse(await Deno.readTextFile(new URL("summary.json", FIXTURE)));
  deepEqual(Array.from(ids.data), summary.cases[0].input_ids);
  deepEqual(Array.from(t.get("case1.patch_lengths")!.data), summary.cases[1].patch_lengths);
  const logits = t.get("case0.logits")!;
  deepEqual(logits.shape, [80, 260]);
  const head = summary.cases[0].logits_first_row_head as number[];
  head.forEach((v, i) => equal(logits.data[i], Math.fround(v)));
});

Deno.test("round trip: model file re-serialized parses to identical tensors", async () => {
  const original = parseSafetensors(await fixtureBytes("model.safetensors"));
  const bytes = serializeSafetensors(original, { format: "pt" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  equal(n % 8, 0, "header padded to 8 bytes");
  const again = parseSafetensors(bytes);
  deepEqual([...again.keys()], [...original.keys()].sort());
  for (const [name, t] of original) {
    deepEqual(again.get(name)!.shape, t.shape);
    deepEqual(again.get(name)!.data, t.data);
  }
});

Deno.test("serialize sorts names, keeps metadata, handles scalars and empty tensors", () => {
  const tensors = new Map<string, TensorToWrite>([
    ["z", { shape: [2, 2], data: new Float32Array([1, -2, 3.5, NaN]) }],
    ["a", { shape: [], data: new Float32Array([42]) }],
    ["e", { shape: [0, 3], data: new Float32Array(0) }],
  ]);
  const bytes = serializeSafetensors(tensors, { step: "7" });
  const t = parseSafetensors(bytes);
  deepEqual([...t.keys()], ["a", "e", "z"]);
  deepEqual(t.get("a")!.shape, []);
  deepEqual(Array.from(t.get("a")!.data), [42]);
  equal(t.get("e")!.data.length, 0);
  deepEqual(Array.from(t.get("z")!.data), [1, -2, 3.5, NaN]);
  deepEqual(parseSafetensorsMetadata(bytes), { step: "7" });
  throws(
    () => serializeSafetensors(new Map([["w", { shape: [3], data: new Float32Array(2) }]])),
    /'w' shape \[3\] has 3 elements but data has 2/,
  );
});

Deno.test("parses from a view at an odd offset of a larger buffer", () => {
  const bytes = serializeSafetensors(
    new Map([["w", { shape: [3], data: new Float32Array([1.5, -2, 3]) }]]),
  );
  const big = new Uint8Array(bytes.length + 5);
  big.set(bytes, 3);
  const t = parseSafetensors(big.subarray(3, 3 + bytes.length));
  deepEqual(Array.from(t.get("w")!.data), [1.5, -2, 3]);
});

Deno.test("F16 and BF16 are widened to F32 exactly", () => {
  // F16: 1.0, -2.0, 65504 (max), 2^-24 (smallest subnormal), +inf, NaN
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x7e00]);
  // BF16: top halves of f32 1.0, -0.5, 3.140625
  const bf16 = new Uint16Array([0x3f80, 0xbf00, 0x4049]);
  const data = new Uint8Array(f16.byteLength + bf16.byteLength);
  data.set(new Uint8Array(f16.buffer), 0);
  data.set(new Uint8Array(bf16.buffer), f16.byteLength);
  const bytes = build({
    h: { dtype: "F16", shape: [6], data_offsets: [0, 12] },
    b: { dtype: "BF16", shape: [3], data_offsets: [12, 18] },
  }, data);
  const t = parseSafetensors(bytes);
  deepEqual(Array.from(t.get("h")!.data), [1, -2, 65504, 2 ** -24, Infinity, NaN]);
  deepEqual(Array.from(t.get("b")!.data), [1, -0.5, 3.140625]);
  equal(t.get("h")!.dtype, "F16");
});

Deno.test("corrupt inputs fail with messages naming file, tensor, expected vs found", () => {
  const f32 = (k: number) => new Uint8Array(new Float32Array(k).buffer);
  const src = "bad.safetensors";
  throws(() => parseSafetensors(new Uint8Array(3), src), /bad\.safetensors: file is 3 bytes/);
  throws(
    () => parseSafetensors(build({}, f32(0), 1e9), src),
    /header length 1000000000 bytes exceeds/,
  );
  throws(() => parseSafetensors(build({}, f32(0), 500), src), /header length 500 needs 508 bytes/);
  const notJson = build({}, f32(0));
  notJson[8] = 0x7a;
  throws(() => parseSafetensors(notJson, src), /header is not valid UTF-8 JSON/);
  throws(() => parseSafetensors(build([1, 2], f32(0)), src), /header must be a JSON object/);
  throws(
    () =>
      parseSafetensors(
        build({ w: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, f32(3)),
        src,
      ),
    /bad\.safetensors: tensor 'w': data_offsets \[0, 16\] reach past the 12-byte data buffer/,
  );
  throws(
    () =>
      parseSafetensors(
        build({ w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 12] } }, f32(3)),
        src,
      ),
    /tensor 'w': shape \[2,2\] × F32 needs 16 bytes but data_offsets \[0, 12\] hold 12/,
  );
  throws(
    () =>
      parseSafetensors(
        build({
          a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
        }, f32(3)),
        src,
      ),
    /tensor 'b' data_offsets \[4, 12\] overlap tensor 'a' \[0, 8\]/,
  );
  throws(
    () =>
      parseSafetensors(
        build({ w: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }, f32(1)),
        src,
      ),
    /tensor 'w': unknown dtype "Q4"/,
  );
  throws(
    () =>
      parseSafetensors(
        build({ w: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, f32(1)),
        src,
      ),
    /tensor 'w': data_offsets must be \[begin, end\]/,
  );
  throws(
    () =>
      parseSafetensors(
        build({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, f32(1)),
        src,
      ),
    /tensor 'w': shape must be an array of non-negative integers/,
  );
  throws(
    () =>
      parseSafetensors(
        build({ w: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, f32(2)),
        src,
      ),
    /tensor 'w' has dtype F64; parseSafetensors reads F32, F16 and BF16 only/,
  );
  throws(
    () => parseSafetensorsMetadata(build({ __metadata__: { a: 1 } }, f32(0)), src),
    /__metadata__\.a must be a string/,
  );
  // Truncating a real serialized file is caught before any decoding.
  const good = serializeSafetensors(new Map([["w", { shape: [8], data: new Float32Array(8) }]]));
  throws(
    () => parseSafetensors(good.subarray(0, good.length - 1), src),
    /reach past the 31-byte data buffer/,
  );
});

Deno.test("I64 tensors read as Int32Array when they fit, else a clear error", () => {
  const ok64 = new BigInt64Array([5n, -3n]);
  const t = parseSafetensorsMixed(
    build({ i: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, new Uint8Array(ok64.buffer)),
  );
  deepEqual(Array.from(t.get("i")!.data), [5, -3]);
  const big = new BigInt64Array([1n << 40n]);
  throws(
    () =>
      parseSafetensorsMixed(
        build(
          { i: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
          new Uint8Array(big.buffer),
        ),
        "ids.safetensors",
      ),
    /ids\.safetensors: tensor 'i' \(I64\) element 0 = 1099511627776 does not fit in int32/,
  );
});

Deno.test("writeSafetensorsFile writes atomically and leaves no temp files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/w.safetensors`;
    await writeSafetensorsFile(
      path,
      new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]),
    );
    await writeSafetensorsFile(
      path,
      new Map([["w", { shape: [1], data: new Float32Array([9]) }]]),
      {
        v: "2",
      },
    );
    const t = await readSafetensorsFile(path);
    deepEqual(Array.from(t.get("w")!.data), [9]);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    deepEqual(names, ["w.safetensors"]);
    await rejects(
      () => writeSafetensorsFile(`${dir}/missing/x.safetensors`, new Map()),
      (e: Error) => {
        match(e.message, /cannot write .*missing\/x\.safetensors/);
        return true;
      },
    );
    await rejects(() => readSafetensorsFile(`${dir}/nope.safetensors`), /cannot read file .*nope/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
