/**
 * WGSL source of our tiled f32 matmul: C[b] = op(A[b]) · op(B[b]) with op = identity or
 * transpose, one 128×128 output tile per workgroup of 16×16 threads, each thread an 8×8 block
 * held as vec4 accumulators. Tiles of A and B (16 deep in k) go through workgroup memory laid out
 * k-major, so the inner loop reads one vec4 of A (a broadcast) and one of B per 4 FMAs.
 *
 * Split-K: workgroup z = batch + batches·split covers k in [split·kChunk, (split+1)·kChunk) and
 * writes to its own slice of C ([splits, batches, M, N]); a second kernel sums the slices. That
 * keeps the GPU busy for weight gradients (X^T·dY: small M·N, huge K).
 *
 * @module
 */

/** Output tile rows/cols per workgroup, k-depth per step, threads per workgroup side. */
export const MATMUL_TILE = Object.freeze({ bm: 128, bn: 128, bk: 16, threads: 16 });

/**
 * The matmul shader for one (transposeA, transposeB) combination.
 * Bindings: A, B (read), C (read_write), uniforms {M, N, K, batches, aStride, bStride, kChunk}.
 *
 * @example
 * ```ts
 * import { matmulWgsl } from "./lib/gpu/matmul_wgsl.ts";
 * console.log(matmulWgsl(false, true).includes("@compute")); // true
 * ```
 */
export function matmulWgsl(transposeA: boolean, transposeB: boolean): string {
  // A is [M, K] (or [K, M] when transposed); B is [K, N] (or [N, K]). Each load helper maps a
  // flat tile index to (k, m) or (k, n) so consecutive threads read consecutive addresses.
  const loadA = transposeA
    ? `let m = idx % BM; let k = idx / BM; let gm = row0 + m; let gk = k0 + k;
       if (gm < u.M && gk < kEnd) { return A[aBase + gk * u.M + gm]; }`
    : `let k = idx % BK; let m = idx / BK; let gm = row0 + m; let gk = k0 + k;
       if (gm < u.M && gk < kEnd) { return A[aBase + gm * u.K + gk]; }`;
  const slotA = transposeA
    ? "let m = idx % BM; let k = idx / BM;"
    : "let k = idx % BK; let m = idx / BK;";
  const loadB = transposeB
    ? `let k = idx % BK; let n = idx / BK; let gn = col0 + n; let gk = k0 + k;
       if (gn < u.N && gk < kEnd) { return B[bBase + gn * u.K + gk]; }`
    : `let n = idx % BN; let k = idx / BN; let gn = col0 + n; let gk = k0 + k;
       if (gn < u.N && gk < kEnd) { return B[bBase + gk * u.N + gn]; }`;
  const slotB = transposeB
    ? "let k = idx % BK; let n = idx / BK;"
    : "let n = idx % BN; let k = idx / BN;";
  return /* wgsl */ `
struct Uniforms { M: u32, N: u32, K: u32, batches: u32, aStride: u32, bStride: u32, kChunk: u32 };
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> u: Uniforms;

const BM = 128u;
const BN = 128u;
const BK = 16u;
// k-major tiles, 4 floats per vec4: As[k * 32 + m / 4], Bs[k * 32 + n / 4].
var<workgroup> As: array<vec4<f32>, 512>;
var<workgroup> Bs: array<vec4<f32>, 512>;

fn loadA(idx: u32, k0: u32, kEnd: u32, row0: u32, aBase: u32) -> f32 {
  ${loadA}
  return 0.0;
}
fn loadB(idx: u32, k0: u32, kEnd: u32, col0: u32, bBase: u32) -> f32 {
  ${loadB}
  return 0.0;
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let batch = wid.z % u.batches;
  let split = wid.z / u.batches;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let kBegin = split * u.kChunk;
  let kEnd = min(u.K, kBegin + u.kChunk);
  let aBase = batch * u.aStride;
  let bBase = batch * u.bStride;
  // This thread owns rows {ty*4 + 64*i + r} and cols {tx*4 + 64*j + c}: vec4 column groups
  // tx and tx+16 read consecutive vec4s of Bs, so threads of a warp hit distinct banks.
  let tx = lid.x;
  let ty = lid.y;
  // acc[(i*4 + r)*2 + j] holds row ty*4 + 64*i + r, cols tx*4 + 64*j .. +3.
  var acc: array<vec4<f32>, 16>;
  // Register prefetch: the next tile's global loads are in flight while this tile computes.
  var ra: array<f32, 8>;
  var rb: array<f32, 8>;
  for (var s = 0u; s < 8u; s++) {
    ra[s] = loadA(li + s * 256u, kBegin, kEnd, row0, aBase);
    rb[s] = loadB(li + s * 256u, kBegin, kEnd, col0, bBase);
  }
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + BK) {
    for (var s = 0u; s < 8u; s++) {
      let idx = li + s * 256u;
      { ${slotA} As[k * 32u + m / 4u][m % 4u] = ra[s]; }
      { ${slotB} Bs[k * 32u + n / 4u][n % 4u] = rb[s]; }
    }
    workgroupBarrier();
    if (k0 + BK < kEnd) {
      for (var s = 0u; s < 8u; s++) {
        ra[s] = loadA(li + s * 256u, k0 + BK, kEnd, row0, aBase);
        rb[s] = loadB(li + s * 256u, k0 + BK, kEnd, col0, bBase);
      }
    }
    for (var k = 0u; k < BK; k = k + 1u) {
      let a0 = As[k * 32u + ty];
      let a1 = As[k * 32u + ty + 16u];
      let b0 = Bs[k * 32u + tx];
      let b1 = Bs[k * 32u + tx + 16u];
      acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
      acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
      acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
      acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
      acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
      acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
      acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
      acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
      acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
      acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
      acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
      acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
      acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
      acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
      acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
      acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
    }
    workgroupBarrier();
  }
  let cBase = (split * u.batches + batch) * u.M * u.N;
  for (var i = 0u; i < 2u; i = i + 1u) {
    for (var r = 0u; r < 4u; r = r + 1u) {
      let gm = row0 + ty * 4u + 64u * i + r;
      if (gm >= u.M) { continue; }
      for (var j = 0u; j < 2u; j = j + 1u) {
        let v = acc[(i * 4u + r) * 2u + j];
        let gn = col0 + tx * 4u + 64u * j;
        let o = cBase + gm * u.N + gn;
        if (gn < u.N) { C[o] = v.x; }
        if (gn + 1u < u.N) { C[o + 1u] = v.y; }
        if (gn + 2u < u.N) { C[o + 2u] = v.z; }
        if (gn + 3u < u.N) { C[o + 3u] = v.w; }
      }
    }
  }
}
`;
}

/**
 * Sums split-K partials: C[i] = Σ_s P[s·size + i]. Bindings: P (read), C (read_write),
 * uniforms {size, splits}.
 *
 * @example
 * ```ts
 * import { splitKReduceWgsl } from "./lib/gpu/matmul_wgsl.ts";
 * console.log(splitKReduceWgsl().includes("splits")); // true
 * ```
 */
export function splitKReduceWgsl(): string {
  return /* wgsl */ `
struct Uniforms { size: u32, splits: u32 };
@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<uniform> u: Uniforms;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= u.size) { return; }
  var s = 0.0;
  for (var k = 0u; k < u.splits; k = k + 1u) { s = s + P[k * u.size + i]; }
  C[i] = s;
}
`;
}
