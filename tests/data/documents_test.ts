import assert from "node:assert/strict";
import { type DocumentRecord, formatDocuments, parseDocuments } from "../../lib/data/documents.ts";

Deno.test("JSONL round trip keeps newlines, quotes, unicode and metadata", () => {
  const docs: DocumentRecord[] = [
    { id: "a", genre: "news", text: 'line one\nline "two"\n\n' },
    { id: "b", text: "naïve — 日本語 🙂\r\n\u2028end" },
    { id: "c", text: "" },
  ];
  const file = formatDocuments(docs);
  assert.equal(file.split("\n").length, 4); // three records, each newline-terminated
  assert.deepEqual(parseDocuments(file, "mem"), docs);
  assert.deepEqual(parseDocuments("\n" + file + "\n\n", "mem"), docs);
});

Deno.test("malformed lines throw with the source and line number", () => {
  assert.throws(
    () => parseDocuments('{"id":"a","text":"x"}\n{oops}\n', "f.jsonl"),
    /f.jsonl line 2/,
  );
  assert.throws(() => parseDocuments('["a"]\n', "f.jsonl"), /line 1: expected a JSON object/);
  assert.throws(() => parseDocuments('{"id":"a"}\n', "f.jsonl"), /'id' and 'text'/);
  assert.throws(() => parseDocuments('{"id":"a","text":3}\n', "f.jsonl"), /field 'text'/);
});
