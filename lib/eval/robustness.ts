/**
 * Robustness probes (paper §6.1–6.2, Tables 3–4) for any model family through
 * {@link ScoringModel}: bits per byte on held-out text clean vs noised, HellaSwag-style multiple
 * choice with noise on the context, the endings or both (5 noises × 3 targets = the paper's 15
 * variants), and character tasks after a brief fine-tune. {@link robustnessProbes} runs all three.
 *
 * Noised bits per byte is per byte of the *noised* text (AntSpeak doubles the bytes to code).
 *
 * @module
 */
import { bitsPerByteAsync } from "./bpb.ts";
import type { CharExample, CharTask } from "./char_tasks.ts";
import { charTaskAccuracy, finetuneCharTasks, type FinetuneOptions } from "./char_finetune.ts";
import {
  choiceAccuracy,
  type ChoiceItem,
  noiseItems,
  type NoiseTarget,
} from "./multiple_choice.ts";
import { applyNoise, type NoiseName, NOISES } from "./noise.ts";
import { continuationLogProbs, textBatches } from "./robustness_likelihood.ts";
import type { ScoringModel } from "./robustness_scoring.ts";

/**
 * The paper's five noises (Table 3's noised HellaSwag).
 *
 * @example
 * ```ts
 * import { PAPER_NOISES } from "./robustness.ts";
 * console.log(PAPER_NOISES.length); // 5
 * ```
 */
export const PAPER_NOISES: readonly NoiseName[] = Object.freeze([
  "AntSpeak",
  "Drop",
  "RandomCase",
  "Repeat",
  "UpperCase",
]);

/**
 * Which noises to apply and how: names (default {@link PAPER_NOISES}), rates overriding the
 * defaults of random noises (each in [0, 1]), and the seed (uint32) every noised text derives from.
 *
 * @example
 * ```ts
 * import type { NoiseSetting } from "./robustness.ts";
 * const s: NoiseSetting = { noises: ["Drop", "UpperCase"], rates: { Drop: 0.2 }, seed: 1 };
 * ```
 */
export interface NoiseSetting {
  readonly noises?: readonly NoiseName[];
  readonly rates?: Partial<Record<NoiseName, number>>;
  readonly seed?: number;
}

/** Validated noise names and a noiser `(name, text, index) → text` seeded per index. */
function noiser(setting: NoiseSetting): {
  names: readonly NoiseName[];
  apply: (name: NoiseName, text: string, index: number) => string;
} {
  const { noises = PAPER_NOISES, rates = {}, seed = 0 } = setting;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`robustness: seed must be an integer in [0, 2^32), found ${seed}`);
  }
  for (const name of [...noises, ...Object.keys(rates)]) {
    if (!Object.hasOwn(NOISES, name)) {
      throw new Error(
        `robustness: unknown noise '${name}'; expected one of ${Object.keys(NOISES).join(", ")}`,
      );
    }
  }
  for (const [name, rate] of Object.entries(rates)) {
    if (typeof rate !== "number" || !(rate >= 0 && rate <= 1)) {
      throw new Error(`robustness: rates.${name} must be a number in [0, 1], found ${rate}`);
    }
    if (NOISES[name as NoiseName].defaultRate === null) {
      throw new Error(`robustness: noise ${name} is deterministic; remove rates.${name}`);
    }
  }
  return {
    names: noises,
    apply: (name, text, index) => {
      const s = (seed + index * 7919) >>> 0, rate = rates[name];
      return applyNoise(name, text, rate === undefined ? { seed: s } : { seed: s, rate });
    },
  };
}

function checkModels(models: readonly ScoringModel[], where: string): void {
  if (models.length === 0) throw new Error(`${where}: 'models' is empty; pass ≥ 1 ScoringModel`);
}

/**
 * Bits per byte of one family on one noise ("clean" for the unnoised text).
 *
 * @example
 * ```ts
 * import type { BpbRow } from "./robustness.ts";
 * const r: BpbRow = { family: "BLT", noise: "Drop", bitsPerByte: 2.4, bytes: 1800 };
 * ```
 */
export interface BpbRow {
  readonly family: string;
  readonly noise: "clean" | NoiseName;
  readonly bitsPerByte: number;
  /** Bytes (and EOS) the measure covers. */
  readonly bytes: number;
}

