import assert from "node:assert/strict";
import {
  BOS_ID,
  decode,
  decodeBytes,
  encode,
  encodeBytes,
  EOS_ID,
  OFFSET,
  VOCAB_SIZE,
} from "../../lib/bytes/mod.ts";

const TOKENIZER_FIXTURE = new URL(
  "../../../shared/testdata/official/tokenizer_data.json",
  import.meta.url,
);

function readFixture(url: URL): string {
  try {
    return Deno.readTextFileSync(url);
  } catch {
    throw new Error(
      `missing fixture ${url.pathname}: the shared test data (../shared) must sit beside the checkout`,
    );
  }
}

Deno.test("encode matches the official BltTokenizer fixture", () => {
  const data = JSON.parse(readFixture(TOKENIZER_FIXTURE)) as {
    texts: string[];
    tokens: number[][];
  };
  assert.ok(data.texts.length > 0);
  data.texts.forEach((text, i) => {
    assert.deepEqual(encode(text), data.tokens[i]);
    assert.equal(decode(data.tokens[i]), text);
  });
});

Deno.test("encode: specials, options, empty text, multi-byte characters", () => {
  assert.deepEqual(encode(""), [BOS_ID, EOS_ID]);
  assert.deepEqual(encode("", { bos: false, eos: false }), []);
  assert.deepEqual(encode("A", { bos: false }), [65 + OFFSET, EOS_ID]);
  // "é" = C3 A9, "🙂" = F0 9F 99 82
  assert.deepEqual(
    encode("é🙂", { bos: false, eos: false }),
    [0xc3, 0xa9, 0xf0, 0x9f, 0x99, 0x82].map((b) => b + OFFSET),
  );
  // A lone surrogate is not encodable: TextEncoder gives U+FFFD (EF BF BD).
  assert.deepEqual(
    encode("\ud800", { bos: false, eos: false }),
    [0xef, 0xbf, 0xbd].map((b) => b + OFFSET),
  );
});

Deno.test("all 256 bytes round-trip through encodeBytes/decodeBytes within the 260-id vocabulary", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const ids = encodeBytes(bytes);
  assert.equal(ids.length, 258);
  assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < VOCAB_SIZE));
  assert.equal(Math.max(...ids), VOCAB_SIZE - 1);
  assert.deepEqual(decodeBytes(ids), bytes);
});

Deno.test("decode drops specials and shows invalid UTF-8 as U+FFFD without throwing", () => {
  assert.equal(decode([0, 1, 2, 3, 72 + OFFSET, 105 + OFFSET, 2]), "Hi");
  assert.equal(decode([0xc3 + OFFSET]), "\uFFFD");
  assert.equal(decode([0xff + OFFSET, 65 + OFFSET]), "\uFFFDA");
  assert.deepEqual(decodeBytes([1, 0xc3 + OFFSET, 2]), new Uint8Array([0xc3]));
  assert.equal(decode([]), "");
});

Deno.test("bad arguments throw errors that name the argument", () => {
  // deno-lint-ignore no-explicit-any
  const anyEncode = encode as (x: any) => number[];
  assert.throws(() => anyEncode(42), /'text' must be a string, found number/);
  assert.throws(() => anyEncode(new Uint8Array(2)), /'text' must be a string, found Uint8Array/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => encodeBytes("abc" as any), /'bytes' must be a Uint8Array, found string/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => encodeBytes([1, 2] as any), /'bytes' must be a Uint8Array, found an array/);
  assert.throws(() => decode([1, 260]), /ids\[1\] must be an integer in \[0, 260\), found 260/);
  assert.throws(() => decode([1.5]), /ids\[0\]/);
  assert.throws(() => decodeBytes([-1]), /ids\[0\]/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => decode("abc" as any), /'ids' must be an array of byte ids, found string/);
});
