/**
 * Fused elementwise passes for the wasm backend (the CPU path): SwiGLU's gate, RoPE's rotation and
 * RMSNorm's scaling, forward and backward, each one WebAssembly SIMD pass over the heap instead of
 * 3–9 tfjs kernels that each read and write the whole activation (a 2×1024 tiny-preset micro-batch
 * ran ~56 Multiply kernels of `[2, 1024, 512]` / `[2, 257, 768]` in SwiGLU alone).
 *
 * Every pass does the float32 multiplies, adds and subtractions of the tfjs form it replaces, in
 * the same order, without fused multiply-adds, so values and gradients are the same bit for bit
 * (tested in tests/wasm_elementwise_test.ts):
 * - SwiGLU (s = sigmoid(g) from the stock kernel): out = (g·s)·u; du = dy·(g·s); with
 *   da = dy·u, dg = da·s + (da·g)·(s·(1 − s)) (tfjs's Multiply and Sigmoid gradients).
 * - RoPE, interleaved pairs: out = x·cos + rot(x)·sin, rot(x) = [−x₁, x₀, −x₃, x₂, …];
 *   dx = dy·cos + [t₁, −t₀, t₃, −t₂, …] with t = dy·sin.
 * - RMSNorm rows (r = 1/√(mean(x²) + ε) per row in JS, float32 steps as the stock Square, Mean,
 *   Add and Rsqrt kernels): y = (x·r)·w; dr = Σ (dy·w)·x by the stock Sum; dm from dr by the
 *   stock Pow/Multiply/RealDiv/Neg kernels on the per-row values; dx's two terms (dy·w)·r and
 *   (dm/h)·(x·2) are returned as the gradients of two inputs (x given twice), so tfjs adds them
 *   to x's other gradients in the order of the tfjs form (bit for bit in a whole model too);
 *   dw = tf.sum over rows of dy·(x·r).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Types only: importing the backend would register it and change CPU-only users' default backend.
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { get, I32, leb, name as str, section, set, simd, V128, vec } from "./wasm_asm.ts";

const bin = (op: number) => (a: number[], b: number[]) => [...a, ...b, ...simd(op)];
const add = bin(0xe4), sub = bin(0xe5), mul = bin(0xe6), xor = bin(0x51);
const f32x4 = (v: number) => [...new Uint8Array(new Float32Array([v, v, v, v]).buffer)];
const constant = (bytes: number[]) => simd(0x0c, ...bytes);
const ONE = constant(f32x4(1));
const TWO = constant(f32x4(2));
// Sign bits of lanes 0 and 2, or 1 and 3: xor negates those lanes exactly.
const signs = (lanes: number[]) =>
  constant([0, 1, 2, 3].flatMap((l) => lanes.includes(l) ? [0, 0, 0, 0x80] : [0, 0, 0, 0]));
/** [a₁, a₀, a₃, a₂]: the lanes of each pair swapped. */
const swapPairs = (a: number[]) => [
  ...a,
  ...a,
  ...simd(0x0d, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11),
];

/**
 * A function `(p₀ … p_{n−1}, groups)` over `groups` × 4 floats at byte addresses pᵢ, stepping all of
 * them by 16 bytes per trip. `body` gets `load(i)` (the 4 floats at pᵢ), `store(i, value)` and
 * `splat(i)` (extra f32 parameter i, after the addresses, splatted once), and v128 locals by
 * `tmp(k)`/`keep(k, value)`.
 */
interface BodyTools {
  load(i: number): number[];
  store(i: number, value: number[]): number[];
  splat(i: number): number[];
  tmp(k: number): number[];
  keep(k: number, value: number[]): number[];
}

interface PassSpec {
  name: string;
  pointers: number;
  floats: number;
  temps: number;
  body: (t: BodyTools) => number[];
  /**
   * Row mode: `(p₀ … p_{n−1}, rows, groups)`, `groups` × 4 floats per row; pointers in `shared`
   * restart every row (a weight `[h]`), `splat(i)` is the row's float of pointer `perRow[i]`.
   */
  rows?: { shared: readonly number[]; perRow: readonly number[] };
}

