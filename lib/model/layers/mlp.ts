/**
 * SwiGLU feed-forward (Shazeer 2020): down(silu(gate(x)) ⊙ up(x)), Hugging Face names
 * `{prefix}.gate_proj.weight`, `up_proj`, `down_proj`. On webgpu with lib/gpu's kernels enabled
 * the gate silu(gate) ⊙ up is one fused dispatch (forward and backward); on wasm one SIMD pass
 * each way (lib/wasm_elementwise.ts, same float32 values).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedKernelsActive } from "../../gpu/active.ts";
import { swiglu } from "../../gpu/swiglu.ts";
import { swigluWasm } from "../../wasm_elementwise.ts";
import { linear, type Params } from "../params.ts";

/**
 * Registers the SwiGLU weights: gate/up with std dim^-0.5, down with std ffnDim^-0.5.
 *
 * @example
 * ```ts
 * import { Params } from "../params.ts";
 * import { initMlp } from "./mlp.ts";
 * const p = new Params(0);
 * initMlp(p, "mlp", 8, 16);
 * console.log(p.get("mlp.down_proj.weight").shape); // [8, 16]
 * p.dispose();
 * ```
 */
export function initMlp(p: Params, prefix: string, dim: number, ffnDim: number): void {
  p.linear(`${prefix}.gate_proj.weight`, ffnDim, dim, dim);
  p.linear(`${prefix}.up_proj.weight`, ffnDim, dim, dim);
  p.linear(`${prefix}.down_proj.weight`, dim, ffnDim, ffnDim);
}

/**
 * Applies the SwiGLU block to `x` `[..., h]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "../params.ts";
 * import { initMlp, mlp } from "./mlp.ts";
 * const p = new Params(0);
 * initMlp(p, "mlp", 8, 16);
 * console.log(mlp(p, "mlp", tf.ones([2, 3, 8])).shape); // [2, 3, 8]
 * ```
 */
export function mlp(p: Params, prefix: string, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const w = (name: string) => p.get(`${prefix}.${name}.weight`);
    const gate = linear(x, w("gate_proj")); // [..., ffn]
    const up = linear(x, w("up_proj")); // [..., ffn]
    // wasm: one SIMD pass each way, bit for bit the tfjs form (lib/wasm_elementwise.ts)
    const gated = fusedKernelsActive()
      ? swiglu(gate, up)
      : swigluWasm(gate, up) ?? tf.mul(tf.mul(gate, tf.sigmoid(gate)), up); // [..., ffn]
    return linear(gated, w("down_proj"));
  });
}
