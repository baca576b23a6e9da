import assert from "node:assert/strict";
import { gemmModuleBytes, relaxedSimd, WasmGemm } from "../lib/wasm_gemm.ts";

/** op(A)·op(B) in float64 from the float32 memory, for reference, with Σ|a·b| per entry (the
 * scale of float32 rounding in the sum). */
function reference(
  f: Float32Array,
  [A, B]: number[],
  [M, K, N]: number[],
  ta: boolean,
  tb: boolean,
): { want: Float64Array; scale: Float64Array } {
  const want = new Float64Array(M * N), scale = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0, z = 0;
      for (let k = 0; k < K; k++) {
        const t = f[A + (ta ? k * M + m : m * K + k)] * f[B + (tb ? n * K + k : k * N + n)];
        s += t;
        z += Math.abs(t);
      }
      want[m * N + n] = s;
      scale[m * N + n] = z;
    }
  }
  return { want, scale };
}

Deno.test("WasmGemm = a float64 reference: ragged rows and panels, transposes, long sums", () => {
  const memory = new WebAssembly.Memory({ initial: 256 });
  // (shapes: [M, K, N]; every row tail 1–5, full and ragged panels, transposed and not)
  const shapes = [
    [1, 1, 1],
    [7, 3, 9], // a row block and one row; a full panel and 1 column
    [13, 17, 8],
    [6, 5, 16],
    [12, 64, 23],
    [5, 2, 3], // rows below one block, a panel of 3
    [31, 600, 20], // K over one pass of 256 (three near-equal passes)
    [20, 514, 70], // a transposed A packed (≥ 8 full panels), two tail rows, K 514 in 3 passes
    [17, 37, 64], // 5 tail rows, terms past the unrolled 4s, 8 full panels
    [6, 4, 8], // exactly one block, one trip of the unrolled loop
    [4, 0, 5], // empty sum: zeros
  ];
  for (const fma of relaxedSimd() ? [true, false] : [false]) {
    const gemm = new WasmGemm(memory, fma);
    for (const [M, K, N] of shapes) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const f = new Float32Array(memory.buffer);
          const A = 16, B = A + M * K + 3, C = B + K * N + 5; // unaligned on purpose
          const pack = C + M * N + 7, edge = pack + WasmGemm.packBytes(K, N) / 4 + 1;
          const end = edge + WasmGemm.edgeBytes(M, K) / 4;
          f.fill(NaN, pack, end); // scratch starts as garbage
          for (let i = 0; i < M * K; i++) f[A + i] = Math.sin(1.3 * i + 1);
          for (let i = 0; i < K * N; i++) f[B + i] = Math.cos(0.7 * i);
          f.fill(NaN, C, C + M * N + 1);
          const a = { at: 4 * A, transposed: ta }, b = { at: 4 * B, transposed: tb };
          gemm.matmul(a, b, 4 * C, [M, K, N], 4 * pack, 4 * edge);
          const { want, scale } = reference(f, [A, B], [M, K, N], ta, tb);
          want.forEach((v, i) => {
            const got = f[C + i];
            // float32 sums of K terms: rounding grows with Σ|a·b|, not with the (cancelled) sum
            assert.ok(
              Math.abs(got - v) <= 1e-6 * (1 + scale[i]),
              `${fma} ${[M, K, N]} ${ta}/${tb}: ${got} vs ${v}`,
            );
          });
          assert.ok(Number.isNaN(f[C + M * N]), "wrote past C");
        }
      }
    }
  }
});

Deno.test("gemm module validates with and without relaxed SIMD", () => {
  assert.ok(WebAssembly.validate(gemmModuleBytes(false)));
  assert.equal(WebAssembly.validate(gemmModuleBytes(true)), relaxedSimd());
});

Deno.test("WasmGemm.scale = float32 products (ragged lengths, in place, special values)", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const gemm = new WasmGemm(memory);
  const f = new Float32Array(memory.buffer);
  const s = 0.17677669529663687; // 1/√32, rounded to float32 by scale
  for (const n of [0, 1, 3, 4, 7, 64, 131]) {
    const src = Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i + n) * 10 ** (i % 7)));
    src.splice(0, Math.min(n, 3), ...[NaN, -Infinity, -0].slice(0, Math.min(n, 3)));
    f.set(src, 16);
    gemm.scale(4 * 1024, 4 * 16, n, s); // into another area
    gemm.scale(4 * 16, 4 * 16, n, s); // in place
    const want = src.map((v) => Math.fround(v * Math.fround(s)));
    assert.deepEqual(Array.from(f.subarray(1024, 1024 + n)), want, `n = ${n}`);
    assert.deepEqual(Array.from(f.subarray(16, 16 + n)), want, `n = ${n}, in place`);
  }
});

Deno.test("WasmGemm.rowDots = the scalar float32 loop bit for bit (4-row groups, tails, d not /4)", () => {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const gemm = new WasmGemm(memory);
  const f = new Float32Array(memory.buffer);
  const fr = Math.fround;
  for (const [rows, d] of [[0, 32], [1, 32], [7, 32], [64, 64], [9, 6], [5, 4]]) {
    const a = 64, b = a + rows * d, dst = b + rows * d;
    for (let i = 0; i < rows * d; i++) {
      f[a + i] = fr(Math.sin(i * 1.7) * 10 ** ((i % 9) - 4));
      f[b + i] = fr(Math.cos(i * 0.3) * 3);
    }
    if (rows > 2) [f[a], f[a + d + 1], f[b + 2 * d]] = [-0, Infinity, NaN];
    gemm.rowDots(4 * dst, 4 * a, 4 * b, rows, d);
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc = fr(acc + fr(f[a + r * d + j] * f[b + r * d + j]));
      assert.ok(
        Object.is(f[dst + r], acc),
        `rows ${rows}, d ${d}, row ${r}: ${f[dst + r]} vs ${acc}`,
      );
    }
  }
});
