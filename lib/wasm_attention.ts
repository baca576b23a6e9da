/**
 * Causal attention in query blocks on the wasm backend, forward and backward each as one pass over
 * the heap instead of ~20 tfjs kernels per block (slices, pads, concats, broadcasts, AddN): the
 * same products on {@link WasmGemm} with the same operands, the stock Softmax kernel, and the same
 * float32 adds and multiplies in the same order as the tfjs form of
 * lib/model/layers/attention.ts's `blockedAttention`, so values and gradients are the same bit for
 * bit (tested). A tiny local layer ([2, 4, 1024, 32]) spent ~37 ms per forward + backward outside
 * its kernels and ~28 ms in the non-product ones.
 *
 * Shapes: q, k, v, out, dy `[B, H, T, d]`; bias `[1 or B, 1, T, T]` (added to the scores; its
 * masked entries make probabilities of exactly 0); probabilities per block `[B, H, Q, S]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Types only: importing the backend would register it and change CPU-only users' default backend.
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { WasmGemm } from "./wasm_gemm.ts";

/** One query block: rows [r0, r1) see keys [c0, c1) (lib/model/layers/attention.ts). */
export interface QueryBlock {
  readonly r0: number;
  readonly r1: number;
  readonly c0: number;
  readonly c1: number;
}

/** The members of tfjs-backend-wasm 4.22's backend and module used here. */
interface WasmInternals {
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { asm: { memory: WebAssembly.Memory }; _malloc(n: number): number; _free(p: number): void };
}

let gemm: WasmGemm | null = null;
let owner: BackendWasm | null = null;

/** The wasm backend and our kernels on its heap, or null (another backend or tfjs build). */
function active(): { wasm: BackendWasm; gemm: WasmGemm } | null {
  if (tf.getBackend() !== "wasm") return null;
  const wasm = tf.backend() as BackendWasm;
  if (owner !== wasm) {
    owner = wasm;
    try {
      gemm = new WasmGemm((wasm as unknown as WasmInternals).wasm.asm.memory);
    } catch {
      gemm = null;
    }
  }
  return gemm === null ? null : { wasm, gemm };
}

let enabled = true;

/**
 * Switches the fused path of lib/model/layers/attention.ts on or off (it then runs the tfjs
 * form); returns the previous setting. For A/B measurements and tests.
 *
 * @example
 * ```ts
 * import { setFusedBlocks } from "./wasm_attention.ts";
 * const before = setFusedBlocks(false);
 * setFusedBlocks(before);
 * ```
 */
export function setFusedBlocks(on: boolean): boolean {
  const before = enabled;
  enabled = on;
  return before;
}

/**
 * Whether {@link blockAttentionForward} and {@link blockAttentionBackward} run here (the wasm
 * backend with our kernels) and are switched on.
 *
 * @example
 * ```ts
 * import { fusedBlocksAvailable } from "./wasm_attention.ts";
 * console.log(typeof fusedBlocksAvailable()); // "boolean"
 * ```
 */
export function fusedBlocksAvailable(): boolean {
  return enabled && active() !== null && tf.getKernel(tf.Softmax, "wasm") !== undefined;
}

/** Scratch on the wasm heap for the products' packed operands and edges. */
function scratch(
  w: WasmInternals,
  K: number,
  N: number,
  M: number,
): { pack: number; edge: number } {
  const pack = w.wasm._malloc(WasmGemm.packBytes(K, N)) >>> 0;
  const edge = w.wasm._malloc(WasmGemm.edgeBytes(M, K)) >>> 0;
  return { pack, edge };
}

/** The largest pack and edge areas any product of these blocks needs (d columns or rows). */
function scratchFor(w: WasmInternals, blocks: readonly QueryBlock[], d: number, T: number) {
  let S = 0, Q = 0;
  for (const b of blocks) {
    S = Math.max(S, b.c1 - b.c0);
    Q = Math.max(Q, b.r1 - b.r0);
  }
  const big = Math.max(S, Q, T);
  return scratch(w, big, Math.max(big, d), big);
}

/**
 * Forward: out = concat over blocks of softmax(q·scale·kᵀ + bias)·v, and each block's
 * probabilities (kept for the backward pass). null when not on the wasm backend with our kernels
 * or for other dtypes.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { blockAttentionForward } from "./wasm_attention.ts";
 * await tf.setBackend("wasm");
 * const q = tf.ones([1, 1, 4, 2]), bias = tf.zeros([1, 1, 4, 4]);
 * const blocks = [{ r0: 0, r1: 2, c0: 0, c1: 2 }, { r0: 2, r1: 4, c0: 0, c1: 4 }];
 * const r = blockAttentionForward(q, q, q, 0.5, bias, blocks)!;
 * console.log(r.out.shape, r.probs.map((p) => p.shape)); // [1, 1, 4, 2] [[1, 1, 2, 2], [1, 1, 2, 4]]
 * ```
 */
