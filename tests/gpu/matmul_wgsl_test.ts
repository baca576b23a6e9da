// Pure tests of the matmul WGSL generator's options (no GPU): validation, sizes, the tuned form's
// text, and the split-K helper. The numeric checks of the tuned form are in matmul_test.ts.
import assert from "node:assert/strict";
import {
  checkMatmulVariant,
  MATMUL_TUNED_VARIANT,
  MATMUL_UNROLLED_VARIANT,
  matmulFitsUnchecked,
  type MatmulOperands,
  matmulVariantSharedBytes,
  matmulVariantWgsl,
  wholeSplits,
} from "../../lib/gpu/matmul_wgsl.ts";

const NN: MatmulOperands = {
  transposeA: false,
  transposeB: false,
  vec4A: true,
  vec4B: true,
  vec4C: true,
};

Deno.test("checkMatmulVariant names bad option combinations", () => {
  const v = MATMUL_UNROLLED_VARIANT;
  assert.throws(
    () => checkMatmulVariant({ ...v, prefetch: false, doubleBuffer: true }),
    /doubleBuffer needs prefetch/,
  );
  checkMatmulVariant({ ...v, bn: 64, tn: 8, warpTile: true }); // 8 thread columns: a warp row
  // 32/8 = 4 thread columns: not a multiple of the warp's 8.
  assert.throws(() => checkMatmulVariant({ ...v, bn: 32, tn: 8, warpTile: true }), /warpTile/);
  assert.throws(
    () => checkMatmulVariant({ ...v, prefetch: false, hoistOffsets: true }),
    /hoistOffsets needs unroll and prefetch/,
  );
  assert.throws(
    () => checkMatmulVariant({ ...v, tailChecked: true }),
    /tailChecked needs hoistOffsets/,
  );
  checkMatmulVariant(MATMUL_TUNED_VARIANT);
});

Deno.test("double buffering doubles the shared tiles; tile2d keeps their size", () => {
  const v = MATMUL_UNROLLED_VARIANT;
  assert.equal(matmulVariantSharedBytes(v), 16384);
  assert.equal(matmulVariantSharedBytes({ ...v, doubleBuffer: true }), 32768);
  assert.equal(matmulVariantSharedBytes({ ...v, tile2d: true }), 16384);
  const db = matmulVariantWgsl({ ...v, doubleBuffer: true, tile2d: true }, NN);
  assert.match(db, /var<workgroup> As: array<array<array<vec4<f32>, 32>, 16>, 2>;/);
  assert.match(db, /stage = 1u - stage;/);
  // One barrier per k step inside the loop (plus one before it) instead of two.
  const loop = db.split("for (var k0")[1];
  assert.equal(loop.match(/workgroupBarrier\(\)/g)?.length, 1);
});

Deno.test("the tuned form: warp tiling, nested tiles, hoisted clamped loads when unchecked", () => {
  const checked = matmulVariantWgsl(MATMUL_TUNED_VARIANT, NN);
  assert.match(checked, /let tx = \(warp % 2u\) \* 8u \+ lane % 8u;/);
  assert.match(checked, /var<workgroup> Bs: array<array<vec4<f32>, 32>, 16>;/);
  assert.match(checked, /let b0 = Bs\[0u\]\[tx \+ 0u\];/);
  // Checked loads keep their bounds test and are not hoisted.
  assert.match(checked, /if \(o0 \+ oo < u\.M && k0 \+ k < kEnd\)/);
  assert.ok(!checked.includes("fn offA"));
  const fast = matmulVariantWgsl({ ...MATMUL_TUNED_VARIANT, unchecked: true }, NN);
  // Whole k tiles take the hoisted loads, a ragged last tile the checked ones.
  assert.match(fast, /if \(k0 \+ BK \+ BK <= kEnd\) \{\s*\{ let idx = li \+ 0u; \{ rA0 = A\[oA0/);
  const noTail = matmulVariantWgsl(
    { ...MATMUL_TUNED_VARIANT, unchecked: true, tailChecked: false },
    NN,
  );
  assert.ok(!noTail.includes("k0 + k < kEnd"), "no k checks without tailChecked");
  assert.match(fast, /fn offA[^}]*min\(o0 \+ oo, u\.M - 1u\)/);
  assert.match(fast, /fn offB[^}]*min\(o0 \+ oo, u\.N - 4u\)/); // vec4 along N: last whole vec4
  assert.match(fast, /rA0 = A\[oA0 \+ \(k0 \+ BK\) \/ 4u\];/);
  assert.match(fast, /rB0 = B\[oB0 \+ \(k0 \+ BK\) \* \(u\.N \/ 4u\)\];/);
});

Deno.test("matmulFitsUnchecked: whole k ranges, and whole tiles unless edges are clamped", () => {
  const v = MATMUL_UNROLLED_VARIANT;
  assert.ok(matmulFitsUnchecked(v, 256, 256, 64, 64));
  assert.ok(!matmulFitsUnchecked(v, 200, 256, 64, 64));
  assert.ok(matmulFitsUnchecked(MATMUL_TUNED_VARIANT, 200, 132, 64, 64));
  const noTail = { ...MATMUL_TUNED_VARIANT, tailChecked: false };
  assert.ok(!matmulFitsUnchecked(noTail, 200, 132, 60, 64)); // k not whole steps
  assert.ok(!matmulFitsUnchecked(noTail, 200, 132, 96, 64)); // last split partial
  assert.ok(matmulFitsUnchecked(MATMUL_TUNED_VARIANT, 200, 132, 60, 64)); // tail checked
  assert.ok(!matmulFitsUnchecked(MATMUL_TUNED_VARIANT, 200, 132, 60, 30)); // range starts ragged
});

Deno.test("wholeSplits prefers a split count that divides K into whole k steps", () => {
  assert.equal(wholeSplits(32768, 17, 16), 32);
  assert.equal(wholeSplits(65536, 6, 16), 8);
  assert.equal(wholeSplits(8200, 5, 16), 5); // K not whole steps: unchanged
  assert.equal(wholeSplits(1024, 1, 16), 1);
  assert.equal(wholeSplits(16 * 7 * 11, 6, 16), 7);
  assert.equal(wholeSplits(16 * 13, 3, 16), 3); // 13 steps: no divisor in 3..6
});
