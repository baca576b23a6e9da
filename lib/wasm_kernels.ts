/**
 * Kernels that make tfjs's wasm backend (the CPU path: CI, laptops, the Deno kernel) train our
 * models at a usable speed. tfjs-backend-wasm 4.22 measured on our 2-core machine:
 * - UnsortedSegmentSum is missing: `tf.gather`'s gradient (embedding and hash n-gram tables, the
 *   own-patch gathers) calls it, so every backward pass failed.
 * - BatchMatMul with transposeA or transposeB ran at 0.3–0.4 GFLOP/s against 4–7 GFLOP/s without:
 *   backward passes are mostly transposed products. We materialise the transpose (fast) first.
 * - SplitV along the last axis (RoPE's interleaved pairs) took ~200 ms for 32k values: it slices
 *   element by element. A plain strided copy takes well under a millisecond.
 * Importing this module registers the replacements once.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/**
 * A view of a tensor on the wasm heap. (`readSync` copies the whole tensor: the kernels below
 * used it per batch matrix and spent seconds copying.) Take it after any allocation, as a
 * growing heap detaches older views.
 */
function heap(wasm: BackendWasm, t: tf.TensorInfo) {
  return wasm.typedArrayFromHeap(t);
}

type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
};

/** out[s, …] = Σ x[i, …] over i with segmentIds[i] = s; ids outside [0, numSegments) drop. */
function unsortedSegmentSum({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const rest = x.shape.slice(segmentIds.shape.length);
  const inner = rest.reduce((a, b) => a * b, 1);
  // Allocate before taking heap views: a growing wasm heap detaches views taken earlier.
  const out = wasm.makeOutput([numSegments, ...rest], x.dtype);
  const ids = heap(wasm, segmentIds) as Int32Array;
  const values = heap(wasm, x) as Float32Array;
  const dst = wasm.typedArrayFromHeap(out) as Float32Array;
  dst.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const at = s * inner;
    for (let j = 0; j < inner; j++) dst[at + j] += values[src + j];
  }
  return out;
}

/** SplitV as strided copies: [outer, axis, inner] → pieces [outer, size_i, inner]. */
function splitV({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const { numOrSizeSplits, axis } = attrs as { numOrSizeSplits: number | number[]; axis: number };
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const outer = x.shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  const dim = x.shape[ax];
  let offset = 0;
  return sizes.map((size) => {
    const shape = [...x.shape];
    shape[ax] = size;
    const out = wasm.makeOutput(shape, x.dtype);
    // Views after the allocation: a growing wasm heap detaches views taken earlier.
    const src = heap(wasm, x) as Float32Array | Int32Array;
    const dst = wasm.typedArrayFromHeap(out);
    const run = size * inner;
    for (let o = 0; o < outer; o++) {
      const from = (o * dim + offset) * inner;
      dst.set(src.subarray(from, from + run), o * run);
    }
    offset += size;
    return out;
  });
}

function register(name: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]) {
  // Keep the stock config's setupFunc: wasm kernels bind their C++ entry points in it when the
  // backend initialises.
  const existing = tf.getKernel(name, "wasm");
  if (existing !== undefined) tf.unregisterKernel(name, "wasm");
  tf.registerKernel({
    ...existing,
    kernelName: name,
    backendName: "wasm",
    kernelFunc: kernelFunc as tf.KernelFunc,
  });
}

/** Swaps the last two axes through the wasm Transpose kernel. */
function transposeLast(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  const perm = x.shape.map((_, i) => i);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
  const transpose = tf.getKernel(tf.Transpose, "wasm")!.kernelFunc;
  return transpose({ inputs: { x }, attrs: { perm }, backend } as never) as tf.TensorInfo;
}

let installed = false;

/**
 * Registers the wasm kernels above (idempotent). Called on import; exported for tests.
 *
 * @example
 * ```ts
 * import { installWasmKernels } from "./wasm_kernels.ts";
 * installWasmKernels();
 * ```
 */
