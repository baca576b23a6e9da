import assert from "node:assert/strict";
import { fromTokenizerJson, toTokenizerJson, trainBpe } from "../../lib/tokenizers/mod.ts";

const corpus = [
  "the quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.",
  "Ünïcödé text, 日本語のテキスト, and emoji 🙂🙂 must round-trip.",
  "the the the then there these those",
];

Deno.test("trainBpe: learns merges up to vocabSize and round-trips any text", () => {
  const tok = trainBpe(corpus, { vocabSize: 300 });
  assert.ok(tok.vocabSize <= 300 && tok.vocabSize > 258);
  for (const text of [...corpus, "", "unseen wörds ✓", "\u0000nul and \t tabs\n"]) {
    assert.equal(tok.decode(tok.encode(text)), text);
  }
});

Deno.test("trainBpe: the most frequent pair merges first and shortens frequent words", () => {
  const tok = trainBpe(corpus, { vocabSize: 270 });
  assert.deepEqual(tok.merges[0], ["t", "h"]); // "th" (in the, then, there…) is the commonest pair
  assert.ok(tok.encode(" the").length < 4);
});

Deno.test("BpeTokenizer: token bytes sum to the text's UTF-8 length (bits-per-byte accounting)", () => {
  const tok = trainBpe(corpus, { vocabSize: 300 });
  const text = corpus[1];
  const n = tok.encode(text).reduce((s, id) => s + tok.tokenBytes(id).length, 0);
  assert.equal(n, new TextEncoder().encode(text).length);
  assert.equal(tok.tokenBytes(tok.specialId("<|eos|>")).length, 0);
});

Deno.test("tokenizer.json: round trip keeps ids and merges", () => {
  const tok = trainBpe(corpus, { vocabSize: 290 });
  const back = fromTokenizerJson(JSON.parse(JSON.stringify(toTokenizerJson(tok))));
  assert.deepEqual(back.tokens, tok.tokens);
  assert.deepEqual(back.encode(corpus[0]), tok.encode(corpus[0]));
  assert.deepEqual(back.specials, tok.specials);
});

Deno.test("bad input: vocab below 256 + specials, wrong tokenizer type", () => {
  assert.throws(() => trainBpe(corpus, { vocabSize: 257 }), /vocabSize must be an integer ≥ .*258/);
  assert.throws(
    () => fromTokenizerJson({ model: { type: "WordPiece" } }),
    /model.type must be "BPE"/,
  );
  assert.throws(() => trainBpe([42 as unknown as string], { vocabSize: 300 }), /texts\[0\]/);
});
