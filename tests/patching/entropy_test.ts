import assert from "node:assert/strict";
import { entropies } from "../../lib/patching/mod.ts";

Deno.test("entropies: uniform, one-hot, and the natural-log closed form", () => {
  const uniform = entropies(new Float32Array(260), 1);
  assert.ok(Math.abs(uniform[0] - Math.log(260)) < 1e-6);
  const h = entropies(new Float32Array([0, 0, 0, 0, 1000, 0, 0, 0]), 2, 4);
  assert.ok(Math.abs(h[0] - Math.log(4)) < 1e-6);
  assert.equal(h[1], 0);
  // Two ids with logits 0 and ln 3: p = (1/4, 3/4).
  const two = entropies([0, Math.log(3)], 1, 2);
  const expected = -(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75));
  assert.ok(Math.abs(two[0] - expected) < 1e-6);
});

Deno.test("entropies are stable for huge logits and allow -Infinity (masked ids)", () => {
  const shifted = entropies([1e30, 1e30 + 0, -1e30], 1, 3);
  assert.ok(Math.abs(shifted[0] - Math.log(2)) < 1e-6);
  const offset = entropies([5000.5, 5001.25, 4999], 1, 3);
  const base = entropies([0.5, 1.25, -1], 1, 3);
  assert.ok(Math.abs(offset[0] - base[0]) < 1e-6);
  assert.ok(Math.abs(entropies([0, -Infinity, 0], 1, 3)[0] - Math.log(2)) < 1e-6);
  assert.deepEqual(entropies(new Float32Array(0), 0), new Float32Array(0));
});

Deno.test("entropies rejects bad input, naming the argument and position", () => {
  assert.throws(
    () => entropies([0, NaN, 0, 0], 2, 2),
    /logits\[0, 1\] must be a number below \+Infinity, found NaN/,
  );
  assert.throws(() => entropies([0, 0, Infinity, 0], 2, 2), /logits\[1, 0\]/);
  assert.throws(() => entropies([-Infinity, -Infinity], 1, 2), /logits row 0 is all -Infinity/);
  assert.throws(
    () => entropies(new Float32Array(10), 2),
    /'logits' must hold T × vocab = 2 × 260 = 520 values.*found 10/,
  );
  assert.throws(
    () => entropies(new Float32Array(4), 2.5, 2),
    /'T' must be an integer ≥ 1, found 2.5/,
  );
  assert.throws(
    () => entropies(new Float32Array(4), 2, 0),
    /'vocab' must be an integer ≥ 1, found 0/,
  );
});
