/**
 * AdamW's update in one WebAssembly SIMD pass over a weight, its gradient and both moments, for
 * the wasm backend (the CPU path of lib/train/adamw.ts). The tfjs form runs ~14 kernels per weight,
 * each a pass over the weight's size with a fresh output: ~90 ms per step for the tiny preset's
 * 7.7 M weights on our 2-core machine, while the trainer's workers wait. This pass reads p, g, m,
 * v once and writes p′, m′, v′ once.
 *
 * The float32 operations are those of the tfjs form, in the same order and without fused
 * multiply-adds, with the same float32 constants, so the results are the same bit for bit
 * (tested): g = raw·scale; m′ = m·β₁ + g·(1 − β₁); v′ = v·β₂ + g²·(1 − β₂);
 * p′ = p·(1 − lr·wd) − (m′ / (√v′ / √(1 − β₂ᵗ) + ε))·lr / (1 − β₁ᵗ).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Types only: importing the backend would register it and change CPU-only users' default backend.
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { F32, get, I32, leb, name, section, set, simd, tee, V128, vec } from "./wasm_asm.ts";

const LOAD = simd(0x00, 4, 0), STORE = simd(0x0b, 4, 0), SPLAT = simd(0x13);
const [SQRT, ADD, SUB, MUL, DIV] = [0xe3, 0xe4, 0xe5, 0xe6, 0xe7].map((op) => simd(op));

/** Parameters of the module's `adamw`: 7 addresses, a count of 4-value groups, 9 constants. */
const ADDRESSES = ["p", "g", "m", "v", "outP", "outM", "outV"] as const;
const CONSTANTS = ["scale", "b1", "omb1", "b2", "omb2", "bc2", "eps", "decay", "stepSize"] as const;

/**
 * The module's bytes: imports `env.memory`, exports `adamw(p, g, m, v, outP, outM, outV, groups,
 * scale, β₁, 1 − β₁, β₂, 1 − β₂, √(1 − β₂ᵗ), ε, 1 − lr·wd, lr / (1 − β₁ᵗ))` over `groups` × 4
 * floats at those byte addresses.
 *
 * @example
 * ```ts
 * import { adamwModuleBytes } from "./wasm_adamw.ts";
 * console.log(WebAssembly.validate(adamwModuleBytes())); // true
 * ```
 */
export function adamwModuleBytes(): Uint8Array<ArrayBuffer> {
  const n = ADDRESSES.length; // params 0…6 addresses, 7 groups, 8…16 constants
  const GROUPS = n, c = (k: (typeof CONSTANTS)[number]) => n + 1 + CONSTANTS.indexOf(k);
  const off = n + 1 + CONSTANTS.length; // i32 local: byte offset
  const V = off + 1; // v128 locals: the splatted constants, then g, m′, v′
  const k = (key: (typeof CONSTANTS)[number]) => V + CONSTANTS.indexOf(key);
  const g = V + CONSTANTS.length, mN = g + 1, vN = g + 2;
  const at = (base: number) => [...get(base), ...get(off), 0x6a]; // base + off
  const body = [
    ...CONSTANTS.flatMap((key) => [...get(c(key)), ...SPLAT, ...set(k(key))]),
    ...get(GROUPS),
    0x45, // i32.eqz
    0x04,
    0x40, // if: nothing to do
    0x0f, // return
    0x0b,
    0x03,
    0x40, // loop
    // g = raw · scale
    ...at(1),
    ...LOAD,
    ...get(k("scale")),
    ...MUL,
    ...set(g),
    // m′ = m·β₁ + g·(1 − β₁)
    ...at(2),
    ...LOAD,
    ...get(k("b1")),
    ...MUL,
    ...get(g),
    ...get(k("omb1")),
    ...MUL,
    ...ADD,
    ...set(mN),
    ...at(5),
    ...get(mN),
    ...STORE,
    // v′ = v·β₂ + (g·g)·(1 − β₂)
    ...at(3),
    ...LOAD,
    ...get(k("b2")),
    ...MUL,
    ...get(g),
    ...get(g),
    ...MUL,
    ...get(k("omb2")),
    ...MUL,
    ...ADD,
    ...set(vN),
    ...at(6),
    ...get(vN),
    ...STORE,
    // p′ = p·(1 − lr·wd) − (m′ / (√v′ / bc2 + ε))·stepSize
    ...at(4),
    ...at(0),
    ...LOAD,
    ...get(k("decay")),
    ...MUL,
    ...get(mN),
    ...get(vN),
    ...SQRT,
    ...get(k("bc2")),
    ...DIV,
    ...get(k("eps")),
    ...ADD,
    ...DIV,
    ...get(k("stepSize")),
    ...MUL,
    ...SUB,
    ...STORE,
    ...get(off),
    0x41,
    16,
    0x6a,
    ...set(off),
    ...get(GROUPS),
    0x41,
    1,
    0x6b,
    ...tee(GROUPS),
    0x0d,
    0, // br_if the loop
    0x0b,
    0x0b,
  ];
  const locals = vec([[...leb(1), I32], [...leb(CONSTANTS.length + 3), V128]]);
  const fn = [...locals, ...body];
  const params = [...new Array(n + 1).fill(I32), ...new Array(CONSTANTS.length).fill(F32)];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(1, vec([[0x60, ...leb(params.length), ...params, 0]])),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, ...leb(1)]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name("adamw"), 0x00, 0]])),
    ...section(10, vec([[...leb(fn.length), ...fn]])),
  ]);
}

