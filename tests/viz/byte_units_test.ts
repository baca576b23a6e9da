import assert from "node:assert/strict";
import { encode, encodeBytes } from "../../lib/bytes/mod.ts";
import { byteUnits } from "../../lib/viz/byte_units.ts";

const raw = (bytes: number[]) => encodeBytes(new Uint8Array(bytes), { bos: false, eos: false });
const show = (ids: number[], start = 0, end = ids.length) =>
  byteUnits(ids, start, end).map((u) => `${u.kind}:${u.text}:${u.length}`);

Deno.test("byteUnits keeps whole characters whole and shows specials by name", () => {
  assert.deepEqual(show(encode("a é中😀")), [
    "special:<bos>:1",
    "char:a:1",
    "char:␣:1",
    "char:é:2",
    "char:中:3",
    "char:😀:4",
    "special:<eos>:1",
  ]);
});

Deno.test("byteUnits shows a character cut by the span, and invalid UTF-8, as hex bytes", () => {
  const ids = raw([0x61, 0xe4, 0xb8, 0xad]); // "a中"
  assert.deepEqual(show(ids, 0, 3), ["char:a:1", "byte:xE4:1", "byte:xB8:1"]);
  assert.deepEqual(show(ids, 2, 4), ["byte:xB8:1", "byte:xAD:1"]);
  assert.deepEqual(show(raw([0xff, 0x41])), ["byte:xFF:1", "char:A:1"]);
  assert.deepEqual(show(raw([0xc0, 0xaf])), ["byte:xC0:1", "byte:xAF:1"]); // overlong "/"
  assert.deepEqual(show(raw([0xed, 0xa0, 0x80])), ["byte:xED:1", "byte:xA0:1", "byte:x80:1"]); // surrogate
  assert.deepEqual(show(raw([0xe4, 0x41, 0xad])), ["byte:xE4:1", "char:A:1", "byte:xAD:1"]);
});