function passFunction(spec: PassSpec): { type: number[]; fn: number[] } {
  if (spec.rows !== undefined) return rowFunction(spec, spec.rows);
  const { pointers, floats, temps, body } = spec;
  const GROUPS = pointers, OFF = pointers + 1 + floats, V = OFF + 1;
  const at = (i: number) => [...get(i), ...get(OFF), 0x6a];
  const tools: BodyTools = {
    load: (i) => [...at(i), ...simd(0x00, 4, 0)],
    store: (i, value) => [...at(i), ...value, ...simd(0x0b, 4, 0)],
    splat: (i) => get(V + temps + i),
    tmp: (k) => get(V + k),
    keep: (k, value) => [...value, ...set(V + k)],
  };
  const code = [
    ...Array.from({ length: floats }, (_, i) => [
      ...get(pointers + 1 + i),
      ...simd(0x13),
      ...set(V + temps + i),
    ]).flat(),
    ...get(GROUPS),
    0x45,
    0x04,
    0x40,
    0x0f,
    0x0b, // if groups = 0: return
    0x03,
    0x40, // loop
    ...body(tools),
    ...get(OFF),
    0x41,
    16,
    0x6a,
    ...set(OFF),
    ...get(GROUPS),
    0x41,
    1,
    0x6b,
    0x22,
    ...leb(GROUPS),
    0x0d,
    0,
    0x0b,
    0x0b,
  ];
  const locals = vec([[1, I32], [...leb(temps + floats), V128]]);
  const fn = [...locals, ...code];
  const params = [...new Array(pointers + 1).fill(I32), ...new Array(floats).fill(0x7d)];
  return { type: [0x60, ...leb(params.length), ...params, 0], fn: [...leb(fn.length), ...fn] };
}

function rowFunction(
  { pointers, temps, body }: PassSpec,
  { shared, perRow }: { shared: readonly number[]; perRow: readonly number[] },
): { type: number[]; fn: number[] } {
  const ROWS = pointers, GROUPS = pointers + 1, OFF = pointers + 2, WOFF = OFF + 1;
  const ROWOFF = OFF + 2, G = OFF + 3, V = OFF + 4;
  const at = (i: number) => [...get(i), ...get(shared.includes(i) ? WOFF : OFF), 0x6a];
  const tools: BodyTools = {
    load: (i) => [...at(i), ...simd(0x00, 4, 0)],
    store: (i, value) => [...at(i), ...value, ...simd(0x0b, 4, 0)],
    splat: (i) => get(V + temps + i),
    tmp: (k) => get(V + k),
    keep: (k, value) => [...value, ...set(V + k)],
  };
  const step = (
    local: number,
    by: number,
  ) => [...get(local), 0x41, ...leb(by), 0x6a, ...set(local)];
  const countDown = (local: number) => [...get(local), 0x41, 1, 0x6b, 0x22, ...leb(local), 0x0d, 0];
  const code = [
    ...get(ROWS),
    0x45,
    ...get(GROUPS),
    0x45,
    0x72, // i32.or: no rows or no groups
    0x04,
    0x40,
    0x0f,
    0x0b,
    0x03,
    0x40, // loop over rows
    ...perRow.flatMap((ptr, i) => [
      ...get(ptr),
      ...get(ROWOFF),
      0x6a,
      0x2a,
      2,
      0, // f32.load
      ...simd(0x13),
      ...set(V + temps + i),
    ]),
    0x41,
    0,
    ...set(WOFF),
    ...get(GROUPS),
    ...set(G),
    0x03,
    0x40, // loop over the row's groups
    ...body(tools),
    ...step(OFF, 16),
    ...step(WOFF, 16),
    ...countDown(G),
    0x0b,
    ...step(ROWOFF, 4),
    ...countDown(ROWS),
    0x0b,
  ];
  const locals = vec([[4, I32], [...leb(temps + perRow.length), V128]]);
  const fn = [...locals, ...code, 0x0b];
  const params = new Array(pointers + 2).fill(I32);
  return { type: [0x60, ...leb(params.length), ...params, 0], fn: [...leb(fn.length), ...fn] };
}

/**
 * `rmsRows(x, r, v, rows, h, h as f32, ε)`: per row of h floats, Σ x² in order (as the stock
 * Square and Mean kernels), v = Σ/h + ε and r = 1/√v (the stock Add and Rsqrt), stored per row.
 */
