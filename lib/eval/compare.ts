/**
 * The FLOP-controlled comparison (paper §4, Fig. 6): every family trains through the same loop
 * on the same documents with the same bytes per step, for as many steps as a training FLOPs
 * budget buys at its own FLOPs per byte (lib/model/flops.ts), and validation bits per byte is
 * recorded against FLOPs spent. A power-law fit BPB ≈ a · C^−b summarises each curve.
 *
 * @module
 */
import type { TransformerConfig } from "../config.ts";
import { encodeDocuments, sampleBatches } from "../data/batching.ts";
import {
  type PreparedRun,
  prepareRun,
  type RunData,
  type RunSpec,
} from "../model/baselines/families.ts";
import { type ByteLm, createByteLm } from "../model/byte_lm.ts";
import type { BpeTokenizer } from "../tokenizers/mod.ts";
import type { TrainConfig } from "../train/config.ts";
import { train } from "../train/loop.ts";

/**
 * One point of a curve: validation BPB after `flops` training FLOPs.
 *
 * @example
 * ```ts
 * import type { CurvePoint } from "./compare.ts";
 * const p: CurvePoint = { step: 10, bytes: 40960, flops: 1e9, bitsPerByte: 3.1 };
 * ```
 */
export interface CurvePoint {
  readonly step: number;
  /** Bytes of text trained on so far. */
  readonly bytes: number;
  /** Training FLOPs spent so far: bytes · training FLOPs per byte. */
  readonly flops: number;
  readonly bitsPerByte: number;
}

/**
 * What one family's run produced.
 *
 * @example
 * ```ts
 * import type { RunResult } from "./compare.ts";
 * const row = (r: RunResult) => `${r.name}: ${r.finalBitsPerByte.toFixed(3)} BPB in ${r.steps} steps`;
 * ```
 */
export interface RunResult {
  readonly name: string;
  readonly family: RunSpec["family"];
  readonly steps: number;
  readonly parameters: number;
  readonly trainFlopsPerByte: number;
  readonly inferenceFlopsPerByte: number;
  readonly meanPatchSize: number;
  /** BLT entropy mode: the calibrated θ. */
  readonly threshold?: number;
  readonly curve: readonly CurvePoint[];
  readonly finalBitsPerByte: number;
  readonly seconds: number;
}

/**
 * Inputs of {@link compareAtFlops}.
 *
 * @example
 * ```ts
 * import type { CompareOptions } from "./compare.ts";
 * type Budget = CompareOptions["budgetFlops"]; // training FLOPs per run
 * ```
 */
export interface CompareOptions {
  readonly runs: readonly RunSpec[];
  readonly data: RunData;
  /** Training FLOPs each run may spend. */
  readonly budgetFlops: number;
  /** Validation evaluations per run (evenly spaced, the last at the final step). Default 4. */
  readonly evalPoints?: number;
  /** Trainer settings (learning rate, warm-up, …); steps and evalEvery come from the budget. */
  readonly train?: Partial<Omit<TrainConfig, "steps" | "evalEvery">>;
  /** Trained entropy model for BLT entropy patching (see {@link trainEntropyModel}). */
  readonly entropyModel?: ByteLm;
  /** Tokenizers already trained, by vocabulary size (others are trained on `data.train`). */
  readonly tokenizers?: Map<number, BpeTokenizer>;
  /** Called after each run. */
  readonly onResult?: (result: RunResult) => void | Promise<void>;
}

/**
 * Optimizer steps a budget buys: ⌊budget / (FLOPs per byte · bytes per step)⌋; throws when it
 * buys none.
 *
 * @example
 * ```ts
 * import { stepsForBudget } from "./compare.ts";
 * console.log(stepsForBudget(1e9, 1e5, 1000)); // 10
 * ```
 */
export function stepsForBudget(
  budgetFlops: number,
  trainFlopsPerByte: number,
  bytesPerStep: number,
  name = "run",
): number {
  if (!(Number.isFinite(budgetFlops) && budgetFlops > 0)) {
    throw new Error(`budgetFlops must be a finite number > 0, found ${budgetFlops}`);
  }
  const perStep = trainFlopsPerByte * bytesPerStep;
  const steps = Math.floor(budgetFlops / perStep);
  if (steps < 1) {
    throw new Error(
      `${name}: the FLOPs budget ${budgetFlops.toExponential(2)} is too small for one step, ` +
        `which costs ${perStep.toExponential(2)} FLOPs (${trainFlopsPerByte.toExponential(2)} ` +
        `per byte × ${Math.round(bytesPerStep)} bytes); raise the budget or shrink model/batch`,
    );
  }
  return steps;
}

