/**
 * Command lines of `deno task train` and `deno task sample`: parsing, help texts, and the entry
 * points that run them (`pipeline_run.ts` does the work). Bad input throws an Error naming the
 * flag, what was expected and what was found, before any data or model is touched.
 *
 * @module
 */
import { setupBackend } from "../backend.ts";
import { type PresetName, PRESETS, resolveConfig } from "../config.ts";
import { resolveTrainConfig, type TrainConfig } from "./config.ts";
import { runSample, runTrain } from "./pipeline_run.ts";

/**
 * Help text of `deno task train`.
 *
 * @example
 * ```ts
 * import { TRAIN_HELP } from "./cli.ts";
 * console.log(TRAIN_HELP.includes("--set")); // true
 * ```
 */
export const TRAIN_HELP = `Train an entropy model or a BLT (paper arXiv 2412.09871).

Usage: deno task train [options]

  --model entropy|blt     what to train (default blt). blt first trains the entropy model (or
                          reuses one cached under <cache>/entropy-models/, or --entropy-model),
                          scores the corpus with it (cached under <cache>/entropies/), calibrates
                          θ to --target-patch-size, then trains the BLT on entropy patches.
  --preset tiny|small|medium   model shapes (default tiny); window and batch follow the preset
  --corpus <name|dir>     brown-small (default, embedded), brown, nlp-corpus, or a directory
                          holding train.jsonl and validation.jsonl
  --set key=value         override a config key; repeatable. Dotted model keys as in
                          resolveConfig ("global.layers=2", "patching.mode=space",
                          "entropyModel.dim=32"); trainer keys start with "train."
                          ("train.lr=1e-3", "train.checkpointEvery=100"). Values are JSON
                          (numbers, true/false, null) or else plain strings.
  --steps N               optimizer steps (default 1000); the cosine schedule ends there
  --minutes M             stop the BLT (or entropy) run after M minutes, checkpointing first;
                          the schedule still follows --steps
  --window T              bytes per training window (default: the preset's, 1024 for tiny)
  --batch B               windows per batch (default: the preset's, 8 for tiny)
  --seed S                seed of weights and data order (default 0)
  --target-patch-size N   calibrate θ to N bytes per patch (default 4.5; 0 keeps the config's θ)
  --entropy-model <dir>   use this entropy-model checkpoint instead of training one
  --entropy-steps N       steps of the entropy model's training (default: --steps)
  --val-batches N         validation batches for BPB (default 8; 0 = the whole split)
  --out <dir>             run directory (default out/runs/<model>-<preset>-<time>)
  --resume <dir>          continue the run in <dir>; its run.json decides every setting not
                          given, and settings given must match it
  --cache <dir>           cache directory (default out/cache)
  --workers N             CPU backends: split each step's batches across N worker threads,
                          each with its own wasm backend (default 1: train on this thread);
                          same results up to float rounding, not recorded in run.json
  --help                  this text

Environment: BLT_BACKEND=webgpu|wasm|cpu forces the tfjs backend.
Ctrl-C stops after the current step and writes a checkpoint; a second Ctrl-C exits at once.
Checkpoints are written atomically, so an interrupted write never corrupts one.
`;

/**
 * Help text of `deno task sample`.
 *
 * @example
 * ```ts
 * import { SAMPLE_HELP } from "./cli.ts";
 * console.log(SAMPLE_HELP.includes("--top-p")); // true
 * ```
 */
export const SAMPLE_HELP = `Generate bytes from a trained model.

Usage: deno task sample --run <dir> [options]

  --run <dir>             a run directory of \`deno task train\` (or one of its step-* dirs)
  --prompt <text>         text to continue (default: none, generation starts after BOS)
  --bytes N               bytes to generate (default 200)
  --temperature T         softmax temperature; 0 = greedy (default 0.8)
  --top-k K               keep the K most likely bytes (default: all)
  --top-p P               nucleus sampling: keep the most likely bytes up to mass P (default 1)
  --seed S                sampling seed (default 0)
  --help                  this text
`;

/**
 * Parsed `deno task train` arguments; `given` lists the flags that appeared (resume compares
 * only those with the run's recorded settings).
 *
 * @example
 * ```ts
 * import { parseTrainArgs, type TrainArgs } from "./cli.ts";
 * const a: TrainArgs = parseTrainArgs(["--preset", "tiny", "--set", "global.layers=2"]);
 * console.log(a.overrides); // { "global.layers": 2 }
 * ```
 */
export interface TrainArgs {
  readonly help: boolean;
  readonly model: "entropy" | "blt";
  readonly preset: PresetName;
  readonly corpus: string;
  /** Model config overrides, dotted keys. */
  readonly overrides: Readonly<Record<string, unknown>>;
  /** Trainer overrides (the `train.` keys without the prefix). */
  readonly train: Partial<TrainConfig>;
  readonly steps?: number;
  readonly minutes?: number;
  readonly window?: number;
  readonly batch?: number;
  readonly seed: number;
  readonly targetPatchSize: number;
  readonly entropyModel?: string;
  readonly entropySteps?: number;
  readonly valBatches: number;
  readonly out?: string;
  readonly resume?: string;
  readonly cache: string;
  /** Data-parallel workers (`TrainConfig.workers`); a machine setting, not part of run.json. */
  readonly workers: number;
  readonly given: ReadonlySet<string>;
}

