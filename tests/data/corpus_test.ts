import assert from "node:assert/strict";
import { CORPUS_NAMES, loadCorpus } from "../../lib/data/corpus.ts";
import { parseDocuments } from "../../lib/data/documents.ts";
import {
  brownDocuments,
  brownSmallIndices,
  isValidation,
  splitFiles,
} from "../../scripts/prepare_data.ts";

const DATA = new URL("../../data/brown-small/", import.meta.url);
const OUT_BROWN = new URL("../../out/corpora/brown/", import.meta.url);
const utf8Bytes = (docs: readonly string[]) =>
  docs.reduce((n, d) => n + new TextEncoder().encode(d).length, 0);

function exists(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch {
    return false;
  }
}

Deno.test("brown-small loads with the documented document and byte counts", async () => {
  const corpus = await loadCorpus();
  assert.equal(corpus.name, "brown-small");
  assert.equal(corpus.train.length, 111);
  assert.equal(corpus.validation.length, 14);
  assert.equal(utf8Bytes(corpus.train), 1_317_879);
  assert.equal(utf8Bytes(corpus.validation), 169_905);
  assert.ok(corpus.train[0].startsWith("The Fulton County Grand Jury said Friday"));
  for (const doc of [...corpus.train, ...corpus.validation]) {
    assert.ok(doc.length > 5000, "every Brown text has ~2000 words");
    assert.ok(!/[a-z]\/(at|nn|vbd?|in|jj)\b|``/.test(doc), "no tags or TeX quotes left");
  }
  const files = ["train.jsonl", "validation.jsonl"].map((f) => Deno.statSync(new URL(f, DATA)));
  assert.ok(files[0].size + files[1].size <= 2_000_000, "the embedded corpus stays ≤ 2 MB");
});

Deno.test("the committed brown-small is exactly what `deno task data` makes", async () => {
  const brown = await brownDocuments();
  assert.equal(brown.length, 500);
  const indices = brownSmallIndices(brown.length);
  const expected = splitFiles(indices.map((i) => brown[i]), indices);
  assert.equal(await Deno.readTextFile(new URL("train.jsonl", DATA)), expected.train);
  assert.equal(await Deno.readTextFile(new URL("validation.jsonl", DATA)), expected.validation);
  // brown-small's validation documents are validation documents of the full corpus too.
  const validationIds = parseDocuments(expected.validation, "validation").map((d) => d.id);
  assert.deepEqual(
    validationIds,
    brown.filter((_, i) => isValidation(i) && i % 4 === 0).map((d) => d.id),
  );
});

Deno.test({
  name: "brown-small splits are subsets of the full Brown splits",
  ignore: !exists(OUT_BROWN),
  fn: async () => {
    const [small, full] = await Promise.all([loadCorpus("brown-small"), loadCorpus("brown")]);
    assert.equal(full.train.length + full.validation.length, 500);
    const fullTrain = new Set(full.train);
    const fullValidation = new Set(full.validation);
    assert.ok(small.train.every((d) => fullTrain.has(d)));
    assert.ok(small.validation.every((d) => fullValidation.has(d)));
  },
});

Deno.test("a directory loads by relative path and by URL", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/train.jsonl`,
      '{"id":"1","text":"a\\nb"}\n{"id":"2","text":"c"}\n',
    );
    await Deno.writeTextFile(`${dir}/validation.jsonl`, '{"id":"3","text":"d"}\n');
    const byUrl = await loadCorpus(new URL(`file://${dir}`));
    assert.deepEqual([byUrl.train, byUrl.validation], [["a\nb", "c"], ["d"]]);
    const relative = await loadCorpus(`./${dir.split("/").map(() => "..").join("/")}${dir}/`);
    assert.deepEqual(relative.train, ["a\nb", "c"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown names and missing files give actionable errors", async () => {
  await assert.rejects(
    () => loadCorpus("brwon-small"),
    (e: Error) => {
      for (const name of CORPUS_NAMES) assert.match(e.message, new RegExp(`'${name}'`));
      assert.match(e.message, /Unknown corpus 'brwon-small'/);
      return true;
    },
  );
  await assert.rejects(() => loadCorpus("./no/such/dir"), /no\/such\/dir\/train.jsonl not found/);
});
