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
 * `unrolled` emits the same kernel (tile, thread mapping, bindings, uniforms, split-K) with every
 * inner loop unrolled by the generator and the accumulators and prefetch registers as named
 * `var`s ({@link MATMUL_UNROLLED_VARIANT} through {@link matmulVariantWgsl}), so the driver has no
 * register array to index at run time.
 *
 * @example
 * ```ts
 * import { matmulWgsl } from "./matmul_wgsl.ts";
 * console.log(matmulWgsl(false, true, true, true, true).includes("@compute")); // true
 * console.log(matmulWgsl(false, true, true, true, true, true).includes("var acc:")); // false
 * ```
 */
export function matmulWgsl(
  transposeA: boolean,
  transposeB: boolean,
  vec4A = false,
  vec4B = false,
  vec4C = false,
  unrolled = false,
): string {
  if (unrolled) {
    return matmulVariantWgsl(MATMUL_UNROLLED_VARIANT, {
      transposeA,
      transposeB,
      vec4A,
      vec4B,
      vec4C,
    });
  }
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

/**
 * One point of the matmul design space that {@link matmulVariantWgsl} generates (the sweep in
 * bench/matmul_sweep.ts times many of them). The workgroup is (bn/tn) × (bm/tm) threads; each
 * thread owns a tm × tn block of C held as vec4 accumulators.
 */
export interface MatmulVariant {
  /** Output tile rows per workgroup (BM). */
  readonly bm: number;
  /** Output tile columns per workgroup (BN). */
  readonly bn: number;
  /** k-depth of one shared-memory tile step (BK), a multiple of 4. */
  readonly bk: number;
  /** Rows of C per thread, a multiple of 4. */
  readonly tm: number;
  /** Columns of C per thread, a multiple of 4. */
  readonly tn: number;
  /**
   * true: every inner loop is emitted unrolled by the generator (the k-loop BK times, the
   * prefetch/store slots, the epilogue) and the accumulators are separate named vec4 `var`s, so
   * no register array is indexed at run time. false: loops and arrays, as `matmulWgsl()`.
   */
  readonly unroll: boolean;
  /** Register prefetch: the next tile's global loads are issued before this tile's FMAs. */
  readonly prefetch: boolean;
  /**
   * Shared-memory layout of A. "kMajor": As[k][m/4] (one vec4 of 4 rows per k, as
   * `matmulWgsl()`); "kVec4": As[m][k/4] (one vec4 of 4 consecutive k per row, rows padded by
   * one vec4 against bank conflicts), consumed 4 k-steps at a time.
   */
  readonly aTile: "kMajor" | "kVec4";
  /**
   * Two shared-memory stages (needs `prefetch`): the prefetched registers of tile t+1 go to the
   * other stage while tile t is read, so one barrier per k step instead of two. Default false.
   */
  readonly doubleBuffer?: boolean;
  /**
   * Thread → output mapping by warps: the 32 lanes of a warp cover 8 thread columns × 4 thread
   * rows (instead of 16 × 2), so one warp's shared reads of A and B are 64 and 128 bytes (one
   * wavefront each). Needs (bn/tn) % 8 == 0 and (bm/tm) % 4 == 0. Default false.
   */
  readonly warpTile?: boolean;
  /**
   * Global loads without bounds checks. Only correct when M % bm, N % bn and the k range of every
   * workgroup % bk are all 0 (the caller checks, see {@link matmulFitsUnchecked}). Default false.
   */
  readonly unchecked?: boolean;
  /**
   * With `unchecked`: the row (column) index of each load is clamped to M − 1 (N − 1), so tiles
   * at the M and N edges need no check either (their extra rows and columns of C are never
   * stored); then only the k ranges must be whole. Default false.
   */
  readonly clampEdges?: boolean;
  /**
   * With `unchecked` and `unroll`: each load slot's address at k0 = 0 is computed once per thread
   * before the k loop, and each load adds only the k0 term (the driver did not hoist the
   * loop-invariant part itself). Default false.
   */
  readonly hoistOffsets?: boolean;
  /**
   * With `unchecked` and `hoistOffsets`: a tile that is not whole in k (the last one of a k range
   * that is not a multiple of bk) is loaded with bounds checks, all others without; then any K
   * fits ({@link matmulFitsUnchecked}). Default false.
   */
  readonly tailChecked?: boolean;
  /**
   * Shared tiles as nested arrays indexed [k][outer / 4] (or [outer][k / 4]) instead of one flat
   * array. WebGPU clamps every run-time index into workgroup memory (naga's "Restrict" bounds
   * policy: one min() per access); with k a constant of the unrolled loop, only the inner index
   * is clamped and that clamp is the same for every k, so the driver computes it once instead of
   * once per load. Default false.
   */
  readonly tile2d?: boolean;
}

/** Transposes and vec4 access of one matmul shader (as the arguments of `matmulWgsl`). */
export interface MatmulOperands {
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  /** vec4 loads of A along its contiguous axis (K, or M when transposed); needs it % 4 == 0. */
  readonly vec4A: boolean;
  /** vec4 loads of B along its contiguous axis (N, or K when transposed); needs it % 4 == 0. */
  readonly vec4B: boolean;
  /** vec4 stores of C; needs N % 4 == 0. */
  readonly vec4C: boolean;
}

/**
 * `matmulWgsl()`'s kernel (128×128×16 tile, 8×8 per thread, register prefetch, k-major A) in the
 * variant space, fully unrolled by the generator.
 */
export const MATMUL_UNROLLED_VARIANT: MatmulVariant = Object.freeze({
  bm: 128,
  bn: 128,
  bk: 16,
  tm: 8,
  tn: 8,
  unroll: true,
  prefetch: true,
  aTile: "kMajor",
});

/**
 * The form our BatchMatMul uses on NVIDIA GPUs: {@link MATMUL_UNROLLED_VARIANT}'s tile with the
 * threads of each warp on an 8 × 4 patch (`warpTile`), nested shared arrays (`tile2d`), and
 * (added per call as `unchecked`) loads without checks whose row and column indices are clamped
 * (`clampEdges`), whose addresses are computed once per thread (`hoistOffsets`), and whose last
 * tile of a ragged k range is loaded with checks (`tailChecked`). H100, bench/matmul_sweep.ts,
 * 2026-11-22 (sixth session, 21:09 and 21:19 UTC): 4096³ 36.0–36.4 TFLOP/s against 29.3 for the
 * unrolled form; training shapes 34.5–36.8 (`[65536,256]×[256,768]`: 21.0–21.3); K = 8200
 * weight gradients 16.3 against 13.7 checked.
 */
export const MATMUL_TUNED_VARIANT: MatmulVariant = Object.freeze({
  ...MATMUL_UNROLLED_VARIANT,
  warpTile: true,
  tile2d: true,
  clampEdges: true,
  hoistOffsets: true,
  tailChecked: true,
});

/**
 * Throws a message naming the problem when `v` is not a valid variant (tile not divisible by
 * the per-thread block, sizes not multiples of 4, too many threads).
 *
 * @example
 * ```ts
 * import { checkMatmulVariant, MATMUL_UNROLLED_VARIANT } from "./matmul_wgsl.ts";
 * checkMatmulVariant(MATMUL_UNROLLED_VARIANT); // valid: no throw
 * ```
 */
export function checkMatmulVariant(v: MatmulVariant): void {
  const bad = (why: string) => {
    throw new Error(`matmul variant ${JSON.stringify(v)}: ${why}`);
  };
  for (const key of ["bm", "bn", "bk", "tm", "tn"] as const) {
    if (!Number.isInteger(v[key]) || v[key] < 4 || v[key] % 4 !== 0) {
      bad(`${key} must be a positive multiple of 4, found ${v[key]}`);
    }
  }
  if (v.bm % (v.tm) !== 0 || v.bn % v.tn !== 0) bad("bm/bn must be multiples of tm/tn");
  const threads = (v.bm / v.tm) * (v.bn / v.tn);
  if (threads > 1024 || threads < 32) bad(`${threads} threads per workgroup (32..1024 allowed)`);
  if (v.aTile !== "kMajor" && v.aTile !== "kVec4") bad(`unknown aTile '${v.aTile}'`);
  if (v.doubleBuffer && !v.prefetch) bad("doubleBuffer needs prefetch");
  if (v.hoistOffsets && (!v.unroll || !v.prefetch)) bad("hoistOffsets needs unroll and prefetch");
  if (v.tailChecked && !v.hoistOffsets) bad("tailChecked needs hoistOffsets");
  if (v.warpTile && ((v.bn / v.tn) % 8 !== 0 || (v.bm / v.tm) % 4 !== 0)) {
    bad("warpTile needs bn/tn % 8 == 0 and bm/tm % 4 == 0");
  }
}

/**
 * Whether a problem may use a variant with `unchecked: true`: every workgroup's k range
 * (`kChunk`, or K without split-K) is a whole number of k steps (unless the variant checks the
 * k tail: `tailChecked` with `hoistOffsets`), and, unless the variant has `clampEdges`, every
 * tile of C is whole.
 *
 * @example
 * ```ts
 * import { MATMUL_UNROLLED_VARIANT, matmulFitsUnchecked } from "./matmul_wgsl.ts";
 * console.log(matmulFitsUnchecked(MATMUL_UNROLLED_VARIANT, 4096, 4096, 4096, 4096)); // true
 * console.log(matmulFitsUnchecked(MATMUL_UNROLLED_VARIANT, 100, 4096, 4096, 4096)); // false
 * const clamped = { ...MATMUL_UNROLLED_VARIANT, clampEdges: true };
 * console.log(matmulFitsUnchecked(clamped, 100, 4096, 4096, 4096)); // true
 * ```
 */
export function matmulFitsUnchecked(
  v: Pick<MatmulVariant, "bm" | "bn" | "bk" | "clampEdges" | "hoistOffsets" | "tailChecked">,
  m: number,
  n: number,
  k: number,
  kChunk: number,
): boolean {
  const tiles = v.clampEdges === true || (m % v.bm === 0 && n % v.bn === 0);
  // With the k tail checked, only the starts of the k ranges must be whole steps (the hoisted
  // loads add k0 / 4 for vec4 rows).
  const ks = (v.tailChecked === true && v.hoistOffsets === true && kChunk % v.bk === 0) ||
    (k % v.bk === 0 && kChunk % v.bk === 0 && k % kChunk === 0);
  return tiles && ks;
}

/**
 * Split-K count near `splits` (up to twice it) that divides K into whole k steps of `bk`, so
 * every split's k range is whole and the tuned form's unchecked loads apply; `splits` itself when
 * K is not whole steps or no such count exists.
 *
 * @example
 * ```ts
 * import { wholeSplits } from "./matmul_wgsl.ts";
 * console.log(wholeSplits(32768, 17, 16)); // 32 (2048 k steps / 32 = 64 each)
 * console.log(wholeSplits(8200, 5, 16)); // 5 (8200 is not whole 16-steps)
 * ```
 */
export function wholeSplits(k: number, splits: number, bk: number): number {
  if (splits <= 1 || k % bk !== 0) return splits;
  const steps = k / bk;
  for (let s = splits; s <= 2 * splits && s <= steps; s++) if (steps % s === 0) return s;
  return splits;
}

/**
 * Workgroup memory (bytes) the variant's shader declares; must fit the device's
 * maxComputeWorkgroupStorageSize.
 *
 * @example
 * ```ts
 * import { MATMUL_UNROLLED_VARIANT, matmulVariantSharedBytes } from "./matmul_wgsl.ts";
 * console.log(matmulVariantSharedBytes(MATMUL_UNROLLED_VARIANT)); // 16384
 * ```
 */
export function matmulVariantSharedBytes(v: MatmulVariant): number {
  const a = v.aTile === "kMajor" ? v.bk * v.bm / 4 : v.bm * (v.bk / 4 + 1);
  return 16 * (a + v.bk * v.bn / 4) * (v.doubleBuffer ? 2 : 1);
}

/** How one operand reaches shared memory (see operandWgsl for the fixed 128×128×16 tile). */
interface VariantOperand {
  readonly name: "A" | "B";
  /** Outer dim uniform (M or N) and its tile size (bm or bn). */
  readonly outer: "M" | "N";
  readonly tile: number;
  /** k is the slow axis in global memory. */
  readonly kMajor: boolean;
  readonly vec4: boolean;
  /** Shared layout: k-major vec4s of 4 outer elements, or outer-major vec4s of 4 k (padded). */
  readonly shared: "kMajor" | "kVec4";
  /** Loads without the bounds check (whole k ranges; whole tiles unless clampEdges). */
  readonly unchecked: boolean;
  /** Unchecked loads clamp the outer index to the matrix (partial edge tiles allowed). */
  readonly clampEdges: boolean;
  /** Shared stages (2 = double-buffered). */
  readonly stages: number;
  /** Nested shared arrays (see MatmulVariant.tile2d). */
  readonly tile2d: boolean;
}

// Per-operand pieces for variants: the load helper, the coordinates of tile slot `idx`, and the
// statement storing value `r` of that slot into the shared tile.
function variantOperand(o: VariantOperand, bk: number, threads: number) {
  const S = `${o.name}s`, O = `u.${o.outer}`, w = o.vec4 ? 4 : 1;
  const type = o.vec4 ? "vec4<f32>" : "f32";
  const total = o.tile * bk / w;
  const slots = Math.ceil(total / threads);
  const along: "outer" | "k" | "none" = !o.vec4 ? "none" : o.kMajor ? "outer" : "k";
  const coords = along === "outer"
    ? `let c = idx % ${o.tile / 4}u; let k = idx / ${o.tile / 4}u; let oo = c * 4u;`
    : along === "k"
    ? `let c = idx % ${bk / 4}u; let oo = idx / ${bk / 4}u; let k = c * 4u;`
    : o.kMajor
    ? `let oo = idx % ${o.tile}u; let k = idx / ${o.tile}u;`
    : `let k = idx % ${bk}u; let oo = idx / ${bk}u;`;
  // Clamped edges: rows (columns) past M (N) read the last valid one; they only feed rows
  // (columns) of C that are never stored. A vec4 along the outer axis (outer % 4 == 0) clamps to
  // the last whole vec4.
  const outerIdx = o.clampEdges ? `min(o0 + oo, ${O} - ${along === "outer" ? 4 : 1}u)` : "o0 + oo";
  const addr = o.kMajor
    ? `base + (k0 + k) * ${O} + ${outerIdx}`
    : `base + (${outerIdx}) * u.K + k0 + k`;
  const read = `${o.name}[(${addr})${o.vec4 ? " / 4u" : ""}]`;
  // Hoisted form (unchecked only): a slot's element offset at k0 = 0, computed once per thread,
  // plus a term in k0 per load.
  const addr0 = o.kMajor ? `base + k * ${O} + ${outerIdx}` : `base + (${outerIdx}) * u.K + k`;
  const offset = `fn off${o.name}(idx: u32, o0: u32, base: u32) -> u32 {
  ${coords}
  return (${addr0})${o.vec4 ? " / 4u" : ""};
}`;
  const kTerm = (k0: string) =>
    o.kMajor
      ? (o.vec4 ? `(${k0}) * (${O} / 4u)` : `(${k0}) * ${O}`)
      : (o.vec4 ? `(${k0}) / 4u` : `(${k0})`);
  const loader = (checked: boolean) =>
    `fn load${o.name}(idx: u32, k0: u32, kEnd: u32, o0: u32, base: u32) -> ${type} {
  ${coords}
  ${
      checked
        ? `if (o0 + oo < ${O} && k0 + k < kEnd) { return ${read}; }
  return ${type}(0.0);`
        : `return ${read};`
    }
}`;
  const load = loader(!o.unchecked);
  /** The bounds-checked loader, whatever the variant (for the k tail of `tailChecked`). */
  const checkedLoad = loader(true);
  // The shared tile is [stages][major][minor] vec4s: major = k and minor = outer / 4 (k-major),
  // or major = outer and minor = k / 4 plus one pad vec4 (kVec4). Flat: one array, index
  // (stage · majors + major) · minors + minor; tile2d: nested arrays indexed [stage][major][minor].
  const majors = o.shared === "kMajor" ? bk : o.tile;
  const minors = o.shared === "kMajor" ? o.tile / 4 : bk / 4 + 1;
  const stageLen = majors * minors;
  const at = (major: string, minor: string, stage = "") =>
    o.tile2d
      ? `${S}${o.stages > 1 ? `[${stage}]` : ""}[${major}][${minor}]`
      : `${S}[${
        o.stages > 1 ? `${stage} * ${stageLen}u + ` : ""
      }(${major}) * ${minors}u + ${minor}]`;
  let store: (r: string, st: string) => string;
  if (o.shared === "kMajor") {
    store = along === "outer"
      ? (r, st) => `${at("k", "c", st)} = ${r};`
      : along === "k"
      ? (r, st) =>
        [0, 1, 2, 3].map((e) => `${at(`k + ${e}u`, "oo / 4u", st)}[oo % 4u] = ${r}[${e}];`)
          .join(" ")
      : (r, st) => `${at("k", "oo / 4u", st)}[oo % 4u] = ${r};`;
  } else {
    store = along === "k"
      ? (r, st) => `${at("oo", "c", st)} = ${r};`
      : along === "outer"
      ? (r, st) =>
        [0, 1, 2, 3].map((e) => `${at(`oo + ${e}u`, "k / 4u", st)}[k % 4u] = ${r}[${e}];`)
          .join(" ")
      : (r, st) => `${at("oo", "k / 4u", st)}[k % 4u] = ${r};`;
  }
  const vec4 = "vec4<f32>";
  const sharedType = o.tile2d
    ? (o.stages > 1 ? (t: string) => `array<${t}, ${o.stages}>` : (t: string) => t)(
      `array<array<${vec4}, ${minors}>, ${majors}>`,
    )
    : `array<${vec4}, ${stageLen * o.stages}>`;
  return {
    binding: (b: number) =>
      `@group(0) @binding(${b}) var<storage, read> ${o.name}: array<${type}>;`,
    shared: `var<workgroup> ${S}: ${sharedType};`,
    load,
    checkedLoad,
    offset,
    /** The hoisted load of the slot whose offset is `off`, for a tile starting at k0. */
    hoistedRead: (off: string, k0: string) => `${o.name}[${off} + ${kTerm(k0)}]`,
    type,
    slots,
    // Slot s is live for every thread unless the tile does not divide evenly over the threads.
    guard: (s: number) => (s + 1) * threads > total ? `if (idx < ${total}u) ` : "",
    /** Stores `r` into the shared tile (stage `stage`, a WGSL expression, when double-buffered). */
    store: (r: string, stage = "") => `${coords} ${store(r, stage)}`,
    /** The shared tile's vec4 at (major, minor) of stage `stage`. */
    at,
  };
}

/**
 * WGSL of one matmul variant: same contract as {@link matmulWgsl} (bindings A, B, C, uniforms
 * {M, N, K, batches, aStride, bStride, kChunk}; workgroup (x, y, z) = (column tile, row tile,
 * batch + batches·split); split-K partials in C[split]) with the tile, per-thread block, loop
 * unrolling, prefetch and A layout of `v`. Dispatch ⌈N/bn⌉ × ⌈M/bm⌉ × batches·splits workgroups.
 *
 * @example
 * ```ts
 * import { MATMUL_UNROLLED_VARIANT, matmulVariantWgsl } from "./matmul_wgsl.ts";
 * const ops = { transposeA: false, transposeB: false, vec4A: true, vec4B: true, vec4C: true };
 * const src = matmulVariantWgsl({ ...MATMUL_UNROLLED_VARIANT, bk: 32 }, ops);
 * console.log(src.includes("@workgroup_size(16, 16, 1)")); // true
 * ```
 */
export function matmulVariantWgsl(v: MatmulVariant, ops: MatmulOperands): string {
  checkMatmulVariant(v);
  const { bm, bn, bk, tm, tn, unroll } = v;
  const tx = bn / tn, ty = bm / tm, threads = tx * ty;
  const mg = tm / 4, ng = tn / 4; // vec4 groups of rows / columns per thread
  const a = variantOperand(
    {
      name: "A",
      outer: "M",
      tile: bm,
      kMajor: ops.transposeA,
      vec4: ops.vec4A,
      shared: v.aTile,
      unchecked: v.unchecked === true,
      clampEdges: v.unchecked === true && v.clampEdges === true,
      stages: v.doubleBuffer ? 2 : 1,
      tile2d: v.tile2d === true,
    },
    bk,
    threads,
  );
  const b = variantOperand(
    {
      name: "B",
      outer: "N",
      tile: bn,
      kMajor: !ops.transposeB,
      vec4: ops.vec4B,
      shared: "kMajor",
      unchecked: v.unchecked === true,
      clampEdges: v.unchecked === true && v.clampEdges === true,
      stages: v.doubleBuffer ? 2 : 1,
      tile2d: v.tile2d === true,
    },
    bk,
    threads,
  );
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);
  // Accumulator for rows 4·ty + 4·ty·g + r (r < 4), columns 4·tx + 4·tx·h .. +3.
  const accIndex = (g: number | string, r: number | string, h: number | string) =>
    typeof g === "number" && typeof r === "number" && typeof h === "number"
      ? `${(g * 4 + r) * ng + h}`
      : `(${g} * 4u + ${r}) * ${ng}u + ${h}`;
  const acc = (g: number, r: number, h: number) =>
    unroll ? `c${g}_${r}_${h}` : `acc[${accIndex(g, r, h)}]`;
  const reg = (op: "A" | "B", s: number | string) => unroll ? `r${op}${s}` : `r${op}[${s}]`;
  const operands = [["A", a, "row0", "aBase"], ["B", b, "col0", "bBase"]] as const;

  // Global → registers (prefetch) or global → shared (no prefetch), for tile start k0.
  const hoist = v.hoistOffsets === true && v.unchecked === true && unroll;
  const tail = hoist && v.tailChecked === true;
  const checkedSlot = (op: "A" | "B", s: number | string, o0: string, base: string) =>
    `load${op}(li + ${typeof s === "number" ? `${s * threads}u` : `${s} * ${threads}u`}, ` +
    `KZ, kEnd, ${o0}, ${base})`;
  const loadSlot = (op: "A" | "B", s: number | string, o0: string, base: string) =>
    hoist ? (op === "A" ? a : b).hoistedRead(`o${op}${s}`, "KZ") : checkedSlot(op, s, o0, base);
  const slotLoop = (
    o: typeof a,
    body: (s: number | string) => string,
  ) => {
    if (unroll) {
      for (const s of range(o.slots)) {
        const inner = body(s);
        emit(`    { let idx = li + ${s * threads}u; ${o.guard(s)}{ ${inner} } }`);
      }
    } else {
      emit(
        `    for (var s = 0u; s < ${o.slots}u; s++) { let idx = li + s * ${threads}u; ` +
          `${o.guard(o.slots - 1)}{ ${body("s")} } }`,
      );
    }
  };
  const prefetchTo = (k0: string) => {
    const loads = (slot: typeof loadSlot) => {
      for (const [op, o, o0, base] of operands) {
        slotLoop(o, (s) => `${reg(op, s)} = ${slot(op, s, o0, base).replace("KZ", k0)};`);
      }
    };
    if (!tail) return loads(loadSlot);
    // Whole k tile: the hoisted loads; the k tail (once per workgroup at most): checked loads.
    emit(`    if (${k0} + BK <= kEnd) {`);
    loads(loadSlot);
    emit(`    } else {`);
    loads(checkedSlot);
    emit(`    }`);
  };

  emit(
    `struct Uniforms { M: u32, N: u32, K: u32, batches: u32, aStride: u32, bStride: u32, kChunk: u32 };
${a.binding(0)}
${b.binding(1)}
@group(0) @binding(2) var<storage, read_write> C: array<${ops.vec4C ? "vec4<f32>" : "f32"}>;
@group(0) @binding(3) var<uniform> u: Uniforms;

const BM = ${bm}u;
const BN = ${bn}u;
const BK = ${bk}u;
// A: ${
      v.aTile === "kMajor" ? `As[k * ${bm / 4} + m / 4]` : `As[m * ${bk / 4 + 1} + k / 4]`
    }; B: Bs[k * ${bn / 4} + n / 4] (vec4s of 4 floats).
${a.shared}
${b.shared}

${hoist ? a.offset : a.load}
${hoist ? b.offset : b.load}
${
      tail
        ? `${a.checkedLoad}
${b.checkedLoad}`
        : ""
    }

@compute @workgroup_size(${tx}, ${ty}, 1)
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
  ${
      v.warpTile
        ? `// Warp tile: lanes 8 (columns) × 4 (rows) of threads, warps ${tx / 8} across.
  let warp = li / 32u;
  let lane = li % 32u;
  let tx = (warp % ${tx / 8}u) * 8u + lane % 8u;
  let ty = (warp / ${tx / 8}u) * 4u + lane / 8u;`
        : `let tx = lid.x;
  let ty = lid.y;`
    }`,
  );
  const db = v.doubleBuffer === true;
  if (hoist) {
    for (const [op, o, o0, base] of operands) {
      emit(
        `  ${
          range(o.slots).map((s) =>
            `let o${op}${s} = off${op}(li + ${s * threads}u, ${o0}, ${base});`
          )
            .join(" ")
        }`,
      );
    }
  }
  if (unroll) {
    for (const g of range(mg)) {
      for (const r of range(4)) {
        emit(`  ${range(ng).map((h) => `var ${acc(g, r, h)} = vec4<f32>(0.0);`).join(" ")}`);
      }
    }
  } else emit(`  var acc: array<vec4<f32>, ${tm * ng}>;`);
  if (v.prefetch) {
    for (const [op, o] of operands) {
      emit(
        unroll
          ? `  ${range(o.slots).map((s) => `var ${reg(op, s)}: ${o.type};`).join(" ")}`
          : `  var r${op}: array<${o.type}, ${o.slots}>;`,
      );
    }
    prefetchTo("kBegin");
  }
  // Double buffering: `stage` (0 or 1) holds the tile being read; the first tile is
  // stored before the loop, each later one into the other stage after the current one's FMAs.
  const storeStage = (stage: string) => {
    for (const [op, o] of operands) slotLoop(o, (s) => o.store(reg(op, s), stage));
  };
  if (db) {
    storeStage("0u");
    emit(`  workgroupBarrier();
  var stage = 0u;`);
  }
  emit(`  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + BK) {`);
  if (db) {
    emit(`    let more = k0 + BK < kEnd;
    if (more) {`);
    prefetchTo("k0 + BK");
    emit(`    }`);
  } else {
    for (const [op, o, o0, base] of operands) {
      slotLoop(
        o,
        (s) =>
          v.prefetch
            ? o.store(reg(op, s))
            : `let v = ${loadSlot(op, s, o0, base).replace("KZ", "k0")}; ${o.store("v")}`,
      );
    }
    emit(`    workgroupBarrier();`);
    if (v.prefetch) {
      emit(`    if (k0 + BK < kEnd) {`);
      prefetchTo("k0 + BK");
      emit(`    }`);
    }
  }
  // The FMAs of one k step given a(g, r): the scalar A value of row (g, r), b(h): the B vec4.
  const fmas = (aOf: (g: number, r: number) => string, bOf: (h: number) => string) => {
    for (const g of range(mg)) {
      for (const r of range(4)) {
        for (const h of range(ng)) {
          emit(`      ${acc(g, r, h)} = fma(vec4<f32>(${aOf(g, r)}), ${bOf(h)}, ${acc(g, r, h)});`);
        }
      }
    }
  };
  const stage = db ? "stage" : "";
  const bRead = (k: string, h: number) => b.at(k, `tx + ${tx * h}u`, stage);
  const comp = ["x", "y", "z", "w"];
  if (v.aTile === "kMajor") {
    const step = (k: string) => {
      for (const g of range(mg)) {
        emit(`      let a${g} = ${a.at(k, `ty + ${ty * g}u`, stage)};`);
      }
      for (const h of range(ng)) emit(`      let b${h} = ${bRead(k, h)};`);
      fmas((g, r) => `a${g}.${comp[r]}`, (h) => `b${h}`);
    };
    if (unroll) {
      for (const k of range(bk)) {
        emit(`    {`);
        step(`${k}u`);
        emit(`    }`);
      }
    } else {
      emit(`    for (var k = 0u; k < BK; k = k + 1u) {`);
      step("k");
      emit(`    }`);
    }
  } else {
    const quad = (q: string) => {
      for (const g of range(mg)) {
        for (const r of range(4)) {
          emit(`      let a${g}_${r} = ${a.at(`ty * 4u + ${4 * ty * g + r}u`, q, stage)};`);
        }
      }
      for (const kk of range(4)) {
        const k = /^\d+u$/.test(q) ? `${Number.parseInt(q) * 4 + kk}u` : `(${q} * 4u + ${kk}u)`;
        emit(`      {`);
        for (const h of range(ng)) emit(`      let b${h} = ${bRead(k, h)};`);
        fmas((g, r) => `a${g}_${r}.${comp[kk]}`, (h) => `b${h}`);
        emit(`      }`);
      }
    };
    if (unroll) {
      for (const q of range(bk / 4)) {
        emit(`    {`);
        quad(`${q}u`);
        emit(`    }`);
      }
    } else {
      emit(`    for (var q = 0u; q < ${bk / 4}u; q = q + 1u) {`);
      quad("q");
      emit(`    }`);
    }
  }
  if (db) {
    emit(`    if (more) {`);
    storeStage("1u - stage");
    emit(`    }
    workgroupBarrier();
    stage = 1u - stage;`);
  } else emit(`    workgroupBarrier();`);
  emit(`  }
  let cBase = (split * u.batches + batch) * u.M * u.N;`);
  const store = (g: number, r: number, h: number) => {
    const val = acc(g, r, h);
    emit(`      { let gn = col0 + tx * 4u + ${4 * tx * h}u; let o = cBase + gm * u.N + gn;`);
    if (ops.vec4C) emit(`        if (gn < u.N) { C[o / 4u] = ${val}; } }`);
    else {
      emit(`        if (gn < u.N) { C[o] = ${val}.x; }
        if (gn + 1u < u.N) { C[o + 1u] = ${val}.y; }
        if (gn + 2u < u.N) { C[o + 2u] = ${val}.z; }
        if (gn + 3u < u.N) { C[o + 3u] = ${val}.w; } }`);
    }
  };
  if (unroll) {
    for (const g of range(mg)) {
      for (const r of range(4)) {
        emit(`  {
    let gm = row0 + ty * 4u + ${4 * ty * g + r}u;
    if (gm < u.M) {`);
        for (const h of range(ng)) store(g, r, h);
        emit(`    }
  }`);
      }
    }
  } else {
    emit(`  for (var g = 0u; g < ${mg}u; g = g + 1u) {
    for (var r = 0u; r < 4u; r = r + 1u) {
      let gm = row0 + ty * 4u + ${4 * ty}u * g + r;
      if (gm >= u.M) { continue; }
      for (var h = 0u; h < ${ng}u; h = h + 1u) {
        let v = acc[${accIndex("g", "r", "h")}];
        let gn = col0 + tx * 4u + ${4 * tx}u * h;
        let o = cBase + gm * u.N + gn;`);
    emit(
      ops.vec4C
        ? `        if (gn < u.N) { C[o / 4u] = v; }`
        : `        if (gn < u.N) { C[o] = v.x; }
        if (gn + 1u < u.N) { C[o + 1u] = v.y; }
        if (gn + 2u < u.N) { C[o + 2u] = v.z; }
        if (gn + 3u < u.N) { C[o + 3u] = v.w; }`,
    );
    emit(`      }
    }
  }`);
  }
  emit(`}`);
  return lines.join("\n") + "\n";
}
