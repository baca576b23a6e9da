/**
 * A HellaSwag-style multiple-choice probe built from held-out corpus text: a context, its true
 * continuation, and distractor continuations cut from other documents. Models choose the ending
 * with the highest per-byte log-likelihood (the paper scores HellaSwag the same way for byte and
 * token models, normalising by length so they compare).
 *
 * @module
 */
import { Rng } from "../data/rng.ts";

/** One item: a context and endings, `label` indexing the true one. */
export interface ChoiceItem {
  readonly context: string;
  readonly endings: readonly string[];
  readonly label: number;
}

/** Where noise goes in the paper's 5 × 3 variants. */
export type NoiseTarget = "context" | "endings" | "both";

/** Options of {@link buildChoiceItems}. */
export interface ChoiceOptions {
  readonly items: number;
  readonly seed: number;
  /** Characters of context (cut back to a word start). Default 200. */
  readonly contextChars?: number;
  /** Characters of each ending (cut at a word end). Default 60. */
  readonly endingChars?: number;
  /** Number of endings per item (1 true + the rest distractors). Default 4. */
  readonly choices?: number;
}

function wordEnd(text: string, from: number, length: number): string {
  const raw = text.slice(from, from + length);
  const cut = raw.lastIndexOf(" ");
  return cut > length / 2 ? raw.slice(0, cut) : raw;
}

/**
 * Builds seeded items from documents: each context and true ending come from one document, each
 * distractor from a different document.
 *
 * @example
 * ```ts
 * import { buildChoiceItems } from "./multiple_choice.ts";
 * const docs = Array.from({ length: 5 }, (_, i) => `Doc ${i} `.repeat(80));
 * const [item] = buildChoiceItems(docs, { items: 1, seed: 0, contextChars: 40, endingChars: 12 });
 * console.log(item.endings.length, item.endings[item.label].length > 0); // 4 true
 * ```
 */
export function buildChoiceItems(docs: readonly string[], options: ChoiceOptions): ChoiceItem[] {
  const { items, seed, contextChars = 200, endingChars = 60, choices = 4 } = options;
  for (
    const [name, v, min] of [["items", items, 1], ["contextChars", contextChars, 1], [
      "endingChars",
      endingChars,
      1,
    ], ["choices", choices, 2]] as const
  ) {
    if (!Number.isInteger(v) || v < min) {
      throw new Error(`buildChoiceItems: ${name} must be an integer ≥ ${min}, got ${v}`);
    }
  }
  const need = contextChars + endingChars + 1;
  const usable = docs.filter((d) => d.length >= need);
  if (usable.length < choices) {
    throw new Error(
      `buildChoiceItems: need ≥ ${choices} documents of ≥ ${need} characters, found ${usable.length}`,
    );
  }
  const rng = new Rng(seed);
  const out: ChoiceItem[] = [];
  for (let n = 0; n < items; n++) {
    const d = rng.int(usable.length);
    const doc = usable[d];
    let start = rng.int(doc.length - need + 1);
    const space = doc.indexOf(" ", start);
    if (space >= 0 && space < start + contextChars / 2) start = space + 1;
    const context = doc.slice(start, start + contextChars);
    const truth = wordEnd(doc, start + context.length, endingChars);
    const endings = [truth];
    const used = new Set([d]);
    while (endings.length < choices) {
      const o = rng.int(usable.length);
      if (used.has(o)) continue;
      used.add(o);
      const other = usable[o];
      endings.push(wordEnd(other, rng.int(other.length - endingChars), endingChars));
    }
    const label = rng.int(choices);
    [endings[0], endings[label]] = [endings[label], endings[0]];
    out.push({ context, endings, label });
  }
  return out;
}

/**
 * Applies a text noise to the contexts, the endings, or both.
 *
 * @example
 * ```ts
 * import { noiseItems } from "./multiple_choice.ts";
 * const items = [{ context: "a b", endings: ["c", "d"], label: 0 }];
 * console.log(noiseItems(items, (t) => t.toUpperCase(), "endings")[0].endings); // ["C", "D"]
 * ```
 */
export function noiseItems(
  items: readonly ChoiceItem[],
  noise: (text: string, index: number) => string,
  target: NoiseTarget,
): ChoiceItem[] {
  return items.map((it, i) => ({
    context: target === "endings" ? it.context : noise(it.context, i),
    endings: target === "context" ? it.endings : it.endings.map((e, j) => noise(e, i * 31 + j + 1)),
    label: it.label,
  }));
}

/** Log-likelihood of `ending` after `context`: natural-log sum and the bytes it covers. */
export type EndingScorer = (
  context: string,
  endings: readonly string[],
) => Promise<{ logProb: number; bytes: number }[]>;

/**
 * Accuracy of choosing the ending with the highest per-byte log-likelihood.
 *
 * @example
 * ```ts
 * import { choiceAccuracy } from "./multiple_choice.ts";
 * const items = [{ context: "x", endings: ["good", "bad"], label: 0 }];
 * const scorer = async (_c: string, es: readonly string[]) =>
 *   es.map((e) => ({ logProb: e === "good" ? -1 : -9, bytes: e.length }));
 * console.log(await choiceAccuracy(items, scorer)); // 1
 * ```
 */
export async function choiceAccuracy(
  items: readonly ChoiceItem[],
  score: EndingScorer,
): Promise<number> {
  if (items.length === 0) throw new Error("choiceAccuracy: 'items' is empty");
  let right = 0;
  for (const it of items) {
    const scores = await score(it.context, it.endings);
    const perByte = scores.map((s) => s.logProb / Math.max(1, s.bytes));
    if (perByte.indexOf(Math.max(...perByte)) === it.label) right++;
  }
  return right / items.length;
}
