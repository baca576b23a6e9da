/**
 * Global-norm gradient clipping (as `torch.nn.utils.clip_grad_norm_`): when the L2 norm of all
 * gradients together exceeds `maxNorm`, every gradient is scaled by `maxNorm / norm`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedKernelsActive } from "../gpu/active.ts";
import { sumOfSquaresGpu } from "../gpu/sum_squares.ts";

/**
 * Most inputs one `tf.addN` may take: WebGPU's default limit is 8 storage buffers per shader
 * stage (inputs + output) and tfjs-webgpu asks for no more, so an AddN over the ~90 gradients of
 * a BLT failed validation on every step and left the norm unwritten (found with
 * `deno task bench --diagnose`).
 */
export const ADD_N_MAX_INPUTS = 7;

/**
 * Σ of same-shape tensors as a tree of `tf.addN` calls of ≤ {@link ADD_N_MAX_INPUTS} inputs, so it
 * runs on every backend. Call inside `tf.tidy` (intermediates are not disposed here).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { addMany } from "./clip.ts";
 * const terms = Array.from({ length: 20 }, (_, i) => tf.scalar(i + 1));
 * console.log(addMany(terms).dataSync()[0]); // 210
 * ```
 */
export function addMany(terms: readonly tf.Tensor[]): tf.Tensor {
  if (terms.length === 0) throw new Error("addMany: no tensors to add");
  let level = [...terms];
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += ADD_N_MAX_INPUTS) {
      const chunk = level.slice(i, i + ADD_N_MAX_INPUTS);
      next.push(chunk.length === 1 ? chunk[0] : tf.addN(chunk));
    }
    level = next;
  }
  return level[0];
}

/**
 * The global L2 norm of `grads`, read back as a number (NaN/Infinity pass through, so the
 * caller can stop on them).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { globalNorm } from "./clip.ts";
 * const g = new Map([["a", tf.tensor([3])], ["b", tf.tensor([4])]]);
 * console.log(globalNorm(g)); // 5
 * g.forEach((t) => t.dispose());
 * ```
 */
export function globalNorm(grads: ReadonlyMap<string, tf.Tensor>): number {
  if (grads.size === 0) return 0;
  return tf.tidy(() => {
    const squares = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(addMany(squares)).dataSync()[0];
  });
}

/**
 * Gradients scaled to global norm ≤ `maxNorm` (new tensors; the inputs are left alone), with the
 * norm before clipping. `maxNorm = 0` turns clipping off (the gradients are returned as clones).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { clipByGlobalNorm } from "./clip.ts";
 * const g = new Map([["a", tf.tensor([3])], ["b", tf.tensor([4])]]);
 * const { grads, norm } = clipByGlobalNorm(g, 1);
 * console.log(norm, grads.get("b")!.dataSync()[0].toFixed(2)); // 5 "0.80"
 * [...g.values(), ...grads.values()].forEach((t) => t.dispose());
 * ```
 */
export function clipByGlobalNorm(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: number } {
  const clipped = clipOnDevice(grads, maxNorm);
  const norm = clipped.norm.dataSync()[0];
  clipped.norm.dispose();
  return { grads: clipped.grads, norm };
}

/**
 * {@link clipByGlobalNorm} without reading anything back: the norm stays a tensor and the scale
 * is computed on the device, as torch's `clip_grad_norm_` does (coefficient
 * min(1, maxNorm / (norm + 1e-6))). The trainer uses this so a step needs a single read-back
 * (WebGPU under Deno has no synchronous reads at all).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { clipOnDevice } from "./clip.ts";
 * const { grads, norm } = clipOnDevice(new Map([["w", tf.tensor1d([3, 4])]]), 1);
 * console.log((await norm.data())[0], Array.from(await grads.get("w")!.data()).map((x) => x.toFixed(2))); // 5 ["0.60", "0.80"]
 * ```
 */
export function clipOnDevice(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  if (grads.size === 0) return { grads: new Map(), norm: tf.scalar(0) };
  const { norm, scale } = clipScale(grads, maxNorm);
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) out.set(name, maxNorm > 0 ? tf.mul(g, scale) : g.clone());
  scale.dispose();
  return { grads: out, norm };
}

/**
 * The global norm and the factor to multiply every gradient by, both on the device, for
 * gradients that are `prescale` times too large (e.g. loss sums over N predictions with
 * prescale 1/N): norm = prescale·‖g‖, scale = prescale·min(1, maxNorm / (norm + 1e-6)), or
 * just prescale when maxNorm ≤ 0 (no clipping). The trainer hands `scale` to the optimizer, so
 * neither the mean nor the clipped gradients are ever written out. On webgpu with lib/gpu's
 * kernels Σ‖g‖² is one dispatch per gradient (lib/gpu/sum_squares.ts).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { clipScale } from "./clip.ts";
 * const { norm, scale } = clipScale(new Map([["w", tf.tensor1d([30, 40])]]), 1, 0.1);
 * console.log((await norm.data())[0], (await scale.data())[0].toFixed(3)); // 5 "0.020"
 * ```
 */
export function clipScale(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
  prescale = 1,
): { norm: tf.Scalar; scale: tf.Scalar } {
  if (!(prescale > 0) || !Number.isFinite(prescale)) {
    throw new Error(`clipScale: prescale must be a finite number > 0, found ${prescale}.`);
  }
  return tf.tidy(() => {
    const list = [...grads.values()];
    const squares = list.length === 0
      ? tf.scalar(0)
      : fusedKernelsActive()
      ? sumOfSquaresGpu(list)
      : addMany(list.map((g) => tf.sum(tf.square(g))));
    const norm = tf.mul(tf.sqrt(squares), prescale) as tf.Scalar;
    const scale = maxNorm > 0
      ? tf.mul(tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))), prescale) as tf.Scalar
      : tf.scalar(prescale);
    return { norm, scale };
  });
}
