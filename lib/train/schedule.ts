/**
 * The learning-rate schedule: linear warm-up, then cosine decay to a floor (the recipe the BLT
 * paper inherits from Llama).
 *
 * @module
 */

/**
 * What {@link learningRate} needs from a {@link TrainConfig}.
 *
 * @example
 * ```ts
 * import type { ScheduleConfig } from "./schedule.ts";
 * const s: ScheduleConfig = { lr: 1e-3, warmupSteps: 10, steps: 100, minLrRatio: 0.1 };
 * ```
 */
export interface ScheduleConfig {
  readonly lr: number;
  readonly warmupSteps: number;
  readonly steps: number;
  readonly minLrRatio: number;
}

/**
 * The learning rate of optimizer step `step` (0-based): `lr·(step+1)/warmupSteps` during warm-up,
 * then `floor + (lr − floor)·½(1 + cos(π·progress))` with `floor = lr·minLrRatio`, where progress
 * runs from 0 right after warm-up to 1 at the last step; steps past the end stay at the floor.
 *
 * @example
 * ```ts
 * import { learningRate } from "./schedule.ts";
 * const s = { lr: 1e-3, warmupSteps: 10, steps: 110, minLrRatio: 0.1 };
 * console.log(learningRate(4, s)); // 0.0005 (warm-up)
 * console.log(learningRate(9, s)); // 0.001 (peak)
 * console.log(learningRate(109, s)); // ≈ 0.0001 (floor)
 * ```
 */
export function learningRate(step: number, s: ScheduleConfig): number {
  if (!Number.isInteger(step) || step < 0) {
    throw new Error(`learningRate: step must be an integer ≥ 0, found ${step}`);
  }
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  const floor = s.lr * s.minLrRatio;
  // The step right after warm-up is at progress 0 (the peak); the run's last step is at 1.
  const span = Math.max(1, s.steps - 1 - Math.max(0, s.warmupSteps - 1));
  const progress = Math.min(1, (step - Math.max(0, s.warmupSteps - 1)) / span);
  return floor + (s.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
