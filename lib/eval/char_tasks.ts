/**
 * Character-level tasks in the spirit of CUTE (Edman et al., 2024; the paper's Table 4): each
 * example is a prompt and its one exact answer, generated from a word list so answers are known.
 * The paper's finding to probe: byte models spell and edit characters far better than BPE models.
 *
 * @module
 */
import { Rng } from "../data/rng.ts";

/** The task names, as CUTE names them. */
export const CHAR_TASKS = [
  "spelling",
  "inverse_spelling",
  "contains_char",
  "insert_char",
  "delete_char",
  "substitute_char",
  "swap_char",
  "swap_word",
] as const;

/** One of {@link CHAR_TASKS}. */
export type CharTask = typeof CHAR_TASKS[number];

/** A prompt, its exact answer, and the task it belongs to. */
export interface CharExample {
  readonly task: CharTask;
  readonly prompt: string;
  readonly answer: string;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

/**
 * The words a corpus uses at least `minCount` times (lower-cased letters only), most frequent
 * first, ties alphabetical: the vocabulary the tasks are drawn from.
 *
 * @example
 * ```ts
 * import { corpusWords } from "./char_tasks.ts";
 * console.log(corpusWords(["The cat saw the dog. The end."], { minCount: 2 })); // ["the"]
 * ```
 */
export function corpusWords(
  texts: readonly string[],
  { minLength = 3, maxLength = 10, minCount = 1 } = {},
): string[] {
  const counts = new Map<string, number>();
  for (const t of texts) {
    for (const w of t.toLowerCase().match(/[a-z]+/g) ?? []) {
      if (w.length >= minLength && w.length <= maxLength) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  return [...counts].filter(([, n]) => n >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
}

/**
 * Splits words into disjoint train and held-out sets (seeded), so fine-tuning never sees a test word.
 *
 * @example
 * ```ts
 * import { splitWords } from "./char_tasks.ts";
 * const { train, heldOut } = splitWords(["a", "b", "c", "d"], 0.5, 1);
 * console.log(train.length + heldOut.length); // 4
 * ```
 */
export function splitWords(
  words: readonly string[],
  heldOutFraction: number,
  seed: number,
): { train: string[]; heldOut: string[] } {
  if (!(heldOutFraction >= 0 && heldOutFraction <= 1)) {
    throw new Error(`splitWords: heldOutFraction must be in [0, 1], got ${heldOutFraction}`);
  }
  const rng = new Rng(seed);
  const order = [...words];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const n = Math.round(order.length * heldOutFraction);
  return { heldOut: order.slice(0, n), train: order.slice(n) };
}

const q = (s: string) => `"${s}"`;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** Builds one example of `task` from `word` (and, for word swaps, a sentence of words). */
function makeExample(
  task: CharTask,
  word: string,
  words: readonly string[],
  rng: Rng,
): CharExample {
  const chars = [...word];
  const present = pick(rng, chars);
  const other = pick(rng, [...LETTERS].filter((c) => c !== present));
  switch (task) {
    case "spelling":
      return { task, prompt: `Spell out the word ${q(word)}:`, answer: chars.join(" ") };
    case "inverse_spelling":
      return { task, prompt: `Write the word spelled ${q(chars.join(" "))}:`, answer: word };
    case "contains_char": {
      const c = rng.float() < 0.5
        ? present
        : pick(rng, [...LETTERS].filter((l) => !chars.includes(l)));
      return {
        task,
        prompt: `Does ${q(word)} contain ${q(c)}?`,
        answer: chars.includes(c) ? "yes" : "no",
      };
    }
    case "insert_char":
      return {
        task,
        prompt: `Add ${q(other)} after every ${q(present)} in ${q(word)}:`,
        answer: chars.map((c) => (c === present ? c + other : c)).join(""),
      };
    case "delete_char":
      return {
        task,
        prompt: `Delete every ${q(present)} in ${q(word)}:`,
        answer: chars.filter((c) => c !== present).join(""),
      };
    case "substitute_char":
      return {
        task,
        prompt: `Replace every ${q(present)} with ${q(other)} in ${q(word)}:`,
        answer: chars.map((c) => (c === present ? other : c)).join(""),
      };
    case "swap_char": {
      const i = rng.int(chars.length);
      let j = rng.int(chars.length - 1);
      if (j >= i) j++;
      const swapped = [...chars];
      [swapped[i], swapped[j]] = [swapped[j], swapped[i]];
      return {
        task,
        prompt: `Swap ${q(chars[i])} and ${q(chars[j])} in ${q(word)}:`,
        answer: swapped.join(""),
      };
    }
    case "swap_word": {
      const sentence = [word, ...Array.from({ length: 3 }, () => pick(rng, words))];
      for (let i = sentence.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [sentence[i], sentence[j]] = [sentence[j], sentence[i]];
      }
      const a = rng.int(sentence.length);
      let b = rng.int(sentence.length - 1);
      if (b >= a) b++;
      const swapped = [...sentence];
      [swapped[a], swapped[b]] = [swapped[b], swapped[a]];
      return {
        task,
        prompt: `Swap ${q(sentence[a])} and ${q(sentence[b])} in ${q(sentence.join(" "))}:`,
        answer: swapped.join(" "),
      };
    }
  }
}

/**
 * `perTask` seeded examples of each task, drawn from `words` (letters only, ≥ 2 characters).
 *
 * @example
 * ```ts
 * import { makeCharTasks } from "./char_tasks.ts";
 * const [ex] = makeCharTasks(["cat"], { perTask: 1, seed: 0, tasks: ["spelling"] });
 * console.log(ex.prompt, ex.answer); // Spell out the word "cat": c a t
 * ```
 */
export function makeCharTasks(
  words: readonly string[],
  { perTask, seed, tasks = CHAR_TASKS }: {
    perTask: number;
    seed: number;
    tasks?: readonly CharTask[];
  },
): CharExample[] {
  if (!Number.isInteger(perTask) || perTask < 1) {
    throw new Error(`makeCharTasks: perTask must be an integer ≥ 1, got ${perTask}`);
  }
  const usable = words.filter((w) => /^[a-z]{2,}$/.test(w));
  if (usable.length === 0) {
    throw new Error(
      "makeCharTasks: 'words' has no lower-case word of ≥ 2 letters to build tasks from",
    );
  }
  for (const t of tasks) {
    if (!CHAR_TASKS.includes(t)) {
      throw new Error(`makeCharTasks: unknown task '${t}'; known tasks: ${CHAR_TASKS.join(", ")}`);
    }
  }
  const rng = new Rng(seed);
  return tasks.flatMap((task) =>
    Array.from({ length: perTask }, () => makeExample(task, pick(rng, usable), usable, rng))
  );
}

/**
 * Exact-match accuracy per task (answers compared after trimming surrounding whitespace).
 *
 * @example
 * ```ts
 * import { exactMatchByTask } from "./char_tasks.ts";
 * const ex = [{ task: "spelling" as const, prompt: "", answer: "c a t" }];
 * console.log(exactMatchByTask(ex, [" c a t"])); // { spelling: 1 }
 * ```
 */
export function exactMatchByTask(
  examples: readonly CharExample[],
  predictions: readonly string[],
): Partial<Record<CharTask, number>> {
  if (predictions.length !== examples.length) {
    throw new Error(
      `exactMatchByTask: ${examples.length} examples but ${predictions.length} predictions`,
    );
  }
  const hits = new Map<CharTask, [number, number]>();
  examples.forEach((ex, i) => {
    const [h, n] = hits.get(ex.task) ?? [0, 0];
    hits.set(ex.task, [h + (predictions[i].trim() === ex.answer ? 1 : 0), n + 1]);
  });
  return Object.fromEntries([...hits].map(([t, [h, n]]) => [t, h / n]));
}