export function blockAttentionForward(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  scale: number,
  bias: tf.Tensor,
  blocks: readonly QueryBlock[],
): { out: tf.Tensor; probs: tf.Tensor[] } | null {
  const on = active();
  if (on === null || [q, k, v, bias].some((t) => t.dtype !== "float32")) return null;
  const softmax = tf.getKernel(tf.Softmax, "wasm");
  if (softmax === undefined) return null;
  const { wasm, gemm } = on;
  const w = wasm as unknown as WasmInternals;
  const [B, H, T, d] = q.shape;
  const BH = B * H, Bb = bias.shape[0];
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  // q·scale, as tf.mul(q, scale) (float32 products, SIMD)
  const qs = wasm.makeOutput(q.shape, "float32");
  gemm.scale(at(qs), at(q), BH * T * d, scale);
  const out = wasm.makeOutput(q.shape, "float32");
  const probs: tf.TensorInfo[] = [];
  const { pack, edge } = scratchFor(w, blocks, d, T);
  try {
    for (const { r0, r1, c0, c1 } of blocks) {
      const Q = r1 - r0, S = c1 - c0;
      const scores = wasm.makeOutput([B, H, Q, S], "float32");
      for (let bh = 0; bh < BH; bh++) {
        gemm.matmul(
          { at: at(qs) + 4 * (bh * T + r0) * d, transposed: false },
          { at: at(k) + 4 * (bh * T + c0) * d, transposed: true },
          at(scores) + 4 * bh * Q * S,
          [Q, d, S],
          pack,
          edge,
        );
      }
      // + bias[b or 0, 0, r0 + i, c0 + j], as tf.add with the bias block broadcast over heads
      const sAt = at(scores), bAt = at(bias);
      for (let bh = 0; bh < BH; bh++) {
        const b = Bb === 1 ? 0 : Math.floor(bh / H);
        for (let i = 0; i < Q; i++) {
          const from = bAt + 4 * ((b * T + r0 + i) * T + c0);
          gemm.addInto(sAt + 4 * (bh * Q + i) * S, from, S);
        }
      }
      const p = softmax.kernelFunc({
        inputs: { logits: scores },
        attrs: { dim: 3 },
        backend: wasm,
      } as never) as tf.TensorInfo;
      wasm.disposeData(scores.dataId);
      probs.push(p);
      for (let bh = 0; bh < BH; bh++) {
        gemm.matmul(
          { at: at(p) + 4 * bh * Q * S, transposed: false },
          { at: at(v) + 4 * (bh * T + c0) * d, transposed: false },
          at(out) + 4 * (bh * T + r0) * d,
          [Q, S, d],
          pack,
          edge,
        );
      }
    }
  } finally {
    w.wasm._free(pack);
    w.wasm._free(edge);
    wasm.disposeData(qs.dataId);
  }
  const engine = tf.engine();
  return {
    out: engine.makeTensorFromTensorInfo(out),
    probs: probs.map((p) => engine.makeTensorFromTensorInfo(p)),
  };
}

/**
 * Backward of {@link blockAttentionForward}: `[dq, dk, dv]` from the saved q, k, v, out, block
 * probabilities and the output's gradient dy, computed as the tfjs form does (rowDot = Σ dy ⊙ out;
 * per block dv += pᵀ·dy, ds = p ⊙ (dy·vᵀ − rowDot), dq = ds·k, dk += dsᵀ·q; dq, dk times scale).
 * null when not on the wasm backend with our kernels.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import "@tensorflow/tfjs-backend-wasm";
 * import { blockAttentionBackward, blockAttentionForward } from "./wasm_attention.ts";
 * await tf.setBackend("wasm");
 * const q = tf.ones([1, 1, 4, 2]), bias = tf.zeros([1, 1, 4, 4]);
 * const blocks = [{ r0: 0, r1: 2, c0: 0, c1: 2 }, { r0: 2, r1: 4, c0: 0, c1: 4 }];
 * const { out, probs } = blockAttentionForward(q, q, q, 0.5, bias, blocks)!;
 * const grads = blockAttentionBackward(q, q, q, out, probs, tf.onesLike(out), 0.5, blocks)!;
 * console.log(grads.map((g) => g.shape)); // [[1, 1, 4, 2], [1, 1, 4, 2], [1, 1, 4, 2]]
 * ```
 */