function rmsRowsFunction(): { type: number[]; fn: number[] } {
  const [X, R, VV, ROWS, H, HF, EPS] = [0, 1, 2, 3, 4, 5, 6];
  const OFF = 7, ROWOFF = 8, J = 9, SUM = 10, VAL = 11;
  const code = [
    ...get(ROWS),
    0x45,
    ...get(H),
    0x45,
    0x72,
    0x04,
    0x40,
    0x0f,
    0x0b,
    0x03,
    0x40, // rows
    0x43,
    0,
    0,
    0,
    0,
    ...set(SUM),
    ...get(H),
    ...set(J),
    0x03,
    0x40, // the row's values
    ...get(SUM),
    ...get(X),
    ...get(OFF),
    0x6a,
    0x2a,
    2,
    0,
    0x22,
    ...leb(VAL),
    ...get(VAL),
    0x94, // f32.mul
    0x92, // f32.add
    ...set(SUM),
    ...get(OFF),
    0x41,
    4,
    0x6a,
    ...set(OFF),
    ...get(J),
    0x41,
    1,
    0x6b,
    0x22,
    ...leb(J),
    0x0d,
    0,
    0x0b,
    // v = Σ / h + ε
    ...get(SUM),
    ...get(HF),
    0x95,
    ...get(EPS),
    0x92,
    ...set(VAL),
    ...get(VV),
    ...get(ROWOFF),
    0x6a,
    ...get(VAL),
    0x38,
    2,
    0,
    // r = 1 / √v
    ...get(R),
    ...get(ROWOFF),
    0x6a,
    0x43,
    ...new Uint8Array(new Float32Array([1]).buffer),
    ...get(VAL),
    0x91,
    0x95,
    0x38,
    2,
    0,
    ...get(ROWOFF),
    0x41,
    4,
    0x6a,
    ...set(ROWOFF),
    ...get(ROWS),
    0x41,
    1,
    0x6b,
    0x22,
    ...leb(ROWS),
    0x0d,
    0,
    0x0b,
  ];
  const locals = vec([[3, I32], [2, 0x7d]]);
  const fn = [...locals, ...code, 0x0b];
  const params = [I32, I32, I32, I32, I32, 0x7d, 0x7d];
  return { type: [0x60, ...leb(params.length), ...params, 0], fn: [...leb(fn.length), ...fn] };
}

