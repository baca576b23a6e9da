/**
 * Our `UnsortedSegmentSum` for tfjs's webgpu backend: the gradient of `tf.gather` (embedding
 * tables, the hash n-gram tables, cross-attention's gathered rows). Segment axis 0:
 * x `[rows, ...inner]` viewed as `[rows, inner]`, segmentIds int32 `[rows]` →
 * out `[numSegments, ...inner]`, out[s] = Σ_{r: ids[r] = s} x[r]. Ids < 0 or ≥ numSegments are
 * dropped (the cpu backend's semantics; tfjs's stock webgpu kernel wraps the large ones modulo
 * numSegments instead).
 *
 * Two dispatches: a fill zeroes the output (tfjs pools buffers, so a new one holds old data),
 * then one thread per (block of {@link SEGMENT_SUM_ROWS} rows, column) adds its column with a
 * float atomic add (a compare-exchange loop on `atomic<u32>` with bitcasts; int32 x uses
 * `atomicAdd`). The column index is
 * the fastest-moving one, so neighbouring threads read neighbouring x addresses and update
 * neighbouring addresses of one output row; a thread adds up runs of equal consecutive ids
 * before its atomic (sorted ids, e.g. a byte's patch, cost one atomic per run). The stock kernel
 * instead transposes x to `[inner, rows]` and back, and its neighbouring threads update
 * addresses numSegments apart.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid, type Uniform } from "./dispatch.ts";

/** Consecutive rows one scatter thread walks (for one column). */
export const SEGMENT_SUM_ROWS = 4;
/** Threads per workgroup of both dispatches. */
const WG = 256;
/** WebGPU's limit on workgroups per grid dimension. */
const MAX_GROUPS_PER_DIM = 65535;

/** Geometry of one segment sum. */
export interface SegmentSumPlan {
  /** Rows of x (the segment axis, one id each). */
  readonly rows: number;
  /** Product of x's remaining dims (1 for a 1-D x). */
  readonly inner: number;
  /** `[numSegments, ...x.shape.slice(1)]`. */
  readonly outShape: number[];
  /** Scatter threads: ceil(rows / SEGMENT_SUM_ROWS) · inner. */
  readonly threads: number;
  /** Elements the fill zeroes: numSegments · inner. */
  readonly outSize: number;
}

/**
 * Checks the shapes of a segment sum over axis 0 and returns its geometry.
 *
 * @example
 * ```ts
 * import { planSegmentSum } from "./segment_sum.ts";
 * const p = planSegmentSum([10, 3, 4], [10], 7);
 * console.log(p.inner, p.outShape, p.threads); // 12 [7, 3, 4] 36
 * ```
 */
export function planSegmentSum(
  xShape: readonly number[],
  idsShape: readonly number[],
  numSegments: number,
): SegmentSumPlan {
  if (xShape.length < 1) {
    throw new Error("unsortedSegmentSum (gpu): x must have rank ≥ 1, found a scalar.");
  }
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(
      `unsortedSegmentSum (gpu): numSegments must be an integer ≥ 0, found ${numSegments}.`,
    );
  }
  const rows = xShape[0];
  const idsSize = idsShape.reduce((p, d) => p * d, 1);
  if (idsShape.length !== 1 || idsSize !== rows) {
    throw new Error(
      `unsortedSegmentSum (gpu): segmentIds must be 1-D with one id per row of x ` +
        `([${rows}]), found [${idsShape}] for x [${xShape}].`,
    );
  }
  const inner = xShape.slice(1).reduce((p, d) => p * d, 1);
  const outSize = numSegments * inner;
  if (rows * inner >= 2 ** 32 || outSize >= 2 ** 32) {
    throw new Error(
      `unsortedSegmentSum (gpu): x [${xShape}] or the output [${numSegments}, ...] has ` +
        `≥ 2^32 elements; the kernel indexes with u32.`,
    );
  }
  return {
    rows,
    inner,
    outShape: [numSegments, ...xShape.slice(1)],
    threads: Math.ceil(rows / SEGMENT_SUM_ROWS) * inner,
    outSize,
  };
}

/**
 * A 2-D grid of `ceil(count / perGroup)` workgroups with at most `maxX` in x; with the default
 * `maxX` it is `flatGrid(count, perGroup)`. A smaller `maxX` lets tests reach the y > 1 path
 * with small tensors.
 *
 * @example
 * ```ts
 * import { segmentSumGrid } from "./segment_sum.ts";
 * console.log(segmentSumGrid(10_000, 256, 16)); // [16, 3, 1]
 * ```
 */
export function segmentSumGrid(
  count: number,
  perGroup: number,
  maxX: number = MAX_GROUPS_PER_DIM,
): [number, number, number] {
  if (!Number.isInteger(maxX) || maxX < 1 || maxX > MAX_GROUPS_PER_DIM) {
    throw new Error(`segmentSumGrid: maxX must be an integer in [1, 65535], found ${maxX}.`);
  }
  if (maxX === MAX_GROUPS_PER_DIM) return flatGrid(count, perGroup);
  const groups = Math.ceil(count / perGroup);
  const x = Math.min(groups, maxX);
  return groups === 0 ? [0, 1, 1] : [x, Math.ceil(groups / x), 1];
}

const fillWgsl = () => /* wgsl */ `
struct Uniforms { size: u32 };
@group(0) @binding(0) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(1) var<uniform> u: Uniforms;

@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (i < u.size) { OUT[i] = 0.0; }
}
`;

