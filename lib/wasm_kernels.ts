/**
 * Kernels that make tfjs's wasm backend (the CPU path: CI, laptops, the Deno kernel) train our
 * models at a usable speed. tfjs-backend-wasm 4.22 measured on our 2-core machine:
 * - UnsortedSegmentSum is missing: `tf.gather`'s gradient (embedding and hash n-gram tables, the
 *   own-patch gathers) calls it, so every backward pass failed.
 * - BatchMatMul with transposeA or transposeB ran at 0.3–0.4 GFLOP/s against 4–7 GFLOP/s without:
 *   backward passes are mostly transposed products. We materialise the transpose (fast) first.
 * - SplitV along the last axis (RoPE's interleaved pairs) took ~200 ms for 32k values: it slices
 *   element by element. A plain strided copy takes well under a millisecond (and a dedicated
 *   one-value-per-run loop, for RoPE's pairs, 0.25 ms for [2, 4, 1024, 16, 2] against 1.3).
 * - Transpose of attention-sized matrices ([8, 1024, 1024]) took 94 ms (12 ns a value): the
 *   backward pass's transposed products spent most of their time there. A cache-blocked copy of
 *   the last two axes in plain JS takes 26 ms (13.5 ms copying four rows at a time); the product
 *   [8, 1024, 1024]ᵀ·[8, 1024, 32] then takes 52 ms instead of 101 (38 with the four-row copy).
 * - Batched products ran matrix by matrix on copies of each operand and of each result (4 MB
 *   apiece for [1024, 1024] attention matrices). The C++ product now runs on tensor ids registered
 *   over the matrices in place: [8, 1024, 1024]·[8, 1024, 32] 25.8 → 22.8 ms.
 * - Tile (broadcast gradients of Sum/Mean, masks), broadcasting comparisons (the causal mask's
 *   LessEqual of [1, T] and [T, 1]: 100 ms at T = 1024) and Concat along a short last axis (RoPE)
 *   run index arithmetic or a typed-array view per value; plain loops replace them.
 * - GatherV2 (embedding and hash-table lookups) spent 27–110 ms per call on 0.5–1.5 M values;
 *   it becomes a row copy per index. Identity copied its input (80 ms per micro-batch on the
 *   [B, H, T, T] attention tensors alone); it now shares the data, as Reshape and the cpu backend
 *   do. Sum over axes that leave inner ones (broadcast weights' gradients) runs as one loop
 *   without the stock kernel's transpose, bit for bit, and so does Mean (the cross-attention's
 *   pooled mean `[2, 1024, 128]` over axis 1: 2.9 → 0.15 ms). Cast to the same dtype (the
 *   gradients of Multiply, RealDiv, Square…) shares the data too.
 * - Small kernels of a tiny micro-batch, each as one SIMD pass (values bit for bit the stock
 *   kernels'; each behind a switch): Transpose of two middle-axis blocks (attention's head split
 *   and merge) and identity perms shared ({@link setFastTranspose}); Sum over the last axes
 *   ({@link setLastAxisSums}); Max over middle or last axes ({@link setFastMax}); broadcasting
 *   Multiply/Add/Sub (float32, int32) and float32 comparisons (lib/wasm_broadcast.ts,
 *   {@link setFastBroadcast}); GatherV2's rows ({@link setRowGather}). Isolated, 80 transposes
 *   13.2 → 7.9 ms, 28 sums 7.2 → 2.9, 25 broadcast products 9.7 → 6.5, 9 gathers 8.6 → 4.8 ms.
 *   Same-shape Add/Multiply stay stock (XNNPACK streams them as fast).
 * - XNNPACK's products themselves ran at 20–24 GFLOP/s. Training-sized ones now run on our own
 *   WebAssembly SIMD kernel (lib/wasm_gemm.ts: 6×8 register tiles, relaxed-SIMD fused
 *   multiply-adds, B packed in 8-column panels, transposed operands read in place) at 30–38
 *   GFLOP/s; {@link setWasmGemm} switches back for comparisons.
 * - Generation's products are tiny (one query row): there the per-call transposes and copies
 *   above cost more than the product (cached generation ran 2–4× slower with this module than
 *   without). {@link matMulRoute} sends few-row batched products to the stock kernel and gives a
 *   shared weight with few rows a cached transpose, which XNNPACK packs once.
 * Importing this module registers the replacements once.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { WasmGemm } from "./wasm_gemm.ts";
import { BROADCAST_OPS, broadcastBinary } from "./wasm_broadcast.ts";

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

/**
 * out[s, …] = Σ x[i, …] over i with segmentIds[i] = s; ids outside [0, numSegments) drop. Rows add
 * in index order, one float32 add per value (SIMD rows of ≥ 4 floats on our module).
 */
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
  const simd = x.dtype === "float32" && inner >= 4 ? gemmOf(wasm) : null;
  const w = wasm as unknown as WasmInternals;
  const xAt = simd === null ? 0 : w.dataIdMap.get(x.dataId).memoryOffset;
  const outAt = simd === null ? 0 : w.dataIdMap.get(out.dataId).memoryOffset;
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const at = s * inner;
    if (simd !== null) simd.addInto(outAt + 4 * at, xAt + 4 * src, inner);
    else for (let j = 0; j < inner; j++) dst[at + j] += values[src + j];
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
    if (run >= MIN_VIEW_COPY) {
      for (let o = 0; o < outer; o++) {
        const from = (o * dim + offset) * inner;
        dst.set(src.subarray(from, from + run), o * run);
      }
    } else if (run === 1) {
      // RoPE's pairs: one value per run, a strided gather.
      const stride = dim * inner;
      for (let o = 0, from = offset * inner; o < outer; o++, from += stride) dst[o] = src[from];
    } else {
      // Short runs: a view per run costs far more than the copy.
      for (let o = 0; o < outer; o++) {
        const from = (o * dim + offset) * inner, to = o * run;
        for (let j = 0; j < run; j++) dst[to + j] = src[from + j];
      }
    }
    offset += size;
    return out;
  });
}

/**
 * Copies runs of values from tensor `src` to tensor `dst` (indices in values) within the heap by
 * `copyWithin`: no typed-array view per run (GatherV2 of 12k rows of 128 from a [24576, 128]
 * table: 2.59 → 2.28 ms, best of 15). Take it after the last allocation (heap growth detaches the
 * view).
 */
