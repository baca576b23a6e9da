/**
 * Batched products of tiny matrices (one per byte or patch and head: BLT's own-patch
 * cross-attention, `[N, Q, d] · [N, S, d]ᵀ` with Q, S ≤ 16) for tfjs's webgpu backend. The tiled
 * matmul (matmul.ts) would run a 128×128 tile per 1×2 product and cannot dispatch past 65,535
 * batches; the broadcast multiply + sum it replaces wrote the `[N, Q, S, d]` products to memory
 * and read them back. Here one thread computes one output element, reading its row of op(A) and
 * column of op(B) directly, with a flat grid over all batches. `batchMatMulGpu` routes products
 * whose smaller output side is at most {@link SMALL_MATMUL_MAX_SIDE} here (see
 * {@link useSmallMatmul}).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid, type Uniform } from "./dispatch.ts";

/** Output sides up to this size (rows or columns of C) go to the small-product kernel. */
export const SMALL_MATMUL_MAX_SIDE = 16;
/** … provided the shared dimension is at most this long (one thread loops over it). */
export const SMALL_MATMUL_MAX_K = 256;

const WORKGROUP = 256;

/**
 * Whether a product of `batches` × ([m, k] · [k, n]) runs as one thread per output element. Pure.
 *
 * @example
 * ```ts
 * import { useSmallMatmul } from "./small_matmul.ts";
 * console.log(useSmallMatmul(1, 2, 32)); // true: a query's scores against its patch's 2 slots
 * console.log(useSmallMatmul(4096, 4096, 256)); // false: the tiled kernel's job
 * ```
 */
export function useSmallMatmul(m: number, n: number, k: number): boolean {
  return Math.min(m, n) <= SMALL_MATMUL_MAX_SIDE && k <= SMALL_MATMUL_MAX_K;
}

/**
 * WGSL of the small-product kernel: C[b, i, j] = Σ_r op(A)[b, i, r] · op(B)[b, r, j], with the
 * transposes and the batch strides (0 broadcasts a batch of 1) as uniforms, so one pipeline serves
 * every case.
 *
 * @example
 * ```ts
 * import { smallMatmulWgsl } from "./small_matmul.ts";
 * console.log(smallMatmulWgsl().includes("transposeA")); // true
 * ```
 */
export function smallMatmulWgsl(): string {
  return /* wgsl */ `
struct Uniforms {
  m: u32, n: u32, k: u32, batches: u32,
  strideA: u32, strideB: u32, transposeA: u32, transposeB: u32,
};
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> u: Uniforms;

@compute @workgroup_size(${WORKGROUP}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = (wid.y * nwg.x + wid.x) * ${WORKGROUP}u + lid;
  let mn = u.m * u.n;
  if (index >= u.batches * mn) { return; }
  let batch = index / mn;
  let i = (index % mn) / u.n;
  let j = index % u.n;
  // op(A)[i, r] = A[i, r] or A[r, i]; op(B)[r, j] = B[r, j] or B[j, r].
  var a = batch * u.strideA;
  var aStep = 1u;
  if (u.transposeA == 0u) { a = a + i * u.k; } else { a = a + i; aStep = u.m; }
  var b = batch * u.strideB;
  var bStep = u.n;
  if (u.transposeB == 0u) { b = b + j; } else { b = b + j * u.k; bStep = 1u; }
  var s = 0.0;
  for (var r = 0u; r < u.k; r = r + 1u) {
    s = s + A[a] * B[b];
    a = a + aStep;
    b = b + bStep;
  }
  C[index] = s;
}
`;
}

/**
 * Runs the small-product kernel (the body of our BatchMatMul for tiny products). `batchA` /
 * `batchB` are the operands' batch counts (1 broadcasts); shapes were checked by `planMatmul`.
 *
 * @example
 * ```ts
 * import { smallMatmulGpu } from "./small_matmul.ts";
 * console.log(typeof smallMatmulGpu); // called by batchMatMulGpu on the webgpu backend
 * ```
 */
export function smallMatmulGpu(
  backend: WebGPUBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  plan: {
    readonly m: number;
    readonly n: number;
    readonly k: number;
    readonly batches: number;
    readonly outShape: number[];
  },
  batchA: number,
  batchB: number,
): tf.TensorInfo {
  const { m, n, k, batches } = plan;
  const u = (value: number): Uniform => ({ type: "uint32", value });
  const count = batches * m * n;
  if (count >= 2 ** 32) {
    throw new Error(
      `batchMatMul (gpu): ${count} output elements exceed the small-product kernel's u32 index.`,
    );
  }
  return dispatch(
    backend,
    { key: "blt_small_matmul", wgsl: smallMatmulWgsl, workgroups: flatGrid(count, WORKGROUP) },
    [a, b],
    [{ shape: plan.outShape, dtype: "float32" }],
    [
      u(m),
      u(n),
      u(k),
      u(batches),
      u(batchA === 1 ? 0 : m * k),
      u(batchB === 1 ? 0 : k * n),
      u(transposeA ? 1 : 0),
      u(transposeB ? 1 : 0),
    ],
  )[0];
}
