/**
 * A single-precision matrix product written directly in WebAssembly SIMD, for the wasm backend's
 * BatchMatMul ({@link ../wasm_kernels.ts}). tfjs-backend-wasm 4.22's XNNPACK products ran at
 * 20–24 GFLOP/s on our 2-core AMD EPYC (Zen 3) machine; this 6×8 register-tiled kernel with
 * relaxed-SIMD fused multiply-adds runs the tiny preset's products at 30–48 (one core), 25–28
 * with separate multiplies and adds where relaxed SIMD is missing. The sum over K runs 4 terms per
 * loop trip with immediate load offsets (one A pointer bump per row and trip): in the model,
 * 926 → 787 ms of products per 2×1024 micro-batch against the one-term loop (measured paired).
 *
 * The module is assembled here byte by byte (no toolchain needed) and imports the memory it works
 * on, so that it reads and writes the tfjs heap in place. Its kernels `g1`…`g6` (A row-major) and
 * `r1`…`r6` (A transposed, read in place; with ≥ 8 full panels a transposed A's pass is first
 * transposed to row-major by `ta`, ~10% faster overall) compute MR rows at a time of
 * `C[M, 8·panels] = A[M, K]·Bp`:
 * - A's element (r, k) lies at byte `a + r·rowStride + k·kStride` (a transposed A is
 *   rowStride 4, kStride 4·M: no copy);
 * - Bp holds B packed in panels of 8 columns (by `p8`, or `t8` for a transposed B: 4×4 register
 *   transposes), panel p's (k, c) at byte `bp + 32·(p·K + k) + 4·c`;
 * - C's (r, n) lies at byte `c + r·ldc + 4·n`.
 * {@link WasmGemm.matmul} packs B (transposed or not) and handles the ragged edges.
 *
 * @module
 */
import { get, I32, leb, name, section, set, simd, sleb, tee, V128, vec } from "./wasm_asm.ts";

// Instructions (WebAssembly core + SIMD + relaxed SIMD opcodes).
const i32 = (n: number) => [0x41, ...sleb(n)];
const ADD = 0x6a, SUB = 0x6b, MUL = 0x6c, LT_U = 0x49, GE_U = 0x4f, EQZ = 0x45;
const load = (offset: number) => simd(0x00, 4, ...leb(offset)); // v128.load
const store = (offset: number) => simd(0x0b, 4, ...leb(offset)); // v128.store
const splatAt = (offset: number) => simd(0x09, 2, ...leb(offset)); // v128.load32_splat
const F32X4_ADD = simd(0xe4), F32X4_MUL = simd(0xe6), RELAXED_MADD = simd(0x105);
const ZERO = simd(0x0c, ...new Array(16).fill(0)); // v128.const 0
const loop = (body: number[]) => [0x03, 0x40, ...body, 0x0b];
const IF = [0x04, 0x40], BLOCK = [0x02, 0x40], ELSE = 0x05, END = 0x0b;
const brIf = (depth: number) => [0x0d, ...leb(depth)];

/** How A's elements lie: "k" (A row-major, k contiguous: kStride 4: loads take immediate
 * offsets) or "s" (any strides, A transposed in place: each row pointer steps by kStride per
 * term; measured 3–5% faster on attention's [S, Q]ᵀ·[Q, 32] than one pointer for the MR rows). */
type Layout = "k" | "s";

/** Terms of the sum over K per trip of the unrolled inner loop (the rest run one by one). */
const UNROLL = 4;

/**
 * The body of `g{MR}(a, rowStride, kStride, bp, K, c, ldc, rows, panels, panelStride, add)`:
 * rows must be a multiple of MR, K ≥ 1, panels ≥ 1; panel p starts at bp + p·panelStride; add ≠ 0
 * adds the product to C instead of overwriting it. Layout "k" assumes kStride = 4 and keeps one
 * pointer per row; layout "s" steps each row pointer by kStride per term. The
 * sum over K runs {@link UNROLL} terms per trip with immediate load offsets, then the rest.
 */