/**
 * Parsed `deno task sample` arguments.
 *
 * @example
 * ```ts
 * import { parseSampleArgs, type SampleArgs } from "./cli.ts";
 * const a: SampleArgs = parseSampleArgs(["--run", "out/runs/x", "--top-k", "5"]);
 * console.log(a.topK, a.bytes); // 5 200
 * ```
 */
export interface SampleArgs {
  readonly help: boolean;
  readonly run: string;
  readonly prompt: string;
  readonly bytes: number;
  readonly temperature: number;
  readonly topK: number | null;
  readonly topP: number | null;
  readonly seed: number;
}

const TRAIN_FLAGS = [
  "help",
  "model",
  "preset",
  "corpus",
  "set",
  "steps",
  "minutes",
  "window",
  "batch",
  "seed",
  "target-patch-size",
  "entropy-model",
  "entropy-steps",
  "val-batches",
  "out",
  "resume",
  "cache",
  "workers",
] as const;
const SAMPLE_FLAGS = ["help", "run", "prompt", "bytes", "temperature", "top-k", "top-p", "seed"];

/** Splits argv into (flag, value) pairs; `--flag=value` and `--flag value` both work. */
function pairs(argv: readonly string[], flags: readonly string[], command: string) {
  const out: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      throw new Error(
        `${command}: unexpected argument '${arg}'; options start with -- (see --help)`,
      );
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!flags.includes(name)) {
      throw new Error(
        `${command}: unknown option '--${name}'; known options: ${
          flags.map((f) => `--${f}`).join(", ")
        }`,
      );
    }
    if (name === "help") {
      out.push([name, "true"]);
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`${command}: option '--${name}' needs a value`);
    out.push([name, value]);
  }
  return out;
}

function number(flag: string, value: string, min: number, integer: boolean): number {
  const x = Number(value);
  if (value.trim() === "" || !Number.isFinite(x) || x < min || (integer && !Number.isInteger(x))) {
    throw new Error(
      `--${flag} must be ${integer ? "an integer" : "a number"} ≥ ${min}, found '${value}'`,
    );
  }
  return x;
}

/** A `--set` value: JSON when it parses (numbers, booleans, null, arrays), else the string. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Parses and checks `deno task train` arguments: unknown options, an unknown preset, unknown
 * config keys (checked with `resolveConfig` / `resolveTrainConfig`) and bad numbers throw.
 *
 * @example
 * ```ts
 * import { parseTrainArgs } from "./cli.ts";
 * const a = parseTrainArgs(["--model=entropy", "--steps", "3", "--set", "train.lr=0.01"]);
 * console.log(a.model, a.steps, a.train); // "entropy" 3 { lr: 0.01 }
 * try {
 *   parseTrainArgs(["--preset", "huge"]);
 * } catch (e) {
 *   console.log((e as Error).message); // "--preset: unknown preset 'huge'; expected one of tiny, small, medium"
 * }
 * ```
 */
export function parseTrainArgs(argv: readonly string[]): TrainArgs {
  const given = new Set<string>();
  const overrides: Record<string, unknown> = {};
  const train: Record<string, unknown> = {};
  const a: Record<string, unknown> = {
    help: false,
    model: "blt",
    preset: "tiny",
    corpus: "brown-small",
    seed: 0,
    targetPatchSize: 4.5,
    valBatches: 8,
    cache: "out/cache",
    workers: 1,
  };
  for (const [flag, value] of pairs(argv, TRAIN_FLAGS, "train")) {
    given.add(flag);
    switch (flag) {
      case "help":
        a.help = true;
        break;
      case "model":
        if (value !== "entropy" && value !== "blt") {
          throw new Error(`--model must be 'entropy' or 'blt', found '${value}'`);
        }
        a.model = value;
        break;
      case "preset":
        if (!(value in PRESETS)) {
          throw new Error(
            `--preset: unknown preset '${value}'; expected one of ${
              Object.keys(PRESETS).join(", ")
            }`,
          );
        }
        a.preset = value;
        break;
      case "set": {
        const eq = value.indexOf("=");
        if (eq <= 0) {
          throw new Error(`--set expects key=value (e.g. global.layers=2), found '${value}'`);
        }
        const key = value.slice(0, eq);
        if (key.startsWith("train.")) train[key.slice(6)] = parseValue(value.slice(eq + 1));
        else overrides[key] = parseValue(value.slice(eq + 1));
        break;
      }
      case "steps":
      case "window":
      case "batch":
      case "entropy-steps":
        a[camel(flag)] = number(flag, value, flag === "window" ? 2 : 1, true);
        break;
      case "workers":
        a.workers = number(flag, value, 1, true);
        break;
      case "seed":
      case "val-batches":
        a[camel(flag)] = number(flag, value, 0, true);
        break;
      case "minutes":
      case "target-patch-size":
        a[camel(flag)] = number(flag, value, 0, false);
        break;
      default:
        a[camel(flag)] = value;
    }
  }
  try {
    resolveConfig(a.preset as PresetName, overrides);
  } catch (e) {
    throw new Error(`--set: ${(e as Error).message}`);
  }
  if ("workers" in train) {
    // `--set train.workers=N` is `--workers N`: a machine setting, kept out of run.json.
    if (given.has("workers")) throw new Error("give --workers or --set train.workers, not both");
    a.workers = number("set train.workers", String(train.workers), 1, true);
    delete train.workers;
  }
  try {
    resolveTrainConfig(train as Partial<TrainConfig>);
  } catch (e) {
    throw new Error(`--set train.*: ${(e as Error).message}`);
  }
  if ((a.minutes as number | undefined) === 0) throw new Error("--minutes must be > 0, found 0");
  return { ...a, overrides, train, given } as unknown as TrainArgs;
}