/**
 * Bits per byte of each model on `texts`, clean and under each noise.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { noisedBitsPerByte } from "./robustness.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const rows = await noisedBitsPerByte([byteScoring("byte", lm)], ["some text"], {
 *   noises: ["UpperCase"], window: 16, batchSize: 2,
 * });
 * console.log(rows.map((r) => r.noise)); // ["clean", "UpperCase"]
 * lm.dispose();
 * ```
 */
export async function noisedBitsPerByte(
  models: readonly ScoringModel[],
  texts: readonly string[],
  options: NoiseSetting & { readonly window: number; readonly batchSize: number },
): Promise<BpbRow[]> {
  checkModels(models, "noisedBitsPerByte");
  const { names, apply } = noiser(options);
  const variants: ["clean" | NoiseName, string[]][] = [
    ["clean", [...texts]],
    ...names.map((n) => [n, texts.map((t, i) => apply(n, t, i))] as [NoiseName, string[]]),
  ];
  const rows: BpbRow[] = [];
  for (const model of models) {
    for (const [noise, noised] of variants) {
      const r = await bitsPerByteAsync(model.model, textBatches(model, noised, options));
      rows.push({ family: model.name, noise, bitsPerByte: r.bitsPerByte, bytes: r.bytes });
    }
  }
  return rows;
}

/**
 * Multiple-choice accuracy of one family under one noise and target, and its drop from clean.
 *
 * @example
 * ```ts
 * import type { ChoiceRow } from "./robustness.ts";
 * const r: ChoiceRow = { family: "BPE", noise: "RandomCase", target: "both", accuracy: 0.3, drop: 0.1 };
 * ```
 */
export interface ChoiceRow {
  readonly family: string;
  readonly noise: "clean" | NoiseName;
  /** Where the noise went; "none" for the clean row. */
  readonly target: NoiseTarget | "none";
  readonly accuracy: number;
  /** Clean accuracy minus this accuracy (0 for the clean row). */
  readonly drop: number;
}

/**
 * Accuracy of each model on `items`, clean and for every noise × target (the paper's variants),
 * choosing the ending with the highest log-likelihood per byte.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { noisedChoiceAccuracy } from "./robustness.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const items = [{ context: "the cat", endings: [" sat", " xq"], label: 0 }];
 * const rows = await noisedChoiceAccuracy([byteScoring("byte", lm)], items, { noises: ["Drop"] });
 * console.log(rows.length); // 4 (clean + Drop on context, endings, both)
 * lm.dispose();
 * ```
 */
export async function noisedChoiceAccuracy(
  models: readonly ScoringModel[],
  items: readonly ChoiceItem[],
  options: NoiseSetting & {
    readonly targets?: readonly NoiseTarget[];
    readonly batchSize?: number;
  } = {},
): Promise<ChoiceRow[]> {
  checkModels(models, "noisedChoiceAccuracy");
  if (items.length === 0) throw new Error("noisedChoiceAccuracy: 'items' is empty");
  const { names, apply } = noiser(options);
  const targets = options.targets ?? ["context", "endings", "both"];
  const rows: ChoiceRow[] = [];
  for (const model of models) {
    const score = (context: string, endings: readonly string[]) =>
      continuationLogProbs(model, endings.map((continuation) => ({ context, continuation })), {
        batchSize: options.batchSize ?? 8,
      });
    const clean = await choiceAccuracy(items, score);
    rows.push({ family: model.name, noise: "clean", target: "none", accuracy: clean, drop: 0 });
    for (const noise of names) {
      for (const target of targets) {
        const noised = noiseItems(items, (t, i) => apply(noise, t, i), target);
        const accuracy = await choiceAccuracy(noised, score);
        rows.push({ family: model.name, noise, target, accuracy, drop: clean - accuracy });
      }
    }
  }
  return rows;
}

/**
 * Exact-match accuracy of one family on one character task after fine-tuning.
 *
 * @example
 * ```ts
 * import type { CharTaskRow } from "./robustness.ts";
 * const r: CharTaskRow = { family: "BLT", task: "spelling", accuracy: 0.4 };
 * ```
 */
export interface CharTaskRow {
  readonly family: string;
  readonly task: CharTask | "mean";
  readonly accuracy: number;
}