async function runOne(
  run: PreparedRun,
  options: CompareOptions,
): Promise<RunResult> {
  const steps = stepsForBudget(
    options.budgetFlops,
    run.trainFlopsPerByte,
    run.bytesPerStep,
    `run '${run.spec.name}'`,
  );
  const evalEvery = Math.max(1, Math.ceil(steps / (options.evalPoints ?? 4)));
  const started = performance.now();
  let bytes = 0;
  const bytesAt = new Map<number, number>();
  const curve: CurvePoint[] = [];
  await train({
    model: run.model,
    data: run.data,
    validation: run.validation,
    config: {
      warmupSteps: Math.max(1, Math.min(50, Math.floor(steps / 10))),
      ...options.train,
      steps,
      evalEvery,
    },
    trainFlopsPerByte: run.trainFlopsPerByte,
    callbacks: {
      onStep: (m) => void bytesAt.set(m.step, bytes += m.bytes),
      onEval: (e) => {
        const seen = bytesAt.get(e.step) ?? bytes;
        curve.push({
          step: e.step,
          bytes: seen,
          flops: seen * run.trainFlopsPerByte,
          bitsPerByte: e.bitsPerByte,
        });
      },
    },
  });
  return {
    name: run.spec.name,
    family: run.spec.family,
    steps,
    parameters: run.parameters,
    trainFlopsPerByte: run.trainFlopsPerByte,
    inferenceFlopsPerByte: run.inferenceFlopsPerByte,
    meanPatchSize: run.meanPatchSize,
    ...(run.threshold === undefined ? {} : { threshold: run.threshold }),
    curve,
    finalBitsPerByte: curve[curve.length - 1].bitsPerByte,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Trains every run at the same training FLOPs budget and returns their BPB-vs-FLOPs curves.
 * Steps are fixed up front (the cosine schedule needs them) from the expected bytes per step;
 * byte windows carry exactly that, BPE windows that on average, so a BPE run's spend lands
 * within a few percent of the budget. The curves use the bytes actually trained on. Runs are
 * built one at a time and their weights freed after, so memory holds one model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { compareAtFlops } from "./compare.ts";
 * await tf.ready(); // the wasm backend (registered on import) initialises asynchronously
 * import { resolveConfig } from "../config.ts";
 * const model = { ...resolveConfig("tiny", { "global.dim": 16, "global.heads": 2 }).global, layers: 1, ffnDim: 32 };
 * const data = { train: ["abc abc abc abc"], validation: ["abc abc"], window: 8, batchSize: 2, seed: 0 };
 * const [r] = await compareAtFlops({ runs: [{ name: "byte", family: "byte", model }], data, budgetFlops: 2e7 });
 * console.log(r.steps, r.curve.length > 0); // 5 true
 * ```
 */
export async function compareAtFlops(options: CompareOptions): Promise<RunResult[]> {
  if (options.runs.length === 0) throw new Error("compareAtFlops: 'runs' is empty; add a RunSpec");
  const context = {
    tokenizers: options.tokenizers ?? new Map<number, BpeTokenizer>(),
    ...(options.entropyModel ? { entropyModel: options.entropyModel } : {}),
  };
  const results: RunResult[] = [];
  for (const spec of options.runs) {
    const run = prepareRun(spec, options.data, context);
    try {
      const result = await runOne(run, options);
      results.push(result);
      await options.onResult?.(result);
    } finally {
      run.model.dispose();
    }
  }
  return results;
}

/**
 * Trains the entropy model (a small byte LM, §2.3) on the training documents; BLT runs in
 * entropy mode patch with it. Its FLOPs are not charged to the BLT budget: as in the paper,
 * patching is data preparation.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { trainEntropyModel } from "./compare.ts";
 * await tf.ready(); // the wasm backend (registered on import) initialises asynchronously
 * import { resolveConfig } from "../config.ts";
 * const model = { ...resolveConfig("tiny", { "global.dim": 16, "global.heads": 2 }).global, layers: 1, ffnDim: 32 };
 * const em = await trainEntropyModel(["abc abc abc"], model, { window: 8, batchSize: 2, steps: 2, seed: 0 });
 * console.log(em.entropies([[1, 101, 102]])[0].length); // 3
 * em.dispose();
 * ```
 */
export async function trainEntropyModel(
  documents: readonly string[],
  config: TransformerConfig,
  options: {
    readonly window: number;
    readonly batchSize: number;
    readonly steps: number;
    readonly seed: number;
    readonly lr?: number;
  },
): Promise<ByteLm> {
  const model = createByteLm(config, options.seed);
  const data = sampleBatches(encodeDocuments(documents), { ...options, seed: options.seed });
  await train({
    model,
    data,
    config: {
      steps: options.steps,
      warmupSteps: Math.max(1, Math.floor(options.steps / 10)),
      evalEvery: 0,
      ...(options.lr === undefined ? {} : { lr: options.lr }),
    },
  });
  return model;
}

/**
 * Least-squares power law BPB ≈ a · C^−b in log–log space, with R² of the log fit. Needs at
 * least two points with distinct positive C.
 *
 * @example
 * ```ts
 * import { fitPowerLaw } from "./compare.ts";
 * const points = [1e9, 1e10, 1e11].map((flops) => ({ flops, bitsPerByte: 20 * flops ** -0.1 }));
 * const { a, b, r2 } = fitPowerLaw(points);
 * console.log(a.toFixed(2), b.toFixed(3), r2.toFixed(3)); // "20.00" "0.100" "1.000"
 * ```
 */
export function fitPowerLaw(
  points: readonly { readonly flops: number; readonly bitsPerByte: number }[],
): { readonly a: number; readonly b: number; readonly r2: number } {
  const good = points.filter((p) => p.flops > 0 && p.bitsPerByte > 0);
  if (new Set(good.map((p) => p.flops)).size < 2) {
    throw new Error(
      `fitPowerLaw: needs ≥ 2 points with distinct flops > 0 and bitsPerByte > 0, found ${good.length}`,
    );
  }
  const xs = good.map((p) => Math.log(p.flops)), ys = good.map((p) => Math.log(p.bitsPerByte));
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n, my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { a: Math.exp(my - slope * mx), b: -slope, r2 };
}