export function blockAttentionBackward(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  out: tf.Tensor,
  probs: readonly tf.Tensor[],
  dy: tf.Tensor,
  scale: number,
  blocks: readonly QueryBlock[],
): [tf.Tensor, tf.Tensor, tf.Tensor] | null {
  const on = active();
  if (on === null || [q, k, v, out, dy].some((t) => t.dtype !== "float32")) return null;
  const { wasm, gemm } = on;
  const w = wasm as unknown as WasmInternals;
  const [B, H, T, d] = q.shape;
  const BH = B * H;
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  const heap = () => new Float32Array(w.wasm.asm.memory.buffer);
  const dq = wasm.makeOutput(q.shape, "float32");
  const dk = wasm.makeOutput(q.shape, "float32");
  const dv = wasm.makeOutput(q.shape, "float32");
  const rowDot = wasm.makeOutput([BH * T], "float32");
  let Qmax = 0, Smax = 0;
  for (const b of blocks) {
    Qmax = Math.max(Qmax, b.r1 - b.r0);
    Smax = Math.max(Smax, b.c1 - b.c0);
  }
  const ds = wasm.makeOutput([Qmax * Smax], "float32");
  const part = wasm.makeOutput([Smax * d], "float32");
  const { pack, edge } = scratchFor(w, blocks, d, T);
  try {
    // rowDot = Σ_d dy ⊙ out, as tf.sum(tf.mul(dy, out), -1): float32 products, summed in order
    gemm.rowDots(at(rowDot), at(dy), at(out), BH * T, d);
    {
      const f = heap();
      // dk and dv sum the blocks' padded parts from zero (tf.addN of tf.pad)
      f.fill(0, at(dk) / 4, at(dk) / 4 + BH * T * d);
      f.fill(0, at(dv) / 4, at(dv) / 4 + BH * T * d);
    }
    blocks.forEach(({ r0, r1, c0, c1 }, i) => {
      const Q = r1 - r0, S = c1 - c0, p = probs[i];
      // Adds the [S, d] product in `part` to rows c0… of head bh of `into`.
      const addPart = (into: tf.TensorInfo, bh: number) =>
        gemm.addInto(at(into) + 4 * (bh * T + c0) * d, at(part), S * d);
      for (let bh = 0; bh < BH; bh++) {
        const dyRows = at(dy) + 4 * (bh * T + r0) * d, pAt = at(p) + 4 * bh * Q * S;
        // dv[c0…c1) += pᵀ·dy_i
        gemm.matmul(
          { at: pAt, transposed: true },
          { at: dyRows, transposed: false },
          at(part),
          [S, Q, d],
          pack,
          edge,
        );
        addPart(dv, bh);
        // dp = dy_i·v[c0…c1)ᵀ, then ds = p ⊙ (dp − rowDot_i)
        gemm.matmul(
          { at: dyRows, transposed: false },
          { at: at(v) + 4 * (bh * T + c0) * d, transposed: true },
          at(ds),
          [Q, d, S],
          pack,
          edge,
        );
        {
          const dots = heap(), r = at(rowDot) / 4 + bh * T + r0;
          for (let a = 0; a < Q; a++) {
            gemm.softmaxGradRow(at(ds) + 4 * a * S, pAt + 4 * a * S, S, dots[r + a]);
          }
        }
        // dq rows r0…r1 = ds·k[c0…c1) (scaled at the end)
        gemm.matmul(
          { at: at(ds), transposed: false },
          { at: at(k) + 4 * (bh * T + c0) * d, transposed: false },
          at(dq) + 4 * (bh * T + r0) * d,
          [Q, S, d],
          pack,
          edge,
        );
        // dk[c0…c1) += dsᵀ·q_i
        gemm.matmul(
          { at: at(ds), transposed: true },
          { at: at(q) + 4 * (bh * T + r0) * d, transposed: false },
          at(part),
          [S, Q, d],
          pack,
          edge,
        );
        addPart(dk, bh);
      }
    });
    for (const g of [dq, dk]) gemm.scale(at(g), at(g), BH * T * d, scale); // float32 products
  } finally {
    w.wasm._free(pack);
    w.wasm._free(edge);
    for (const t of [rowDot, ds, part]) wasm.disposeData(t.dataId);
  }
  const engine = tf.engine();
  return [dq, dk, dv].map((g) => engine.makeTensorFromTensorInfo(g)) as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}
