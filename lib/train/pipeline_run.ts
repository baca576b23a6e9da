/**
 * What `deno task train` and `deno task sample` do once their arguments are parsed: a run
 * directory with `run.json` (the settings, so `--resume` and `sample` need nothing else), the
 * trainer's checkpoints, the entropy model a BLT patches with (`entropy_model/`), progress
 * output, a time budget and a graceful Ctrl-C (stop after the step, checkpoint, exit).
 *
 * @module
 */
import {
  type BltConfig,
  PRESET_SHAPES,
  type PresetName,
  resolveConfig,
  validateConfig,
} from "../config.ts";
import * as tf from "@tensorflow/tfjs";
import { generateAsync } from "../eval/generate.ts";
import { exists } from "../fs.ts";
import type { ByteLm } from "../model/byte_lm.ts";
import type { SampleArgs, TrainArgs } from "./cli.ts";
import { resolveCheckpointDir } from "./checkpoint.ts";
import type { EvalMetrics, StepMetrics, TrainCallbacks, TrainResult } from "./loop.ts";
import { loadEncodedCorpus, trainBlt, trainEntropyModel } from "./pipeline.ts";
import { entropyModelFor, loadBlt, loadByteLm, saveModel } from "./pipeline_models.ts";
import { ProgressBar } from "./progress.ts";

/** Format tag of run.json. */
const RUN_FORMAT = "blt-notebooks/run/1";

/**
 * The settings a run directory records in `run.json`.
 *
 * @example
 * ```ts
 * import type { RunSettings } from "./pipeline_run.ts";
 * const s: RunSettings = {
 *   format: "blt-notebooks/run/1", model: "entropy", preset: "tiny", overrides: {}, train: {},
 *   corpus: "brown-small", window: 1024, batch: 8, seed: 0, steps: 1000, targetPatchSize: 4.5,
 * };
 * ```
 */
export interface RunSettings {
  readonly format: string;
  readonly model: "entropy" | "blt";
  readonly preset: PresetName;
  readonly overrides: Readonly<Record<string, unknown>>;
  readonly train: Readonly<Record<string, unknown>>;
  readonly corpus: string;
  readonly window: number;
  readonly batch: number;
  readonly seed: number;
  readonly steps: number;
  readonly targetPatchSize: number;
}

/**
 * Where output goes, and how a run is interrupted (the CLI wires SIGINT to `signal`).
 *
 * @example
 * ```ts
 * import type { RunIo } from "./pipeline_run.ts";
 * const io: RunIo = { log: () => {}, write: () => {}, tty: false };
 * ```
 */
