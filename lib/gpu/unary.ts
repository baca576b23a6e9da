/**
 * Elementwise unary float32 kernels over vec4 (Neg, Abs, Exp, Sqrt, Rsqrt, Square, Sigmoid), in
 * place of tfjs-webgpu's one-element-per-thread programs: on an H100 its `neg` moved 0.60 TB/s at
 * 64M elements (bench/README.md), below the 1.5 TB/s. Each kernel applies tfjs's own
 * WGSL expression to four elements at once, so values are those of the stock kernels. Sizes not
 * divisible by 4 and other dtypes take the stock kernel. Registered by `enableGpuKernels()`. The
 * WGSL form (vec4s per thread, workgroup size, grid) is chosen with `setUnaryForm`; the default
 * is the form this file started with, until H100 numbers (bench/elementwise_sweep.ts) say better.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch } from "./dispatch.ts";
import {
  checkUnaryForm,
  UNARY_DEFAULT_FORM,
  type UnaryForm,
  unaryFormName,
  unaryGrid,
  unaryWgsl,
} from "./elementwise_wgsl.ts";

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

let form: UnaryForm = UNARY_DEFAULT_FORM;

/**
 * Chooses the WGSL form of the vec4 unary kernels for later dispatches (see UnaryForm in
 * lib/gpu/elementwise_wgsl.ts and bench/elementwise_sweep.ts, which times the forms); "default"
 * puts back {@link UNARY_DEFAULT_FORM} (one vec4 per thread, 256 threads, balanced grid). Every form
 * computes the same values.
 *
 * @example
 * ```ts
 * import { setUnaryForm, unaryForm } from "./unary.ts";
 * setUnaryForm({ perThread: 2, workgroup: 256, gridStride: 0, grid: "balanced" });
 * console.log(unaryForm().perThread); // 2
 * setUnaryForm("default");
 * ```
 */
export function setUnaryForm(f: UnaryForm | "default"): void {
  if (f === "default") {
    form = UNARY_DEFAULT_FORM;
    return;
  }
  checkUnaryForm(f);
  form = Object.freeze({ ...f });
}

/**
 * The form the vec4 unary kernels currently use (see `setUnaryForm`).
 *
 * @example
 * ```ts
 * import { unaryForm } from "./unary.ts";
 * console.log(unaryForm().workgroup); // 256
 * ```
 */
export function unaryForm(): UnaryForm {
  return form;
}

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
      const f = form;
      const isDefault = unaryFormName(f) === unaryFormName(UNARY_DEFAULT_FORM);
      return dispatch(
        args.backend as unknown as WebGPUBackend,
        {
          key: isDefault ? `blt_unary_${name}` : `blt_unary_${name}_${unaryFormName(f)}`,
          wgsl: () => unaryWgsl(expr, f),
          workgroups: unaryGrid(f, n / 4),
        },
        [x],
        [{ shape: x.shape, dtype: "float32" }],
        [{ type: "uint32", value: n / 4 }],
      )[0];
    },
  };
}