function camel(flag: string): string {
  return flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
}

/**
 * Parses and checks `deno task sample` arguments.
 *
 * @example
 * ```ts
 * import { parseSampleArgs } from "./cli.ts";
 * const a = parseSampleArgs(["--run=out/runs/x", "--prompt", "The", "--temperature", "0"]);
 * console.log(a.prompt, a.temperature, a.topP); // "The" 0 null
 * ```
 */
export function parseSampleArgs(argv: readonly string[]): SampleArgs {
  const a: Record<string, unknown> = {
    help: false,
    prompt: "",
    bytes: 200,
    temperature: 0.8,
    topK: null,
    topP: null,
    seed: 0,
  };
  for (const [flag, value] of pairs(argv, SAMPLE_FLAGS, "sample")) {
    if (flag === "help") a.help = true;
    else if (flag === "run" || flag === "prompt") a[flag] = value;
    else if (flag === "temperature") a.temperature = number(flag, value, 0, false);
    else if (flag === "top-p") {
      a.topP = number(flag, value, 0, false);
      if ((a.topP as number) === 0 || (a.topP as number) > 1) {
        throw new Error(`--top-p must lie in (0, 1], found '${value}'`);
      }
    } else a[camel(flag)] = number(flag, value, flag === "top-k" ? 1 : 0, true);
  }
  if (!a.help && a.run === undefined) {
    throw new Error("sample: --run <dir> is required (a run directory of `deno task train`)");
  }
  return a as unknown as SampleArgs;
}

/** Runs `body` with Ctrl-C wired to an AbortSignal: the first stops gracefully, a second exits. */
async function withInterrupt<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(130);
    console.error(
      "\nInterrupted: stopping after this step and writing a checkpoint (Ctrl-C again quits)",
    );
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    return await body(controller.signal);
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

/** Prints an Error's message (not a stack) and returns exit code 1. */
function fail(e: unknown): number {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  if (e instanceof Deno.errors.NotCapable) {
    console.error(
      "The deno tasks read only the project and Deno's cache and write only under out/: keep " +
        "corpora and --out/--cache directories there, or run scripts/train.ts (or sample.ts) " +
        "with `deno run` and the --allow-read/--allow-write paths you need.",
    );
  }
  return 1;
}

/**
 * Entry point of `deno task train`: parses `argv`, picks the backend, trains; returns the exit
 * code (0 done, 1 bad input or failure, 130 interrupted).
 *
 * @example
 * ```ts
 * import { trainMain } from "./cli.ts";
 * console.log(await trainMain(["--preset", "huge"])); // 1 (and prints the error)
 * ```
 */
export async function trainMain(argv: readonly string[]): Promise<number> {
  try {
    const args = parseTrainArgs(argv);
    if (args.help) {
      console.log(TRAIN_HELP);
      return 0;
    }
    await setupBackend();
    const s = await withInterrupt((signal) => runTrain(args, { log: console.log, signal }));
    const bpb = s.validationBpb === null ? "" : `, validation bpb ${s.validationBpb.toFixed(4)}`;
    console.log(
      `${s.stopped ? "stopped" : "done"} at step ${s.step}${bpb}; checkpoint ${s.checkpoint}`,
    );
    return s.stopped ? 130 : 0;
  } catch (e) {
    return fail(e);
  }
}

/**
 * Entry point of `deno task sample`: prints the prompt and its continuation; returns the exit code.
 *
 * @example
 * ```ts
 * import { sampleMain } from "./cli.ts";
 * console.log(await sampleMain(["--bytes", "10"])); // 1 (--run is required)
 * ```
 */
export async function sampleMain(argv: readonly string[]): Promise<number> {
  try {
    const args = parseSampleArgs(argv);
    if (args.help) {
      console.log(SAMPLE_HELP);
      return 0;
    }
    await setupBackend({ log: () => {} });
    console.log(await runSample(args, { log: console.error }));
    return 0;
  } catch (e) {
    return fail(e);
  }
}
