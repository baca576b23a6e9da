/**
 * Broadcasting float32 and int32 Multiply, Add and Sub for the wasm backend, as one WebAssembly
 * SIMD loop nest over the output. The stock kernels took 0.35–0.7 ms for the cross-attention's
 * float32 `[8192, 1, 1, 32] · [8192, 1, 2, 32]`-like products (0.7–1.4 ns a value; ~12 ms per
 * tiny 2×1024 micro-batch over ~25 calls) and 0.83 ms for its int32 row offsets
 * `[2, 2048] + [2, 1]` (~200 ns a value); each output value here is the same single float32 or
 * wrapping int32 operation on the same two inputs, so results are the stock kernels' bit for bit.
 *
 * Shapes: the output, padded on the left to rank 4, is `[n0, n1, n2, L]`; each operand is read
 * with its own strides (0 along broadcast axes) and, along the last axis, either as L contiguous
 * values ("v", L a multiple of 4) or as one value repeated ("s", a last dimension of 1).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Types only: importing the backend would register it and change CPU-only users' default backend.
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { get, I32, leb, name, section, set, simd, sleb, vec } from "./wasm_asm.ts";

/** The operations, by tfjs kernel name, and their f32x4 and i32x4 opcodes. */
export const BROADCAST_OPS: Readonly<Record<string, { float32: number; int32: number }>> = {
  [tf.Multiply]: { float32: 0xe6, int32: 0xb5 },
  [tf.Add]: { float32: 0xe4, int32: 0xae },
  [tf.Sub]: { float32: 0xe5, int32: 0xb1 },
};
const DTYPES = ["float32", "int32"] as const;

/** Comparisons of float32 values (bool outputs), by tfjs kernel name: their f32x4 opcodes. */
export const BROADCAST_COMPARISONS: Readonly<Record<string, number>> = {
  [tf.Equal]: 0x41,
  [tf.NotEqual]: 0x42,
  [tf.Less]: 0x43,
  [tf.Greater]: 0x44,
  [tf.LessEqual]: 0x45,
  [tf.GreaterEqual]: 0x46,
};

/** How each operand is read along the last axis: both vectors, a scalar and b, or a and b scalar. */
const MODES = ["vv", "sv", "vs"] as const;
type Mode = typeof MODES[number];

const i32 = (n: number) => [0x41, ...sleb(n)]; // i32.const takes a signed LEB128
const ADD = 0x6a, MUL = 0x6c, LT_U = 0x49, EQZ = 0x45;
const loop = (body: number[]) => [0x03, 0x40, ...body, 0x0b];

/**
 * `f(dst, a, b, n0, n1, n2, trips, sa0, sa1, sa2, sb0, sb1, sb2)`: for each (i0, i1, i2) the
 * row of output values at dst (written in order) = a's row op b's row, the rows at
 * `a + i0·sa0 + i1·sa1 + i2·sa2` (byte strides) and likewise for b; a trip is 4 values (16
 * bytes) of an operation or, with `compare`, 16 values (16 bytes of 1 or 0) of a comparison.
 */
function nest(op: number, mode: Mode, compare = false): number[] {
  const [DST, A, B, N0, N1, N2, L4, SA0, SA1, SA2, SB0, SB1, SB2] = [...Array(13).keys()];
  const i0 = 13, i1 = 14, i2 = 15, j = 16, pa = 17, pb = 18, va = 19, vb = 20;
  const count = (x: number, limit: number, body: number[]) => [
    ...i32(0),
    ...set(x),
    ...loop([...body, ...get(x), ...i32(1), ADD, ...[0x22, x], ...get(limit), LT_U, 0x0d, 0]),
  ];
  const rowAt = (base: number, s0: number, s1: number, s2: number) => [
    ...get(base),
    ...get(i0),
    ...get(s0),
    MUL,
    ADD,
    ...get(i1),
    ...get(s1),
    MUL,
    ADD,
    ...get(i2),
    ...get(s2),
    MUL,
    ADD,
  ];
  // a comparison's trip covers 16 values (4 vectors → 16 bytes of 0/1); an operation's 4
  const step = compare ? 64 : 16;
  const vector = (p: number, k = 0) => [
    ...get(p),
    ...get(j),
    ...i32(step),
    MUL,
    ADD,
    ...simd(0x00, 4, ...leb(16 * k)),
  ];
  const operands = (k: number) => [
    ...(mode === "sv" ? get(va) : vector(pa, k)),
    ...(mode === "vs" ? get(vb) : vector(pb, k)),
    ...simd(op),
  ];
  const trip = compare
    ? [
      ...get(DST),
      ...operands(0),
      ...operands(1),
      ...simd(0x85), // i16x8.narrow_i32x4_s: lanes of −1 or 0
      ...operands(2),
      ...operands(3),
      ...simd(0x85),
      ...simd(0x65), // i8x16.narrow_i16x8_s
      ...i32(1),
      ...simd(0x0f), // i8x16.splat 1
      ...simd(0x4e), // v128.and: 1 or 0 per byte
      ...simd(0x0b, 4, 0),
    ]
    : [...get(DST), ...operands(0), ...simd(0x0b, 4, 0)];
  const splat = (p: number, to: number) => [...get(p), ...simd(0x09, 2, 0), ...set(to)];
  const body = [
    0x02,
    0x40,
    ...[N0, N1, N2, L4].flatMap((x) => [...get(x), EQZ, 0x0d, 0]),
    ...count(i0, N0, [
      ...count(i1, N1, [
        ...count(i2, N2, [
          ...rowAt(A, SA0, SA1, SA2),
          ...set(pa),
          ...rowAt(B, SB0, SB1, SB2),
          ...set(pb),
          ...(mode === "sv" ? splat(pa, va) : []),
          ...(mode === "vs" ? splat(pb, vb) : []),
          ...count(j, L4, [
            ...trip,
            ...get(DST),
            ...i32(16),
            ADD,
            ...set(DST),
          ]),
        ]),
      ]),
    ]),
    0x0b,
    0x0b,
  ];
  return [...vec([[...leb(6), I32], [...leb(2), 0x7b]]), ...body];
}