function kernel(MR: number, fma: boolean, layout: Layout): number[] {
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
  const bump = (x: number, by: number[]) => [...get(x), ...by, ADD, ...set(x)];
  // Term j of a trip: B's row at pb + 32j, A's (r, k + j) at pa[r] + 4j ("k") or pa[r] ("s",
  // then each pa[r] += kStride).
  const term = (j: number) => [
    ...get(pb),
    ...load(32 * j),
    ...set(b0),
    ...get(pb),
    ...load(32 * j + 16),
    ...set(b1),
    ...Array.from({ length: MR }, (_, r) => [
      ...get(pa[r]),
      ...splatAt(layout === "k" ? 4 * j : 0),
      ...set(av),
      ...mac(acc[2 * r], b0),
      ...mac(acc[2 * r + 1], b1),
    ]).flat(),
    ...(layout === "s" ? pa.flatMap((x) => bump(x, get(KS))) : []),
  ];
  const advance = (terms: number) => [
    ...(layout === "k" ? pa.flatMap((x) => bump(x, i32(4 * terms))) : []),
    ...bump(pb, i32(32 * terms)),
    ...get(k),
    ...i32(terms),
    SUB,
    ...set(k),
  ];
  const sum = [
    ...get(K),
    ...set(k),
    ...BLOCK,
    ...get(k),
    ...i32(UNROLL),
    LT_U,
    ...brIf(0),
    ...loop([
      ...Array.from({ length: UNROLL }, (_, j) => term(j)).flat(),
      ...advance(UNROLL),
      ...get(k),
      ...i32(UNROLL),
      GE_U,
      ...brIf(0),
    ]),
    END,
    ...BLOCK,
    ...get(k),
    EQZ,
    ...brIf(0),
    ...loop([...term(0), ...advance(1), ...get(k), ...brIf(0)]),
    END,
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
        ...Array.from({ length: MR }, (_, r) => [
          ...cRow(r),
          ...tee(pc),
          ...load(0),
          ...set(acc[2 * r]),
          ...get(pc),
          ...load(16),
          ...set(acc[2 * r + 1]),
        ]).flat(),
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
        ...sum,
        ...Array.from({ length: MR }, (_, r) => [
          ...cRow(r),
          ...tee(pc),
          ...get(acc[2 * r]),
          ...store(0),
          ...get(pc),
          ...get(acc[2 * r + 1]),
          ...store(16),
        ]).flat(),
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
 * The body of `t8(b, K, panels, to, K4)`: packs full 8-column panels of a transposed B (stored
 * [N, K]: B's column n is the row at b + 4K·n) for the first K4 terms (a multiple of 4), by 4×4
 * transposes in registers; panel p's (k, c) goes to to + 32·(p·K + k) + 4c as {@link packPanels}.
 */
function packTransposed(): number[] {
  const [B, K, PANELS, TO, K4] = [0, 1, 2, 3, 4];
  const p = 5, k = 6, src = 7, out = 8, rowBytes = 9;
  const row = Array.from({ length: 8 }, (_, r) => 10 + r); // i32: the 8 rows' addresses
  const v = Array.from({ length: 8 }, (_, r) => 18 + r); // v128: the 8 rows' 4 terms
  const t = Array.from({ length: 4 }, (_, r) => 26 + r);
  const lanes = (...l: number[]) => l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
  const shuffle = (l: number[]) => simd(0x0d, ...lanes(...l));
  // Transposes v[4h…4h+3] (4 columns × 4 terms) and stores term j at out + 32j + 16h.
  const half = (h: number) => [
    ...get(v[4 * h]),
    ...get(v[4 * h + 1]),
    ...shuffle([0, 4, 1, 5]),
    ...set(t[0]),
    ...get(v[4 * h]),
    ...get(v[4 * h + 1]),
    ...shuffle([2, 6, 3, 7]),
    ...set(t[1]),
    ...get(v[4 * h + 2]),
    ...get(v[4 * h + 3]),
    ...shuffle([0, 4, 1, 5]),
    ...set(t[2]),
    ...get(v[4 * h + 2]),
    ...get(v[4 * h + 3]),
    ...shuffle([2, 6, 3, 7]),
    ...set(t[3]),
    ...[[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]]
      .flatMap(([x, y, l], j) => [
        ...get(out),
        ...get(t[x as number]),
        ...get(t[y as number]),
        ...shuffle(l as number[]),
        ...store(32 * j + 16 * h),
      ]),
  ];
  const body = [
    ...get(K),
    ...i32(4),
    MUL,
    ...set(rowBytes),
    ...i32(0),
    ...set(p),
    ...loop([
      ...get(B),
      ...get(p),
      ...get(rowBytes),
      MUL,
      ...i32(8),
      MUL,
      ADD,
      ...set(src),
      ...get(TO),
      ...get(p),
      ...get(K),
      MUL,
      ...i32(32),
      MUL,
      ADD,
      ...set(out),
      ...i32(0),
      ...set(k),
      ...BLOCK,
      ...get(K4),
      EQZ,
      ...brIf(0),
      ...loop([
        ...row.flatMap((x, r) =>
          r === 0 ? [...get(src), ...get(k), ...i32(4), MUL, ADD, ...set(x)] : [
            ...get(row[r - 1]),
            ...get(rowBytes),
            ADD,
            ...set(x),
          ]
        ),
        ...row.flatMap((x, r) => [...get(x), ...load(0), ...set(v[r])]),
        ...half(0),
        ...half(1),
        ...get(out),
        ...i32(128),
        ADD,
        ...set(out),
        ...get(k),
        ...i32(4),
        ADD,
        ...tee(k),
        ...get(K4),
        LT_U,
        ...brIf(0),
      ]),
      END,
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
  return [...vec([[...leb(13), I32], [...leb(12), V128]]), ...body];
}

/**
 * The body of `ta(src, srcRowBytes, K4, M4, dst, dstRowBytes)`: dst[m, k] = src[k, m] for k < K4,
 * m < M4 (both multiples of 4), by 4×4 register transposes: a transposed A's pass, stored
 * [K, M], becomes row-major [M, K] for the `g` kernels.
 */
function transposeA(): number[] {
  const [SRC, SRB, K4, M4, DST, DRB] = [0, 1, 2, 3, 4, 5];
  const m = 6, k = 7, s0 = 8, d0 = 9;
  const v = [10, 11, 12, 13], t = [14, 15, 16, 17];
  const lanes = (...l: number[]) => l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
  const shuffle = (l: number[]) => simd(0x0d, ...lanes(...l));
  const pair = (x: number, y: number, l: number[], to: number) => [
    ...get(x),
    ...get(y),
    ...shuffle(l),
    ...set(to),
  ];
  const body = [
    ...i32(0),
    ...set(m),
    ...BLOCK,
    ...get(M4),
    EQZ,
    ...brIf(0),
    ...get(K4),
    EQZ,
    ...brIf(0),
    ...loop([
      ...i32(0),
      ...set(k),
      ...loop([
        // s0 = src + k·srcRowBytes + 4m; rows k…k+3 at s0 + j·srcRowBytes
        ...get(SRC),
        ...get(k),
        ...get(SRB),
        MUL,
        ADD,
        ...get(m),
        ...i32(4),
        MUL,
        ADD,
        ...set(s0),
        ...v.flatMap((x, j) =>
          j === 0 ? [...get(s0), ...load(0), ...set(x)] : [
            ...get(s0),
            ...get(SRB),
            ...i32(j),
            MUL,
            ADD,
            ...load(0),
            ...set(x),
          ]
        ),
        ...pair(v[0], v[1], [0, 4, 1, 5], t[0]),
        ...pair(v[0], v[1], [2, 6, 3, 7], t[1]),
        ...pair(v[2], v[3], [0, 4, 1, 5], t[2]),
        ...pair(v[2], v[3], [2, 6, 3, 7], t[3]),
        // d0 = dst + m·dstRowBytes + 4k; rows m…m+3 at d0 + j·dstRowBytes
        ...get(DST),
        ...get(m),
        ...get(DRB),
        MUL,
        ADD,
        ...get(k),
        ...i32(4),
        MUL,
        ADD,
        ...set(d0),
        ...[[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]]
          .flatMap(([x, y, l], j) => [
            ...get(d0),
            ...(j === 0 ? [] : [...get(DRB), ...i32(j), MUL, ADD]),
            ...get(t[x as number]),
            ...get(t[y as number]),
            ...shuffle(l as number[]),
            ...store(0),
          ]),
        ...get(k),
        ...i32(4),
        ADD,
        ...tee(k),
        ...get(K4),
        LT_U,
        ...brIf(0),
      ]),
      ...get(m),
      ...i32(4),
      ADD,
      ...tee(m),
      ...get(M4),
      LT_U,
      ...brIf(0),
    ]),
    END,
    0x0b,
  ];
  return [...vec([[...leb(4), I32], [...leb(8), V128]]), ...body];
}

/**
 * The body of `s4(dst, src, outer, R, inner4, inner)`: dst[o, i] += Σ_r src[o, r, i] for i <
 * 4·inner4 (the rows hold `inner` floats), adding r = 0, 1, … in order, one float32 add each: a
 * sum over middle axes, lane by lane (each lane its own output), so in the scalar loop's order.
 */
function sumRows(max = false): number[] {
  const [DST, SRC, OUTER, R, INNER4, INNER] = [0, 1, 2, 3, 4, 5];
  const o = 6, r = 7, i = 8, d = 9, src = 10, rowBytes = 11, nv = 12, ov = 13;
  const body = [
    ...get(INNER),
    ...i32(4),
    MUL,
    ...set(rowBytes),
    ...BLOCK,
    ...get(OUTER),
    EQZ,
    ...brIf(0),
    ...get(R),
    EQZ,
    ...brIf(0),
    ...get(INNER4),
    EQZ,
    ...brIf(0),
    ...get(SRC),
    ...set(src),
    ...i32(0),
    ...set(o),
    ...loop([
      ...i32(0),
      ...set(r),
      ...loop([
        // d = dst + o·rowBytes; src walks the rows in order
        ...get(DST),
        ...get(o),
        ...get(rowBytes),
        MUL,
        ADD,
        ...set(d),
        ...i32(0),
        ...set(i),
        ...loop([
          ...get(d),
          ...(max
            ? [
              ...get(src),
              ...get(i),
              ...i32(16),
              MUL,
              ADD,
              ...load(0),
              ...set(nv),
              ...get(d),
              ...load(0),
              ...set(ov),
              ...maxStep(nv, ov),
            ]
            : [
              ...get(d),
              ...load(0),
              ...get(src),
              ...get(i),
              ...i32(16),
              MUL,
              ADD,
              ...load(0),
              ...F32X4_ADD,
            ]),
          ...store(0),
          ...get(d),
          ...i32(16),
          ADD,
          ...set(d),
          ...get(i),
          ...i32(1),
          ADD,
          ...tee(i),
          ...get(INNER4),
          LT_U,
          ...brIf(0),
        ]),
        ...get(src),
        ...get(rowBytes),
        ADD,
        ...set(src),
        ...get(r),
        ...i32(1),
        ADD,
        ...tee(r),
        ...get(R),
        LT_U,
        ...brIf(0),
      ]),
      ...get(o),
      ...i32(1),
      ADD,
      ...tee(o),
      ...get(OUTER),
      LT_U,
      ...brIf(0),
    ]),
    END,
    0x0b,
  ];
  return max
    ? [...vec([[...leb(6), I32], [...leb(2), V128]]), ...body]
    : [...vec([[...leb(6), I32]]), ...body];
}

/**
 * Max's step per lane: the new value v where it compares greater than the running m or is NaN,
 * else m (the stock Max kernel's picks: a NaN anywhere gives NaN, of equal values the first
 * stays). Leaves the result on the stack; v and m are v128 locals.
 */
function maxStep(v: number, m: number): number[] {
  return [
    ...get(v),
    ...get(m),
    ...get(v),
    ...get(m),
    ...simd(0x44), // f32x4.gt
    ...get(v),
    ...get(v),
    ...simd(0x42), // f32x4.ne: NaN lanes
    ...simd(0x50), // v128.or
    ...simd(0x52), // v128.bitselect
  ];
}

/**
 * The body of `rd(dst, a, b, rows4, d4)`: for rows 0…4·rows4 − 1 of `4·d4` floats each,
 * dst[r] = Σ_j a[r, j]·b[r, j], each product rounded to float32 and added in order j = 0, 1, …
 * from +0 (the scalar loop's float32 steps): four rows at a time, lane i holding row 4g + i, the
 * products of four rows' four terms turned by a 4×4 register transpose into one vector per term.
 * Without `products`, `rs` (same parameters, b unused): dst[r] = Σ_j a[r, j] in that order.
 */
function rowDots(kind: "dot" | "sum" | "max" = "dot"): number[] {
  const [DST, A, B, ROWS4, D4] = [0, 1, 2, 3, 4];
  const g = 5, j = 6, pa = 7, pb = 8, rowBytes = 9;
  const v = [10, 11, 12, 13], t = [14, 15, 16, 17], acc = 18, col = 19;
  const products = kind === "dot";
  const NEG_INF = simd(0x0c, ...new Array(4).fill([0, 0, 0x80, 0xff]).flat()); // f32x4(−∞)
  const lanes = (...l: number[]) => l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
  const shuffle = (x: number, y: number, l: number[]) => [
    ...get(x),
    ...get(y),
    ...simd(0x0d, ...lanes(...l)),
  ];
  const rowAt = (base: number, r: number) =>
    r === 0 ? get(base) : [...get(base), ...get(rowBytes), ...i32(r), MUL, ADD];
  const body = [
    ...get(D4),
    ...i32(16),
    MUL,
    ...set(rowBytes),
    ...BLOCK,
    ...get(ROWS4),
    EQZ,
    ...brIf(0),
    ...get(D4),
    EQZ,
    ...brIf(0),
    ...i32(0),
    ...set(g),
    ...loop([
      ...(kind === "max" ? NEG_INF : ZERO),
      ...set(acc),
      ...i32(0),
      ...set(j),
      ...loop([
        // products of rows 4g…4g+3, terms 4j…4j+3
        ...v.flatMap((x, r) => [
          ...rowAt(pa, r),
          ...load(0),
          ...(products ? [...rowAt(pb, r), ...load(0), ...F32X4_MUL] : []),
          ...set(x),
        ]),
        ...shuffle(v[0], v[1], [0, 4, 1, 5]),
        ...set(t[0]),
        ...shuffle(v[0], v[1], [2, 6, 3, 7]),
        ...set(t[1]),
        ...shuffle(v[2], v[3], [0, 4, 1, 5]),
        ...set(t[2]),
        ...shuffle(v[2], v[3], [2, 6, 3, 7]),
        ...set(t[3]),
        // acc += term 4j, then 4j+1, 4j+2, 4j+3 (lane i: row 4g + i)
        ...[[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]]
          .flatMap(([x, y, l]) =>
            kind === "max"
              ? [
                ...shuffle(t[x as number], t[y as number], l as number[]),
                ...set(col),
                ...maxStep(col, acc),
                ...set(acc),
              ]
              : [
                ...get(acc),
                ...shuffle(t[x as number], t[y as number], l as number[]),
                ...F32X4_ADD,
                ...set(acc),
              ]
          ),
        ...get(pa),
        ...i32(16),
        ADD,
        ...set(pa),
        ...get(pb),
        ...i32(16),
        ADD,
        ...set(pb),
        ...get(j),
        ...i32(1),
        ADD,
        ...tee(j),
        ...get(D4),
        LT_U,
        ...brIf(0),
      ]),
      // store dst[4g…4g+3]; pa, pb now at row 4g + 1: move them to row 4g + 4
      ...get(DST),
      ...get(g),
      ...i32(16),
      MUL,
      ADD,
      ...get(acc),
      ...store(0),
      ...get(pa),
      ...get(rowBytes),
      ...i32(3),
      MUL,
      ADD,
      ...set(pa),
      ...get(pb),
      ...get(rowBytes),
      ...i32(3),
      MUL,
      ADD,
      ...set(pb),
      ...get(g),
      ...i32(1),
      ADD,
      ...tee(g),
      ...get(ROWS4),
      LT_U,
      ...brIf(0),
    ]),
    END,
    0x0b,
  ];
  // pa, pb start at a and b: parameters copied into the locals first
  return [
    ...vec([[...leb(5), I32], [...leb(10), V128]]),
    ...get(A),
    ...set(pa),
    ...get(B),
    ...set(pb),
    ...body,
  ];
}

/**
 * The body of `sw(dst, src, O, P, Q, L4)`: x `[O, P, Q, L]` → `[O, Q, P, L]` (the middle axes
 * swapped, runs of L = 4·L4 floats copied whole, SIMD), writing dst in order.
 */
function swapMiddle(): number[] {
  const [DST, SRC, O, P, Q, L4] = [0, 1, 2, 3, 4, 5];
  const o = 6, q = 7, pp = 8, j = 9, from = 10, runBytes = 11;
  const count = (x: number, limit: number, body: number[]) => [
    ...i32(0),
    ...set(x),
    ...loop([...body, ...get(x), ...i32(1), ADD, ...tee(x), ...get(limit), LT_U, ...brIf(0)]),
  ];
  const body = [
    ...get(L4),
    ...i32(16),
    MUL,
    ...set(runBytes),
    ...BLOCK,
    ...[O, P, Q, L4].flatMap((x) => [...get(x), EQZ, ...brIf(0)]),
    ...count(o, O, [
      ...count(q, Q, [
        // from = src + ((o·P + 0)·Q + q)·runBytes; each p steps it by Q·runBytes
        ...get(SRC),
        ...get(o),
        ...get(P),
        MUL,
        ...get(Q),
        MUL,
        ...get(q),
        ADD,
        ...get(runBytes),
        MUL,
        ADD,
        ...set(from),
        ...count(pp, P, [
          ...count(j, L4, [
            ...get(DST),
            ...get(from),
            ...get(j),
            ...i32(16),
            MUL,
            ADD,
            ...load(0),
            ...store(0),
            ...get(DST),
            ...i32(16),
            ADD,
            ...set(DST),
          ]),
          ...get(from),
          ...get(Q),
          ...get(runBytes),
          MUL,
          ADD,
          ...set(from),
        ]),
      ]),
    ]),
    END,
    0x0b,
  ];
  return [...vec([[...leb(6), I32]]), ...body];
}

/**
 * The body of `gr(dst, src, idx, n, inner4)`: row i of dst (4·inner4 4-byte values, written in
 * order) = row idx[i] of src, for i < n (idx: int32 row numbers, already checked by the caller).
 */
function gatherRows(): number[] {
  const [DST, SRC, IDX, N, INNER4] = [0, 1, 2, 3, 4];
  const i = 5, j = 6, from = 7, rowBytes = 8;
  const body = [
    ...get(INNER4),
    ...i32(16),
    MUL,
    ...set(rowBytes),
    ...BLOCK,
    ...get(N),
    EQZ,
    ...brIf(0),
    ...get(INNER4),
    EQZ,
    ...brIf(0),
    ...i32(0),
    ...set(i),
    ...loop([
      // from = src + idx[i]·rowBytes
      ...get(SRC),
      ...get(IDX),
      ...get(i),
      ...i32(4),
      MUL,
      ADD,
      0x28,
      2,
      0, // i32.load
      ...get(rowBytes),
      MUL,
      ADD,
      ...set(from),
      ...i32(0),
      ...set(j),
      ...loop([
        ...get(DST),
        ...get(from),
        ...load(0),
        ...store(0),
        ...get(DST),
        ...i32(16),
        ADD,
        ...set(DST),
        ...get(from),
        ...i32(16),
        ADD,
        ...set(from),
        ...get(j),
        ...i32(1),
        ADD,
        ...tee(j),
        ...get(INNER4),
        LT_U,
        ...brIf(0),
      ]),
      ...get(i),
      ...i32(1),
      ADD,
      ...tee(i),
      ...get(N),
      LT_U,
      ...brIf(0),
    ]),
    END,
    0x0b,
  ];
  return [...vec([[...leb(4), I32]]), ...body];
}

/**
 * The body of `ad(dst, src, n4)`: dst[i] += src[i] for i < 4·n4 (float32 adds), or with `ds`
 * `ds(dst, p, n4, dot)`: dst[i] = p[i]·(dst[i] − dot) (softmax's backward row: one float32
 * subtract, then one multiply), or with `sc` `sc(dst, src, n4, s)`: dst[i] = src[i]·s (one
 * float32 multiply; dst may be src).
 */
function rowOp(kind: "ad" | "ds" | "sc"): number[] {
  const [DST, SRC, N4, DOT] = [0, 1, 2, 3];
  const scalar = kind !== "ad";
  const i = scalar ? 4 : 3, dotV = i + 1;
  const F32X4_SUB = simd(0xe5), SPLAT_F32 = simd(0x13);
  const op = {
    ad: [...get(DST), ...load(0), ...get(SRC), ...load(0), ...F32X4_ADD],
    ds: [
      ...get(SRC),
      ...load(0),
      ...get(DST),
      ...load(0),
      ...get(dotV),
      ...F32X4_SUB,
      ...F32X4_MUL,
    ],
    sc: [...get(SRC), ...load(0), ...get(dotV), ...F32X4_MUL],
  }[kind];
  const body = [
    ...(scalar ? [...get(DOT), ...SPLAT_F32, ...set(dotV)] : []),
    ...BLOCK,
    ...get(N4),
    EQZ,
    ...brIf(0),
    ...i32(0),
    ...set(i),
    ...loop([
      ...get(DST),
      ...op,
      ...store(0),
      ...get(DST),
      ...i32(16),
      ADD,
      ...set(DST),
      ...get(SRC),
      ...i32(16),
      ADD,
      ...set(SRC),
      ...get(i),
      ...i32(1),
      ADD,
      ...tee(i),
      ...get(N4),
      LT_U,
      ...brIf(0),
    ]),
    END,
    0x0b,
  ];
  return scalar
    ? [...vec([[...leb(1), I32], [...leb(1), V128]]), ...body]
    : [...vec([[...leb(1), I32]]), ...body];
}

/**
 * The module's bytes: imports `env.memory`, exports the kernels `g1`…`g6` (A row-major, 1–6 rows
 * per block) and `r1`…`r6` (A transposed), the packers `p8` (B) and `t8` (a transposed B) and
 * `ta` (a transposed A's pass to row-major), `s4` (sums over middle axes), and the row helpers
 * `ad`, `ds`, `sc` and `rd` of attention's blocks (lib/wasm_attention.ts), `sw` (Transpose of
 * two middle axes), `rs` (sums over the last axis), `gr` (GatherV2's rows), `ml` and `m4` (Max
 * over the last or a middle axis); see the module docs.
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
  const rowsPerCall = [1, 2, 3, 4, 5, 6];
  const bodies = [
    ...rowsPerCall.map((mr) => kernel(mr, fma, "k")),
    ...rowsPerCall.map((mr) => kernel(mr, fma, "s")),
    packPanels(),
    packTransposed(),
    transposeA(),
    sumRows(),
    rowOp("ad"),
    rowOp("ds"),
    rowOp("sc"),
    rowDots(),
    swapMiddle(),
    rowDots("sum"),
    gatherRows(),
    rowDots("max"),
    sumRows(true),
  ];
  const exports = [
    ...rowsPerCall.map((mr) => `g${mr}`),
    ...rowsPerCall.map((mr) => `r${mr}`),
    "p8",
    "t8",
    "ta",
    "s4",
    "ad",
    "ds",
    "sc",
    "rd",
    "sw",
    "rs",
    "gr",
    "ml",
    "m4",
  ];
  const types = bodies.map((_, i) => [
    i < 12 ? 0 : i < 14 ? 1 : i < 16 ? 2 : i < 17 ? 3 : i < 19 ? 4 : i === 20 || i === 24 ? 2 : 1,
  ]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(
      1,
      vec([
        [0x60, ...params, 0],
        [0x60, ...packParams, 0],
        [0x60, ...vec(new Array(6).fill([I32])), 0],
        [0x60, ...vec(new Array(3).fill([I32])), 0],
        [0x60, ...vec([[I32], [I32], [I32], [0x7d]]), 0],
      ]),
    ),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...leb(1)]])),
    ...section(3, vec(types)),
    ...section(7, vec(exports.map((e, i) => [...name(e), 0x00, i]))),
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
  /** Kernels by rows per block (index 1–6): A row-major, A transposed. */
  readonly #g: Kernel[];
  readonly #r: Kernel[];

  readonly #ta: Kernel;
  readonly #s4: Kernel;
  readonly #ad: Kernel;
  readonly #ds: Kernel;
  readonly #sc: Kernel;
  readonly #rd: Kernel;
  readonly #sw: Kernel;
  readonly #rs: Kernel;
  readonly #gr: Kernel;
  readonly #ml: Kernel;
  readonly #m4: Kernel;
  readonly #t8: Kernel;
  readonly #p8: Kernel;

  constructor(memory: WebAssembly.Memory, fma: boolean = relaxedSimd()) {
    const module = new WebAssembly.Module(gemmModuleBytes(fma));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    this.fma = fma;
    this.#memory = memory;
    const k = (name: string) => instance.exports[name] as Kernel;
    this.#g = [0, 1, 2, 3, 4, 5, 6].map((mr) => k(`g${mr || 1}`));
    this.#r = [0, 1, 2, 3, 4, 5, 6].map((mr) => k(`r${mr || 1}`));

    this.#ta = instance.exports.ta as Kernel;
    this.#s4 = instance.exports.s4 as Kernel;
    this.#ad = instance.exports.ad as Kernel;
    this.#ds = instance.exports.ds as Kernel;
    this.#sc = instance.exports.sc as Kernel;
    this.#rd = instance.exports.rd as Kernel;
    this.#sw = instance.exports.sw as Kernel;
    this.#rs = instance.exports.rs as Kernel;
    this.#gr = instance.exports.gr as Kernel;
    this.#ml = instance.exports.ml as Kernel;
    this.#m4 = instance.exports.m4 as Kernel;
    this.#t8 = instance.exports.t8 as Kernel;
    this.#p8 = instance.exports.p8 as Kernel;
  }

  /** Bytes of packed-B scratch that {@link matmul} needs for K × N. */
  static packBytes(K: number, N: number): number {
    return 32 * K * Math.ceil(N / 8);
  }

  /** Bytes of edge scratch that {@link matmul} needs for M rows and sums over K: the last
   * columns' [M, 8] and, for a transposed A, one pass's row-major copy. */
  static edgeBytes(M: number, K: number): number {
    return 32 * M + 4 * (M - M % 6) * Math.min(K, K_CHUNK);
  }

  /** Rows [0, rows) of op(A) for one pass of kc terms: A stored [kc…, M] at `a0` (row stride 4M)
   * → row-major [rows, kc] at `to`; 4×4 blocks in the module, the edges here. */
  #transposeRows(a0: number, M: number, kc: number, rows: number, to: number): void {
    const k4 = kc - kc % 4, m4 = rows - rows % 4;
    this.#ta(a0, 4 * M, k4, m4, to, 4 * kc);
    if (k4 === kc && m4 === rows) return;
    const f = new Float32Array(this.#memory.buffer), src = a0 / 4, dst = to / 4;
    for (let m = 0; m < rows; m++) {
      for (let k = m < m4 ? k4 : 0; k < kc; k++) f[dst + m * kc + k] = f[src + k * M + m];
    }
  }

  /**
   * `dst[o, i] = Σ_r src[o, r, i]` for src `[outer, R, inner]` and dst `[outer, inner]` (byte
   * offsets, float32): each output adds its R terms in order from 0, one float32 add each, so the
   * values equal a scalar loop's bit for bit.
   */
  sumMiddle(dst: number, src: number, [outer, R, inner]: readonly [number, number, number]): void {
    const f = new Float32Array(this.#memory.buffer);
    f.fill(0, dst / 4, dst / 4 + outer * inner);
    const inner4 = inner >> 2;
    if (inner4 > 0) this.#s4(dst, src, outer, R, inner4, inner);
    if (inner === 4 * inner4) return;
    const d = dst / 4, s = src / 4;
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < R; r++) {
        const from = s + (o * R + r) * inner;
        for (let i = 4 * inner4; i < inner; i++) f[d + o * inner + i] += f[from + i];
      }
    }
  }

  /** `dst[i] += src[i]` for n floats (byte offsets; one float32 add each, SIMD). */
  addInto(dst: number, src: number, n: number): void {
    const n4 = n >> 2;
    if (n4 > 0) this.#ad(dst, src, n4);
    if (n === 4 * n4) return;
    const f = new Float32Array(this.#memory.buffer);
    for (let i = 4 * n4; i < n; i++) f[dst / 4 + i] += f[src / 4 + i];
  }

  /**
   * Max over the last axis (`[rows, d]` → `[rows]`, d a multiple of 4, rows ≥ 4; the last
   * rows % 4 in JS) or over the
   * middle axis (`[outer, R, inner]` → `[outer, inner]`, inner a multiple of 4) of float32 values
   * at `src` into `dst` (byte offsets): each output starts at −∞ and takes a term that compares
   * greater or is NaN, in order, which picks what the stock Max kernel's loop picks (its first
   * term, then greater ones; a NaN anywhere gives NaN). false (nothing written) for other shapes.
   */
  maxAxis(dst: number, src: number, [outer, R, inner]: readonly [number, number, number]) {
    if (inner === 1) {
      const rows4 = R % 4 === 0 ? outer >> 2 : 0;
      if (rows4 === 0) return false;
      this.#ml(dst, src, 0, rows4, R / 4);
      const f = new Float32Array(this.#memory.buffer);
      for (let o = 4 * rows4; o < outer; o++) {
        let m = -Infinity;
        for (let r = 0; r < R; r++) {
          const v = f[src / 4 + o * R + r];
          if (v > m || v !== v) m = v;
        }
        f[dst / 4 + o] = m;
      }
      return true;
    }
    if (inner % 4 !== 0) return false;
    new Float32Array(this.#memory.buffer).fill(-Infinity, dst / 4, dst / 4 + outer * inner);
    this.#m4(dst, src, outer, R, inner / 4, inner);
    return true;
  }

  /**
   * Rows `idx[0…n)` (int32 row numbers at byte offset `idx`, each in range: the caller checks) of
   * `src` into consecutive rows at `dst`, rows of `inner` 4-byte values, inner a multiple of 4.
   */
  gatherRows(dst: number, src: number, idx: number, n: number, inner: number): void {
    if (inner % 4 !== 0) throw new Error(`gatherRows: ${inner} values a row, not a multiple of 4`);
    this.#gr(dst, src, idx, n, inner / 4);
  }

  /**
   * `dst[r] = Σ_j a[r, j]` for `rows` rows of d floats (byte offsets): float32 adds in order
   * from +0, as a scalar loop (and the stock Sum kernel over the last axis) computes them, bit for
   * bit; SIMD over four rows at a time when d is a multiple of 4.
   */
  rowSums(dst: number, a: number, rows: number, d: number): void {
    const rows4 = d % 4 === 0 ? rows >> 2 : 0;
    if (rows4 > 0) this.#rs(dst, a, 0, rows4, d / 4);
    const f = new Float32Array(this.#memory.buffer);
    for (let r = 4 * rows4; r < rows; r++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc = Math.fround(acc + f[a / 4 + r * d + j]);
      f[dst / 4 + r] = acc;
    }
  }

  /**
   * x `[O, P, Q, L]` at `src` → `[O, Q, P, L]` at `dst` (byte offsets, 4-byte values): runs of L
   * values copied whole, SIMD when L is a multiple of 4. dst must not overlap src.
   */
  swapMiddle(dst: number, src: number, [O, P, Q, L]: readonly [number, number, number, number]) {
    if (L % 4 === 0) {
      this.#sw(dst, src, O, P, Q, L / 4);
      return;
    }
    const f = new Int32Array(this.#memory.buffer);
    let to = dst / 4;
    for (let o = 0; o < O; o++) {
      for (let q = 0; q < Q; q++) {
        for (let p = 0; p < P; p++, to += L) {
          const from = src / 4 + ((o * P + p) * Q + q) * L;
          f.copyWithin(to, from, from + L);
        }
      }
    }
  }

  /**
   * `dst[r] = Σ_j a[r, j]·b[r, j]` for `rows` rows of d floats (byte offsets): float32 products
   * added in order from +0, as a scalar loop (`acc = fround(acc + fround(a·b))`) computes them,
   * bit for bit; SIMD over four rows at a time when d is a multiple of 4.
   */
  rowDots(dst: number, a: number, b: number, rows: number, d: number): void {
    const rows4 = d % 4 === 0 ? rows >> 2 : 0;
    if (rows4 > 0) this.#rd(dst, a, b, rows4, d / 4);
    const f = new Float32Array(this.#memory.buffer), fr = Math.fround;
    for (let r = 4 * rows4; r < rows; r++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc = fr(acc + fr(f[a / 4 + r * d + j] * f[b / 4 + r * d + j]));
      f[dst / 4 + r] = acc;
    }
  }

  /** `dst[i] = src[i]·s` for n floats (byte offsets; one float32 multiply each, SIMD; dst may be
   * src). */
  scale(dst: number, src: number, n: number, s: number): void {
    const n4 = n >> 2, fs = Math.fround(s);
    if (n4 > 0) this.#sc(dst, src, n4, fs);
    if (n === 4 * n4) return;
    const f = new Float32Array(this.#memory.buffer);
    for (let i = 4 * n4; i < n; i++) f[dst / 4 + i] = f[src / 4 + i] * fs;
  }

  /** `dst[i] = p[i]·(dst[i] − dot)` for n floats (byte offsets; float32 subtract then multiply). */
  softmaxGradRow(dst: number, p: number, n: number, dot: number): void {
    const n4 = n >> 2;
    if (n4 > 0) this.#ds(dst, p, n4, dot);
    if (n === 4 * n4) return;
    const f = new Float32Array(this.#memory.buffer), fr = Math.fround;
    for (let i = 4 * n4; i < n; i++) f[dst / 4 + i] = fr(f[p / 4 + i] * fr(f[dst / 4 + i] - dot));
  }

  /** Packs B `[K, N]` (or `[N, K]` when transposed) into {@link packBytes} bytes at `to`. */
  pack(b: GemmOperand, K: number, N: number, to: number): void {
    const full = Math.floor(N / 8);
    if (b.transposed) {
      // Full panels and terms by 4×4 register transposes (5–10× the JS loop), the rest in JS.
      const k4 = K - K % 4, f = new Float32Array(this.#memory.buffer);
      if (full > 0) this.#t8(b.at, K, full, to, k4);
      if (full > 0 && k4 < K) packB(f, b, K, N, to / 4, 0, full, k4);
      packB(f, b, K, N, to / 4, full);
    } else {
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
    const rows6 = M - M % 6, tail = M % 6;
    const kernels = a.transposed ? this.#r : this.#g;
    // A transposed A's pass (its rows are K·M apart) is transposed to row-major after the edge
    // columns when enough panels reuse it: the row-major kernel runs ~15% faster than one
    // reading A in place or in 6-row blocks.
    const copyA = a.transposed && rows6 > 0 && full >= 8;
    const rowMajorA = edge + 32 * M;
    // Long sums run in near-equal passes of at most K_CHUNK terms, each adding to C: a pass's A
    // rows and B panel stay in L1 while every panel and row block reuses them.
    const passes = Math.ceil(K / K_CHUNK), step = Math.ceil(K / passes);
    for (let k0 = 0; k0 < K; k0 += step) {
      const kc = Math.min(step, K - k0), add = k0 === 0 ? 0 : 1;
      const a0 = a.at + k0 * ks;
      if (copyA) this.#transposeRows(a0, M, kc, rows6, rowMajorA);
      const run = (at: number, ldc: number, bp: number, count: number) => {
        const b0 = bp + 32 * k0, ps = 32 * K;
        if (copyA) this.#g[6](rowMajorA, 4 * kc, 4, b0, kc, at, ldc, rows6, count, ps, add);
        else if (rows6 > 0) kernels[6](a0, rs, ks, b0, kc, at, ldc, rows6, count, ps, add);
        if (tail > 0) {
          const r = rows6;
          kernels[tail](a0 + r * rs, rs, ks, b0, kc, at + r * ldc, ldc, tail, count, ps, add);
        }
      };
      if (full > 0) run(c, 4 * N, pack, full);
      if (panels > full) run(edge, 32, pack + 32 * K * full, 1);
    }
    if (panels > full) {
      const g = new Float32Array(this.#memory.buffer), rest = N - 8 * full;
      for (let r = 0; r < M; r++) {
        const to = c / 4 + r * N + 8 * full, from = edge / 4 + 8 * r;
        for (let j = 0; j < rest; j++) g[to + j] = g[from + j];
      }
    }
  }
}

// B into panels of 8 columns (zeros past N), panels [from, until), terms k0… only: panel p's
// (k, c) at floats to + 8·(p·K + k) + c.
function packB(
  f: Float32Array,
  b: GemmOperand,
  K: number,
  N: number,
  to: number,
  from = 0,
  until = Math.ceil(N / 8),
  k0 = 0,
): void {
  const src = b.at / 4;
  for (let p = from; p < until; p++) {
    const n0 = 8 * p, width = Math.min(8, N - n0);
    const base = to + 8 * p * K;
    if (b.transposed) {
      // B stored [N, K]: column n of B is row n of the storage.
      for (let c = 0; c < 8; c++) {
        if (c >= width) {
          for (let k = k0; k < K; k++) f[base + 8 * k + c] = 0;
          continue;
        }
        const row = src + (n0 + c) * K;
        for (let k = k0; k < K; k++) f[base + 8 * k + c] = f[row + k];
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
