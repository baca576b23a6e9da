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

/** How one operand is read: its layout in memory and whether loads are vec4. */
interface Operand {
  /** "A" or "B" (binding name; shared tile is As or Bs). */
  readonly name: "A" | "B";
  /** Outer dim uniform: M for A, N for B. */
  readonly outer: "M" | "N";
  /** True when k is the slow axis in memory (A transposed [K, M]; B plain [K, N]). */
  readonly kMajor: boolean;
  /** Load vec4s (4 consecutive elements along the fast axis); needs that axis % 4 == 0. */
  readonly vec4: boolean;
}

// WGSL for one operand: binding, a load helper (from global memory, zero outside the matrix or
// past kEnd) and the statements that scatter the prefetched registers into the k-major tile.
// Tile index idx runs over the 128×16 tile so consecutive threads read consecutive addresses.
function operandWgsl(o: Operand, binding: number) {
  const S = `${o.name}s`, O = `u.${o.outer}`, R = `r${o.name}`;
  const count = o.vec4 ? 2 : 8;
  const type = o.vec4 ? "vec4<f32>" : "f32";
  const coords = o.vec4
    ? (o.kMajor
      ? "let c = idx % 32u; let k = idx / 32u; let oo = c * 4u;"
      : "let c = idx % 4u; let oo = idx / 4u; let k = c * 4u;")
    : (o.kMajor
      ? "let oo = idx % 128u; let k = idx / 128u;"
      : "let k = idx % 16u; let oo = idx / 16u;");
  const addr = o.kMajor ? `base + (k0 + k) * ${O} + o0 + oo` : `base + (o0 + oo) * u.K + k0 + k`;
  const load = `fn load${o.name}(idx: u32, k0: u32, kEnd: u32, o0: u32, base: u32) -> ${type} {
  ${coords}
  if (o0 + oo < ${O} && k0 + k < kEnd) { return ${o.name}[(${addr})${o.vec4 ? " / 4u" : ""}]; }
  return ${type}(0.0);
}`;
  const store = !o.vec4
    ? `${S}[k * 32u + oo / 4u][oo % 4u] = ${R}[s];`
    : o.kMajor
    ? `${S}[k * 32u + c] = ${R}[s];`
    : `for (var e = 0u; e < 4u; e++) { ${S}[(k + e) * 32u + oo / 4u][oo % 4u] = ${R}[s][e]; }`;
  return {
    binding: `@group(0) @binding(${binding}) var<storage, read> ${o.name}: array<${type}>;`,
    load,
    regs: `var ${R}: array<${type}, ${count}>;`,
    count,
    store: `{ ${coords} ${store} }`,
  };
}

/**
 * The matmul shader for one (transposeA, transposeB, vec4 A, vec4 B) combination.
 * Bindings: A, B (read), C (read_write), uniforms {M, N, K, batches, aStride, bStride, kChunk}.
 * vec4 loads need the fast axis of that operand (K, or M/N when k is the slow axis) % 4 == 0;
 * vec4 stores of C need N % 4 == 0.
 *
 * @example
 * ```ts
 * import { matmulWgsl } from "./matmul_wgsl.ts";
 * console.log(matmulWgsl(false, true, true, true, true).includes("@compute")); // true
 * ```
 */
export function matmulWgsl(
  transposeA: boolean,
  transposeB: boolean,
  vec4A = false,
  vec4B = false,
  vec4C = false,
): string {
  const a = operandWgsl({ name: "A", outer: "M", kMajor: transposeA, vec4: vec4A }, 0);
  const b = operandWgsl({ name: "B", outer: "N", kMajor: !transposeB, vec4: vec4B }, 1);
  const prefetch = (k0: string) => `
    for (var s = 0u; s < ${a.count}u; s++) { rA[s] = loadA(li + s * 256u, ${k0}, kEnd, row0, aBase); }
    for (var s = 0u; s < ${b.count}u; s++) { rB[s] = loadB(li + s * 256u, ${k0}, kEnd, col0, bBase); }`;
  return /* wgsl */ `
struct Uniforms { M: u32, N: u32, K: u32, batches: u32, aStride: u32, bStride: u32, kChunk: u32 };
${a.binding}
${b.binding}
@group(0) @binding(2) var<storage, read_write> C: array<${vec4C ? "vec4<f32>" : "f32"}>;
@group(0) @binding(3) var<uniform> u: Uniforms;

const BM = 128u;
const BN = 128u;
const BK = 16u;
// k-major tiles, 4 floats per vec4: As[k * 32 + m / 4], Bs[k * 32 + n / 4].
var<workgroup> As: array<vec4<f32>, 512>;
var<workgroup> Bs: array<vec4<f32>, 512>;

${a.load}
${b.load}

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
  ${a.regs}
  ${b.regs}
  ${prefetch("kBegin")}
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + BK) {
    for (var s = 0u; s < ${a.count}u; s++) { let idx = li + s * 256u; ${a.store} }
    for (var s = 0u; s < ${b.count}u; s++) { let idx = li + s * 256u; ${b.store} }
    workgroupBarrier();
    if (k0 + BK < kEnd) { ${prefetch("k0 + BK")} }
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
        ${
    vec4C ? "if (gn < u.N) { C[o / 4u] = v; }" : `if (gn < u.N) { C[o] = v.x; }
        if (gn + 1u < u.N) { C[o + 1u] = v.y; }
        if (gn + 2u < u.N) { C[o + 2u] = v.z; }
        if (gn + 3u < u.N) { C[o + 3u] = v.w; }`
  }
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
 * import { splitKReduceWgsl } from "./matmul_wgsl.ts";
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