const PASSES: readonly PassSpec[] = [
  // (g, s, u, out): out = (g·s)·u
  {
    name: "swigluForward",
    pointers: 4,
    floats: 0,
    temps: 0,
    body: ({ load, store }) => store(3, mul(mul(load(0), load(1)), load(2))),
  },
  // (dy, g, s, u, dg, du): du = dy·(g·s); da = dy·u; dg = da·s + (da·g)·(s·(1 − s))
  {
    name: "swigluBackward",
    pointers: 6,
    floats: 0,
    temps: 2,
    body: ({ load, store, tmp, keep }) => [
      ...keep(0, load(2)),
      ...store(5, mul(load(0), mul(load(1), tmp(0)))),
      ...keep(1, mul(load(0), load(3))),
      ...store(
        4,
        add(mul(tmp(1), tmp(0)), mul(mul(tmp(1), load(1)), mul(tmp(0), sub(ONE, tmp(0))))),
      ),
    ],
  },
  // (x, cos, sin, out): out = x·cos + rot(x)·sin
  {
    name: "ropeForward",
    pointers: 4,
    floats: 0,
    temps: 0,
    body: ({ load, store }) =>
      store(3, add(mul(load(0), load(1)), xor(mul(swapPairs(load(0)), load(2)), signs([0, 2])))),
  },
  // (dy, cos, sin, dx): dx = dy·cos + swap(dy·sin) with lanes 1, 3 negated
  {
    name: "ropeBackward",
    pointers: 4,
    floats: 0,
    temps: 0,
    body: ({ load, store }) =>
      store(3, add(mul(load(0), load(1)), xor(swapPairs(mul(load(0), load(2))), signs([1, 3])))),
  },
  // rows (x, w, out, r): out = (x·r)·w
  {
    name: "rmsScale",
    pointers: 4,
    floats: 0,
    temps: 0,
    rows: { shared: [1], perRow: [3] },
    body: ({ load, store, splat }) => store(2, mul(mul(load(0), splat(0)), load(1))),
  },
  // rows (dy, w, x, dxw, q): dxw = dy·w; q = dxw·x (summed per row by the stock Sum for dr)
  {
    name: "rmsGradIn",
    pointers: 5,
    floats: 0,
    temps: 1,
    rows: { shared: [1], perRow: [] },
    body: ({ load, store, tmp, keep }) => [
      ...keep(0, mul(load(0), load(1))),
      ...store(3, tmp(0)),
      ...store(4, mul(tmp(0), load(2))),
    ],
  },
  // rows (dxw, x, dy, dx₁, dx₂, terms, r, dm/h): dx₁ = dxw·r (through x·r); dx₂ = (dm/h)·(x·2)
  // (through x²); terms = dy·(x·r) (the weight's gradient terms, summed over rows by tf.sum)
  {
    name: "rmsGradOut",
    pointers: 8,
    floats: 0,
    temps: 0,
    rows: { shared: [], perRow: [6, 7] },
    body: ({ load, store, splat }) => [
      ...store(3, mul(load(0), splat(0))),
      ...store(4, mul(splat(1), mul(load(1), TWO))),
      ...store(5, mul(load(2), mul(load(1), splat(0)))),
    ],
  },
  // rows (softmax, out, zero, s): out = zero − s·softmax (the loss's logits gradient off the
  // target; the target's entry is written after)
  {
    name: "pickGrad",
    pointers: 4,
    floats: 0,
    temps: 0,
    rows: { shared: [], perRow: [2, 3] },
    body: ({ load, store, splat }) => store(1, sub(splat(0), mul(splat(1), load(0)))),
  },
];

/**
 * The module's bytes: imports `env.memory`, exports the passes named in this module's JSDoc
 * (`swigluForward`, `swigluBackward`, `ropeForward`, `ropeBackward`, `rmsScale`, `rmsGradIn`,
 * `rmsGradOut`, `pickGrad`, `rmsRows`).
 *
 * @example
 * ```ts
 * import { elementwiseModuleBytes } from "./wasm_elementwise.ts";
 * console.log(WebAssembly.validate(elementwiseModuleBytes())); // true
 * ```
 */
export function elementwiseModuleBytes(): Uint8Array<ArrayBuffer> {
  const built = [...PASSES.map(passFunction), rmsRowsFunction()];
  const names = [...PASSES.map((p) => p.name), "rmsRows"];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec(built.map((b) => b.type))),
    ...section(2, vec([[...str("env"), ...str("memory"), 0x02, 0x00, ...leb(1)]])),
    ...section(3, vec(built.map((_, i) => leb(i)))),
    ...section(7, vec(names.map((n, i) => [...str(n), 0x00, ...leb(i)]))),
    ...section(10, vec(built.map((b) => b.fn))),
  ]);
}

/** The members of tfjs-backend-wasm 4.22's backend that this module uses. */
interface WasmInternals {
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { asm: { memory: WebAssembly.Memory } };
}

type Pass = (...args: number[]) => void;
type Passes = Record<
  | "swigluForward"
  | "swigluBackward"
  | "ropeForward"
  | "ropeBackward"
  | "rmsScale"
  | "rmsGradIn"
  | "rmsGradOut"
  | "rmsRows"
  | "pickGrad",
  Pass
>;
let passes: Passes | null = null;
let owner: BackendWasm | null = null;
let enabled = true;

/** The wasm backend and our passes on its heap, or null (another backend, tfjs build, or off). */
function active(): { wasm: BackendWasm; passes: Passes } | null {
  if (!enabled || tf.getBackend() !== "wasm") return null;
  const wasm = tf.backend() as BackendWasm;
  if (owner !== wasm) {
    owner = wasm;
    try {
      const memory = (wasm as unknown as WasmInternals).wasm.asm.memory;
      const module = new WebAssembly.Module(elementwiseModuleBytes());
      passes = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Passes;
    } catch {
      passes = null; // another tfjs build (no exposed heap): callers keep the tfjs form
    }
  }
  return passes === null ? null : { wasm, passes };
}

