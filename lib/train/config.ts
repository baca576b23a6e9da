/**
 * The trainer's config: optimizer (AdamW), schedule, clipping, accumulation, evaluation and
 * checkpoint cadence. Plain JSON so a checkpoint carries it and `resume` continues with it.
 *
 * @module
 */

/**
 * Everything that decides what a training run computes (besides the model and the data).
 *
 * @example
 * ```ts
 * import { defaultTrainConfig, type TrainConfig } from "./config.ts";
 * const config: TrainConfig = { ...defaultTrainConfig, steps: 10 };
 * console.log(config.beta2); // 0.95
 * ```
 */
export interface TrainConfig {
  /** Optimizer steps of the whole run (the cosine schedule ends here). */
  readonly steps: number;
  /** Micro-batches whose gradients are accumulated into one optimizer step. */
  readonly gradAccumulation: number;
  /** Peak learning rate, reached at the end of warm-up. */
  readonly lr: number;
  /** Steps of linear warm-up from lr/warmupSteps to lr. */
  readonly warmupSteps: number;
  /** The cosine decay's floor as a fraction of `lr` (reached at `steps`). */
  readonly minLrRatio: number;
  /** AdamW β₁. */
  readonly beta1: number;
  /** AdamW β₂ (0.95 as in the paper's Llama-style recipe). */
  readonly beta2: number;
  /** AdamW ε. */
  readonly eps: number;
  /** Decoupled weight decay, applied to matrices (rank ≥ 2) only, never to norms or biases. */
  readonly weightDecay: number;
  /** Clip gradients to this global L2 norm; 0 turns clipping off. */
  readonly gradClip: number;
  /** Evaluate bits per byte on the validation batches every this many steps (0 = only at the
   * end of the run). */
  readonly evalEvery: number;
  /** Write a checkpoint every this many steps (0 = only at the end or on stop). */
  readonly checkpointEvery: number;
  /** How many of the newest checkpoints to keep on disk (older ones are deleted). */
  readonly keepCheckpoints: number;
  /** Data-parallel workers on the CPU backends (lib/train/parallel.ts): each step's batches are
   * split across this many Deno Workers, each a wasm backend with its own copy of the model.
   * 1 (default) trains on the calling thread. Changes speed, not results (float rounding aside). */
  readonly workers: number;
}

/**
 * Defaults for a small CPU run (AdamW β 0.9/0.95, ε 1e-8, wd 0.1, clip 1.0).
 *
 * @example
 * ```ts
 * import { defaultTrainConfig } from "./config.ts";
 * console.log(defaultTrainConfig.weightDecay); // 0.1
 * ```
 */
export const defaultTrainConfig: TrainConfig = Object.freeze({
  steps: 1000,
  gradAccumulation: 1,
  lr: 3e-3,
  warmupSteps: 50,
  minLrRatio: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 1.0,
  evalEvery: 100,
  checkpointEvery: 0,
  keepCheckpoints: 2,
  workers: 1,
});

/** Edit distance, for "did you mean" hints on misspelled keys. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = keep;
    }
  }
  return row[b.length];
}

const INTEGER_KEYS: readonly (keyof TrainConfig)[] = [
  "steps",
  "gradAccumulation",
  "warmupSteps",
  "evalEvery",
  "checkpointEvery",
  "keepCheckpoints",
  "workers",
];

/**
 * Defaults overridden by `overrides`, validated and frozen. Unknown keys and out-of-range values
 * throw an Error naming the key, the value found and what is expected.
 *
 * @example
 * ```ts
 * import { resolveTrainConfig } from "./config.ts";
 * const c = resolveTrainConfig({ steps: 200, lr: 1e-3 });
 * console.log(c.steps, c.beta1); // 200 0.9
 * ```
 */
export function resolveTrainConfig(
  overrides: Partial<TrainConfig> = {},
  base: TrainConfig = defaultTrainConfig,
): TrainConfig {
  const known = Object.keys(defaultTrainConfig);
  for (const key of Object.keys(overrides)) {
    if (!known.includes(key)) {
      const near = known.reduce((a, b) => (distance(key, a) <= distance(key, b) ? a : b));
      throw new Error(
        `Unknown train config key '${key}' (did you mean '${near}'?); known keys: ${
          known.join(", ")
        }`,
      );
    }
  }
  const c: TrainConfig = { ...base, ...overrides };
  for (const key of known as (keyof TrainConfig)[]) {
    const v = c[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new Error(`Train config '${key}' must be a finite number ≥ 0, found ${String(v)}`);
    }
    if (INTEGER_KEYS.includes(key) && !Number.isInteger(v)) {
      throw new Error(`Train config '${key}' must be an integer, found ${v}`);
    }
  }
  const positive: (keyof TrainConfig)[] = [
    "steps",
    "gradAccumulation",
    "lr",
    "keepCheckpoints",
    "workers",
  ];
  for (const key of positive) {
    if (c[key] <= 0) throw new Error(`Train config '${key}' must be > 0, found ${c[key]}`);
  }
  for (const key of ["beta1", "beta2"] as const) {
    if (c[key] >= 1) throw new Error(`Train config '${key}' must lie in [0, 1), found ${c[key]}`);
  }
  if (c.minLrRatio > 1) {
    throw new Error(`Train config 'minLrRatio' must lie in [0, 1], found ${c.minLrRatio}`);
  }
  if (c.eps <= 0) throw new Error(`Train config 'eps' must be > 0, found ${c.eps}`);
  return Object.freeze(c);
}
