import assert from "node:assert/strict";
import {
  CHAR_TASKS,
  corpusWords,
  exactMatchByTask,
  makeCharTasks,
  splitWords,
} from "../../lib/eval/char_tasks.ts";

const words = corpusWords([
  "The patient reader reads patterns; patterns repeat and the reader learns letters.",
]);

Deno.test("makeCharTasks: every task's answer is exactly right for its prompt", () => {
  const ex = makeCharTasks(words, { perTask: 20, seed: 3 });
  assert.equal(ex.length, 20 * CHAR_TASKS.length);
  for (const e of ex) {
    const quoted = [...e.prompt.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    switch (e.task) {
      case "spelling":
        assert.equal(e.answer, [...quoted[0]].join(" "));
        break;
      case "inverse_spelling":
        assert.equal(e.answer, quoted[0].replaceAll(" ", ""));
        break;
      case "contains_char":
        assert.equal(e.answer, quoted[0].includes(quoted[1]) ? "yes" : "no");
        break;
      case "insert_char":
        assert.equal(e.answer, quoted[2].replaceAll(quoted[1], quoted[1] + quoted[0]));
        break;
      case "delete_char":
        assert.equal(e.answer, quoted[1].replaceAll(quoted[0], ""));
        break;
      case "substitute_char":
        assert.equal(e.answer, quoted[2].replaceAll(quoted[0], quoted[1]));
        break;
      case "swap_char":
      case "swap_word": {
        const sep = e.task === "swap_char" ? "" : " ";
        const a = quoted[2].split(sep), b = e.answer.split(sep);
        const diff = a.map((x, i) => (x === b[i] ? -1 : i)).filter((i) => i >= 0);
        assert.ok(diff.length === 0 || diff.length === 2, e.prompt);
        assert.deepEqual([...a].sort(), [...b].sort());
        break;
      }
    }
  }
});

Deno.test("makeCharTasks is seeded; splitWords keeps train and held-out words apart", () => {
  assert.deepEqual(
    makeCharTasks(words, { perTask: 3, seed: 9 }),
    makeCharTasks(words, { perTask: 3, seed: 9 }),
  );
  const { train, heldOut } = splitWords(words, 0.3, 1);
  assert.equal(train.length + heldOut.length, words.length);
  assert.ok(heldOut.every((w) => !train.includes(w)));
});

Deno.test("exactMatchByTask scores per task; bad input names the problem", () => {
  const ex = makeCharTasks(["cat"], { perTask: 2, seed: 0, tasks: ["spelling"] });
  assert.deepEqual(exactMatchByTask(ex, ["c a t", "cat"]), { spelling: 0.5 });
  assert.throws(() => exactMatchByTask(ex, ["x"]), /2 examples but 1 predictions/);
  assert.throws(() => makeCharTasks([], { perTask: 1, seed: 0 }), /no lower-case word/);
  assert.throws(() => makeCharTasks(words, { perTask: 0, seed: 0 }), /perTask/);
  assert.throws(
    () => makeCharTasks(words, { perTask: 1, seed: 0, tasks: ["spel" as "spelling"] }),
    /unknown task 'spel'/,
  );
});
