import assert from "node:assert/strict";
import { buildChoiceItems, choiceAccuracy, noiseItems } from "../../lib/eval/multiple_choice.ts";

const docs = Array.from(
  { length: 8 },
  (_, d) => Array.from({ length: 60 }, (_, i) => `doc${d} word${i}`).join(" "),
);

Deno.test("buildChoiceItems: the true ending continues the context; distractors come from other documents", () => {
  const items = buildChoiceItems(docs, { items: 20, seed: 5, contextChars: 80, endingChars: 30 });
  for (const it of items) {
    assert.equal(it.endings.length, 4);
    const home = docs.find((d) => d.includes(it.context))!;
    assert.ok(home.includes(it.context + it.endings[it.label]));
    it.endings.forEach((e, j) => {
      if (j !== it.label) assert.ok(!home.includes(e), "distractor from the same document");
    });
  }
  assert.deepEqual(
    items,
    buildChoiceItems(docs, { items: 20, seed: 5, contextChars: 80, endingChars: 30 }),
  );
});

Deno.test("choiceAccuracy: an oracle scorer gets 1, a constant scorer picks index 0", async () => {
  const items = buildChoiceItems(docs, { items: 30, seed: 1, contextChars: 80, endingChars: 30 });
  const oracle = (c: string, es: readonly string[]) => {
    const home = docs.find((d) => d.includes(c))!;
    return Promise.resolve(
      es.map((e) => ({ logProb: home.includes(c + e) ? 0 : -100, bytes: e.length })),
    );
  };
  assert.equal(await choiceAccuracy(items, oracle), 1);
  const flat = (_c: string, es: readonly string[]) =>
    Promise.resolve(es.map(() => ({ logProb: -1, bytes: 1 })));
  assert.equal(
    await choiceAccuracy(items, flat),
    items.filter((i) => i.label === 0).length / items.length,
  );
});

Deno.test("noiseItems targets context, endings or both; bad input is named", () => {
  const items = [{ context: "ab", endings: ["cd", "ef"], label: 1 }];
  const up = (t: string) => t.toUpperCase();
  assert.deepEqual(noiseItems(items, up, "context")[0], {
    context: "AB",
    endings: ["cd", "ef"],
    label: 1,
  });
  assert.deepEqual(noiseItems(items, up, "both")[0], {
    context: "AB",
    endings: ["CD", "EF"],
    label: 1,
  });
  assert.throws(() => buildChoiceItems(["short"], { items: 1, seed: 0 }), /need ≥ 4 documents/);
  assert.throws(() => buildChoiceItems(docs, { items: 0, seed: 0 }), /items must be an integer/);
});
