/**
 * A single-precision matrix product written directly in WebAssembly SIMD, for the wasm backend's
 * BatchMatMul ({@link ../wasm_kernels.ts}). tfjs-backend-wasm 4.22's XNNPACK products ran at
 * 20–24 GFLOP/s on our 2-core AMD EPYC (Zen 3) machine; this 6×8 register-tiled kernel with
 * relaxed-SIMD fused multiply-adds runs at ~40 ([1536, 128]·[128, 192], one core), 25–28 with
 * separate multiplies and adds where relaxed SIMD is missing.
 *
 * The module is assembled here byte by byte (no toolchain needed) and imports the memory it works
 * on, so that it reads and writes the tfjs heap in place. It exports `p8` (packs B) and `g6` and
 * `g1`, which compute
 * 6 rows (or 1 row) at a time of `C[M, 8·panels] = A[M, K]·Bp`:
 * - A's element (r, k) lies at byte `a + r·rowStride + k·kStride` (a transposed A is
 *   rowStride 4, kStride 4·M: no copy);
 * - Bp holds B packed in panels of 8 columns, panel p's (k, c) at byte `bp + 32·(p·K + k) + 4·c`;
 * - C's (r, n) lies at byte `c + r·ldc + 4·n`.
 * {@link WasmGemm.matmul} packs B (transposed or not) and handles the ragged edges.
 *
 * @module
 */

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};

const name = (s: string) => [...leb(s.length), ...new TextEncoder().encode(s)];
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];

