/**
 * Named corpora and corpus directories, loaded as train/validation lists of documents.
 *
 * `brown-small` is embedded in the repository (`data/brown-small/`) and read relative to this
 * module, so it loads from notebooks, tests and scripts alike; `brown` and `nlp-corpus` are made
 * by `deno task data` under `out/corpora/`. Any directory holding `train.jsonl` and
 * `validation.jsonl` in the format of `documents.ts` loads by path.
 *
 * @module
 */
import { parseDocuments } from "./documents.ts";

/**
 * The corpora {@link loadCorpus} knows by name.
 *
 * @example
 * ```ts
 * import { type Corpus, CORPUS_NAMES, loadCorpus } from "./mod.ts";
 * const corpus: Corpus = await loadCorpus(CORPUS_NAMES[0]);
 * console.log(corpus.name); // "brown-small"
 * ```
 */
export const CORPUS_NAMES = ["brown-small", "brown", "nlp-corpus"] as const;

/** Where each named corpus lives, relative to this module. */
const LOCATIONS: Readonly<Record<(typeof CORPUS_NAMES)[number], string>> = {
  "brown-small": "../../data/brown-small/",
  "brown": "../../out/corpora/brown/",
  "nlp-corpus": "../../out/corpora/nlp-corpus/",
};

/**
 * A corpus: documents as plain text, each one becoming one BOS … EOS sequence.
 *
 * @example
 * ```ts
 * import { type Corpus, CORPUS_NAMES, loadCorpus } from "./mod.ts";
 * const { train, validation }: Corpus = await loadCorpus("brown-small");
 * console.log(CORPUS_NAMES.includes("brown-small")); // true
 * console.log(train.length, validation.length); // 111 14
 * ```
 */
export interface Corpus {
  /** The name it was loaded by, or the directory's URL. */
  readonly name: string;
  readonly train: readonly string[];
  readonly validation: readonly string[];
}

function isName(source: string): source is (typeof CORPUS_NAMES)[number] {
  return (CORPUS_NAMES as readonly string[]).includes(source);
}

/** A path is anything with a separator or a leading dot; other strings must be names. */
function looksLikePath(source: string): boolean {
  return /[\\/]/.test(source) || source.startsWith(".");
}

function directoryUrl(source: string | URL): URL {
  const base = source instanceof URL ? source : new URL(source, `file://${Deno.cwd()}/`);
  return base.href.endsWith("/") ? base : new URL(base.href + "/");
}

async function readSplit(dir: URL, split: string, hint: string): Promise<string[]> {
  const url = new URL(`${split}.jsonl`, dir);
  let text: string;
  try {
    if (url.protocol === "file:") text = await Deno.readTextFile(url);
    else {
      const response = await fetch(url);
      if (!response.ok) throw new Deno.errors.NotFound(`HTTP ${response.status}`);
      text = await response.text();
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`Corpus file ${url.href} not found: ${hint}`);
    }
    throw e;
  }
  return parseDocuments(text, url.href).map((d) => d.text);
}

/**
 * Loads a corpus by name (one of {@link CORPUS_NAMES}) or by directory (path or URL with
 * `train.jsonl` and `validation.jsonl`). Unknown names throw, listing the valid ones.
 *
 * @param source corpus name or directory; the default is the embedded `brown-small`.
 * @example
 * ```ts
 * import { type Corpus, CORPUS_NAMES, loadCorpus } from "./mod.ts";
 * const corpus: Corpus = await loadCorpus();
 * console.log(corpus.train[0].slice(0, 28)); // "The Fulton County Grand Jury"
 * console.log(CORPUS_NAMES.length); // 3
 * ```
 */
export async function loadCorpus(source: string | URL = "brown-small"): Promise<Corpus> {
  let dir: URL;
  let hint: string;
  if (typeof source === "string" && isName(source)) {
    dir = new URL(LOCATIONS[source], import.meta.url);
    hint = source === "brown-small"
      ? "the embedded corpus is missing from data/; restore it with `deno task data`."
      : `make it with \`deno task data\` (writes out/corpora/${source}/).`;
  } else if (source instanceof URL || looksLikePath(source)) {
    dir = directoryUrl(source);
    hint = "a corpus directory needs train.jsonl and validation.jsonl (one JSON document a line).";
  } else {
    throw new Error(
      `Unknown corpus '${source}': use one of ${
        CORPUS_NAMES.map((n) => `'${n}'`).join(", ")
      }, or a directory path such as './my_corpus/' holding train.jsonl and validation.jsonl.`,
    );
  }
  const train = await readSplit(dir, "train", hint);
  const validation = await readSplit(dir, "validation", hint);
  const name = typeof source === "string" && isName(source) ? source : dir.href;
  return { name, train, validation };
}