/**
 * The module's bytes: imports `env.memory`, exports `${kernel}_${dtype}_${mode}` for each kernel
 * of {@link BROADCAST_OPS}, dtype float32 or int32 and mode vv, sv, vs, and
 * `${kernel}_float32_${mode}` for the comparisons of {@link BROADCAST_COMPARISONS}.
 *
 * @example
 * ```ts
 * import { broadcastModuleBytes } from "./wasm_broadcast.ts";
 * console.log(WebAssembly.validate(broadcastModuleBytes())); // true
 * ```
 */
export function broadcastModuleBytes(): Uint8Array<ArrayBuffer> {
  const fns = [
    ...Object.entries(BROADCAST_OPS).flatMap(([k, op]) =>
      DTYPES.flatMap((t) => MODES.map((m) => ({ name: `${k}_${t}_${m}`, body: nest(op[t], m) })))
    ),
    ...Object.entries(BROADCAST_COMPARISONS).flatMap(([k, op]) =>
      MODES.map((m) => ({ name: `${k}_float32_${m}`, body: nest(op, m, true) }))
    ),
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vec([[0x60, ...vec(new Array(13).fill([I32])), 0]])),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...leb(1)]])),
    ...section(3, vec(fns.map(() => [0]))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...leb(i)]))),
    ...section(10, vec(fns.map((f) => [...leb(f.body.length), ...f.body]))),
  ]);
}

/** The members of tfjs-backend-wasm 4.22's backend used here. */
interface WasmInternals {
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { asm: { memory: WebAssembly.Memory } };
}

type Nest = (...args: number[]) => void;
let nests: Record<string, Nest> | null = null;
let owner: BackendWasm | null = null;

function nestsOf(wasm: BackendWasm): Record<string, Nest> | null {
  if (owner !== wasm) {
    owner = wasm;
    try {
      const memory = (wasm as unknown as WasmInternals).wasm.asm.memory;
      const module = new WebAssembly.Module(broadcastModuleBytes());
      nests = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<
        string,
        Nest
      >;
    } catch {
      nests = null; // another tfjs build (no exposed heap): the stock kernels
    }
  }
  return nests;
}

/**
 * `a op b` for float32 (or int32) a and b of different shapes that broadcast (op a kernel name of
 * {@link BROADCAST_OPS}, or of {@link BROADCAST_COMPARISONS} for float32: a bool output), or
 * null when this loop nest does not cover them (equal shapes, other dtypes, an output of rank
 * > 4, a last axis that is not a multiple of 4, or 16 for comparisons, both operands scalar
 * along it): the caller keeps the stock kernel (or its own loop).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { broadcastBinary } from "./wasm_broadcast.ts";
 * import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
 * await tf.setBackend("wasm");
 * const a = tf.tensor2d([[1], [2]]), b = tf.tensor2d([[1, 2, 3, 4]]);
 * const out = broadcastBinary(tf.Multiply, a, b, tf.backend() as BackendWasm)!;
 * console.log(out.shape); // [2, 4]
 * ```
 */
export function broadcastBinary(
  kernel: string,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  wasm: BackendWasm,
): tf.TensorInfo | null {
  const dtype = a.dtype;
  if ((dtype !== "float32" && dtype !== "int32") || b.dtype !== dtype) return null;
  const compare = kernel in BROADCAST_COMPARISONS;
  if (!(kernel in BROADCAST_OPS) && !(compare && dtype === "float32")) return null;
  if (a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])) return null;
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const rank = shape.length;
  if (rank === 0 || rank > 4 || tf.util.sizeFromShape(shape) === 0) return null;
  const L = shape[rank - 1];
  const pad = (s: readonly number[]) => [...new Array(4 - s.length).fill(1), ...s];
  const out4 = pad(shape), a4 = pad(a.shape), b4 = pad(b.shape);
  const vA = a4[3] === L && L > 1, vB = b4[3] === L && L > 1;
  const mode: Mode | null = vA && vB ? "vv" : vB ? "sv" : vA ? "vs" : null;
  if (mode === null || L % (compare ? 16 : 4) !== 0) return null;
  // byte strides of the outer axes, 0 where the operand broadcasts
  const strides = (s: number[]) => {
    const row = s[3] === 1 ? 1 : L;
    return [0, 1, 2].map((
      k,
    ) => (s[k] === 1 ? 0 : 4 * row * s.slice(k + 1, 3).reduce((x, y) => x * y, 1)));
  };
  const f = nestsOf(wasm)?.[`${kernel}_${dtype}_${mode}`];
  if (f === undefined) return null;
  const out = wasm.makeOutput(shape, compare ? "bool" : dtype);
  const w = wasm as unknown as WasmInternals;
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  const trips = L / (compare ? 16 : 4);
  f(at(out), at(a), at(b), out4[0], out4[1], out4[2], trips, ...strides(a4), ...strides(b4));
  return out;
}