// Instructions (WebAssembly core + SIMD + relaxed SIMD opcodes).
const I32 = 0x7f, V128 = 0x7b;
const get = (i: number) => [0x20, ...leb(i)];
const set = (i: number) => [0x21, ...leb(i)];
const tee = (i: number) => [0x22, ...leb(i)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const ADD = 0x6a, SUB = 0x6b, MUL = 0x6c, LT_U = 0x49;
const simd = (op: number, ...imm: number[]) => [0xfd, ...leb(op), ...imm];
const load = (offset: number) => simd(0x00, 4, ...leb(offset)); // v128.load
const store = (offset: number) => simd(0x0b, 4, ...leb(offset)); // v128.store
const splat = simd(0x09, 2, 0); // v128.load32_splat
const F32X4_ADD = simd(0xe4), F32X4_MUL = simd(0xe6), RELAXED_MADD = simd(0x105);
const ZERO = simd(0x0c, ...new Array(16).fill(0)); // v128.const 0
const loop = (body: number[]) => [0x03, 0x40, ...body, 0x0b];
const IF = [0x04, 0x40], ELSE = 0x05, END = 0x0b;
const brIf = (depth: number) => [0x0d, ...leb(depth)];

/**
 * The body of `g{MR}(a, rowStride, kStride, bp, K, c, ldc, rows, panels, panelStride, add)`:
 * rows must be a multiple of MR, K ≥ 1, panels ≥ 1; panel p starts at bp + p·panelStride; add ≠ 0
 * adds the product to C instead of overwriting it.
 */
function kernel(MR: number, fma: boolean): number[] {
  const [A, RS, KS, BP, K, C, LDC, ROWS, PANELS, PS, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  let next = 11;
  const i = next++, p = next++, k = next++, pb = next++, pc = next++;
  const pa = Array.from({ length: MR }, () => next++);
  const i32Locals = next - 11;
  const first = next;
  const acc = Array.from({ length: 2 * MR }, () => next++);
  const av = next++, b0 = next++, b1 = next++;
  const v128Locals = next - first;
  const mac = (x: number, b: number) =>
    fma
      ? [...get(av), ...get(b), ...get(x), ...RELAXED_MADD, ...set(x)]
      : [...get(x), ...get(av), ...get(b), ...F32X4_MUL, ...F32X4_ADD, ...set(x)];
  // c + (i + r)·ldc + 32·p: row i + r, columns 8p…8p+7
  const cRow = (r: number) => [
    ...get(C),
    ...get(i),
    ...i32(r),
    ADD,
    ...get(LDC),
    MUL,
    ADD,
    ...get(p),
    ...i32(32),
    MUL,
    ADD,
  ];
  const body = [
    ...i32(0),
    ...set(i),
    ...loop([
      ...i32(0),
      ...set(p),
      ...loop([
        ...get(ACC),
        ...IF,
        ...pa.flatMap((_, r) => [
          ...cRow(r),
          ...tee(pc),
          ...load(0),
          ...set(acc[2 * r]),
          ...get(pc),
          ...load(16),
          ...set(acc[2 * r + 1]),
        ]),
        ELSE,
        ...acc.flatMap((x) => [...ZERO, ...set(x)]),
        END,
        // pa[r] = a + (i + r)·rowStride; pb = bp + p·panelStride
        ...pa.flatMap((x, r) => [
          ...get(A),
          ...get(i),
          ...i32(r),
          ADD,
          ...get(RS),
          MUL,
          ADD,
          ...set(x),
        ]),
        ...get(BP),
        ...get(p),
        ...get(PS),
        MUL,
        ADD,
        ...set(pb),
        ...get(K),
        ...set(k),
        ...loop([
          ...get(pb),
          ...load(0),
          ...set(b0),
          ...get(pb),
          ...load(16),
          ...set(b1),
          ...pa.flatMap((x, r) => [
            ...get(x),
            ...splat,
            ...set(av),
            ...mac(acc[2 * r], b0),
            ...mac(acc[2 * r + 1], b1),
            ...get(x),
            ...get(KS),
            ADD,
            ...set(x),
          ]),
          ...get(pb),
          ...i32(32),
          ADD,
          ...set(pb),
          ...get(k),
          ...i32(1),
          SUB,
          ...tee(k),
          ...brIf(0),
        ]),
        ...pa.flatMap((_, r) => [
          ...cRow(r),
          ...tee(pc),
          ...get(acc[2 * r]),
          ...store(0),
          ...get(pc),
          ...get(acc[2 * r + 1]),
          ...store(16),
        ]),
        ...get(p),
        ...i32(1),
        ADD,
        ...tee(p),
        ...get(PANELS),
        LT_U,
        ...brIf(0),
      ]),
      ...get(i),
      ...i32(MR),
      ADD,
      ...tee(i),
      ...get(ROWS),
      LT_U,
      ...brIf(0),
    ]),
    0x0b,
  ];
  return [...vec([[...leb(i32Locals), I32], [...leb(v128Locals), V128]]), ...body];
}

/**
 * The body of `p8(b, rowBytes, K, panels, to)`: packs full 8-column panels of a row-major B
 * (row k at b + k·rowBytes) into the layout the kernels read, two vectors per row.
 */
function packPanels(): number[] {
  const [B, ROW, K, PANELS, TO] = [0, 1, 2, 3, 4];
  const p = 5, k = 6, src = 7;
  const body = [
    ...i32(0),
    ...set(p),
    ...loop([
      ...get(B),
      ...get(p),
      ...i32(32),
      MUL,
      ADD,
      ...set(src),
      ...get(K),
      ...set(k),
      ...loop([
        ...get(TO),
        ...get(src),
        ...load(0),
        ...store(0),
        ...get(TO),
        ...get(src),
        ...load(16),
        ...store(16),
        ...get(src),
        ...get(ROW),
        ADD,
        ...set(src),
        ...get(TO),
        ...i32(32),
        ADD,
        ...set(TO),
        ...get(k),
        ...i32(1),
        SUB,
        ...tee(k),
        ...brIf(0),
      ]),
      ...get(p),
      ...i32(1),
      ADD,
      ...tee(p),
      ...get(PANELS),
      LT_U,
      ...brIf(0),
    ]),
    0x0b,
  ];
  return [...vec([[...leb(3), I32]]), ...body];
}

/**
 * The module's bytes: imports `env.memory`, exports `g6`, `g1` and `p8` (see the module docs).
 *
 * @example
 * ```ts
 * import { gemmModuleBytes } from "./wasm_gemm.ts";
 * console.log(WebAssembly.validate(gemmModuleBytes(false))); // true
 * ```
 */
export function gemmModuleBytes(fma: boolean): Uint8Array<ArrayBuffer> {
  const params = vec(new Array(11).fill([I32]));
  const packParams = vec(new Array(5).fill([I32]));
  const bodies = [kernel(6, fma), kernel(1, fma), packPanels()];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec([[0x60, ...params, 0], [0x60, ...packParams, 0]])),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...leb(1)]])),
    ...section(3, vec([[0], [0], [1]])),
    ...section(
      7,
      vec([[...name("g6"), 0x00, 0], [...name("g1"), 0x00, 1], [...name("p8"), 0x00, 2]]),
    ),
    ...section(10, vec(bodies.map((b) => [...leb(b.length), ...b]))),
  ]);
}

