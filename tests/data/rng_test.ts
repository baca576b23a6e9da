import assert from "node:assert/strict";
import { Rng } from "../../lib/data/rng.ts";

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.uint32());
}

Deno.test("same seed gives the same stream, different seeds differ", () => {
  assert.deepEqual(draws(new Rng(123), 50), draws(new Rng(123), 50));
  assert.notDeepEqual(draws(new Rng(123), 50), draws(new Rng(124), 50));
});

Deno.test("state round trips through JSON and resumes the exact stream", () => {
  const rng = new Rng(2024);
  draws(rng, 17);
  const saved = JSON.parse(JSON.stringify(rng.state()));
  const expected = [rng.uint32(), rng.float(), rng.int(1000), ...rng.shuffle([1, 2, 3, 4, 5])];
  const resumed = Rng.fromState(saved);
  const got = [
    resumed.uint32(),
    resumed.float(),
    resumed.int(1000),
    ...resumed.shuffle([1, 2, 3, 4, 5]),
  ];
  assert.deepEqual(got, expected);
});

Deno.test("state() is a snapshot, not a live view", () => {
  const rng = new Rng(1);
  const s = rng.state();
  const before = JSON.stringify(s);
  rng.uint32();
  assert.deepEqual(JSON.stringify(s), before);
  assert.notDeepEqual(JSON.stringify(rng.state()), before);
});

Deno.test("fork is named, stable, and does not advance the parent", () => {
  const a = new Rng(9);
  const b = new Rng(9);
  assert.deepEqual(draws(a.fork("data"), 10), draws(b.fork("data"), 10));
  assert.notDeepEqual(draws(a.fork("data"), 10), draws(a.fork("init"), 10));
  assert.deepEqual(draws(a, 10), draws(b, 10));
  assert.notDeepEqual(draws(a.fork(0), 10), draws(a, 10));
});

Deno.test("int is uniform in range and float lies in [0, 1)", () => {
  const rng = new Rng(77);
  const counts = new Array(6).fill(0);
  const n = 60000;
  for (let i = 0; i < n; i++) counts[rng.int(6)]++;
  // Each bucket expects 10000 with sd ≈ 91; 600 is > 6 sd, so failures mean real bias.
  for (const c of counts) assert.ok(Math.abs(c - n / 6) < 600, `bucket count ${c}`);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.float();
    assert.ok(u >= 0 && u < 1);
    sum += u;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.01, `mean ${sum / n}`);
  assert.deepEqual(new Rng(1).int(1), 0);
  const big = rng.int(2 ** 32);
  assert.ok(big >= 0 && big < 2 ** 32);
});

Deno.test("shuffle is a permutation and leaves its input alone", () => {
  const input = Array.from({ length: 100 }, (_, i) => i);
  const out = new Rng(5).shuffle(input);
  assert.deepEqual([...out].sort((x, y) => x - y), input);
  assert.notDeepEqual(out, input);
  assert.deepEqual(input[0], 0);
});

Deno.test("bad arguments throw with the argument named", () => {
  assert.throws(() => new Rng(-1), /Rng seed/);
  assert.throws(() => new Rng(1.5), /Rng seed/);
  assert.throws(() => new Rng(0).int(0), /rng.int\(n\)/);
  assert.throws(() => new Rng(0).int(2.5), /rng.int\(n\)/);
  assert.throws(
    () => Rng.fromState({ algorithm: "sfc32", words: [1, 2, 3] } as never),
    /state.words/,
  );
  assert.throws(
    () => Rng.fromState({ algorithm: "sfc32", words: [1, 2, 3, -4] }),
    /words\[3\]/,
  );
  assert.throws(() => Rng.fromState({ algorithm: "mt" } as never), /sfc32/);
});