export interface RunIo {
  readonly log: (line: string) => void;
  /** Progress output (default stdout). */
  readonly write?: (text: string) => void;
  readonly tty?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * What {@link runTrain} returns.
 *
 * @example
 * ```ts
 * import type { TrainSummary } from "./pipeline_run.ts";
 * const line = (s: TrainSummary) => `${s.dir}: ${s.step} steps, val bpb ${s.validationBpb}`;
 * ```
 */
export interface TrainSummary {
  readonly dir: string;
  readonly step: number;
  readonly stopped: boolean;
  readonly validationBpb: number | null;
  readonly checkpoint: string | null;
  /** θ and mean patch size the BLT trained with (null for an entropy-model run). */
  readonly threshold: number | null;
  readonly meanPatchSize: number | null;
}

async function readRun(dir: string): Promise<RunSettings> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/run.json`);
  } catch (e) {
    throw new Error(
      `--resume/--run ${dir}: cannot read ${dir}/run.json (${(e as Error).message}); pass the ` +
        "--out directory of an earlier `deno task train`",
    );
  }
  const run = JSON.parse(text) as RunSettings;
  if (run.format !== RUN_FORMAT) {
    throw new Error(`${dir}/run.json: format must be '${RUN_FORMAT}', found '${run.format}'`);
  }
  return run;
}

/** First dotted path where two JSON values differ, or null. */
function firstDifference(a: unknown, b: unknown, path = ""): string | null {
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(
        (a as Record<string, unknown>)[key],
        (b as Record<string, unknown>)[key],
        path ? `${path}.${key}` : key,
      );
      if (d !== null) return d;
    }
    return null;
  }
  return a === b ? null : path || "(value)";
}

/**
 * On the CPU backends, splits a batch into micro-batches with gradient accumulation so dense
 * [b, H, T, T] attention stays small: the wasm heap tops out near 2 GB, and the tiny preset's
 * 8 × 1024 batch in one piece overflowed it ("Invalid typed array length"). Same effective batch;
 * the user's own train.gradAccumulation wins.
 */
export function microBatching(
  batch: number,
  window: number,
  backend: string,
  train: Readonly<Record<string, unknown>>,
): { batchSize: number; gradAccumulation?: number } {
  if (backend === "webgpu" || train.gradAccumulation !== undefined) return { batchSize: batch };
  const fits = Math.max(1, Math.floor(2 ** 21 / (window * window))); // rows per micro-batch
  let micro = Math.min(batch, fits);
  while (batch % micro !== 0) micro--;
  return micro === batch
    ? { batchSize: batch }
    : { batchSize: micro, gradAccumulation: batch / micro };
}

/** The settings of this command: from the flags, or on resume from run.json checked against them. */
async function settingsOf(args: TrainArgs): Promise<RunSettings> {
  const fresh: RunSettings = {
    format: RUN_FORMAT,
    model: args.model,
    preset: args.preset,
    overrides: args.overrides,
    train: args.train,
    corpus: args.corpus,
    window: args.window ?? PRESET_SHAPES[args.preset].seqLen,
    batch: args.batch ?? PRESET_SHAPES[args.preset].batchSize,
    seed: args.seed,
    steps: args.steps ?? 1000,
    targetPatchSize: args.targetPatchSize,
  };
  if (args.resume === undefined) return fresh;
  const run = await readRun(args.resume);
  const flags: [string, keyof RunSettings][] = [
    ["model", "model"],
    ["preset", "preset"],
    ["corpus", "corpus"],
    ["window", "window"],
    ["batch", "batch"],
    ["seed", "seed"],
    ["target-patch-size", "targetPatchSize"],
  ];
  for (const [flag, key] of flags) {
    if (args.given.has(flag) && fresh[key] !== run[key]) {
      throw new Error(
        `--resume ${args.resume} is a run with --${flag} ${run[key]}, this command asks for ` +
          `${
            fresh[key]
          }: a resume directory from another config; drop --${flag} or start a new run`,
      );
    }
  }
  if (args.given.has("set")) {
    // Overrides given on resume must agree with the run's; keys not given keep its values.
    const here = resolveConfig(run.preset, { ...run.overrides, ...args.overrides });
    const there = resolveConfig(run.preset, run.overrides);
    const diff = firstDifference(there, here);
    if (diff !== null) {
      throw new Error(
        `--resume ${args.resume} was trained with another config: '${diff}' differs from its ` +
          `run.json; drop that --set or start a new run`,
      );
    }
  }
  const train = { ...run.train, ...args.train };
  return { ...run, train, steps: args.steps ?? run.steps };
}

async function writeRun(dir: string, settings: RunSettings): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${dir}/.run.json.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(settings, null, 2) + "\n");
  await Deno.rename(tmp, `${dir}/run.json`);
}

/** Progress callbacks plus the stop rule (time budget or interrupt). */
function callbacksFor(
  label: string,
  steps: number,
  minutes: number | undefined,
  io: RunIo,
): TrainCallbacks & { finish(): void } {
  const budget = minutes === undefined ? undefined : minutes * 60;
  const bar = new ProgressBar({
    steps,
    budgetSeconds: budget,
    label,
    write: io.write,
    tty: io.tty,
  });
  const started = performance.now();
  return {
    onStep: bar.onStep,
    onEval: (e: EvalMetrics) => bar.onEval(e),
    shouldStop: (_m: StepMetrics) =>
      io.signal?.aborted === true ||
      (budget !== undefined && (performance.now() - started) / 1000 >= budget),
    finish: () => bar.finish(),
  };
}

function lastEval(result: TrainResult): number | null {
  return result.evals.length === 0 ? null : result.evals[result.evals.length - 1].bitsPerByte;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-");
}

/** The BLT config a checkpoint was trained with (θ included). */
async function checkpointConfig(dir: string): Promise<BltConfig> {
  const step = await resolveCheckpointDir(dir);
  const json = JSON.parse(await Deno.readTextFile(`${step}/config.json`));
  return validateConfig(json, `${step}/config.json`);
}

/** The entropy model a BLT run patches with: the run's own on resume, given, or cached/trained. */
async function entropyModelOf(
  args: TrainArgs,
  s: RunSettings,
  dir: string,
  config: BltConfig,
  corpus: Awaited<ReturnType<typeof loadEncodedCorpus>>,
  io: RunIo,
): Promise<ByteLm | "stopped"> {
  if (args.resume !== undefined) return await loadByteLm(`${dir}/entropy_model`);
  if (args.entropyModel !== undefined) return await loadByteLm(args.entropyModel);
  const steps = args.entropySteps ?? s.steps;
  const callbacks = callbacksFor("entropy", steps, undefined, io);
  const micro = microBatching(s.batch, s.window, tf.getBackend(), s.train);
  const r = await entropyModelFor(config.entropyModel!, corpus, {
    window: s.window,
    batchSize: micro.batchSize,
    seed: s.seed,
    train: { ...s.train, ...pick(micro), steps, workers: args.workers },
    validationBatches: args.valBatches || Infinity,
    cacheDir: args.cache,
    callbacks,
  });
  callbacks.finish();
  if (r.stopped) {
    r.model.dispose();
    io.log(`entropy model interrupted; it resumes from ${r.dir} on the next run`);
    return "stopped";
  }
  io.log(`entropy model: ${r.hit ? "reused" : "trained"} ${r.dir}`);
  return r.model;
}

/**
 * Runs `deno task train` with parsed arguments: writes `<dir>/run.json`, trains, checkpoints into
 * `<dir>`, and returns a summary. See `TRAIN_HELP` in cli.ts for the flags.
 *
 * @example
 * ```ts
 * import { parseTrainArgs } from "./cli.ts";
 * import { runTrain } from "./pipeline_run.ts";
 * const args = parseTrainArgs(["--corpus", "/nonexistent/corpus"]);
 * await runTrain(args, { log: () => {} }).catch((e) => console.log(e.message.slice(0, 12))); // "Corpus file "
 * ```
 */
export async function runTrain(args: TrainArgs, io: RunIo): Promise<TrainSummary> {
  const s = await settingsOf(args);
  const config = resolveConfig(s.preset, s.overrides);
  if (
    config.entropyModel === null && (s.model === "entropy" || config.patching.mode === "entropy")
  ) {
    throw new Error(
      "--set entropyModel=null leaves no entropy model to train or patch with; remove it, or " +
        "with --model blt set patching.mode to space, static or byte",
    );
  }
  const corpus = await loadEncodedCorpus(s.corpus, s.window);
  const dir = args.resume ?? args.out ?? `out/runs/${s.model}-${s.preset}-${timestamp()}`;
  io.log(
    `${s.model} (${s.preset}) on ${corpus.name}: ${corpus.train.length} training documents, ` +
      `window ${s.window}, batch ${s.batch}, ${s.steps} steps → ${dir}`,
  );
  if (args.resume === undefined) await writeRun(dir, s);
  const micro = microBatching(s.batch, s.window, tf.getBackend(), s.train);
  if (micro.gradAccumulation !== undefined) {
    io.log(
      `batch ${s.batch} runs as ${micro.gradAccumulation} micro-batches of ${micro.batchSize} ` +
        `(gradient accumulation) to fit the ${tf.getBackend()} backend's memory`,
    );
  }
  const stage = {
    window: s.window,
    batchSize: micro.batchSize,
    seed: s.seed,
    // workers is a machine setting: it goes to the trainer, not into run.json.
    train: { ...s.train, ...pick(micro), steps: s.steps, workers: args.workers },
    validationBatches: args.valBatches || Infinity,
    checkpointDir: dir,
    resumeFrom: args.resume,
  };
  if (s.model === "entropy") {
    const callbacks = callbacksFor("entropy", s.steps, args.minutes, io);
    const { model, result } = await trainEntropyModel(config.entropyModel!, corpus, {
      ...stage,
      callbacks,
    });
    callbacks.finish();
    model.dispose();
    return summary(dir, result, null, null);
  }
  let lm: ByteLm | null = null;
  if (config.patching.mode === "entropy") {
    const got = await entropyModelOf(args, s, dir, config, corpus, io);
    if (got === "stopped") {
      return {
        dir,
        step: 0,
        stopped: true,
        validationBpb: null,
        checkpoint: null,
        threshold: null,
        meanPatchSize: null,
      };
    }
    lm = got;
    if (args.resume === undefined) {
      await saveModel(`${dir}/entropy_model`, lm.config, lm.params.variables());
    }
  }
  try {
    const callbacks = callbacksFor("blt", s.steps, args.minutes, io);
    const run = await trainBlt(
      args.resume === undefined ? config : await checkpointConfig(dir),
      lm,
      corpus,
      {
        ...stage,
        cacheDir: args.cache,
        targetPatchSize: args.resume !== undefined || s.targetPatchSize === 0
          ? undefined
          : s.targetPatchSize,
        callbacks,
      },
    );
    callbacks.finish();
    run.model.dispose();
    if (run.cacheHit !== null) io.log(`entropies: ${run.cacheHit ? "cached" : "computed"}`);
    io.log(
      `patching: ${run.config.patching.mode}, θ = ${run.config.patching.threshold.toFixed(4)}, ` +
        `mean patch size ${run.meanPatchSize.toFixed(2)} bytes`,
    );
    return summary(dir, run.result, run.config.patching.threshold, run.meanPatchSize);
  } finally {
    lm?.dispose();
  }
}

