import { deepEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import { Rng } from "../../lib/data/rng.ts";
import {
  antSpeak,
  applyNoise,
  drop,
  NOISES,
  randomCase,
  repeat,
  typoDelete,
  typoInsert,
  typoSubstitute,
  typoSwap,
  upperCase,
  whitespaceCollapse,
} from "../../lib/eval/noise.ts";

const MIXED = "Bytes, not tokens: ÜNÏCÖDÉ — 日本語のテキスト and emoji 🙂👍🏽 survive.";
/** ~20k letters without two equal neighbours, so runs in the output decode unambiguously. */
const LONG = Array.from({ length: 20000 }, (_, i) => "abcdefghij"[(i * 7) % 10]).join("");

/** True if `sub` can be obtained from `full` by deleting code points. */
function isSubsequence(sub: string, full: string): boolean {
  const a = Array.from(sub), b = Array.from(full);
  let j = 0;
  for (const c of b) if (j < a.length && a[j] === c) j++;
  return j === a.length;
}

function near(actual: number, expected: number, tol: number, what: string): void {
  ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} not within ${tol} of ${expected}`);
}

Deno.test("paper noises: AntSpeak and UpperCase are exact", () => {
  equal(antSpeak("The cat"), "T H E   C A T");
  equal(antSpeak("日🙂"), "日 🙂");
  equal(upperCase("straße ü"), "STRASSE Ü");
  equal(antSpeak(""), "");
  equal(upperCase(""), "");
});

Deno.test("Drop removes ~rate of characters, keeps order", () => {
  const out = drop(LONG, { seed: 11 });
  ok(isSubsequence(out, LONG));
  near(1 - out.length / LONG.length, 0.1, 0.01, "drop fraction");
  equal(drop(LONG, { rate: 0 }), LONG);
  equal(drop(LONG, { rate: 1 }), "");
});

Deno.test("RandomCase only changes case, ~half upper", () => {
  const out = randomCase(LONG, { seed: 4 });
  equal(out.toLowerCase(), LONG);
  const upper = Array.from(out).filter((c) => c !== c.toLowerCase()).length;
  near(upper / LONG.length, 0.5, 0.02, "upper fraction");
  equal(randomCase("AbC", { rate: 0 }), "abc");
  equal(randomCase("AbC", { rate: 1 }), "ABC");
});

Deno.test("Repeat: ~20% of characters appear 2..4 times in total", () => {
  const out = repeat(LONG, { seed: 9 });
  const runs = out.match(/(.)\1*/g)!;
  equal(runs.length, LONG.length, "one run per input character");
  equal(runs.map((r) => r[0]).join(""), LONG);
  const lengths = runs.map((r) => r.length);
  ok(lengths.every((k) => k >= 1 && k <= 4));
  near(lengths.filter((k) => k > 1).length / LONG.length, 0.2, 0.015, "repeated fraction");
  for (const k of [2, 3, 4]) {
    near(lengths.filter((x) => x === k).length / LONG.length, 0.2 / 3, 0.01, `k=${k} fraction`);
  }
  const long = repeat("ab", { rate: 1, maxTotal: 6, seed: 1 });
  ok(long.length >= 4 && long.length <= 12);
});

Deno.test("typo noises do what their names say", () => {
  equal(typoSwap("abcd efg", { rate: 1 }), "badc feg");
  const swapped = typoSwap(LONG, { seed: 2 });
  equal(swapped.length, LONG.length);
  deepEqual([...swapped].sort(), [...LONG].sort());
  near(
    Array.from(swapped).filter((c, i) => c !== LONG[i]).length / LONG.length,
    0.18,
    0.02,
    "swap",
  );

  const inserted = typoInsert(LONG, { seed: 3 });
  ok(isSubsequence(LONG, inserted));
  near(inserted.length / LONG.length - 1, 0.1, 0.01, "insert fraction");
  ok(/^[a-z]+$/.test(inserted));
  ok(/^A[A-Z]B[A-Z]$/.test(typoInsert("AB", { rate: 1 })));

  equal(typoDelete("a1, b2! ü", { rate: 1 }), "1, 2! ");
  ok(isSubsequence(typoDelete(MIXED, { seed: 1, rate: 0.5 }), MIXED));

  const sub = typoSubstitute("Hello, World 42", { rate: 1, seed: 8 });
  equal(sub.length, 15);
  ok(/^[A-Z][a-z]{4}, [A-Z][a-z]{4} 42$/.test(sub), sub);
  Array.from("HelloWorld").forEach((c, i) => notEqual(sub.replace(/[^A-Za-z]/g, "")[i], c));

  equal(whitespaceCollapse("to  be or\tnot", { rate: 1 }), "tobeornot");
  equal(whitespaceCollapse("to  be or", { rate: 0 }), "to  be or");
  const words = Array.from({ length: 5000 }, () => "ab").join(" ");
  near(1 - (whitespaceCollapse(words, { seed: 5 }).split(" ").length - 1) / 4999, 0.1, 0.015, "ws");
});

Deno.test("every noise is seeded, UTF-8 safe and total on empty text", () => {
  const encoder = new TextEncoder(), decoder = new TextDecoder("utf-8", { fatal: true });
  for (const [name, spec] of Object.entries(NOISES)) {
    const opts = spec.defaultRate === null ? {} : { rate: 0.5, seed: 123 };
    const a = spec.apply(MIXED, opts), b = spec.apply(MIXED, opts);
    equal(a, b, `${name} deterministic for a seed`);
    ok(a.isWellFormed(), `${name} produced a lone surrogate`);
    equal(decoder.decode(encoder.encode(a)), a, `${name} UTF-8 round trip`);
    equal(spec.apply("", opts), "", `${name} on empty text`);
    if (spec.defaultRate !== null) {
      notEqual(spec.apply(MIXED, { rate: 0.5, seed: 124 }), a, `${name} depends on the seed`);
      equal(
        spec.apply(MIXED, { rate: 0, seed: 1 }),
        MIXED.replace(/./gu, (c) => name === "RandomCase" ? c.toLowerCase() : c),
        `${name} at rate 0`,
      );
    }
  }
  // Code points, not UTF-16 units: rate-1 Repeat doubles-or-more each emoji whole.
  ok(repeat("🙂", { rate: 1 }).match(/^(🙂){2,4}$/u));
});

Deno.test("a passed Rng is advanced, so successive calls differ but replay exactly", () => {
  const r1 = new Rng(77), r2 = new Rng(77);
  const first = drop(LONG, { seed: r1 }), second = drop(LONG, { seed: r1 });
  notEqual(first, second);
  equal(drop(LONG, { seed: r2 }), first);
  equal(drop(LONG, { seed: r2 }), second);
});

Deno.test("bad inputs throw errors naming noise, argument, expected and found", () => {
  for (const rate of [-0.1, 1.5, NaN]) {
    throws(
      () => drop("abc", { rate }),
      new RegExp(`noise Drop: rate must be a number in \\[0, 1\\], found ${rate}`),
    );
  }
  throws(
    () => typoSwap(42 as unknown as string),
    /noise TypoSwap: text must be a string, found number/,
  );
  throws(
    () => antSpeak(null as unknown as string),
    /noise AntSpeak: text must be a string, found object/,
  );
  throws(() => repeat("a", { maxTotal: 1 }), /maxTotal must be an integer >= 2, found 1/);
  throws(
    () => NOISES.UpperCase.apply("a", { rate: 0.1 }),
    /UpperCase is deterministic and takes no rate/,
  );
  throws(() => applyNoise("Dorp", "a"), /Unknown noise 'Dorp'; expected one of AntSpeak, Drop/);
  throws(() => drop("a", { seed: -1 }), /Rng seed must be an integer/);
  equal(applyNoise("Drop", "abc", { rate: 0 }), "abc");
});