/**
 * Whether this engine runs relaxed SIMD (`f32x4.relaxed_madd`): V8 since 11.4, so Deno 2.
 *
 * @example
 * ```ts
 * import { relaxedSimd } from "./wasm_gemm.ts";
 * console.log(typeof relaxedSimd()); // "boolean"
 * ```
 */
export function relaxedSimd(): boolean {
  return WebAssembly.validate(gemmModuleBytes(true));
}

type Kernel = (...args: number[]) => void;

/**
 * Terms per pass of the sum over K (longer sums add passes into C, continuing the same running
 * sums: results are bit-identical to one pass). Measured best of 128–512 and one pass: transposed
 * [2048, 128]ᵀ·[2048, 512] 12.5 ms in one pass, 9.5 in passes of 256.
 */
const K_CHUNK = 256;

/** Where an operand lies in the memory (byte offset) and whether it is stored transposed. */
export interface GemmOperand {
  readonly at: number;
  readonly transposed: boolean;
}

/**
 * The kernels instantiated on one memory, with the packing and edge handling around them.
 *
 * @example
 * ```ts
 * import { WasmGemm } from "./wasm_gemm.ts";
 * const memory = new WebAssembly.Memory({ initial: 1 });
 * const gemm = new WasmGemm(memory);
 * const f = new Float32Array(memory.buffer);
 * f.set([1, 2, 3, 4], 0); // A [2, 2]
 * f.set([5, 6, 7, 8], 4); // B [2, 2]
 * // C at byte 32, packed B scratch at byte 64 (needs 32·K·⌈N/8⌉ bytes), edge scratch at 1024
 * gemm.matmul({ at: 0, transposed: false }, { at: 16, transposed: false }, 32, [2, 2, 2], 64, 1024);
 * console.log(Array.from(f.subarray(8, 12))); // [19, 22, 43, 50]
 * ```
 */
export class WasmGemm {
  readonly fma: boolean;
  readonly #memory: WebAssembly.Memory;
  readonly #g6: Kernel;
  readonly #g1: Kernel;
  readonly #p8: Kernel;

  constructor(memory: WebAssembly.Memory, fma: boolean = relaxedSimd()) {
    const module = new WebAssembly.Module(gemmModuleBytes(fma));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.fma = fma;
    this.#memory = memory;
    this.#g6 = instance.exports.g6 as Kernel;
    this.#g1 = instance.exports.g1 as Kernel;
    this.#p8 = instance.exports.p8 as Kernel;
  }

  /** Bytes of packed-B scratch that {@link matmul} needs for K × N. */
  static packBytes(K: number, N: number): number {
    return 32 * K * Math.ceil(N / 8);
  }

  /** Bytes of edge scratch that {@link matmul} needs for M rows. */
  static edgeBytes(M: number): number {
    return 32 * M;
  }