/**
 * Fine-tunes each model (in place) on `train` examples, then scores held-out `test` examples;
 * rows per task plus a "mean" row over all test examples.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { charTaskProbe } from "./robustness.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const ex = [{ task: "spelling" as const, prompt: "Spell ab:", answer: "a b" }];
 * const rows = await charTaskProbe([byteScoring("byte", lm)], { train: ex, test: ex, finetune: { steps: 1, batchSize: 1, seed: 0 } });
 * console.log(rows.map((r) => r.task)); // ["spelling", "mean"]
 * lm.dispose();
 * ```
 */
export async function charTaskProbe(
  models: readonly ScoringModel[],
  options: {
    readonly train: readonly CharExample[];
    readonly test: readonly CharExample[];
    readonly finetune: FinetuneOptions;
  },
): Promise<CharTaskRow[]> {
  checkModels(models, "charTaskProbe");
  const rows: CharTaskRow[] = [];
  for (const model of models) {
    await finetuneCharTasks(model, options.train, options.finetune);
    const score = await charTaskAccuracy(model, options.test);
    for (const [task, accuracy] of Object.entries(score.perTask)) {
      rows.push({ family: model.name, task: task as CharTask, accuracy });
    }
    rows.push({ family: model.name, task: "mean", accuracy: score.mean });
  }
  return rows;
}

/**
 * Inputs of {@link robustnessProbes}: held-out texts for BPB, choice items, character examples.
 *
 * @example
 * ```ts
 * import type { ProbeOptions } from "./robustness.ts";
 * type Window = ProbeOptions["bpb"]["window"];
 * ```
 */
export interface ProbeOptions extends NoiseSetting {
  readonly bpb: {
    readonly texts: readonly string[];
    readonly window: number;
    readonly batchSize: number;
  };
  readonly choice: {
    readonly items: readonly ChoiceItem[];
    readonly targets?: readonly NoiseTarget[];
  };
  readonly charTasks: {
    readonly train: readonly CharExample[];
    readonly test: readonly CharExample[];
    readonly finetune: FinetuneOptions;
  };
}

/**
 * The three probes for every model, from one call; character tasks run last because their
 * fine-tune changes the models' weights.
 *
 * @example
 * ```ts
 * import type { robustnessProbes } from "./robustness.ts";
 * type Result = Awaited<ReturnType<typeof robustnessProbes>>; // { bpb, choice, charTasks }
 * ```
 */
export async function robustnessProbes(
  models: readonly ScoringModel[],
  options: ProbeOptions,
): Promise<{ bpb: BpbRow[]; choice: ChoiceRow[]; charTasks: CharTaskRow[] }> {
  const noise = { noises: options.noises, rates: options.rates, seed: options.seed };
  const bpb = await noisedBitsPerByte(models, options.bpb.texts, { ...noise, ...options.bpb });
  const choice = await noisedChoiceAccuracy(models, options.choice.items, {
    ...noise,
    targets: options.choice.targets,
  });
  const charTasks = await charTaskProbe(models, options.charTasks);
  return { bpb, choice, charTasks };
}

/**
 * Per family: clean accuracy, mean accuracy over the noised variants, and their difference (the
 * paper's "noise avg." column of Table 3).
 *
 * @example
 * ```ts
 * import { choiceSummary } from "./robustness.ts";
 * const s = choiceSummary([
 *   { family: "BLT", noise: "clean", target: "none", accuracy: 0.5, drop: 0 },
 *   { family: "BLT", noise: "Drop", target: "both", accuracy: 0.4, drop: 0.1 },
 * ]);
 * console.log(s[0].noisedMean); // 0.4
 * ```
 */
export function choiceSummary(
  rows: readonly ChoiceRow[],
): { family: string; clean: number; noisedMean: number; drop: number }[] {
  const families = [...new Set(rows.map((r) => r.family))];
  return families.map((family) => {
    const mine = rows.filter((r) => r.family === family);
    const clean = mine.find((r) => r.noise === "clean");
    const noised = mine.filter((r) => r.noise !== "clean");
    if (clean === undefined || noised.length === 0) {
      throw new Error(`choiceSummary: family '${family}' needs a clean row and ≥ 1 noised row`);
    }
    const noisedMean = noised.reduce((s, r) => s + r.accuracy, 0) / noised.length;
    return { family, clean: clean.accuracy, noisedMean, drop: clean.accuracy - noisedMean };
  });
}