/**
 * One AdamW step's numbers (float64 here; rounded to float32 as tfjs rounds scalars).
 *
 * @example
 * ```ts
 * import type { AdamWStep } from "./wasm_adamw.ts";
 * const s: AdamWStep = { beta1: 0.9, beta2: 0.95, eps: 1e-8, decay: 1 - 1e-4 * 0.1, bc2Sqrt: 0.22, stepSize: 1e-3 };
 * ```
 */
export interface AdamWStep {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** 1 − lr·wd, or 1 for a weight without decay. */
  readonly decay: number;
  /** √(1 − β₂ᵗ). */
  readonly bc2Sqrt: number;
  /** lr / (1 − β₁ᵗ). */
  readonly stepSize: number;
}

/** The members of tfjs-backend-wasm 4.22's backend that this module uses. */
interface WasmInternals {
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { asm: { memory: WebAssembly.Memory } };
}

type AdamwFn = (...args: number[]) => void;
let fn: AdamwFn | null = null;
let owner: BackendWasm | null = null;

function kernel(wasm: BackendWasm): AdamwFn | null {
  if (owner !== wasm) {
    owner = wasm;
    try {
      const memory = (wasm as unknown as WasmInternals).wasm.asm.memory;
      const module = new WebAssembly.Module(adamwModuleBytes());
      fn = new WebAssembly.Instance(module, { env: { memory } }).exports.adamw as AdamwFn;
    } catch {
      fn = null; // another tfjs build (no exposed heap): the caller keeps the tfjs form
    }
  }
  return fn;
}

const f32 = Math.fround;

/**
 * AdamW's new weight and moments `[p′, m′, v′]` (fresh tensors; the inputs are untouched) in one
 * pass on the wasm backend, or null elsewhere (and for non-float32 inputs or mismatched shapes),
 * when the caller keeps its tfjs form. `scale` (a one-value tensor) multiplies the gradient.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { adamwWasm } from "./wasm_adamw.ts";
 * await tf.setBackend("wasm");
 * const p = tf.ones([5]), g = tf.fill([5], 0.5), m = tf.zeros([5]), v = tf.zeros([5]);
 * const s = { beta1: 0.9, beta2: 0.95, eps: 1e-8, decay: 1, bc2Sqrt: Math.sqrt(0.05), stepSize: 0.1 / 0.1 };
 * const out = adamwWasm(p, g, m, v, s)!;
 * console.log(out[0].dataSync()[0].toFixed(4)); // "0.9000": the first step moves lr·sign(g)
 * tf.dispose([p, g, m, v, ...out]);
 * ```
 */
export function adamwWasm(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  step: AdamWStep,
  scale?: tf.Tensor,
): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  if (tf.getBackend() !== "wasm") return null;
  const all = [p, g, m, v];
  if (all.some((t) => t.dtype !== "float32" || t.size !== p.size)) return null;
  const wasm = tf.backend() as BackendWasm;
  const run = kernel(wasm);
  if (run === null) return null;
  const scaleValue = scale === undefined ? 1 : scale.dataSync()[0];
  const outs = [0, 1, 2].map(() => wasm.makeOutput(p.shape, "float32"));
  const w = wasm as unknown as WasmInternals;
  const at = (dataId: object) => w.dataIdMap.get(dataId).memoryOffset;
  const addresses = [...all.map((t) => at(t.dataId)), ...outs.map((o) => at(o.dataId))];
  const n = p.size, groups = n >> 2;
  const consts = {
    scale: f32(scaleValue),
    b1: f32(step.beta1),
    omb1: f32(1 - step.beta1),
    b2: f32(step.beta2),
    omb2: f32(1 - step.beta2),
    bc2: f32(step.bc2Sqrt),
    eps: f32(step.eps),
    decay: f32(step.decay),
    stepSize: f32(step.stepSize),
  };
  run(...addresses, groups, ...CONSTANTS.map((key) => consts[key]));
  if (n > 4 * groups) {
    // The last 1–3 values in float32 steps, as the SIMD lanes compute them.
    const heap = new Float32Array(w.wasm.asm.memory.buffer);
    const [pp, gg, mm, vv, op, om, ov] = addresses.map((a) => a / 4);
    const c = consts;
    for (let i = 4 * groups; i < n; i++) {
      const gi = f32(heap[gg + i] * c.scale);
      const mi = f32(f32(heap[mm + i] * c.b1) + f32(gi * c.omb1));
      const vi = f32(f32(heap[vv + i] * c.b2) + f32(f32(gi * gi) * c.omb2));
      const denom = f32(f32(f32(Math.sqrt(vi)) / c.bc2) + c.eps);
      heap[op + i] = f32(f32(heap[pp + i] * c.decay) - f32(f32(mi / denom) * c.stepSize));
      heap[om + i] = mi;
      heap[ov + i] = vi;
    }
  }
  const engine = tf.engine();
  return outs.map((o) => engine.makeTensorFromTensorInfo(o)) as [tf.Tensor, tf.Tensor, tf.Tensor];
}
