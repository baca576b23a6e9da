/**
 * Fused RMSNorm for the webgpu backend: y = x · rsqrt(mean(x²) + eps) · weight over the last axis
 * (as HF's BltRMSNorm), one workgroup per row, with a fused dx kernel; dweight is a column sum
 * done with stock tf ops.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid, webgpuBackend } from "./dispatch.ts";

/** Kernel names registered on the webgpu backend by enableGpuKernels(). */
export const RMS_NORM_KERNELS = Object.freeze({
  forward: "BltRmsNormForward",
  backward: "BltRmsNormBackward",
});

const WG = 64;

const header = (inputs: string[], outputs: string[]) =>
  [
    ...inputs.map((n, i) => `@group(0) @binding(${i}) var<storage, read> ${n}: array<f32>;`),
    ...outputs.map((n, i) =>
      `@group(0) @binding(${inputs.length + i}) var<storage, read_write> ${n}: array<f32>;`
    ),
    `struct Uniforms { rows: u32, dim: u32, eps: f32 };`,
    `@group(0) @binding(${inputs.length + outputs.length}) var<uniform> u: Uniforms;`,
    `var<workgroup> partial: array<f32, ${WG}>;`,
    // Tree reduction of one f32 per thread; every thread gets the total.
    `fn workgroupSum(v: f32, t: u32) -> f32 {
      partial[t] = v;
      workgroupBarrier();
      for (var s = ${WG / 2}u; s > 0u; s = s / 2u) {
        if (t < s) { partial[t] = partial[t] + partial[t + s]; }
        workgroupBarrier();
      }
      let total = partial[0];
      workgroupBarrier();
      return total;
    }`,
  ].join("\n");

const forwardWgsl = () =>
  header(["X", "W"], ["Y", "RSTD"]) + /* wgsl */ `
@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= u.rows) { return; } // uniform per workgroup, so the barriers below stay uniform
  let base = row * u.dim;
  var ss = 0.0;
  for (var d = lid.x; d < u.dim; d += ${WG}u) { let v = X[base + d]; ss = fma(v, v, ss); }
  let r = inverseSqrt(workgroupSum(ss, lid.x) / f32(u.dim) + u.eps);
  for (var d = lid.x; d < u.dim; d += ${WG}u) { Y[base + d] = X[base + d] * r * W[d]; }
  if (lid.x == 0u) { RSTD[row] = r; }
}
`;

// dx = r·g − x·r³·(g·x)/D with g = dy·w.
const backwardWgsl = () =>
  header(["X", "W", "DY", "RSTD"], ["DX"]) + /* wgsl */ `
@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= u.rows) { return; }
  let base = row * u.dim;
  let r = RSTD[row];
  var dot = 0.0;
  for (var d = lid.x; d < u.dim; d += ${WG}u) { dot = fma(DY[base + d] * W[d], X[base + d], dot); }
  let c = workgroupSum(dot, lid.x) * r * r * r / f32(u.dim);
  for (var d = lid.x; d < u.dim; d += ${WG}u) {
    DX[base + d] = r * DY[base + d] * W[d] - X[base + d] * c;
  }
}
`;

function uniforms(x: tf.TensorInfo, eps: number) {
  const dim = x.shape[x.shape.length - 1];
  return [
    { type: "uint32" as const, value: x.shape.reduce((p, d) => p * d, 1) / dim },
    { type: "uint32" as const, value: dim },
    { type: "float32" as const, value: eps },
  ];
}

/** KernelConfigs of the RMSNorm kernels. */
export const rmsNormKernelConfigs: readonly tf.KernelConfig[] = [
  {
    kernelName: RMS_NORM_KERNELS.forward,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, weight } = inputs as Record<string, tf.TensorInfo>;
      const u = uniforms(x, (attrs?.eps as number) ?? 1e-5);
      return dispatch(
        backend as unknown as WebGPUBackend,
        { key: "blt_rmsnorm_fwd", wgsl: forwardWgsl, workgroups: flatGrid(u[0].value, 1) },
        [x, weight],
        [{ shape: x.shape, dtype: "float32" }, { shape: [u[0].value], dtype: "float32" }],
        u,
      );
    },
  },
  {
    kernelName: RMS_NORM_KERNELS.backward,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend }) => {
      const { x, weight, dy, rstd } = inputs as Record<string, tf.TensorInfo>;
      const u = uniforms(x, 0);
      return dispatch(
        backend as unknown as WebGPUBackend,
        { key: "blt_rmsnorm_bwd", wgsl: backwardWgsl, workgroups: flatGrid(u[0].value, 1) },
        [x, weight, dy, rstd],
        [{ shape: x.shape, dtype: "float32" }],
        u,
      )[0];
    },
  },
];

/**
 * RMSNorm over the last axis with gradients for x and weight. x: [..., D], weight: [D].
 * Requires the webgpu backend and `enableGpuKernels()`.
 *
 * @example
 * ```ts
 * import { rmsNorm } from "./rms_norm.ts";
 * console.log(typeof rmsNorm); // rmsNorm(x, weight, 1e-5) on webgpu
 * ```
 */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps = 1e-5): tf.Tensor {
  webgpuBackend();
  const dim = x.shape[x.rank - 1];
  if (weight.rank !== 1 || weight.shape[0] !== dim) {
    throw new Error(`rmsNorm: weight must be [${dim}] (last axis of x), found [${weight.shape}].`);
  }
  const f = tf.customGrad(
    ((xx: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
      const [y, rstd] = tf.engine().runKernel(
        RMS_NORM_KERNELS.forward,
        { x: xx, weight: w } as unknown as tf.NamedTensorMap,
        { eps },
      ) as tf.Tensor[];
      save([xx, w, rstd]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sx, sw, r] = saved;
          const dx = tf.engine().runKernel(
            RMS_NORM_KERNELS.backward,
            { x: sx, weight: sw, dy, rstd: r } as unknown as tf.NamedTensorMap,
            {},
          ) as tf.Tensor;
          const rows = r.size;
          const dw = tf.sum(
            tf.mul(tf.mul(dy.reshape([rows, dim]), sx.reshape([rows, dim])), r.reshape([rows, 1])),
            0,
          ); // [D]
          return [dx, dw];
        },
      };
    }) as unknown as (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      value: tf.Tensor;
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
    },
  );
  return f(x, weight) as tf.Tensor;
}
