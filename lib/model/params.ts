/**
 * Weights by Hugging Face tensor name: every layer reads its `tf.Variable`s from a
 * {@link Params} registry under the exact names `BltForCausalLM` uses (`model.local_encoder.
 * layers.0.self_attn.q_proj.weight`, …), so saving and loading is a plain name → tensor copy.
 *
 * Linear weights keep PyTorch's `[out, in]` layout; layers multiply with a transposed matmul.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * A registry of named weights. Variables are created once (seeded) and never replaced; loading
 * assigns new values into them.
 *
 * @example
 * ```ts
 * import { Params } from "./params.ts";
 * const p = new Params(7);
 * const w = p.linear("proj.weight", 4, 3); // [out=4, in=3], std 3^-0.5
 * console.log(w.shape, p.names()); // [4, 3] ["proj.weight"]
 * p.dispose();
 * ```
 */
export class Params {
  readonly #vars = new Map<string, tf.Variable>();
  readonly #seed: number;

  /**
   * @param seed makes initial values reproducible (each tensor seeds from seed and its name).
   * @param trainable whether the variables take gradients.
   * @param random false creates zeros instead (weights about to be loaded from a file).
   */
  constructor(seed: number, readonly trainable = true, readonly random = true) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`seed must be an integer in [0, 2^32), found ${seed}`);
    }
    this.#seed = seed;
  }

  /** A `[out, in]` linear weight, truncated normal with std = `stdFanIn`^-0.5 (default in). */
  linear(name: string, outDim: number, inDim: number, stdFanIn = inDim): tf.Variable {
    return this.#add(name, [outDim, inDim], stdFanIn ** -0.5);
  }

  /** An embedding table `[rows, dim]`, truncated normal with std = `stdDim`^-0.5. */
  embedding(name: string, rows: number, dim: number, stdDim = dim): tf.Variable {
    return this.#add(name, [rows, dim], stdDim ** -0.5);
  }

  /** A norm gain `[dim]` of ones. */
  ones(name: string, dim: number): tf.Variable {
    return this.#add(name, [dim], null);
  }

  /** The weight called `name`; throws naming it when absent. */
  get(name: string): tf.Variable {
    const v = this.#vars.get(name);
    if (!v) throw new Error(`no weight named '${name}' (have ${this.#vars.size} weights)`);
    return v;
  }

  /** Names in creation order. */
  names(): string[] {
    return [...this.#vars.keys()];
  }

  /** The name → variable map (a copy; the variables are shared). */
  variables(): Map<string, tf.Variable> {
    return new Map(this.#vars);
  }

  /** Frees every variable. */
  dispose(): void {
    for (const v of this.#vars.values()) v.dispose();
    this.#vars.clear();
  }

  #rng(name: string): () => number {
    let h = this.#seed ^ 0x9e3779b9;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    return mulberry32(h >>> 0);
  }

  /** `std` null means a gain of ones. */
  #add(name: string, shape: number[], std: number | null): tf.Variable {
    if (this.#vars.has(name)) throw new Error(`weight '${name}' is defined twice`);
    const size = shape.reduce((a, b) => a * b, 1);
    const values = !this.random
      ? new Float32Array(size)
      : std === null
      ? new Float32Array(size).fill(1)
      : truncatedNormal(size, std, this.#rng(name));
    // tidy frees the initial tensor; the variable keeps its own reference to the data.
    const v = tf.tidy(() =>
      tf.variable(tf.tensor(values, shape, "float32"), this.trainable, uniqueName(name))
    );
    this.#vars.set(name, v);
    return v;
  }
}

let counter = 0;
/** tfjs variable names are global; the registry keys carry the HF name, this only avoids clashes. */
function uniqueName(name: string): string {
  return `${name}#${counter++}`;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Normal(0, std) truncated to ±3 std by rejection, as the reference's `trunc_normal_`. */
function truncatedNormal(n: number, std: number, uniform: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n;) {
    const u1 = uniform() || 1e-12, u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    for (const z of [r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2)]) {
      if (i < n && Math.abs(z) <= 3) out[i++] = z * std;
    }
  }
  return out;
}

/**
 * `x · Wᵀ` for a PyTorch-layout linear weight `[out, in]` and any `[..., in]` input.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { linear } from "./params.ts";
 * const y = linear(tf.ones([2, 5, 3]), tf.ones([4, 3])); // [2, 5, 4], all 3
 * console.log(y.shape); // [2, 5, 4]
 * ```
 */
export function linear(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.shape.length - 1];
    const outDim = w.shape[0];
    const y = tf.matMul(tf.reshape(x, [-1, inDim]), w, false, true); // [N, out]
    return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}