function summary(
  dir: string,
  result: TrainResult,
  threshold: number | null,
  meanPatchSize: number | null,
): TrainSummary {
  return {
    dir,
    step: result.step,
    stopped: result.stopped,
    validationBpb: lastEval(result),
    checkpoint: result.checkpoint,
    threshold,
    meanPatchSize,
  };
}

/**
 * Runs `deno task sample`: loads the run's newest checkpoint (and a BLT's entropy model), then
 * generates with `lib/eval/generate.ts` (KV-cached, seeded; async read-backs, so webgpu works
 * too). Returns prompt + generated text.
 *
 * @example
 * ```ts
 * import { parseSampleArgs } from "./cli.ts";
 * import { runSample } from "./pipeline_run.ts";
 * await runSample(parseSampleArgs(["--run", "/nonexistent"]), { log: () => {} })
 *   .catch((e) => console.log(e.message.includes("run.json"))); // true
 * ```
 */
export async function runSample(args: SampleArgs, io: RunIo): Promise<string> {
  // A step directory's run.json lives one level up.
  const parent = args.run.replace(/\/+$/, "").replace(/\/[^/]*$/, "") || ".";
  const runDir = !(await exists(`${args.run}/run.json`)) && (await exists(`${parent}/run.json`))
    ? parent
    : args.run;
  const run = await readRun(runDir);
  const patcher = `${runDir}/entropy_model`;
  const model = run.model === "entropy"
    ? await loadByteLm(args.run)
    : await loadBlt(args.run, (await exists(patcher)) ? patcher : null);
  try {
    const out = await generateAsync(model, args.prompt, {
      maxBytes: args.bytes,
      sampling: { temperature: args.temperature, topK: args.topK, topP: args.topP },
      seed: args.seed,
    });
    io.log(`${run.model} model from ${runDir}: ${out.generated.length} bytes (${out.stop})`);
    return args.prompt + out.text;
  } finally {
    model.dispose();
  }
}

function pick(m: { gradAccumulation?: number }): { gradAccumulation?: number } {
  return m.gradAccumulation === undefined ? {} : { gradAccumulation: m.gradAccumulation };
}