/**
 * Switches the fused passes off (the layers then run their tfjs form) or on; returns the previous
 * setting. For A/B measurements and tests.
 *
 * @example
 * ```ts
 * import { setFusedElementwise } from "./wasm_elementwise.ts";
 * const before = setFusedElementwise(false);
 * setFusedElementwise(before);
 * ```
 */
export function setFusedElementwise(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/**
 * Whether the fused passes run here: the wasm backend with an exposed heap, switched on.
 *
 * @example
 * ```ts
 * import { fusedElementwiseAvailable } from "./wasm_elementwise.ts";
 * console.log(typeof fusedElementwiseAvailable()); // "boolean"
 * ```
 */
export function fusedElementwiseAvailable(): boolean {
  return active() !== null;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs `f(address of each input, address of each output)` with fresh float32 outputs. */
function onHeap(
  inputs: readonly tf.Tensor[],
  outShapes: readonly (readonly number[])[],
  f: (ins: number[], outs: number[], p: Passes) => void,
): tf.Tensor[] {
  const { wasm, passes } = active()!;
  const w = wasm as unknown as WasmInternals;
  for (const t of inputs) {
    if (t.dtype !== "float32") {
      throw new Error(`fused wasm pass: float32 inputs only, got ${t.dtype}`);
    }
  }
  const outs = outShapes.map((s) => wasm.makeOutput([...s], "float32"));
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  f(inputs.map(at), outs.map(at), passes);
  const engine = tf.engine();
  return outs.map((o) => engine.makeTensorFromTensorInfo(o));
}

type SavingGrad = (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
};

/**
 * silu(gate) ⊙ up as one pass each way (sigmoid by the stock kernel), the same values and
 * gradients as `tf.mul(tf.mul(gate, tf.sigmoid(gate)), up)` bit for bit. null unless
 * {@link fusedElementwiseAvailable}, float32 operands of one shape, and a size divisible by 4.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { swigluWasm } from "./wasm_elementwise.ts";
 * await tf.setBackend("wasm");
 * console.log(swigluWasm(tf.zeros([2, 4]), tf.ones([2, 4]))?.dataSync()[0]); // 0
 * ```
 */
export function swigluWasm(gate: tf.Tensor, up: tf.Tensor): tf.Tensor | null {
  if (active() === null || !fits([gate, up], gate.shape)) return null;
  const n = gate.size;
  const f = tf.customGrad(
    ((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
      const s = tf.sigmoid(g);
      const [out] = onHeap(
        [g, s, u],
        [g.shape],
        ([gA, sA, uA], [oA], p) => p.swigluForward(gA, sA, uA, oA, n / 4),
      );
      save([g, s, u]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, [sg, ss, su]: tf.Tensor[]) =>
          onHeap(
            [dy, sg, ss, su],
            [sg.shape, su.shape],
            ([dyA, gA, sA, uA], [dgA, duA], p) =>
              p.swigluBackward(dyA, gA, sA, uA, dgA, duA, n / 4),
          ),
      };
    }) as unknown as SavingGrad,
  );
  return f(gate, up) as tf.Tensor;
}

function fits(ts: readonly tf.Tensor[], shape: readonly number[]): boolean {
  return ts.every((t) =>
    t.dtype === "float32" && t.shape.length === shape.length &&
    t.shape.every((d, i) => d === shape[i])
  ) && sizeOf(shape) % 4 === 0;
}

/**
 * Interleaved-pair RoPE of `x` `[..., T, d]` with tables `[T, d]` as one pass each way, the same
 * values and gradients as lib/model/layers/rope.ts's tfjs form bit for bit. null unless
 * {@link fusedElementwiseAvailable}, float32, tables of exactly `[T, d]`, and d divisible by 4.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { ropeWasm } from "./wasm_elementwise.ts";
 * await tf.setBackend("wasm");
 * const y = ropeWasm(tf.tensor4d([1, 2, 3, 4], [1, 1, 1, 4]), tf.ones([1, 4]), tf.zeros([1, 4]));
 * console.log(y?.dataSync()); // Float32Array [1, 2, 3, 4]
 * ```
 */
export function ropeWasm(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor | null {
  const r = x.rank;
  if (active() === null || r < 2 || x.dtype !== "float32") return null;
  const T = x.shape[r - 2], d = x.shape[r - 1];
  if (d % 4 !== 0 || !fits([cos, sin], [T, d])) return null;
  const rows = x.size / (T * d), groups = (T * d) / 4, bytes = 4 * T * d;
  const each = (pass: Pass, a: number, c: number, s: number, o: number) => {
    for (let i = 0; i < rows; i++) pass(a + i * bytes, c, s, o + i * bytes, groups);
  };
  const f = tf.customGrad(
    ((xx: tf.Tensor, save: tf.GradSaveFunc) => {
      save([cos, sin]); // the caller may dispose the tables before the backward pass
      const [out] = onHeap(
        [xx, cos, sin],
        [xx.shape],
        ([xA, cA, sA], [oA], p) => each(p.ropeForward, xA, cA, sA, oA),
      );
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, [c, s]: tf.Tensor[]) =>
          onHeap(
            [dy, c, s],
            [dy.shape],
            ([dA, cA, sA], [oA], p) => each(p.ropeBackward, dA, cA, sA, oA),
          )[0],
      };
    }) as unknown as SavingGrad,
  );
  return f(x) as tf.Tensor;
}