// OUT is the zeroed fill output, passed as the third "input": declared read_write here (the
// bind group layout is derived from the shader), so the scatter adds into it in place. int32
// uses the native atomicAdd; f32 has no atomic add in WGSL, so a compare-exchange loop on the
// bits does it.
const scatterWgsl = (dtype: "float32" | "int32") => {
  const float = dtype === "float32";
  const ty = float ? "f32" : "i32";
  return /* wgsl */ `
struct Uniforms { rows: u32, inner: u32, numSegments: u32, threads: u32 };
@group(0) @binding(0) var<storage, read> X: array<${ty}>;
@group(0) @binding(1) var<storage, read> IDS: array<i32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<atomic<${float ? "u32" : "i32"}>>;
@group(0) @binding(3) var<uniform> u: Uniforms;

fn atomicAddTo(i: u32, v: ${ty}) {${
    float
      ? `
  var old = atomicLoad(&OUT[i]);
  loop {
    let r = atomicCompareExchangeWeak(&OUT[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }`
      : `
  atomicAdd(&OUT[i], v);`
  }
}

// Adds a finished run of equal ids; ids outside [0, numSegments) (negatives are huge as u32)
// and exact zeros (the output starts at +0) cost nothing.
fn flush(seg: u32, col: u32, acc: ${ty}) {
  if (seg < u.numSegments && acc != ${ty}(0)) { atomicAddTo(seg * u.inner + col, acc); }
}

@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (t >= u.threads) { return; }
  let col = t % u.inner;                // fastest: neighbouring threads, neighbouring columns
  let r0 = (t / u.inner) * ${SEGMENT_SUM_ROWS}u;
  let r1 = min(r0 + ${SEGMENT_SUM_ROWS}u, u.rows);
  var seg = 0xffffffffu;                // no run yet (never a valid segment)
  var acc = ${ty}(0);
  for (var r = r0; r < r1; r++) {
    let s = bitcast<u32>(IDS[r]);
    if (s != seg) {
      flush(seg, col, acc);
      seg = s;
      acc = ${ty}(0);
    }
    acc += X[r * u.inner + col];
  }
  flush(seg, col, acc);
}
`;
};

/**
 * Runs our segment sum on TensorInfos (the kernelFunc body): float32 or int32 x, int32 ids;
 * returns the output (x's dtype) with `planSegmentSum(...).outShape`, owned by the caller. `maxGroupsX` caps the grid's
 * x dimension (default 65535, for tests of the 2-D grid).
 *
 * @example
 * ```ts
 * import { segmentSumGpu } from "./segment_sum.ts";
 * console.log(typeof segmentSumGpu); // called by the registered UnsortedSegmentSum kernel
 * ```
 */
export function segmentSumGpu(
  backend: WebGPUBackend,
  x: tf.TensorInfo,
  segmentIds: tf.TensorInfo,
  numSegments: number,
  maxGroupsX: number = MAX_GROUPS_PER_DIM,
): tf.TensorInfo {
  const dtype = x.dtype;
  if ((dtype !== "float32" && dtype !== "int32") || segmentIds.dtype !== "int32") {
    throw new Error(
      `unsortedSegmentSum (gpu): float32 or int32 x and int32 segmentIds expected, found ` +
        `${x.dtype} and ${segmentIds.dtype}.`,
    );
  }
  const p = planSegmentSum(x.shape, segmentIds.shape, numSegments);
  const u = (value: number): Uniform => ({ type: "uint32", value });
  const [out] = dispatch(
    backend,
    { key: "blt_segment_sum_fill", wgsl: fillWgsl, workgroups: segmentSumGrid(p.outSize, WG) },
    [],
    [{ shape: p.outShape, dtype }], // zero bits are 0 in both dtypes
    [u(p.outSize)],
  );
  if (p.outSize === 0 || p.threads === 0) return out;
  dispatch(
    backend,
    {
      key: `blt_segment_sum_scatter_${dtype}_${SEGMENT_SUM_ROWS}`,
      wgsl: () => scatterWgsl(dtype),
      workgroups: segmentSumGrid(p.threads, WG, maxGroupsX),
    },
    [x, segmentIds, out],
    [],
    [u(p.rows), u(p.inner), u(numSegments), u(p.threads)],
  );
  return out;
}

/**
 * The webgpu `UnsortedSegmentSum` KernelConfig: our kernel for float32 and int32 x, `fallback`
 * (the stock kernelFunc) for other dtypes. (tfjs 4.22's stock kernel is wrong for int32 x: it
 * adds the bits of f32(x) as integers, e.g. 1077936128 for 3.)
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { segmentSumKernelConfig } from "./segment_sum.ts";
 * const config = segmentSumKernelConfig(() => { throw new Error("no stock kernel"); });
 * console.log(config.kernelName === tf.UnsortedSegmentSum); // true
 * ```
 */
export function segmentSumKernelConfig(fallback: tf.KernelFunc): tf.KernelConfig {
  return {
    kernelName: tf.UnsortedSegmentSum,
    backendName: "webgpu",
    kernelFunc: (args) => {
      const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const ours = x.dtype === "float32" || x.dtype === "int32";
      if (!ours || segmentIds.dtype !== "int32") return fallback(args);
      const { numSegments } = args.attrs as { numSegments: number };
      return segmentSumGpu(args.backend as WebGPUBackend, x, segmentIds, numSegments);
    },
  };
}
