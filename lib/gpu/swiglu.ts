/**
 * Fused SwiGLU gate for the webgpu backend: out = silu(gate) · up (elementwise; the projections
 * around it are matmuls), one dispatch forward and one for both input gradients.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid, webgpuBackend } from "./dispatch.ts";

/** Kernel names registered on the webgpu backend by enableGpuKernels(). */
export const SWIGLU_KERNELS = Object.freeze({
  forward: "BltSwigluForward",
  backward: "BltSwigluBackward",
});

const WG = 256;

const main = (body: string) => /* wgsl */ `
struct Uniforms { size: u32 };
@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (i >= u.size) { return; }
  let a = G[i];
  let s = 1.0 / (1.0 + exp(-a));
  ${body}
}
`;

const forwardWgsl = () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> OUT: array<f32>;
@group(0) @binding(3) var<uniform> u: Uniforms;
${main("OUT[i] = a * s * U[i];")}`;

// d silu(a)/da = s·(1 + a·(1 − s)).
const backwardWgsl = () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> DG: array<f32>;
@group(0) @binding(4) var<storage, read_write> DU: array<f32>;
@group(0) @binding(5) var<uniform> u: Uniforms;
${main("let dy = DY[i]; DG[i] = dy * U[i] * s * (1.0 + a * (1.0 - s)); DU[i] = dy * a * s;")}`;

/** KernelConfigs of the SwiGLU kernels. */
export const swigluKernelConfigs: readonly tf.KernelConfig[] = [
  {
    kernelName: SWIGLU_KERNELS.forward,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend }) => {
      const { gate, up } = inputs as Record<string, tf.TensorInfo>;
      const size = gate.shape.reduce((p, d) => p * d, 1);
      return dispatch(
        backend as unknown as WebGPUBackend,
        { key: "blt_swiglu_fwd", wgsl: forwardWgsl, workgroups: flatGrid(size, WG) },
        [gate, up],
        [{ shape: gate.shape, dtype: "float32" }],
        [{ type: "uint32", value: size }],
      )[0];
    },
  },
  {
    kernelName: SWIGLU_KERNELS.backward,
    backendName: "webgpu",
    kernelFunc: ({ inputs, backend }) => {
      const { gate, up, dy } = inputs as Record<string, tf.TensorInfo>;
      const size = gate.shape.reduce((p, d) => p * d, 1);
      return dispatch(
        backend as unknown as WebGPUBackend,
        { key: "blt_swiglu_bwd", wgsl: backwardWgsl, workgroups: flatGrid(size, WG) },
        [gate, up, dy],
        [{ shape: gate.shape, dtype: "float32" }, { shape: gate.shape, dtype: "float32" }],
        [{ type: "uint32", value: size }],
      );
    },
  },
];

/**
 * silu(gate) · up with gradients for both. gate, up: same shape, e.g. [B, T, F].
 * Requires the webgpu backend and `enableGpuKernels()`.
 *
 * @example
 * ```ts
 * import { swiglu } from "./swiglu.ts";
 * console.log(typeof swiglu); // swiglu(x.matMul(w1), x.matMul(w3)) on webgpu
 * ```
 */
export function swiglu(gate: tf.Tensor, up: tf.Tensor): tf.Tensor {
  webgpuBackend();
  if (gate.shape.join() !== up.shape.join()) {
    throw new Error(`swiglu: gate [${gate.shape}] and up [${up.shape}] must have equal shapes.`);
  }
  const f = tf.customGrad(
    ((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
      save([g, u]);
      return {
        value: tf.engine().runKernel(
          SWIGLU_KERNELS.forward,
          { gate: g, up: u } as unknown as tf.NamedTensorMap,
          {},
        ) as tf.Tensor,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.engine().runKernel(
            SWIGLU_KERNELS.backward,
            { gate: saved[0], up: saved[1], dy } as unknown as tf.NamedTensorMap,
            {},
          ) as tf.Tensor[],
      };
    }) as unknown as (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      value: tf.Tensor;
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
    },
  );
  return f(gate, up) as tf.Tensor;
}
