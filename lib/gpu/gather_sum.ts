/**
 * Fused gather-and-sum for the webgpu backend: out[r] = Σ_j table[ids[r, j]] (BLT's hash n-gram
 * embeddings, paper §3.2.1: one row per n-gram size, all tables fused into one). The plain form,
 * `tf.sum(tf.gather(table, ids), -2)`, writes the `[rows, n, h]` gathered rows to memory and then
 * sums over a middle axis, which tfjs-webgpu does by transposing it last and running one
 * 256-thread workgroup per output element over n ≈ 6 values. Here one thread computes 4
 * neighbouring columns of one output row (coalesced reads of each table row).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid, webgpuBackend } from "./dispatch.ts";

/** Kernel name registered on the webgpu backend by enableGpuKernels(). */
export const GATHER_SUM_KERNEL = "BltGatherSum";

const WG = 256;

// vec = 4: table and output as vec4 (h % 4 == 0), one thread per 4 columns; vec = 1: scalar.
const gatherSumWgsl = (vec: 1 | 4) => {
  const ty = vec === 4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `
struct Uniforms { rows: u32, n: u32, cols: u32, tableRows: u32 };
@group(0) @binding(0) var<storage, read> TABLE: array<${ty}>;
@group(0) @binding(1) var<storage, read> IDS: array<i32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<${ty}>;
@group(0) @binding(3) var<uniform> u: Uniforms;

@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (t >= u.rows * u.cols) { return; }
  let r = t / u.cols;
  let c = t % u.cols;
  var s = ${ty}(0.0);
  for (var j = 0u; j < u.n; j++) {
    let id = bitcast<u32>(IDS[r * u.n + j]);
    if (id < u.tableRows) { s += TABLE[id * u.cols + c]; }
  }
  OUT[t] = s;
}
`;
};

/** KernelConfig of the fused gather-sum: inputs `table` `[rows, h]`, `ids` int32 `[..., n]`. */
export const gatherSumKernelConfig: tf.KernelConfig = {
  kernelName: GATHER_SUM_KERNEL,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend }) => {
    const { table, ids } = inputs as Record<string, tf.TensorInfo>;
    const [tableRows, h] = table.shape;
    const n = ids.shape[ids.shape.length - 1];
    const rows = ids.shape.slice(0, -1).reduce((p, d) => p * d, 1);
    const vec = h % 4 === 0 ? 4 : 1;
    const cols = h / vec;
    return dispatch(
      backend as unknown as WebGPUBackend,
      {
        key: `blt_gather_sum_${vec}`,
        wgsl: () => gatherSumWgsl(vec),
        workgroups: flatGrid(rows * cols, WG),
      },
      [table, ids],
      [{ shape: [...ids.shape.slice(0, -1), h], dtype: "float32" }],
      [
        { type: "uint32", value: rows },
        { type: "uint32", value: n },
        { type: "uint32", value: cols },
        { type: "uint32", value: tableRows },
      ],
    )[0];
  },
};

/**
 * Σ_j table[ids[..., j]] → `[..., h]` on webgpu (no gradient of its own: `gatherSum` in
 * lib/model/hash_embedding.ts wraps it with one). Ids outside the table give 0 rows (tf.gather
 * would throw on the cpu backend). Requires `enableGpuKernels()`.
 *
 * @example
 * ```ts
 * import { gatherSumGpu } from "./gather_sum.ts";
 * console.log(typeof gatherSumGpu); // gatherSumGpu(table [rows, h], ids int32 [B, T, n]) → [B, T, h]
 * ```
 */
export function gatherSumGpu(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  webgpuBackend();
  if (table.rank !== 2 || ids.dtype !== "int32" || ids.rank < 1) {
    throw new Error(
      `gatherSumGpu: table [rows, h] and int32 ids [..., n] expected, found table ` +
        `[${table.shape}] and ${ids.dtype} ids [${ids.shape}].`,
    );
  }
  return tf.engine().runKernel(
    GATHER_SUM_KERNEL,
    { table, ids } as unknown as tf.NamedTensorMap,
    {},
  ) as tf.Tensor;
}