export function installWasmKernels(): void {
  if (installed) return;
  installed = true;
  if (tf.getKernel("UnsortedSegmentSum", "wasm") === undefined) {
    register("UnsortedSegmentSum", unsortedSegmentSum);
  }
  register(tf.SplitV, splitV);
  const stockMatMul = tf.getKernel(tf.BatchMatMul, "wasm")!.kernelFunc;
  register(tf.BatchMatMul, ({ inputs, attrs, backend }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const wasm = backend as BackendWasm;
    const a2 = transposeA ? transposeLast(a, backend) : a;
    const b2 = transposeB ? transposeLast(b, backend) : b;
    const out = batchedMatMul(a2, b2, wasm, (x, y) =>
      stockMatMul({
        inputs: { a: x, b: y },
        attrs: { ...attrs, transposeA: false, transposeB: false },
        backend,
      } as never) as tf.TensorInfo);
    if (a2 !== a) wasm.disposeData(a2.dataId);
    if (b2 !== b) wasm.disposeData(b2.dataId);
    return out;
  });
}

/** Products up to this many multiply-adds per matrix run as a plain loop. */
const SMALL_MATMUL = 8192;

/** A copy of rows [from, from + rows) of a flat buffer as a new heap tensor of `shape`. */
function copyOut(
  wasm: BackendWasm,
  src: tf.TensorInfo,
  from: number,
  shape: number[],
): tf.TensorInfo {
  const out = wasm.makeOutput(shape, "float32");
  const n = shape.reduce((p, q) => p * q, 1);
  const view = heap(wasm, src) as Float32Array; // after the allocation (heap growth)
  (wasm.typedArrayFromHeap(out) as Float32Array).set(view.subarray(from, from + n));
  return out;
}

/**
 * a [..., M, K] × b [..., K, N] through the fast single-matrix path: a shared b folds a's batch
 * into rows (one [batch·M, K] × [K, N] product); equal batches run matrix by matrix. Other
 * broadcasts go to the stock kernel.
 */
function batchedMatMul(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  wasm: BackendWasm,
  matmul: (x: tf.TensorInfo, y: tf.TensorInfo) => tf.TensorInfo,
): tf.TensorInfo {
  const [M, K] = a.shape.slice(-2);
  const N = b.shape[b.shape.length - 1];
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((p, q) => p * q, 1);
  const batchB = outerB.reduce((p, q) => p * q, 1);
  if (batchB === 1) {
    const a2: tf.TensorInfo = { ...a, shape: [1, batchA * M, K] };
    const b2: tf.TensorInfo = { ...b, shape: [1, K, N] };
    const out = matmul(a2, b2);
    return { ...out, shape: [...outerA, M, N] };
  }
  const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (!sameOuter || a.dtype !== "float32" || b.dtype !== "float32") return matmul(a, b);
  const out = wasm.makeOutput([...outerA, M, N], "float32");
  if (M * K * N <= SMALL_MATMUL) {
    const srcA = heap(wasm, a) as Float32Array;
    const srcB = heap(wasm, b) as Float32Array;
    const dst = wasm.typedArrayFromHeap(out) as Float32Array;
    // Many tiny products (per-byte cross-attention over k patch slots): a direct loop beats a
    // kernel launch per matrix by far.
    for (let i = 0; i < batchA; i++) {
      const ao = i * M * K, bo = i * K * N, co = i * M * N;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += srcA[ao + m * K + k] * srcB[bo + k * N + n];
          dst[co + m * N + n] = acc;
        }
      }
    }
    return out;
  }
  for (let i = 0; i < batchA; i++) {
    const ai = copyOut(wasm, a, i * M * K, [1, M, K]);
    const bi = copyOut(wasm, b, i * K * N, [1, K, N]);
    const ci = matmul(ai, bi);
    // Fresh views each time: the allocations above may have grown (and detached) the heap.
    const dst = wasm.typedArrayFromHeap(out) as Float32Array;
    dst.set(wasm.typedArrayFromHeap(ci) as Float32Array, i * M * N);
    for (const t of [ai, bi, ci]) wasm.disposeData(t.dataId);
  }
  return out;
}

installWasmKernels();
