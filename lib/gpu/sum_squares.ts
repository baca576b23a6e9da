/**
 * Σ‖gᵢ‖² over many tensors (the global gradient norm for clipping) on the webgpu backend in one
 * dispatch per tensor plus a final sum: each workgroup squares and adds a grid-stride share of one
 * tensor in shared memory and writes its partial to its own slot of one buffer; no atomics, so
 * the result is deterministic. tfjs's `tf.sum(tf.square(g))` instead costs two dispatches per
 * tensor and reduces a whole tensor in a single 256-thread workgroup (the 77M-float hash table of
 * the small preset is one of them).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, webgpuBackend } from "./dispatch.ts";

/** Kernel name registered on the webgpu backend by enableGpuKernels(). */
export const SUM_SQUARES_KERNEL = "BltSumSquaresInto";

const WG = 256;
/** Elements one thread adds at least (fewer workgroups for small tensors). */
const PER_THREAD = 16;
/** At most this many workgroups (partials) per tensor. */
const MAX_GROUPS = 512;

/**
 * Workgroups (= partial slots) for a tensor of `size` elements. Pure.
 *
 * @example
 * ```ts
 * import { sumSquaresGroups } from "./sum_squares.ts";
 * console.log(sumSquaresGroups(100), sumSquaresGroups(77_000_000)); // 1 512
 * ```
 */
export function sumSquaresGroups(size: number): number {
  return Math.max(1, Math.min(MAX_GROUPS, Math.ceil(size / (WG * PER_THREAD))));
}

const wgsl = () => /* wgsl */ `
struct Uniforms { size: u32, base: u32 };
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> PARTIAL: array<f32>;
@group(0) @binding(2) var<uniform> u: Uniforms;
var<workgroup> acc: array<f32, ${WG}>;

@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * ${WG}u;
  var s = 0.0;
  for (var i = wid.x * ${WG}u + lid.x; i < u.size; i += stride) {
    let v = X[i];
    s += v * v;
  }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var half = ${WG / 2}u; half > 0u; half = half / 2u) {
    if (lid.x < half) { acc[lid.x] += acc[lid.x + half]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { PARTIAL[u.base + wid.x] = acc[0]; }
}
`;

/** KernelConfig: inputs `x` (float32, any shape) and `partial` (written in place at `base`). */
export const sumSquaresKernelConfig: tf.KernelConfig = {
  kernelName: SUM_SQUARES_KERNEL,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { x, partial } = inputs as Record<string, tf.TensorInfo>;
    const { base } = attrs as unknown as { base: number };
    const size = x.shape.reduce((p, d) => p * d, 1);
    dispatch(
      backend as unknown as WebGPUBackend,
      { key: "blt_sum_squares", wgsl, workgroups: [sumSquaresGroups(size), 1, 1] },
      [x, partial],
      [],
      [{ type: "uint32", value: size }, { type: "uint32", value: base }],
    );
    // The kernel writes into `partial`; it returns `partial` itself (as Reshape does, with a
    // reference for the engine's new tensor) so the engine has an output to track.
    (backend as unknown as WebGPUBackend).incRef(partial.dataId);
    return { dataId: partial.dataId, shape: partial.shape, dtype: partial.dtype };
  },
};

/**
 * Σᵢ Σ xᵢ² as a scalar on the webgpu backend (no read-back), for float32 tensors of any shapes.
 * Requires `enableGpuKernels()`.
 *
 * @example
 * ```ts
 * import { sumOfSquaresGpu } from "./sum_squares.ts";
 * console.log(typeof sumOfSquaresGpu); // sumOfSquaresGpu([g1, g2]) → Σ‖gᵢ‖² (tf.Scalar)
 * ```
 */
export function sumOfSquaresGpu(tensors: readonly tf.Tensor[]): tf.Scalar {
  webgpuBackend();
  for (const t of tensors) {
    if (t.dtype !== "float32") {
      throw new Error(`sumOfSquaresGpu: float32 tensors expected, found ${t.dtype} [${t.shape}].`);
    }
  }
  const slots = tensors.map((t) => sumSquaresGroups(t.size));
  const total = slots.reduce((a, b) => a + b, 0);
  return tf.tidy(() => {
    const partial = tf.zeros([Math.max(1, total)]); // every slot is written; zeros for total 0
    let base = 0;
    tensors.forEach((t, i) => {
      // An empty tensor's slot keeps the zero it was filled with.
      if (t.size > 0) {
        tf.engine().runKernel(
          SUM_SQUARES_KERNEL,
          { x: t, partial } as unknown as tf.NamedTensorMap,
          { base },
        );
      }
      base += slots[i];
    });
    return tf.sum(partial);
  });
}
