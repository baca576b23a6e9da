import assert from "node:assert/strict";
import {
  byteGlyph,
  byteGlyphs,
  charBoundaries,
  encode,
  encodeBytes,
  isContinuationByte,
  utf8SequenceLength,
} from "../../lib/bytes/mod.ts";

Deno.test("continuation bytes are exactly 0x80–0xBF", () => {
  for (let b = 0; b < 256; b++) {
    assert.equal(isContinuationByte(b), b >= 0x80 && b <= 0xbf, `byte ${b}`);
  }
});

Deno.test("charBoundaries agree with the characters of the string", () => {
  const text = "aé日本🙂z";
  const bytes = new TextEncoder().encode(text);
  const starts = charBoundaries(bytes);
  const chars = [...text];
  assert.equal(starts.length, chars.length);
  starts.forEach((s, i) => {
    const end = i + 1 < starts.length ? starts[i + 1] : bytes.length;
    assert.equal(end - s, utf8SequenceLength(bytes[s]));
    assert.equal(new TextDecoder().decode(bytes.subarray(s, end)), chars[i]);
  });
});

Deno.test("utf8SequenceLength by lead byte", () => {
  assert.deepEqual([0x41, 0x80, 0xc3, 0xe6, 0xf0, 0xf8, 0xff].map(utf8SequenceLength), [
    1,
    0,
    2,
    3,
    4,
    0,
    0,
  ]);
});

Deno.test("byteGlyph labels specials, space, controls, ASCII and high bytes", () => {
  const g = (b: number) => byteGlyph(b + 4);
  assert.deepEqual([0, 1, 2, 3].map(byteGlyph), ["<boe>", "<s>", "</s>", "<bpe>"]);
  assert.deepEqual([0x20, 0x0a, 0x00, 0x7f, 0x41, 0xc3, 0xff].map(g), [
    "␣",
    "␊",
    "␀",
    "␡",
    "A",
    "xC3",
    "xFF",
  ]);
  assert.throws(() => byteGlyph(260), /'id' must be an integer in \[0, 260\)/);
});

Deno.test("byteGlyphs shows a whole character once and keeps hex for broken sequences", () => {
  assert.deepEqual(byteGlyphs(encode("日🙂 a")), [
    "<s>",
    "日",
    "·",
    "·",
    "🙂",
    "·",
    "·",
    "·",
    "␣",
    "a",
    "</s>",
  ]);
  // C3 followed by "A" is broken; a truncated 3-byte sequence at the end too.
  assert.deepEqual(
    byteGlyphs(encodeBytes(new Uint8Array([0xc3, 0x41, 0xe6, 0x97]), { bos: false, eos: false })),
    [
      "xC3",
      "A",
      "xE6",
      "x97",
    ],
  );
  // Overlong encoding of "/" (C0 AF) is not a character.
  assert.deepEqual(
    byteGlyphs(encodeBytes(new Uint8Array([0xc0, 0xaf]), { bos: false, eos: false })),
    ["xC0", "xAF"],
  );
});
