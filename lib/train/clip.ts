/**
 * Global-norm gradient clipping (as `torch.nn.utils.clip_grad_norm_`): when the L2 norm of all
 * gradients together exceeds `maxNorm`, every gradient is scaled by `maxNorm / norm`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

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
    return tf.sqrt(tf.addN(squares)).dataSync()[0];
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
  const norm = globalNorm(grads);
  // torch adds 1e-6 to the norm so a zero gradient never divides by zero.
  const scale = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) {
    out.set(
      name,
      tf.tidy(() => scale === 1 ? g.clone() : tf.mul(g, scale)),
    );
  }
  return { grads: out, norm };
}