  /** Packs B `[K, N]` (or `[N, K]` when transposed) into {@link packBytes} bytes at `to`. */
  pack(b: GemmOperand, K: number, N: number, to: number): void {
    const full = Math.floor(N / 8);
    if (b.transposed) packB(new Float32Array(this.#memory.buffer), b, K, N, to / 4);
    else {
      if (full > 0) this.#p8(b.at, 4 * N, K, full, to); // SIMD copies: 4× the JS loop's speed
      if (N > 8 * full) packB(new Float32Array(this.#memory.buffer), b, K, N, to / 4, full);
    }
  }

  /**
   * `C[M, N] = op(A)·op(B)` with A `[M, K]` (or `[K, M]` when transposed), B `[K, N]` (or
   * `[N, K]`), C `[M, N]`, all row-major float32 at byte offsets into the memory; `pack` and
   * `edge` are scratch areas of {@link packBytes} and {@link edgeBytes} bytes. With `packed`, `pack`
   * already holds B as {@link pack} left it (a cached weight) and `b` is not read.
   */
  matmul(
    a: GemmOperand,
    b: GemmOperand,
    c: number,
    [M, K, N]: readonly [number, number, number],
    pack: number,
    edge: number,
    packed = false,
  ): void {
    if (M === 0 || N === 0) return;
    const f = new Float32Array(this.#memory.buffer);
    const panels = Math.ceil(N / 8), full = Math.floor(N / 8);
    if (K === 0) {
      for (let r = 0; r < M; r++) f.fill(0, c / 4 + r * N, c / 4 + r * N + N);
      return;
    }
    if (!packed) this.pack(b, K, N, pack);
    const rs = a.transposed ? 4 : 4 * K, ks = a.transposed ? 4 * M : 4;
    const rows6 = M - M % 6;
    // Long sums run in chunks of K_CHUNK, each adding to C: a chunk's A rows and B panel stay
    // in L1 while every panel and row block reuses them.
    const run = (at: number, ldc: number, bp: number, count: number) => {
      for (let k0 = 0; k0 < K; k0 += K_CHUNK) {
        const kc = Math.min(K_CHUNK, K - k0), add = k0 === 0 ? 0 : 1;
        const a0 = a.at + k0 * ks, b0 = bp + 32 * k0;
        if (rows6 > 0) this.#g6(a0, rs, ks, b0, kc, at, ldc, rows6, count, 32 * K, add);
        for (let r = rows6; r < M; r++) {
          this.#g1(a0 + r * rs, rs, ks, b0, kc, at + r * ldc, ldc, 1, count, 32 * K, add);
        }
      }
    };
    if (full > 0) run(c, 4 * N, pack, full);
    if (panels > full) {
      run(edge, 32, pack + 32 * K * full, 1);
      const g = new Float32Array(this.#memory.buffer), rest = N - 8 * full;
      for (let r = 0; r < M; r++) {
        const to = c / 4 + r * N + 8 * full, from = edge / 4 + 8 * r;
        for (let j = 0; j < rest; j++) g[to + j] = g[from + j];
      }
    }
  }
}

// B into panels of 8 columns (zeros past N), from panel `from` on: panel p's (k, c) at floats
// to + 8·(p·K + k) + c.
function packB(
  f: Float32Array,
  b: GemmOperand,
  K: number,
  N: number,
  to: number,
  from = 0,
): void {
  const src = b.at / 4;
  const panels = Math.ceil(N / 8);
  for (let p = from; p < panels; p++) {
    const n0 = 8 * p, width = Math.min(8, N - n0);
    const base = to + 8 * p * K;
    if (b.transposed) {
      // B stored [N, K]: column n of B is row n of the storage.
      for (let c = 0; c < 8; c++) {
        if (c >= width) {
          for (let k = 0; k < K; k++) f[base + 8 * k + c] = 0;
          continue;
        }
        const row = src + (n0 + c) * K;
        for (let k = 0; k < K; k++) f[base + 8 * k + c] = f[row + k];
      }
    } else if (width === 8) {
      for (let k = 0; k < K; k++) {
        const from = src + k * N + n0, at = base + 8 * k;
        f[at] = f[from];
        f[at + 1] = f[from + 1];
        f[at + 2] = f[from + 2];
        f[at + 3] = f[from + 3];
        f[at + 4] = f[from + 4];
        f[at + 5] = f[from + 5];
        f[at + 6] = f[from + 6];
        f[at + 7] = f[from + 7];
      }
    } else {
      for (let k = 0; k < K; k++) {
        const from = src + k * N + n0, at = base + 8 * k;
        for (let c = 0; c < 8; c++) f[at + c] = c < width ? f[from + c] : 0;
      }
    }
  }
}