function heapCopier(
  wasm: BackendWasm,
  src: tf.TensorInfo,
  dst: tf.TensorInfo,
): (from: number, to: number, n: number) => void {
  const w = wasm as unknown as WasmInternals;
  const bytes = src.dtype === "bool" ? 1 : 4; // int32 moves float32 bits unchanged
  const buffer = w.wasm.asm.memory.buffer;
  const whole = bytes === 1 ? new Uint8Array(buffer) : new Int32Array(buffer);
  const s = w.dataIdMap.get(src.dataId).memoryOffset / bytes;
  const d = w.dataIdMap.get(dst.dataId).memoryOffset / bytes;
  return (from, to, n) => whole.copyWithin(d + to, s + from, s + from + n);
}

/** Runs shorter than this copy value by value instead of through a subarray view. */
const MIN_VIEW_COPY = 64;

type Values = Float32Array | Int32Array | Uint8Array;

/** Concat of numeric tensors: per outer index, each input's inner block in turn. */
function concat({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const list = Object.values(inputs) as tf.TensorInfo[];
  const ax = tf.util.parseAxisParam((attrs as { axis: number }).axis, list[0].shape)[0];
  const outShape = tf.backend_util.computeOutShape(list.map((t) => t.shape), ax);
  const parts = list.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  const out = wasm.makeOutput(outShape, list[0].dtype);
  if (parts.length === 0) return out;
  const outer = tf.util.sizeFromShape(parts[0].shape.slice(0, ax));
  const inner = parts.map((t) => tf.util.sizeFromShape(t.shape.slice(ax)));
  const total = inner.reduce((a, b) => a + b, 0);
  const dst = wasm.typedArrayFromHeap(out) as Values; // views after the allocation
  parts.forEach((t, i) => {
    const src = heap(wasm, t) as Values, n = inner[i];
    let at = inner.slice(0, i).reduce((a, b) => a + b, 0);
    if (n === 1) {
      for (let o = 0; o < outer; o++, at += total) dst[at] = src[o]; // RoPE's pairs
    } else {
      for (let o = 0; o < outer; o++, at += total) {
        if (n >= MIN_VIEW_COPY) dst.set(src.subarray(o * n, o * n + n), at);
        else for (let j = 0; j < n; j++) dst[at + j] = src[o * n + j];
      }
    }
  });
  return out;
}

/** Tile as nested block copies: fill for a repeated single value, copyWithin for repeats. */
function tile({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const reps = (attrs as { reps: number[] }).reps;
  const shape = x.shape;
  const outShape = shape.map((d, i) => d * reps[i]);
  const out = wasm.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const src = heap(wasm, x) as Values;
  const dst = wasm.typedArrayFromHeap(out) as Values;
  const rank = shape.length;
  const inStride = shape.map((_, i) => tf.util.sizeFromShape(shape.slice(i + 1)));
  const outStride = outShape.map((_, i) => tf.util.sizeFromShape(outShape.slice(i + 1)));
  // Writes x's block at axis `d` (from `from`) into out at `at`, then repeats it reps[d] times.
  const block = (d: number, from: number, at: number): void => {
    const n = shape[d];
    if (d === rank - 1) {
      if (n === 1) dst.fill(src[from], at, at + reps[d]);
      else {
        for (let j = 0; j < n; j++) dst[at + j] = src[from + j];
        for (let r = 1; r < reps[d]; r++) dst.copyWithin(at + r * n, at, at + n);
      }
      return;
    }
    for (let i = 0; i < n; i++) block(d + 1, from + i * inStride[d], at + i * outStride[d]);
    const span = n * outStride[d];
    for (let r = 1; r < reps[d]; r++) dst.copyWithin(at + r * span, at, at + span);
  };
  block(0, 0, 0);
  return out;
}

/**
 * Tile with the last axis not repeated, rows of a multiple of 4 four-byte values: each output row
 * is a copy of one input row, so the rows go through {@link WasmGemm.gatherRows} with a row index
 * per output row (the hash n-gram gradient's `[2, 1024, 1, 128]` × 6 took 1.4 ms copying rows
 * from JS). null otherwise (the loops of {@link tile}).
 */
function tileRows({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | null {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const reps = (attrs as { reps: number[] }).reps;
  const shape = x.shape, rank = shape.length;
  if (!useRowGather || (x.dtype !== "float32" && x.dtype !== "int32") || rank < 2) return null;
  const L = shape[rank - 1], rows = tf.util.sizeFromShape(shape.slice(0, -1));
  if (reps[rank - 1] !== 1 || L % 4 !== 0 || rows === 0) return null;
  const outShape = shape.map((d, i) => d * reps[i]);
  const outRows = tf.util.sizeFromShape(outShape.slice(0, -1));
  const gemm = gemmOf(wasm);
  if (gemm === null || outRows === 0) return null;
  const w = wasm as unknown as WasmInternals;
  const idx = w.wasm._malloc(4 * outRows) >>> 0;
  try {
    // source row of each output row: index i_d mod shape[d] on each outer axis
    const ids = new Int32Array(w.wasm.asm.memory.buffer, idx, outRows);
    const index = new Array(rank - 1).fill(0);
    const inStride = shape.slice(0, -1).map((_, d) =>
      tf.util.sizeFromShape(shape.slice(d + 1, -1))
    );
    for (let r = 0; r < outRows; r++) {
      let from = 0;
      for (let d = 0; d < rank - 1; d++) from += (index[d] % shape[d]) * inStride[d];
      ids[r] = from;
      for (let d = rank - 2; d >= 0; d--) {
        if (++index[d] < outShape[d]) break;
        index[d] = 0;
      }
    }
    const out = wasm.makeOutput(outShape, x.dtype);
    const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
    gemm.gatherRows(at(out), at(x), idx, outRows, L);
    return out;
  } finally {
    w.wasm._free(idx);
  }
}

/** Comparisons whose inputs broadcast against each other (equal shapes keep the stock kernel). */
const COMPARISONS: Readonly<Record<string, (a: number, b: number) => boolean>> = {
  [tf.LessEqual]: (a, b) => a <= b,
  [tf.Less]: (a, b) => a < b,
  [tf.GreaterEqual]: (a, b) => a >= b,
  [tf.Greater]: (a, b) => a > b,
  [tf.Equal]: (a, b) => a === b,
  [tf.NotEqual]: (a, b) => a !== b,
};

/** out[i] = op(a[i'], b[i'']) over the broadcast shape, innermost axis as a tight loop. */
function broadcastCompare(
  op: (a: number, b: number) => boolean,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  wasm: BackendWasm,
): tf.TensorInfo {
  const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const rank = shape.length;
  const stridesOf = (s: number[]) => {
    const full = [...Array(rank - s.length).fill(1), ...s];
    return full.map((d, i) => d === 1 ? 0 : tf.util.sizeFromShape(full.slice(i + 1)));
  };
  const sa = stridesOf(a.shape), sb = stridesOf(b.shape);
  const out = wasm.makeOutput(shape, "bool");
  const n = tf.util.sizeFromShape(shape);
  if (n === 0) return out;
  const va = heap(wasm, a) as Values, vb = heap(wasm, b) as Values;
  const dst = wasm.typedArrayFromHeap(out) as Uint8Array;
  const last = rank === 0 ? 1 : shape[rank - 1];
  const la = rank === 0 ? 0 : sa[rank - 1], lb = rank === 0 ? 0 : sb[rank - 1];
  const index = new Array(Math.max(0, rank - 1)).fill(0);
  for (let at = 0; at < n; at += last) {
    let ia = 0, ib = 0;
    for (let d = 0; d < rank - 1; d++) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    for (let j = 0; j < last; j++) dst[at + j] = op(va[ia + j * la], vb[ib + j * lb]) ? 1 : 0;
    for (let d = rank - 2; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

/**
 * Slice as one copy per run: the trailing axes taken whole merge with the last partial axis into
 * runs of contiguous values, copied straight from the heap (the stock kernel first copies all of
 * x out of the heap with readSync: 0.36 ms to take [2, 4, 128, 32] rows of [2, 4, 1024, 32]).
 */
function slice({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const { begin: b, size: z } = attrs as { begin: number | number[]; size: number | number[] };
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, b, z);
  const out = wasm.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  const rank = x.shape.length;
  const strides = x.shape.map((_, i) => tf.util.sizeFromShape(x.shape.slice(i + 1)));
  let ax = rank - 1;
  while (ax > 0 && size[ax] === x.shape[ax]) ax--;
  const run = size[ax] * strides[ax];
  const src = heap(wasm, x) as Values; // after the allocation (heap growth)
  const dst = wasm.typedArrayFromHeap(out) as Values;
  const index = new Array(ax).fill(0);
  const runs = tf.util.sizeFromShape(size.slice(0, ax));
  for (let i = 0, at = 0; i < runs; i++, at += run) {
    let from = begin[ax] * strides[ax];
    for (let d = 0; d < ax; d++) from += (begin[d] + index[d]) * strides[d];
    if (run >= MIN_VIEW_COPY) dst.set(src.subarray(from, from + run), at);
    else for (let j = 0; j < run; j++) dst[at + j] = src[from + j];
    for (let d = ax - 1; d >= 0; d--) {
      if (++index[d] < size[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

/**
 * Sum of float32 x over contiguous axes that leave inner axes out ([outer, R, inner] → [outer,
 * inner]): the stock kernel transposes x to put the summed axes last first (5.7 ns a value for
 * [2048, 128] over axis 0, the gradients of broadcast weights), here SIMD adds over the inner
 * axis ({@link WasmGemm.sumMiddle}). Each output adds its R terms in order from 0 in float32, as
 * the stock kernel's loop does, so values are bit for bit the same. null when the axes are not of
 * that form (the caller keeps the stock kernel).
 */
function sumInnerKept({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | null {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const split = middleAxes(x, axis, keepDims);
  const simd = split === null ? null : gemmOf(wasm);
  if (split === null || simd === null) return null;
  const out = wasm.makeOutput(split.shape, "float32");
  const w = wasm as unknown as WasmInternals;
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  simd.sumMiddle(at(out), at(x), [split.outer, split.R, split.inner]);
  return out;
}

/**
 * Sum of float32 x over its last axes ([rows, d] → [rows], d a multiple of 4, ≥ 4 rows), four
 * rows at a time with SIMD ({@link WasmGemm.rowSums}): each row adds its d terms in order from +0
 * in float32 as the stock kernel's loop does, bit for bit (tested); 0.35 ms for `[8192, 1, 2, 32]`
 * over axis 3 (the cross-attention's scores) against ~0.1 here. null otherwise (stock).
 */
function sumLastAxes({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | null {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  if (x.dtype !== "float32" || x.shape.length === 0) return null;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const rank = x.shape.length, first = axes[0];
  if (axes.length === 0 || axes[axes.length - 1] !== rank - 1 || rank - first !== axes.length) {
    return null;
  }
  const rows = tf.util.sizeFromShape(x.shape.slice(0, first));
  const d = tf.util.sizeFromShape(x.shape.slice(first));
  const gemm = rows >= 4 && d % 4 === 0 ? gemmOf(wasm) : null;
  if (gemm === null) return null;
  const shape = keepDims ? x.shape.map((s, i) => (i >= first ? 1 : s)) : x.shape.slice(0, first);
  const out = wasm.makeOutput(shape, "float32");
  const w = wasm as unknown as WasmInternals;
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  gemm.rowSums(at(out), at(x), rows, d);
  return out;
}

/**
 * Max of float32 x over a block of middle axes or over its last axes with SIMD
 * ({@link WasmGemm.maxAxis}: the stock kernel first transposes x for middle axes, 1.7 ms for the
 * cross-attention's `[2, 257, 4, 128]` over axis 2, and compares one value at a time, branching on
 * random data): the same picks as the stock loop (NaN anywhere gives NaN, of equal values the first
 * stays; tested). null for other axes, shapes or dtypes (stock).
 */
function maxAxes({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | null {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const { reductionIndices, keepDims } = attrs as {
    reductionIndices: number | number[];
    keepDims: boolean;
  };
  if (x.dtype !== "float32" || x.shape.length === 0) return null;
  const axes = tf.util.parseAxisParam(reductionIndices, x.shape).sort((a, b) => a - b);
  const rank = x.shape.length, first = axes[0], last = axes[axes.length - 1];
  if (axes.length === 0 || last - first !== axes.length - 1) return null;
  const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
  const R = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
  const inner = tf.util.sizeFromShape(x.shape.slice(last + 1));
  const gemm = gemmOf(wasm);
  const fits = inner === 1 ? outer >= 4 && R % 4 === 0 : inner % 4 === 0;
  if (gemm === null || !fits || last < first || (inner === 1 && last !== rank - 1)) return null;
  const shape = keepDims
    ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
    : [...x.shape.slice(0, first), ...x.shape.slice(last + 1)];
  const out = wasm.makeOutput(shape, "float32");
  const w = wasm as unknown as WasmInternals;
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  if (!gemm.maxAxis(at(out), at(x), [outer, R, inner])) {
    wasm.disposeData(out.dataId);
    return null;
  }
  return out;
}

/**
 * A float32 reduction over contiguous axes that leave inner axes out, as `[outer, R, inner]` →
 * `[outer, inner]` (and the output's shape), or null for other axes or dtypes.
 */
function middleAxes(
  x: tf.TensorInfo,
  axis: number | number[],
  keepDims: boolean,
): { outer: number; R: number; inner: number; shape: number[] } | null {
  if (x.dtype !== "float32" || x.shape.length === 0) return null;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const first = axes[0], last = axes[axes.length - 1];
  if (axes.length === 0 || last === x.shape.length - 1 || last - first !== axes.length - 1) {
    return null;
  }
  return {
    outer: tf.util.sizeFromShape(x.shape.slice(0, first)),
    R: tf.util.sizeFromShape(x.shape.slice(first, last + 1)),
    inner: tf.util.sizeFromShape(x.shape.slice(last + 1)),
    shape: keepDims
      ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
      : [...x.shape.slice(0, first), ...x.shape.slice(last + 1)],
  };
}

/**
 * Mean over middle axes ({@link middleAxes}): the sum of {@link sumInnerKept} (the stock kernel's
 * order), then one float32 division by the count, as the stock kernel's `sum / reduce_size`; the
 * stock kernel first transposes x with its slow generic transpose (2.2 ms for `[2, 1024, 128]`
 * over axis 1, the cross-attention's pooled mean, against ~0.1 here). Bit for bit the stock
 * values (tested). null for other axes.
 */
function meanInnerKept(args: KernelArgs): tf.TensorInfo | null {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const split = middleAxes(x, axis, keepDims);
  if (split === null) return null;
  const out = sumInnerKept(args);
  if (out === null) return null;
  const f = heap(args.backend as BackendWasm, out) as Float32Array, R = split.R;
  for (let i = 0; i < f.length; i++) f[i] = f[i] / R; // float32 division (the double quotient
  // of two float32 values rounds to the float32 quotient)
  return out;
}

/**
 * Transpose without the stock kernel's copy where it can: an identity perm (tfjs's matMul
 * gradients transpose `[4096, 128]` by [0, 1], 16 copies per tiny micro-batch) shares x, as
 * Identity does; a perm that swaps two blocks of middle axes and keeps the last ones (attention's
 * head split and merge, [0, 2, 1, 3] and [0, 1, 3, 2, 4]) copies whole rows with SIMD
 * ({@link WasmGemm.swapMiddle}). Values are copied, never computed. null otherwise (stock).
 */
function transpose({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo | null {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: tf.TensorInfo };
  const { perm } = attrs as { perm: number[] };
  if (x.dtype === "string" || x.dtype === "complex64") return null;
  if (perm.every((p, i) => p === i)) {
    wasm.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  if (x.dtype !== "float32" && x.dtype !== "int32") return null; // 4-byte values only
  const dims = swapDims(x.shape, perm);
  const gemm = dims === null ? null : gemmOf(wasm);
  if (dims === null || gemm === null) return null;
  const out = wasm.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
  const w = wasm as unknown as WasmInternals;
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  gemm.swapMiddle(at(out), at(x), dims);
  return out;
}

/**
 * `[O, P, Q, L]` when `perm` = [0…a−1, b…c−1, a…b−1, c…rank−1] (axes [a, b) and [b, c) swapped,
 * c < rank so a run of L ≥ 1 trailing values stays whole), else null.
 *
 * @example
 * ```ts ignore
 * swapDims([2, 1024, 4, 32], [0, 2, 1, 3]); // [2, 1024, 4, 32]
 * swapDims([2, 257, 4, 2, 32], [0, 1, 3, 2, 4]); // [514, 4, 2, 32]
 * ```
 */
function swapDims(shape: readonly number[], perm: readonly number[]) {
  const rank = perm.length;
  let a = 0;
  while (a < rank && perm[a] === a) a++;
  let c = rank;
  while (c > a && perm[c - 1] === c - 1) c--;
  if (c === rank || a >= c) return null; // the last axis moves, or the identity
  const b = perm[a]; // output axis a holds input axis b: the second block starts there
  for (let i = 0; i < c - b; i++) if (perm[a + i] !== b + i) return null;
  for (let i = 0; i < b - a; i++) if (perm[a + (c - b) + i] !== a + i) return null;
  const size = (from: number, to: number) => tf.util.sizeFromShape(shape.slice(from, to));
  return [size(0, a), size(a, b), size(b, c), size(c, rank)] as [number, number, number, number];
}

/** GatherV2 (batchDims 0) as one block copy per (outer index, gathered index). */
function gather({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const ax = tf.util.parseAxisParam((attrs as { axis: number }).axis, x.shape)[0];
  const dim = x.shape[ax];
  const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
  const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
  const ids = heap(wasm, indices) as Int32Array | Float32Array;
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] <= dim - 1)) {
      throw new Error(`GatherV2: the index value ${ids[i]} is not in [0, ${dim - 1}]`);
    }
  }
  const n = ids.length;
  const out = wasm.makeOutput(
    [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)],
    x.dtype,
  );
  if (n === 0 || outer * inner === 0) return out;
  const simd = outer === 1 && inner % 4 === 0 && indices.dtype === "int32" &&
      x.dtype !== "bool" && x.dtype !== "string" && useRowGather
    ? gemmOf(wasm)
    : null;
  if (simd !== null) {
    // one SIMD loop over the rows (~0.25 µs a row by copyWithin: 3 ms for the hash n-gram rows)
    const w = wasm as unknown as WasmInternals;
    const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
    simd.gatherRows(at(out), at(x), at(indices), n, inner);
    return out;
  }
  // Views after the allocation (heap growth detaches earlier ones).
  const src = heap(wasm, x) as Values, idx = heap(wasm, indices) as Int32Array | Float32Array;
  const dst = wasm.typedArrayFromHeap(out) as Values;
  const copy = heapCopier(wasm, x, out);
  for (let o = 0, at = 0; o < outer; o++) {
    const base = o * dim * inner;
    for (let i = 0; i < n; i++, at += inner) {
      const from = base + idx[i] * inner;
      if (inner >= MIN_VIEW_COPY) copy(from, at, inner);
      else for (let j = 0; j < inner; j++) dst[at + j] = src[from + j];
    }
  }
  return out;
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

/** Edge of the square tiles the transpose copies (measured best of 32–128 at [8, 1024, 1024]). */
const TRANSPOSE_TILE = 128;

/**
 * Swaps the last two axes: [..., R, C] → [..., C, R], tile by tile (cache-friendly), four source
 * rows at a time so that each destination row gets runs of four values: 13.5 ms for
 * [8, 1024, 1024] against 24.5 one row at a time (and 94 for the stock kernel).
 */
function transposeLast(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  const wasm = backend as BackendWasm;
  const [R, C] = x.shape.slice(-2);
  const out = wasm.makeOutput([...x.shape.slice(0, -2), C, R], x.dtype);
  const src = heap(wasm, x) as Values; // after the allocation (heap growth)
  const dst = wasm.typedArrayFromHeap(out) as Values;
  const batch = tf.util.sizeFromShape(x.shape.slice(0, -2));
  for (let b = 0, base = 0; b < batch; b++, base += R * C) {
    for (let r0 = 0; r0 < R; r0 += TRANSPOSE_TILE) {
      const r1 = Math.min(R, r0 + TRANSPOSE_TILE);
      for (let c0 = 0; c0 < C; c0 += TRANSPOSE_TILE) {
        const c1 = Math.min(C, c0 + TRANSPOSE_TILE);
        let r = r0;
        for (; r + 4 <= r1; r += 4) {
          const s0 = base + r * C, s1 = s0 + C, s2 = s1 + C, s3 = s2 + C;
          for (let c = c0; c < c1; c++) {
            const to = base + c * R + r;
            dst[to] = src[s0 + c];
            dst[to + 1] = src[s1 + c];
            dst[to + 2] = src[s2 + c];
            dst[to + 3] = src[s3 + c];
          }
        }
        for (; r < r1; r++) {
          for (let c = c0; c < c1; c++) dst[base + c * R + r] = src[base + r * C + c];
        }
      }
    }
  }
  return out;
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
  const stockIdentity = tf.getKernel(tf.Identity, "wasm")!.kernelFunc;
  register(tf.Identity, (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === "string") return stockIdentity(args as never) as tf.TensorInfo;
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
  for (const name of Object.keys(BROADCAST_OPS)) {
    const stock = tf.getKernel(name, "wasm")!.kernelFunc;
    register(name, (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      return (useBroadcast ? broadcastBinary(name, a, b, args.backend as BackendWasm) : null) ??
        stock(args as never) as tf.TensorInfo;
    });
  }
  const stockMax = tf.getKernel(tf.Max, "wasm")!.kernelFunc;
  register(
    tf.Max,
    (args) => (useMax ? maxAxes(args) : null) ?? stockMax(args as never) as tf.TensorInfo,
  );
  const stockTranspose = tf.getKernel(tf.Transpose, "wasm")!.kernelFunc;
  register(
    tf.Transpose,
    (args) =>
      (useTranspose ? transpose(args) : null) ?? stockTranspose(args as never) as tf.TensorInfo,
  );
  // Cast to the same dtype (tfjs's Multiply, RealDiv, Square and Pow gradients cast float32 to float32):
  // the stock kernel copied the tensor, ~180 copies per tiny micro-batch; share it as Identity.
  const stockCast = tf.getKernel(tf.Cast, "wasm")!.kernelFunc;
  register(tf.Cast, (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { dtype } = args.attrs as { dtype: tf.DataType };
    if (x.dtype !== dtype || dtype === "string") return stockCast(args as never) as tf.TensorInfo;
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype };
  });
  const stockSum = tf.getKernel(tf.Sum, "wasm")!.kernelFunc;
  register(
    tf.Sum,
    (args) =>
      sumInnerKept(args) ?? (useLastSums ? sumLastAxes(args) : null) ??
        stockSum(args as never) as tf.TensorInfo,
  );
  const stockMean = tf.getKernel(tf.Mean, "wasm")!.kernelFunc;
  register(
    tf.Mean,
    (args) =>
      (useMiddleMean ? meanInnerKept(args) : null) ?? stockMean(args as never) as tf.TensorInfo,
  );
  const stockGather = tf.getKernel(tf.GatherV2, "wasm")!.kernelFunc;
  register(tf.GatherV2, (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const batchDims = (args.attrs as { batchDims?: number }).batchDims ?? 0;
    return batchDims !== 0 || x.dtype === "string"
      ? stockGather(args as never) as tf.TensorInfo
      : gather(args);
  });
  const stockSlice = tf.getKernel(tf.Slice, "wasm")!.kernelFunc;
  register(tf.Slice, (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    return x.dtype === "string" || x.shape.length === 0
      ? stockSlice(args as never) as tf.TensorInfo
      : slice(args);
  });
  const stockConcat = tf.getKernel(tf.Concat, "wasm")!.kernelFunc;
  register(tf.Concat, (args) => {
    const list = Object.values(args.inputs) as tf.TensorInfo[];
    return list.length > 1 && list.every((t) => t.dtype !== "string")
      ? concat(args)
      : stockConcat(args as never) as tf.TensorInfo;
  });
  const stockTile = tf.getKernel(tf.Tile, "wasm")!.kernelFunc;
  register(tf.Tile, (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    return x.dtype === "string" || x.shape.length === 0
      ? stockTile(args as never) as tf.TensorInfo
      : tileRows(args) ?? tile(args);
  });
  for (const [name, op] of Object.entries(COMPARISONS)) {
    const stock = tf.getKernel(name, "wasm")!.kernelFunc;
    register(name, (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
      if (same || a.dtype === "string" || b.dtype === "string") {
        return stock(args as never) as tf.TensorInfo;
      }
      const wasm = args.backend as BackendWasm;
      return (useBroadcast ? broadcastBinary(name, a, b, wasm) : null) ??
        broadcastCompare(op, a, b, wasm);
    });
  }
  const stockMatMul = tf.getKernel(tf.BatchMatMul, "wasm")!.kernelFunc;
  register(tf.BatchMatMul, (args) => {
    const { inputs, attrs, backend } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const wasm = backend as BackendWasm;
    const stock = (x: tf.TensorInfo, y: tf.TensorInfo, ta: boolean, tb: boolean) =>
      stockMatMul({
        inputs: { a: x, b: y },
        attrs: { ...attrs, transposeA: ta, transposeB: tb },
        backend,
      } as never) as tf.TensorInfo;
    if (a.dtype !== "float32" || b.dtype !== "float32") {
      return stock(a, b, transposeA, transposeB); // the stock kernel names the dtype problem
    }
    const route = matMulRoute(a.shape, b.shape, transposeA, transposeB);
    if (route === "stock") return stock(a, b, transposeA, transposeB);
    if (useGemm) {
      const out = gemmMatMul(a, b, transposeA, transposeB, wasm);
      if (out !== null) return out;
    }
    const a2 = transposeA ? transposeLast(a, backend) : a;
    const cached = transposeB && route === "fewRows" ? cachedTranspose(b, wasm) : null;
    const b2 = cached?.t ?? (transposeB ? transposeLast(b, backend) : b);
    const out = batchedMatMul(a2, b2, wasm, (x, y) => stock(x, y, false, false));
    if (a2 !== a) wasm.disposeData(a2.dataId);
    if (b2 !== b && cached?.kept !== true) wasm.disposeData(b2.dataId);
    return out;
  });
}

/**
 * Products with a shared right operand (batch 1: a dense layer's weight) and at most this many
 * output rows in all take the weight's transpose from {@link cachedTranspose}: generation's
 * one-row products ([1, 256]·[768, 256]ᵀ) spent ~1.6 ms a call transposing the weight and
 * packing it anew for XNNPACK, against ~40 µs with a stable transposed copy (~330 µs stock).
 * Training's products have ≥ 257 rows and keep the per-call transpose (weights change each step).
 */
const FEW_ROWS = 64;

/**
 * Batched products (right operand batch > 1) with at most this many rows per matrix run on the
 * stock kernel: one call over all matrices, no copies. Generation's attention ([1, H, 1, d] ·
 * [1, H, T, d]ᵀ) measured 40–2100 µs ours against 40–550 stock at T = 64–2048; from 8 rows ours
 * wins.
 */
const STOCK_ROWS = 4;

/**
 * Batched products of at most this many multiply-adds per matrix also run on the stock kernel:
 * the per-matrix copies and XNNPACK calls cost more than its plain loop (≈ 32k crossover).
 */
const SMALL_MATMUL = 32768;

/**
 * Which path a BatchMatMul of these shapes takes: "stock" (tfjs's kernel as is), "fewRows" (a
 * shared right operand and ≤ {@link FEW_ROWS} rows: cached transpose of b, one folded product)
 * or "blocked" (materialised transposes, then one folded or per-matrix XNNPACK product).
 *
 * @example
 * ```ts
 * import { matMulRoute } from "./wasm_kernels.ts";
 * console.log(matMulRoute([1, 256], [768, 256], false, true)); // "fewRows": a dense layer, 1 row
 * console.log(matMulRoute([1, 4, 1, 32], [1, 4, 300, 32], false, true)); // "stock": attention
 * console.log(matMulRoute([2048, 128], [512, 128], false, true)); // "blocked": training
 * ```
 */
export function matMulRoute(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB: boolean,
): "stock" | "fewRows" | "blocked" {
  const rA = aShape.length, rB = bShape.length;
  const M = aShape[transposeA ? rA - 1 : rA - 2], K = aShape[transposeA ? rA - 2 : rA - 1];
  const N = bShape[transposeB ? rB - 2 : rB - 1];
  let batchA = 1, batchB = 1;
  for (let i = 0; i < rA - 2; i++) batchA *= aShape[i];
  for (let i = 0; i < rB - 2; i++) batchB *= bShape[i];
  if (batchB === 1) return batchA * M <= FEW_ROWS ? "fewRows" : "blocked";
  return M <= STOCK_ROWS || M * K * N <= SMALL_MATMUL ? "stock" : "blocked";
}

/** Most bytes the transposed copies of {@link cachedTranspose} hold (least recently used go). */
const TRANSPOSE_CACHE_BYTES = 128 * 1024 * 1024;

/** Source dataId → its backend-internal id (to tell a moved or reused dataId) and transpose. */
const transposes = new Map<object, { id: number; t: tf.TensorInfo; bytes: number }>();
let transposesOwner: BackendWasm | null = null;
let transposeBytes = 0;

/** The internal id of a live dataId on `wasm`, or -1 once it was disposed. */
function liveId(wasm: BackendWasm, dataId: object): number {
  return wasm.dataIdMap.has(dataId) ? wasm.dataIdMap.get(dataId)!.id : -1;
}

/**
 * b [..., R, C] transposed to [..., C, R] once per tensor: tfjs data never changes under a dataId,
 * so a weight's copy serves every later product, and XNNPACK keeps its packed form (it caches
 * per operand id). Copies whose source was disposed are freed at the next miss; the whole cache
 * stays under {@link TRANSPOSE_CACHE_BYTES}. `kept`: the cache owns `t` (the caller must not
 * dispose it); else `t` is the caller's (a copy larger than the whole cache).
 */
function cachedTranspose(b: tf.TensorInfo, wasm: BackendWasm): { t: tf.TensorInfo; kept: boolean } {
  if (transposesOwner !== wasm) {
    transposes.clear(); // a new backend instance: the old heap is gone with it
    transposeBytes = 0;
    transposesOwner = wasm;
  }
  const id = liveId(wasm, b.dataId);
  const hit = transposes.get(b.dataId);
  if (hit !== undefined && hit.id === id) {
    transposes.delete(b.dataId); // re-inserted last: least recently used first
    transposes.set(b.dataId, hit);
    return { t: hit.t, kept: true };
  }
  for (const [key, entry] of transposes) {
    if (liveId(wasm, key) !== entry.id) dropTranspose(wasm, key);
  }
  const t = transposeLast(b, wasm);
  const bytes = 4 * tf.util.sizeFromShape(b.shape);
  for (const key of transposes.keys()) {
    if (transposeBytes + bytes <= TRANSPOSE_CACHE_BYTES) break;
    dropTranspose(wasm, key);
  }
  if (transposeBytes + bytes > TRANSPOSE_CACHE_BYTES) return { t, kept: false };
  transposes.set(b.dataId, { id, t, bytes });
  transposeBytes += bytes;
  return { t, kept: true };
}

function dropTranspose(wasm: BackendWasm, key: object): void {
  const entry = transposes.get(key)!;
  wasm.disposeData(entry.t.dataId);
  transposeBytes -= entry.bytes;
  transposes.delete(key);
}

/**
 * Frees every cached weight transpose and packed weight of the BatchMatMul kernel (they are also
 * freed lazily once their weights are disposed). For tests and to hand memory back after
 * generation.
 *
 * @example
 * ```ts
 * import { clearMatMulCache } from "./wasm_kernels.ts";
 * clearMatMulCache();
 * ```
 */
export function clearMatMulCache(): void {
  if (transposesOwner !== null) {
    for (const key of [...transposes.keys()]) dropTranspose(transposesOwner, key);
  }
  if (packsOwner !== null) {
    const w = packsOwner as unknown as WasmInternals;
    for (const key of [...packs.keys()]) dropPack(w, key);
  }
}

let useMax = true;

/**
 * Switches the SIMD Max over middle or last axes (the stock kernel's picks) on or off (the stock
 * kernel); returns the previous setting.
 *
 * @example
 * ```ts
 * import { setFastMax } from "./wasm_kernels.ts";
 * const before = setFastMax(false); // the stock Max
 * setFastMax(before);
 * ```
 */
export function setFastMax(on: boolean): boolean {
  const before = useMax;
  useMax = on;
  return before;
}

let useRowGather = true;

/**
 * Switches GatherV2's SIMD row loop (axis 0, int32 indices, rows of a multiple of 4 values), and
 * Tile's rows through it, on or off (row copies from JS); returns the previous setting. Values
 * are copied either way.
 *
 * @example
 * ```ts
 * import { setRowGather } from "./wasm_kernels.ts";
 * const before = setRowGather(false);
 * setRowGather(before);
 * ```
 */
export function setRowGather(on: boolean): boolean {
  const before = useRowGather;
  useRowGather = on;
  return before;
}

let useBroadcast = true;

/**
 * Switches the broadcasting Multiply, Add and Sub (float32, int32) and float32 comparisons of
 * lib/wasm_broadcast.ts (bit for bit the stock values) on or off (the stock kernels, our JS loop
 * for comparisons); returns the previous setting.
 *
 * @example
 * ```ts
 * import { setFastBroadcast } from "./wasm_kernels.ts";
 * const before = setFastBroadcast(false); // the stock kernels
 * setFastBroadcast(before);
 * ```
 */
export function setFastBroadcast(on: boolean): boolean {
  const before = useBroadcast;
  useBroadcast = on;
  return before;
}

let useLastSums = true;

/**
 * Switches the SIMD Sum over the last axes (bit for bit the stock values) on or off (the stock
 * kernel); returns the previous setting. For A/B measurements.
 *
 * @example
 * ```ts
 * import { setLastAxisSums } from "./wasm_kernels.ts";
 * const before = setLastAxisSums(false); // the stock Sum over the last axis
 * setLastAxisSums(before);
 * ```
 */
export function setLastAxisSums(on: boolean): boolean {
  const before = useLastSums;
  useLastSums = on;
  return before;
}

let useTranspose = true;

/**
 * Switches the Transpose kernel (identity perms shared, middle-axes swaps as SIMD row copies) on
 * or off (the stock kernel); returns the previous setting. For A/B measurements.
 *
 * @example
 * ```ts
 * import { setFastTranspose } from "./wasm_kernels.ts";
 * const before = setFastTranspose(false); // the stock Transpose
 * setFastTranspose(before);
 * ```
 */
export function setFastTranspose(on: boolean): boolean {
  const before = useTranspose;
  useTranspose = on;
  return before;
}

let useMiddleMean = true;

/**
 * Switches the Mean kernel over middle axes (no transpose first; bit for bit the stock values) on
 * or off (the stock kernel); returns the previous setting. For A/B measurements.
 *
 * @example
 * ```ts
 * import { setMiddleMean } from "./wasm_kernels.ts";
 * const before = setMiddleMean(false); // the stock Mean
 * setMiddleMean(before);
 * ```
 */
export function setMiddleMean(on: boolean): boolean {
  const before = useMiddleMean;
  useMiddleMean = on;
  return before;
}

let useGemm = true;

/**
 * Switches the training-sized products ("blocked" route of {@link matMulRoute}) between our
 * WebAssembly SIMD kernel (lib/wasm_gemm.ts, the default) and XNNPACK; returns the previous
 * setting. For A/B measurements and tests.
 *
 * @example
 * ```ts
 * import { setWasmGemm } from "./wasm_kernels.ts";
 * const before = setWasmGemm(false); // XNNPACK
 * setWasmGemm(before);
 * ```
 */
export function setWasmGemm(on: boolean): boolean {
  const before = useGemm;
  useGemm = on;
  return before;
}

let gemm: WasmGemm | null = null;
let gemmOwner: BackendWasm | null = null;

/** The SIMD kernels on `wasm`'s heap, or null where they cannot run (another tfjs build). */
function gemmOf(wasm: BackendWasm): WasmGemm | null {
  if (gemmOwner !== wasm) {
    gemmOwner = wasm;
    try {
      gemm = new WasmGemm((wasm as unknown as WasmInternals).wasm.asm.memory);
    } catch {
      gemm = null; // another tfjs build (a shared or unexposed heap): XNNPACK products
    }
  }
  return gemm;
}

/**
 * op(a) [..., M, K] × op(b) [..., K, N] on {@link WasmGemm}: a shared b (batch 1) folds an
 * untransposed a's batch into rows; otherwise matrix by matrix, a batch of 1 on either side
 * broadcasting. null for other broadcasts (the caller falls back).
 */
function gemmMatMul(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  wasm: BackendWasm,
): tf.TensorInfo | null {
  const rA = a.shape.length, rB = b.shape.length;
  const M = a.shape[transposeA ? rA - 1 : rA - 2], K = a.shape[transposeA ? rA - 2 : rA - 1];
  const N = b.shape[transposeB ? rB - 2 : rB - 1];
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA), batchB = tf.util.sizeFromShape(outerB);
  const same = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (!same && batchA !== 1 && batchB !== 1) return null;
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const w = wasm as unknown as WasmInternals;
  if (gemmOf(wasm) === null) return null;
  const out = wasm.makeOutput([...outer, M, N], "float32");
  const fold = batchB === 1 && !transposeA;
  const rows = fold ? batchA * M : M;
  const at = (t: tf.TensorInfo) => w.dataIdMap.get(t.dataId).memoryOffset;
  // A shared weight in few-row products (generation) keeps its packed form, as XNNPACK did.
  const cached = fold && rows <= FEW_ROWS ? cachedPack(b, transposeB, K, N, wasm) : null;
  const pack = cached ?? w.wasm._malloc(WasmGemm.packBytes(K, N)) >>> 0;
  const edge = w.wasm._malloc(WasmGemm.edgeBytes(rows, K)) >>> 0;
  try {
    const [pa, pb, pc] = [at(a), at(b), at(out)];
    const batches = fold ? 1 : Math.max(batchA, batchB);
    for (let i = 0; i < batches; i++) {
      gemm!.matmul(
        { at: pa + (batchA === 1 ? 0 : 4 * i * M * K), transposed: transposeA },
        { at: pb + (batchB === 1 ? 0 : 4 * i * K * N), transposed: transposeB },
        pc + 4 * i * M * N,
        [rows, K, N],
        pack,
        edge,
        cached !== null,
      );
    }
  } finally {
    if (cached === null) w.wasm._free(pack);
    w.wasm._free(edge);
  }
  return out;
}

/** A weight's packed form for {@link WasmGemm}: malloc'ed bytes, valid while `id` is live. */
interface PackEntry {
  readonly id: number;
  readonly at: number;
  readonly bytes: number;
  readonly transposed: boolean;
}

/** Source dataId → its packed copy (least recently used first), under TRANSPOSE_CACHE_BYTES. */
const packs = new Map<object, PackEntry>();
let packsOwner: BackendWasm | null = null;
let packedBytes = 0;

/**
 * The address of b packed for the kernel, packing it on a miss; null when it would not fit in the
 * cache (the caller packs into scratch). Entries of disposed weights are freed at the next miss.
 */
function cachedPack(
  b: tf.TensorInfo,
  transposed: boolean,
  K: number,
  N: number,
  wasm: BackendWasm,
): number | null {
  const w = wasm as unknown as WasmInternals;
  if (packsOwner !== wasm) {
    packs.clear(); // a new backend instance: the old heap is gone with it
    packedBytes = 0;
    packsOwner = wasm;
  }
  const id = liveId(wasm, b.dataId);
  const hit = packs.get(b.dataId);
  if (hit !== undefined && hit.id === id && hit.transposed === transposed) {
    packs.delete(b.dataId); // re-inserted last: least recently used first
    packs.set(b.dataId, hit);
    return hit.at;
  }
  for (const [key, entry] of packs) {
    if (liveId(wasm, key) !== entry.id || key === b.dataId) dropPack(w, key);
  }
  const bytes = WasmGemm.packBytes(K, N);
  for (const key of packs.keys()) {
    if (packedBytes + bytes <= TRANSPOSE_CACHE_BYTES) break;
    dropPack(w, key);
  }
  if (packedBytes + bytes > TRANSPOSE_CACHE_BYTES) return null;
  const to = w.wasm._malloc(bytes) >>> 0;
  gemm!.pack({ at: w.dataIdMap.get(b.dataId).memoryOffset, transposed }, K, N, to);
  packs.set(b.dataId, { id, at: to, bytes, transposed });
  packedBytes += bytes;
  return to;
}

function dropPack(w: WasmInternals, key: object): void {
  const entry = packs.get(key)!;
  w.wasm._free(entry.at);
  packedBytes -= entry.bytes;
  packs.delete(key);
}

/**
 * Bytes the packed weights of few-row products hold now (see {@link clearMatMulCache}).
 *
 * @example
 * ```ts
 * import { clearMatMulCache, packedWeightBytes } from "./wasm_kernels.ts";
 * clearMatMulCache();
 * console.log(packedWeightBytes()); // 0
 * ```
 */
export function packedWeightBytes(): number {
  return packedBytes;
}

/** The members of tfjs-backend-wasm 4.22's backend and module that the product views use. */
interface WasmInternals {
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: {
    asm: { memory: WebAssembly.Memory };
    _malloc(bytes: number): number;
    _free(at: number): void;
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: {
      registerTensor(id: number, size: number, memoryOffset: number): void;
      disposeData(id: number): void;
    };
  };
}

/** The C++ BatchMatMul entry (a_id, a_shape, a_rank, b_id, b_shape, b_rank, ta, tb, out_id). */
let rawMatMul: ((...args: unknown[]) => void) | null = null;
let rawOwner: BackendWasm | null = null;

/**
 * Runs the C++ product on `[1, M, K] × [1, K, N] → [1, M, N]` matrices that lie inside larger
 * heap tensors (offsets in floats): each operand is registered with the C++ side as a tensor id
 * over that memory (no copy) and unregistered after, which frees nothing (tfjs frees heap memory
 * from JS). XNNPACK's fully connected path runs on them and writes straight into the output.
 */
function matMulViews(
  wasm: BackendWasm,
  a: tf.TensorInfo,
  aAt: number,
  b: tf.TensorInfo,
  bAt: number,
  out: tf.TensorInfo,
  outAt: number,
  [M, K, N]: readonly [number, number, number],
): void {
  const w = wasm as unknown as WasmInternals;
  if (rawOwner !== wasm) {
    rawMatMul = w.wasm.cwrap(tf.BatchMatMul, null, [
      "number",
      "array",
      "number",
      "number",
      "array",
      "number",
      "number",
      "number",
      "number",
    ]);
    rawOwner = wasm;
  }
  const ids: number[] = [];
  const view = (t: tf.TensorInfo, at: number, size: number) => {
    const id = w.dataIdNextNumber++;
    w.wasm.tfjs.registerTensor(id, size, w.dataIdMap.get(t.dataId).memoryOffset + 4 * at);
    ids.push(id);
    return id;
  };
  const shape = (r: number, c: number) => new Uint8Array(new Int32Array([1, r, c]).buffer);
  try {
    rawMatMul!(
      view(a, aAt, M * K),
      shape(M, K),
      3,
      view(b, bAt, K * N),
      shape(K, N),
      3,
      false,
      false,
      view(out, outAt, M * N),
    );
  } finally {
    for (const id of ids) w.wasm.tfjs.disposeData(id);
  }
}

/**
 * a [..., M, K] × b [..., K, N] through the fast single-matrix path: a shared b folds a's batch
 * into rows (one [batch·M, K] × [K, N] product); equal batches run matrix by matrix on views of
 * the operands (no copies). Other broadcasts go to the stock kernel.
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
    const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    return { ...out, shape: [...outer, M, N] };
  }
  const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (!sameOuter || a.dtype !== "float32" || b.dtype !== "float32") return matmul(a, b);
  const out = wasm.makeOutput([...outerA, M, N], "float32");
  for (let i = 0; i < batchA; i++) {
    matMulViews(wasm, a, i * M * K, b, i * K * N, out, i * M * N, [M, K, N]);
  }
  return out;
}

installWasmKernels();
