/**
 * AdamW (Loshchilov & Hutter, decoupled weight decay), which tfjs lacks. The update follows
 * PyTorch's `torch.optim.AdamW` step for step, so a run here and there agree:
 * `p ← p·(1 − lr·wd)`, then `p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedKernelsActive } from "../gpu/active.ts";
import { adamwStep } from "../gpu/adamw.ts";
import { adamwWasm } from "../wasm_adamw.ts";

/**
 * AdamW hyper-parameters (the learning rate comes per step, from the schedule).
 *
 * @example
 * ```ts
 * import type { AdamWConfig } from "./adamw.ts";
 * const c: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
 * ```
 */
export interface AdamWConfig {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

/**
 * The serialisable optimizer state: step count, which weights decay, and the moments by weight
 * name (`exp_avg.<name>`, `exp_avg_sq.<name>` as in PyTorch's state dict).
 *
 * @example
 * ```ts
 * import type { AdamWState } from "./adamw.ts";
 * const s: AdamWState = { step: 0, decay: {}, moments: new Map() };
 * ```
 */
export interface AdamWState {
  readonly step: number;
  readonly decay: Readonly<Record<string, boolean>>;
  readonly moments: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;
}

/**
 * The default weight-decay rule: matrices (embeddings, projections) decay; vectors (RMSNorm
 * gains, biases) do not.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { decaysByDefault } from "./adamw.ts";
 * console.log(decaysByDefault(tf.zeros([2, 3]))); // true
 * ```
 */
export function decaysByDefault(variable: tf.Tensor): boolean {
  return variable.rank >= 2;
}

/**
 * AdamW over a fixed set of named variables. Moments live in non-trainable tf variables, so a
 * step allocates no lasting tensors.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { AdamW } from "./adamw.ts";
 * const w = tf.variable(tf.ones([2, 2]));
 * const opt = new AdamW(new Map([["w", w]]), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
 * const g = tf.onesLike(w);
 * opt.apply(new Map([["w", g]]), 0.01);
 * console.log(w.dataSync()[0].toFixed(4)); // "0.9890"
 * g.dispose();
 * opt.dispose();
 * w.dispose();
 * ```
 */
export class AdamW {
  /** Optimizer steps taken so far (t in the bias corrections). */
  step = 0;
  readonly #vars: ReadonlyMap<string, tf.Variable>;
  readonly #config: AdamWConfig;
  readonly #decay: Map<string, boolean>;
  readonly #m = new Map<string, tf.Variable>();
  readonly #v = new Map<string, tf.Variable>();

  /**
   * @param variables the weights to update, by name.
   * @param config β₁, β₂, ε and the weight decay.
   * @param decays which weights get weight decay (default: rank ≥ 2).
   */
  constructor(
    variables: ReadonlyMap<string, tf.Variable>,
    config: AdamWConfig,
    decays: (name: string, variable: tf.Variable) => boolean = (_, v) => decaysByDefault(v),
  ) {
    this.#vars = variables;
    this.#config = config;
    this.#decay = new Map([...variables].map(([name, v]) => [name, decays(name, v)]));
    // tidy frees the zeros each variable starts from (tf.variable keeps its own reference).
    for (const [name, v] of variables) {
      this.#m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
      this.#v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
    }
  }

  /**
   * One AdamW step with learning rate `lr`; `grads` must hold a gradient for every variable,
   * of the variable's shape. With `scale` (a one-value tensor, e.g. from `clipScale`) each
   * gradient counts as `grad · scale`. The gradients are not disposed.
   */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number, scale?: tf.Tensor): void {
    if (scale !== undefined && scale.size !== 1) {
      throw new Error(`AdamW.apply: scale must hold one value, found shape [${scale.shape}].`);
    }
    for (const name of this.#vars.keys()) {
      const g = grads.get(name);
      if (g === undefined) {
        throw new Error(
          `AdamW.apply: no gradient for variable '${name}'; the model's loss must depend on every ` +
            "variable in namedVariables() (or leave unused ones out of it)",
        );
      }
    }
    this.step += 1;
    const { beta1, beta2, eps, weightDecay } = this.#config;
    const stepSize = lr / (1 - beta1 ** this.step);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.step);
    const fused = fusedKernelsActive();
    for (const [name, p] of this.#vars) {
      const raw = grads.get(name)!;
      const m = this.#m.get(name)!;
      const v = this.#v.get(name)!;
      if (fused) {
        // One dispatch per weight instead of ~14 small ops (each also uploading a scalar).
        const wd = this.#decay.get(name) ? weightDecay : 0;
        adamwStep(p, raw, m, v, { lr, beta1, beta2, eps, weightDecay: wd, step: this.step }, scale);
        continue;
      }
      if (!fused) {
        // wasm: one SIMD pass, bit for bit the tfjs form below (lib/wasm_adamw.ts).
        const decay = this.#decay.get(name) && weightDecay > 0 ? 1 - lr * weightDecay : 1;
        const step = { beta1, beta2, eps, decay, bc2Sqrt, stepSize };
        const out = adamwWasm(p, raw, m, v, step, scale);
        if (out !== null) {
          p.assign(out[0]);
          m.assign(out[1]);
          v.assign(out[2]);
          tf.dispose(out);
          continue;
        }
      }
      tf.tidy(() => {
        const g = scale === undefined ? raw : tf.mul(raw, tf.reshape(scale, []));
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(vNew), bc2Sqrt), eps);
        const decayed = this.#decay.get(name) && weightDecay > 0
          ? tf.mul(p, 1 - lr * weightDecay)
          : p;
        p.assign(tf.sub(decayed, tf.mul(tf.div(mNew, denom), stepSize)));
        m.assign(mNew);
        v.assign(vNew);
      });
    }
  }

  /** The state to checkpoint (copies of the moments, read asynchronously so WebGPU works). */
  async state(): Promise<AdamWState> {
    const moments = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, m] of this.#m) {
      moments.set(`exp_avg.${name}`, { shape: m.shape, data: (await m.data()) as Float32Array });
      const v = this.#v.get(name)!;
      moments.set(`exp_avg_sq.${name}`, { shape: v.shape, data: (await v.data()) as Float32Array });
    }
    return { step: this.step, decay: Object.fromEntries(this.#decay), moments };
  }

  /** Restores a state from {@link AdamW.state}; throws naming any missing or misshapen moment. */
  load(state: AdamWState): void {
    for (const [name, p] of this.#vars) {
      for (const [prefix, target] of [["exp_avg", this.#m], ["exp_avg_sq", this.#v]] as const) {
        const key = `${prefix}.${name}`;
        const t = state.moments.get(key);
        if (t === undefined || t.shape.join() !== p.shape.join()) {
          throw new Error(
            `AdamW.load: optimizer state '${key}' ${
              t === undefined ? "is missing" : `has shape [${t.shape}]`
            }, expected shape [${p.shape}]; the checkpoint belongs to a different model`,
          );
        }
        tf.tidy(() => target.get(name)!.assign(tf.tensor(t.data, p.shape, "float32")));
      }
      const decay = state.decay[name];
      if (typeof decay === "boolean") this.#decay.set(name, decay);
    }
    this.step = state.step;
  }

  /** Frees the moment variables. */
  dispose(): void {
    for (const t of [...this.#m.values(), ...this.#v.values()]) t.dispose();
  }
}
