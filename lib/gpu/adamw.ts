/**
 * AdamW update as one webgpu dispatch per parameter (Loshchilov & Hutter: decoupled weight
 * decay; tfjs has no AdamW): m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
 * p ← p − lr·(m̂ / (√v̂ + ε) + λ·p) with bias-corrected m̂, v̂.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch, flatGrid, webgpuBackend } from "./dispatch.ts";

/** Kernel name registered on the webgpu backend by enableGpuKernels(). */
export const ADAMW_KERNEL = "BltAdamWUpdate";

/** Hyper-parameters of one AdamW step. */
export interface AdamWHyper {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** 1-based step count (for bias correction). */
  readonly step: number;
}

const WG = 256;

// scaled: the gradient is multiplied by SCALE[0] first (the clip coefficient and the 1/N of a
// summed loss, computed on the device), which keeps the clipped gradients from being written out.
const wgsl = (scaled: boolean) => /* wgsl */ `
struct Uniforms { size: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32 };
@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read> M: array<f32>;
@group(0) @binding(3) var<storage, read> V: array<f32>;
${scaled ? "@group(0) @binding(4) var<storage, read> SCALE: array<f32>;" : ""}
@group(0) @binding(${scaled ? 5 : 4}) var<storage, read_write> P2: array<f32>;
@group(0) @binding(${scaled ? 6 : 5}) var<storage, read_write> M2: array<f32>;
@group(0) @binding(${scaled ? 7 : 6}) var<storage, read_write> V2: array<f32>;
@group(0) @binding(${scaled ? 8 : 7}) var<uniform> u: Uniforms;

@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (i >= u.size) { return; }
  let g = G[i]${scaled ? " * SCALE[0]" : ""};
  let p = P[i];
  let m = u.beta1 * M[i] + (1.0 - u.beta1) * g;
  let v = u.beta2 * V[i] + (1.0 - u.beta2) * g * g;
  M2[i] = m;
  V2[i] = v;
  P2[i] = p - u.lr * ((m / u.bc1) / (sqrt(v / u.bc2) + u.eps) + u.wd * p);
}
`;

/** KernelConfig of the AdamW update (inputs p, g, m, v and optionally scale [1]; outputs p', m', v'). */
export const adamwKernelConfig: tf.KernelConfig = {
  kernelName: ADAMW_KERNEL,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { p, g, m, v, scale } = inputs as Record<string, tf.TensorInfo | undefined>;
    const scaled = scale !== undefined;
    const h = attrs as unknown as AdamWHyper;
    const size = p!.shape.reduce((a, d) => a * d, 1);
    const f = (value: number) => ({ type: "float32" as const, value });
    return dispatch(
      backend as unknown as WebGPUBackend,
      {
        key: scaled ? "blt_adamw_scaled" : "blt_adamw",
        wgsl: () => wgsl(scaled),
        workgroups: flatGrid(size, WG),
      },
      scaled ? [p!, g!, m!, v!, scale] : [p!, g!, m!, v!],
      [p!, m!, v!].map((t) => ({ shape: t.shape, dtype: "float32" as const })),
      [
        { type: "uint32", value: size },
        f(h.lr),
        f(h.beta1),
        f(h.beta2),
        f(h.eps),
        f(h.weightDecay),
        f(1 - h.beta1 ** h.step),
        f(1 - h.beta2 ** h.step),
      ],
    );
  },
};

/**
 * One AdamW step on the GPU: reads param, grad and the moment variables, assigns the new
 * values to param, m and v (one dispatch). With `scale` (a one-value tensor on the device, e.g.
 * the clip coefficient) the gradient is `grad · scale`. Requires the webgpu backend and
 * `enableGpuKernels()`.
 *
 * @example
 * ```ts
 * import { adamwStep } from "./adamw.ts";
 * console.log(typeof adamwStep); // adamwStep(w, dw, m, v, { lr: 1e-3, ..., step: 1 })
 * ```
 */
export function adamwStep(
  param: tf.Variable,
  grad: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  hyper: AdamWHyper,
  scale?: tf.Tensor,
): void {
  webgpuBackend();
  for (const [name, t] of [["grad", grad], ["m", m], ["v", v]] as const) {
    if (t.shape.join() !== param.shape.join()) {
      throw new Error(`adamwStep: ${name} shape [${t.shape}] must equal param [${param.shape}].`);
    }
  }
  if (scale !== undefined && scale.size !== 1) {
    throw new Error(`adamwStep: scale must hold one value, found shape [${scale.shape}].`);
  }
  if (!Number.isInteger(hyper.step) || hyper.step < 1) {
    throw new Error(`adamwStep: step must be an integer ≥ 1, found ${hyper.step}.`);
  }
  const [p2, m2, v2] = tf.engine().runKernel(
    ADAMW_KERNEL,
    (scale === undefined
      ? { p: param, g: grad, m, v }
      : { p: param, g: grad, m, v, scale }) as unknown as tf.NamedTensorMap,
    { ...hyper },
  ) as tf.Tensor[];
  param.assign(p2);
  m.assign(m2);
  v.assign(v2);
  tf.dispose([p2, m2, v2]);
}