/**
 * RMSNorm of `x` `[..., h]` with `weight` `[h]`, its big passes fused (see the module's JSDoc): the
 * same values and gradients as lib/model/layers/rms_norm.ts's tfjs form bit for bit. null unless
 * {@link fusedElementwiseAvailable}, float32, and h divisible by 4.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { rmsNormWasm } from "./wasm_elementwise.ts";
 * await tf.setBackend("wasm");
 * const y = rmsNormWasm(tf.tensor2d([[3, 4, 0, 0]]), tf.ones([4]), 0); // rms = 2.5
 * console.log(y?.dataSync()); // Float32Array [1.2, 1.6, 0, 0]
 * ```
 */
export function rmsNormWasm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor | null {
  const h = x.shape[x.rank - 1];
  if (
    active() === null || x.rank < 1 || x.dtype !== "float32" || h % 4 !== 0 || h === 0 ||
    !fits([weight], [h])
  ) return null;
  const N = x.size / h, groups = h / 4;
  // x twice: its two gradient terms reach tfjs's accumulation separately, as in the tfjs form
  const f = tf.customGrad(
    ((xx: tf.Tensor, _x: tf.Tensor, ww: tf.Tensor, save: tf.GradSaveFunc) => {
      // per row: v = Σ x²/h + ε and r = 1/√v as the stock Square, Mean, Add and Rsqrt; y = (x·r)·w
      const [out, r, v] = onHeap([xx, ww], [xx.shape, [N], [N]], ([xA, wA], [oA, rA, vA], p) => {
        p.rmsRows(xA, rA, vA, N, h, h, eps);
        p.rmsScale(xA, wA, oA, rA, N, groups);
      });
      save([xx, ww, r, v]);
      tf.dispose([r, v]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, [sx, sw, sr, sv]: tf.Tensor[]) => {
          const [dxw, q] = onHeap(
            [dy, sw, sx],
            [sx.shape, sx.shape],
            ([dA, wA, xA], [pA, qA], p) => p.rmsGradIn(dA, wA, xA, pA, qA, N, groups),
          );
          // Rsqrt's gradient as tfjs writes it: −dr / (v^1.5 · 2), on the per-row values; the
          // Mean's gradient divides it by h
          const dmh = tf.tidy(() =>
            tf.div(tf.neg(tf.div(tf.reshape(tf.sum(q, -1), [N]), tf.mul(tf.pow(sv, 1.5), 2))), h)
          );
          const [dx1, dx2, terms] = onHeap(
            [dxw, sx, dy, sr, dmh],
            [sx.shape, sx.shape, sx.shape],
            ([pA, xA, dA, rA, mA], [o1, o2, tA], p) =>
              p.rmsGradOut(pA, xA, dA, o1, o2, tA, rA, mA, N, groups),
          );
          const dw = tf.sum(terms, Array.from({ length: sx.rank - 1 }, (_, i) => i));
          tf.dispose([dxw, q, dmh, terms]);
          return [dx1, dx2, dw];
        },
      };
    }) as unknown as SavingGrad,
  );
  return f(x, x, weight) as tf.Tensor;
}

