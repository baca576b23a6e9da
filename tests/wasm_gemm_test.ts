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
