/**
 * The on-disk corpus format: JSON Lines, one document per line.
 *
 * JSONL keeps document boundaries unambiguous (a document may hold any text, newlines included,
 * and the line break between records is never part of a document), so each record maps to one
 * BOS … EOS sequence. Every record has a string `text`; `id` names its source (e.g. `ca01`),
 * and any other fields are metadata (e.g. `genre`) kept as they are.
 *
 * @module
 */

/**
 * One document of a corpus file.
 *
 * @example
 * ```ts
 * import { type DocumentRecord, formatDocuments, parseDocuments } from "./mod.ts";
 * const docs: DocumentRecord[] = [{ id: "a", text: "one\ntwo" }, { id: "b", text: "three" }];
 * console.log(parseDocuments(formatDocuments(docs), "example").length); // 2
 * ```
 */
export interface DocumentRecord {
  readonly id: string;
  readonly text: string;
  readonly [field: string]: string;
}

/**
 * Parses a JSONL corpus file into its documents; `source` names the file in error messages.
 * Blank lines are skipped; a line that is not an object with string `id` and `text` throws.
 *
 * @example
 * ```ts
 * import { type DocumentRecord, formatDocuments, parseDocuments } from "./mod.ts";
 * const docs: DocumentRecord[] = parseDocuments('{"id":"x","text":"Hi"}\n', "inline");
 * console.log(formatDocuments(docs) === '{"id":"x","text":"Hi"}\n'); // true
 * ```
 */
export function parseDocuments(jsonl: string, source: string): DocumentRecord[] {
  const docs: DocumentRecord[] = [];
  const lines = jsonl.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    const where = `${source} line ${i + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(lines[i]);
    } catch (e) {
      throw new Error(
        `${where} is not valid JSON (${(e as Error).message}): write one JSON object per line.`,
      );
    }
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      throw new Error(`${where}: expected a JSON object {"id", "text"}, found ${lines[i]}.`);
    }
    for (const [key, value] of Object.entries(record)) {
      if (typeof value !== "string") {
        throw new Error(
          `${where}: field '${key}' must be a string, found ${JSON.stringify(value)}.`,
        );
      }
    }
    const r = record as Record<string, string>;
    if (r.id === undefined || r.text === undefined) {
      throw new Error(
        `${where}: expected string fields 'id' and 'text', found keys ${
          JSON.stringify(Object.keys(r))
        }.`,
      );
    }
    docs.push(r as DocumentRecord);
  }
  return docs;
}

/**
 * Writes documents as JSONL: one record per line, `\n`-terminated, keys in the given order.
 *
 * @example
 * ```ts
 * import { type DocumentRecord, formatDocuments, parseDocuments } from "./mod.ts";
 * const docs: DocumentRecord[] = [{ id: "q", text: 'say "hi"\n' }];
 * console.log(parseDocuments(formatDocuments(docs), "x")[0].text === docs[0].text); // true
 * ```
 */
export function formatDocuments(docs: readonly DocumentRecord[]): string {
  return docs.map((d) => JSON.stringify(d) + "\n").join("");
}