/**
 * The next-byte loss's picked log-probabilities as one customGrad on the wasm backend:
 * picked[b·(T−1) + t] = logSoftmax(logits[b, t])[targets[b·(T−1) + t]] for t < T − 1, for
 * lib/model/loss.ts. Forward runs tf.logSoftmax (stock kernels) and reads the targets' entries
 * (the tfjs form's Σ logp·oneHot adds only zeros to it); backward is one pass per row writing
 * the logits' gradient `[B, T, V]` directly: dpicked·oneHot − (Σ dpicked·oneHot)·exp(logp), the
 * exp by the stock kernel and the last position 0 (the slice's gradient), bit for bit the tfjs
 * form (tested). null unless {@link fusedElementwiseAvailable}, float32 and V divisible by 4.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { nextBytePicksWasm } from "./wasm_elementwise.ts";
 * await tf.setBackend("wasm");
 * const p = nextBytePicksWasm(tf.zeros([1, 3, 4]) as tf.Tensor3D, new Int32Array([1, 2]));
 * console.log(p?.dataSync()); // Float32Array [-1.3862944, -1.3862944] (= −ln 4)
 * ```
 */
export function nextBytePicksWasm(logits: tf.Tensor3D, targets: Int32Array): tf.Tensor1D | null {
  const [B, T, V] = logits.shape;
  const N = B * (T - 1);
  if (
    active() === null || logits.dtype !== "float32" || V % 4 !== 0 || T < 2 ||
    targets.length !== N || targets.some((t) => t < 0 || t >= V)
  ) return null;
  const f = tf.customGrad(
    ((all: tf.Tensor, save: tf.GradSaveFunc) => {
      const logp = tf.tidy(() =>
        tf.logSoftmax(tf.reshape(tf.slice(all, [0, 0, 0], [B, T - 1, V]), [N, V]))
      );
      const [picked] = onHeap([logp], [[N]], ([lA], [pA]) => {
        const heap = new Float32Array(active()!.wasm.typedArrayFromHeap(logp).buffer);
        for (let i = 0; i < N; i++) heap[pA / 4 + i] = heap[lA / 4 + i * V + targets[i]];
      });
      save([logp]);
      logp.dispose();
      return {
        value: picked,
        gradFunc: (dy: tf.Tensor, [sl]: tf.Tensor[]) => {
          const soft = tf.exp(sl); // [N, V], the stock Exp as in logSoftmax's gradient
          const d = dy.dataSync() as Float32Array;
          // Per row: the oneHot product's zeros (dpicked·0) and Σ over the row (the one nonzero
          // term, or +0 when all are zeros).
          const zero = new Float32Array(N), sum = new Float32Array(N);
          for (let i = 0; i < N; i++) {
            zero[i] = d[i] * 0;
            sum[i] = d[i] === 0 ? 0 : d[i];
          }
          const [z, s] = [tf.tensor1d(zero), tf.tensor1d(sum)];
          const [dAll] = onHeap([soft, z, s], [[B, T, V]], ([smA, zA, sA], [oA], p) => {
            const heap = new Float32Array(active()!.wasm.typedArrayFromHeap(soft).buffer);
            for (let b = 0; b < B; b++) {
              const rows = b * (T - 1), out = oA + 4 * b * T * V;
              p.pickGrad(smA + 4 * rows * V, out, zA + 4 * rows, sA + 4 * rows, T - 1, V / 4);
              heap.fill(0, out / 4 + (T - 1) * V, out / 4 + T * V); // the slice's gradient: 0
              for (let t = 0; t < T - 1; t++) {
                const i = rows + t, at = out / 4 + t * V + targets[i];
                heap[at] = d[i] - Math.fround(heap[smA / 4 + i * V + targets[i]] * sum[i]);
              }
            }
          });
          tf.dispose([soft, z, s]);
          return dAll;
        },
      };
    }) as unknown as SavingGrad,
  );
  return f(logits) as tf.Tensor1D;
}
