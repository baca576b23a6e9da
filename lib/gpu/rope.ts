/**
 * Fused rotary position embedding (interleaved pairs, as lib/model/layers/rope.ts) for the webgpu
 * backend: y = x·cos + rot(x)·sin with rot(x)[2i] = −x[2i+1], rot(x)[2i+1] = x[2i], one dispatch
 * forward and one backward instead of tfjs's reshape/split/neg/concat/mul/mul/add chain (≈ 6
 * dispatches forward, more backward, per query or key tensor).
 *
 * The gradient is the inverse rotation: dx = dy·cos + rotᵀ(dy·sin), rotᵀ(v)[2i] = v[2i+1],
 * rotᵀ(v)[2i+1] = −v[2i]. The tables are constants (no gradient flows to them).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid, webgpuBackend } from "./dispatch.ts";

/** Kernel names registered on the webgpu backend by enableGpuKernels(). */
export const ROPE_KERNELS = Object.freeze({
  forward: "BltRopeForward",
  backward: "BltRopeBackward",
});

const WG = 256;

// X (or DY) [rows, T, rep, d] flat (rep = 1: [rows, T, d]; rep = heads: [B, T, H, d]), C and S
// [T, d] flat: element i uses table entry ((i / (d·rep))·d + i mod d) mod (T·d).
const kernel = (body: string) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> C: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
struct Uniforms { size: u32, table: u32, d: u32, rep: u32 };
@group(0) @binding(4) var<uniform> u: Uniforms;
@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (i >= u.size) { return; }
  let t = ((i / (u.d * u.rep)) * u.d + i % u.d) % u.table;
  let odd = (i & 1u) == 1u;
  let partner = select(i + 1u, i - 1u, odd);
  ${body}
}
`;

// Same operation order as the tf ops (x·c + rot·s, two products then a sum).
const forwardWgsl = () =>
  kernel(`let rot = select(-X[partner], X[partner], odd);
  Y[i] = X[i] * C[t] + rot * S[t];`);

// dx[2k] = dy[2k]·c[2k] + dy[2k+1]·s[2k+1]; dx[2k+1] = dy[2k+1]·c[2k+1] − dy[2k]·s[2k].
const backwardWgsl = () =>
  kernel(`let tp = select(t + 1u, t - 1u, odd);
  let back = X[partner] * S[tp];
  Y[i] = X[i] * C[t] + select(back, -back, odd);`);

function ropeKernelFunc(key: string, wgsl: () => string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, cos, sin } = inputs as Record<string, tf.TensorInfo>;
    const size = x.shape.reduce((p, d) => p * d, 1);
    const table = cos.shape.reduce((p, d) => p * d, 1);
    const r = x.shape.length;
    const rep = attrs?.positionsAxis === -3 ? x.shape[r - 2] : 1;
    return dispatch(
      backend as unknown as WebGPUBackend,
      { key, wgsl, workgroups: flatGrid(size, WG) },
      [x, cos, sin],
      [{ shape: x.shape, dtype: "float32" }],
      [
        { type: "uint32", value: size },
        { type: "uint32", value: table },
        { type: "uint32", value: x.shape[r - 1] },
        { type: "uint32", value: rep },
      ],
    )[0];
  };
}

/** KernelConfigs of the RoPE kernels (inputs x, cos, sin; the backward takes dy as x). */
export const ropeKernelConfigs: readonly tf.KernelConfig[] = [
  {
    kernelName: ROPE_KERNELS.forward,
    backendName: "webgpu",
    kernelFunc: ropeKernelFunc("blt_rope_fwd", forwardWgsl),
  },
  {
    kernelName: ROPE_KERNELS.backward,
    backendName: "webgpu",
    kernelFunc: ropeKernelFunc("blt_rope_bwd", backwardWgsl),
  },
];

/**
 * Gradient of the forward kernel: the backward kernel on dy for x (lazy, like every tfjs
 * gradient, so nothing runs for the constant tables unless asked; they get zeros). The engine
 * keeps cos and sin for the backward pass (`inputsToSave`). Registered on import.
 *
 * @example
 * ```ts
 * import { ropeGradConfig } from "./rope.ts";
 * console.log(ropeGradConfig.kernelName, ropeGradConfig.inputsToSave); // "BltRopeForward" ["cos", "sin"]
 * ```
 */
export const ropeGradConfig: tf.GradConfig = {
  kernelName: ROPE_KERNELS.forward,
  inputsToSave: ["cos", "sin"],
  gradFunc: (dy, saved, attrs) => {
    const [cos, sin] = saved;
    return {
      x: () =>
        tf.engine().runKernel(
          ROPE_KERNELS.backward,
          { x: dy as tf.Tensor, cos, sin } as unknown as tf.NamedTensorMap,
          { ...attrs },
        ) as tf.Tensor,
      cos: () => tf.zerosLike(cos),
      sin: () => tf.zerosLike(sin),
    };
  },
};
tf.registerGradient(ropeGradConfig);

/**
 * Whether {@link ropeGpu} handles these shapes: float32 `x` `[..., T, d]` (positions on axis −2)
 * or `[B, T, H, d]` (`positionsAxis` −3) with even d and tables `[T, d]` (what the models pass);
 * anything else takes the tf-ops path.
 *
 * @example
 * ```ts
 * import { ropeFits } from "./rope.ts";
 * console.log(ropeFits([2, 4, 16, 8], [16, 8], [16, 8], "float32")); // true
 * console.log(ropeFits([2, 4, 16, 8], [1, 16, 8], [16, 8], "float32")); // false
 * ```
 */
export function ropeFits(
  x: readonly number[],
  cos: readonly number[],
  sin: readonly number[],
  dtype: string,
  positionsAxis: -2 | -3 = -2,
): boolean {
  const r = x.length;
  return dtype === "float32" && r >= -positionsAxis && x[r - 1] % 2 === 0 &&
    cos.length === 2 && cos[0] === x[r + positionsAxis] && cos[1] === x[r - 1] &&
    sin.length === 2 && sin[0] === cos[0] && sin[1] === cos[1];
}

/**
 * Rotates `x` `[..., T, d]` (or `[B, T, H, d]` with `positionsAxis` −3) by the tables `cos`,
 * `sin` `[T, d]` (from `ropeTables`) in one dispatch, with a one-dispatch gradient for x
 * ({@link ropeGradConfig}). Requires the webgpu backend and `enableGpuKernels()`.
 *
 * @example
 * ```ts
 * import { ropeGpu } from "./rope.ts";
 * console.log(typeof ropeGpu); // ropeGpu(q, cos, sin) on webgpu
 * ```
 */
export function ropeGpu(
  x: tf.Tensor,
  cos: tf.Tensor,
  sin: tf.Tensor,
  positionsAxis: -2 | -3 = -2,
): tf.Tensor {
  webgpuBackend();
  if (!ropeFits(x.shape, cos.shape, sin.shape, x.dtype, positionsAxis)) {
    const form = positionsAxis === -2 ? "[..., T, d]" : "[..., T, H, d]";
    throw new Error(
      `ropeGpu: x must be float32 ${form} with even d and cos, sin [T, d]; found x ` +
        `[${x.shape}] ${x.dtype}, cos [${cos.shape}], sin [${sin.shape}].`,
    );
  }
  return tf.engine().runKernel(
    ROPE_KERNELS.forward,
    { x, cos, sin } as unknown as tf.NamedTensorMap,
    positionsAxis === -2 ? {} : { positionsAxis },
  ) as tf.Tensor;
}
