/**
 * Elementwise unary float32 kernels over vec4 (Neg, Abs, Exp, Sqrt, Rsqrt, Square, Sigmoid), in
 * place of tfjs-webgpu's one-element-per-thread programs: on an H100 its `neg` moved 0.60 TB/s at
 * 64M elements (bench/README.md), below the 1.5 TB/s. Each kernel applies tfjs's own
 * WGSL expression to four elements at once, so values are those of the stock kernels. Sizes not
 * divisible by 4 and other dtypes take the stock kernel. Registered by `enableGpuKernels()`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid } from "./dispatch.ts";

const WG = 256;

/** tfjs-webgpu's expressions (unary_op_util.ts), written for `a: vec4<f32>`. */
export const UNARY_VEC4: Readonly<Record<string, string>> = Object.freeze({
  [tf.Neg]: "-a",
  [tf.Abs]: "abs(a)",
  [tf.Exp]: "exp(a)",
  [tf.Sqrt]: "sqrt(a)",
  [tf.Rsqrt]: "inverseSqrt(a)",
  [tf.Square]: "a * a",
  [tf.Sigmoid]: "vec4<f32>(1.0) / (vec4<f32>(1.0) + exp(-1.0 * a))",
});

const wgsl = (expr: string) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> Y: array<vec4<f32>>;
struct Uniforms { n4: u32 };
@group(0) @binding(2) var<uniform> u: Uniforms;
@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (i >= u.n4) { return; }
  let a = X[i];
  Y[i] = ${expr};
}
`;

/**
 * The KernelConfig of our vec4 form of `name`, falling back to `stock` (tfjs's config) for other
 * dtypes and sizes not divisible by 4.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { unaryKernelConfig } from "./unary.ts";
 * const stock = { kernelName: tf.Neg, backendName: "webgpu", kernelFunc: () => ({}) } as unknown as tf.KernelConfig;
 * console.log(unaryKernelConfig(tf.Neg, stock).kernelName); // "Neg"
 * ```
 */
export function unaryKernelConfig(name: string, stock: tf.KernelConfig): tf.KernelConfig {
  const expr = UNARY_VEC4[name];
  if (expr === undefined) throw new Error(`unaryKernelConfig: no vec4 form of '${name}'`);
  return {
    ...stock,
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      const n = x.shape.reduce((p, d) => p * d, 1);
      if (x.dtype !== "float32" || n % 4 !== 0 || n === 0) return stock.kernelFunc(args);
      return dispatch(
        args.backend as unknown as WebGPUBackend,
        { key: `blt_unary_${name}`, wgsl: () => wgsl(expr), workgroups: flatGrid(n / 4, WG) },
        [x],
        [{ shape: x.shape, dtype: "float32" }],
        [{ type: "uint32", value: n / 4 }],
      )[0];
    },
  };
}
