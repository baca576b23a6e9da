/**
 * The model-agnostic training loop (DESIGN: "the training loop knows nothing about BLT"): AdamW,
 * warm-up + cosine schedule, global-norm clipping, gradient accumulation, seeded data order,
 * periodic validation in bits per byte, atomic checkpoints and exact resume. Everything else
 * (progress displays, plots, sampling) hooks in through {@link TrainCallbacks}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Gather gradients and fast transposed/batched matmuls on the wasm backend (the CPU path).
import "../wasm_kernels.ts";
import "../grad_fixes.ts";
import { bitsPerByteAsync, bitsPerByteFromNats } from "../eval/bpb.ts";
import { AdamW } from "./adamw.ts";
import { type CheckpointData, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { clipScale } from "./clip.ts";
import { resolveTrainConfig, type TrainConfig } from "./config.ts";
import { type GradientWorkers, startGradientWorkers } from "./parallel.ts";
import { type GpuFault, GpuFaultError, gpuFaultError, gpuGuard } from "../gpu/guard.ts";
import { gpuFlush } from "../gpu/dispatch.ts";
import { learningRate } from "./schedule.ts";
import type { Batch, BatchSource, TrainableModel, WorkerModelSpec } from "./types.ts";

/**
 * What one optimizer step reports.
 *
 * @example
 * ```ts
 * import type { StepMetrics } from "./loop.ts";
 * const log = (m: StepMetrics) => console.log(`${m.step} ${m.loss.toFixed(3)} ${m.bytesPerSecond | 0} B/s`);
 * ```
 */
export interface StepMetrics {
  /** Optimizer steps completed, counting this one (1-based). */
  readonly step: number;
  /** Mean training loss of this step's batches, nats per prediction. */
  readonly loss: number;
  /** Training bits per byte of this step's batches. */
  readonly bitsPerByte: number;
  /** Learning rate used for this step. */
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** Bytes of text this step trained on. */
  readonly bytes: number;
  /** Wall-clock seconds of the step (forward, backward, clip, update). */
  readonly seconds: number;
  /**
   * Seconds from the step's start until its forward, backward and clip were queued: the host's
   * time to build them (and, with workers, the workers' time).
   */
  readonly queueSeconds?: number;
  /**
   * Seconds from then until the step's one read-back (loss, norm) arrived: the device finishing
   * the queued work; the next batch's host preparation runs meanwhile.
   */
  readonly readBackSeconds?: number;
  /** Training throughput. */
  readonly bytesPerSecond: number;
  /** Achieved TFLOP/s (`trainFlopsPerByte · bytes / seconds`), or null if FLOPs/byte is unknown. */
  readonly tflops: number | null;
}

/**
 * A validation result.
 *
 * @example
 * ```ts
 * import type { EvalMetrics } from "./loop.ts";
 * const e: EvalMetrics = { step: 100, bitsPerByte: 2.1, lossNats: 1.46, bytes: 4096 };
 * ```
 */
export interface EvalMetrics {
  readonly step: number;
  readonly bitsPerByte: number;
  readonly lossNats: number;
  readonly bytes: number;
}

/**
 * Hooks into the loop; each may be async (the loop awaits it).
 *
 * @example
 * ```ts
 * import type { TrainCallbacks } from "./loop.ts";
 * const callbacks: TrainCallbacks = { shouldStop: (m) => m.loss < 1 };
 * ```
 */
export interface TrainCallbacks {
  /** After every optimizer step. */
  onStep?(metrics: StepMetrics): void | Promise<void>;
  /** After every validation. */
  onEval?(metrics: EvalMetrics): void | Promise<void>;
  /** After a checkpoint is written. */
  onCheckpoint?(info: { readonly step: number; readonly dir: string }): void | Promise<void>;
  /** Return true to end the run after this step (a checkpoint is written first). */
  shouldStop?(metrics: StepMetrics): boolean;
}

/**
 * Inputs of {@link train}.
 *
 * @example
 * ```ts
 * import type { TrainOptions } from "./loop.ts";
 * type Needed = Pick<TrainOptions, "model" | "data">;
 * ```
 */
export interface TrainOptions {
  readonly model: TrainableModel;
  readonly data: BatchSource;
  /** Overrides of the default train config (unknown keys throw). */
  readonly config?: Partial<TrainConfig>;
  /** Validation batches for bits per byte (every `evalEvery` steps and at the end). */
  readonly validation?: readonly Batch[];
  /** Run directory for checkpoints; none are written when absent. */
  readonly checkpointDir?: string;
  readonly callbacks?: TrainCallbacks;
  /** Training FLOPs per byte of the model (see lib/model/flops.ts), for achieved TFLOP/s. */
  readonly trainFlopsPerByte?: number;
  /** Which weights get weight decay (default: rank ≥ 2). */
  readonly decays?: (name: string, variable: tf.Variable) => boolean;
  /** How data-parallel workers (`config.workers` > 1) build the model; BLTs and byte LMs need
   * none (lib/train/parallel_models.ts knows them). */
  readonly workerModel?: WorkerModelSpec;
}

/**
 * What a run returns.
 *
 * @example
 * ```ts
 * import type { TrainResult } from "./loop.ts";
 * const losses = (r: TrainResult) => r.history.map((m) => m.loss);
 * ```
 */
export interface TrainResult {
  /** Optimizer steps completed in total (including steps before a resume). */
  readonly step: number;
  /** True when `shouldStop` ended the run early. */
  readonly stopped: boolean;
  /** Metrics of the steps this call ran. */
  readonly history: readonly StepMetrics[];
  readonly evals: readonly EvalMetrics[];
  /** The newest checkpoint directory, or null. */
  readonly checkpoint: string | null;
}

interface RunState {
  readonly config: TrainConfig;
  readonly optimizer: AdamW;
  /** Data-parallel workers, or null to compute on this thread. */
  readonly workers: GradientWorkers | null;
  step: number;
  nextBatchIndex: number;
  checkpoint: string | null;
  /** The next batch, fetched (and prepared) during the previous step's device work. */
  prefetched: { index: number; batch: Batch } | null;
  /** Rows × bytes of the last micro-batch, e.g. "16×4096" (for error messages). */
  microBatch?: string;
}

/**
 * Forward + backward over `gradAccumulation` micro-batches. The gradients are of the summed loss;
 * `prescale` (1 / predictions) turns them into the mean loss's, applied by the clip and the
 * optimizer instead of one more pass over every gradient.
 */
function accumulate(
  model: TrainableModel,
  data: BatchSource,
  state: RunState,
): {
  grads: Map<string, tf.Tensor>;
  prescale: number;
  sumNats: tf.Scalar;
  predictions: number;
  bytes: number;
} {
  const named = model.namedVariables();
  const nameOf = new Map([...named].map(([name, v]) => [v.name, name]));
  const varList = [...named.values()];
  let sum: Map<string, tf.Tensor> | null = null;
  // Summed on the device: reading a value back synchronously is impossible on WebGPU under Deno
  // (tfjs's readSync needs a canvas), and each read would stall the queue anyway.
  let sumNats: tf.Scalar = tf.scalar(0);
  let predictions = 0;
  let bytes = 0;
  for (let micro = 0; micro < state.config.gradAccumulation; micro++) {
    const ahead = state.prefetched;
    state.prefetched = null;
    const batch = ahead !== null && ahead.index === state.nextBatchIndex
      ? ahead.batch
      : data.batchAt(state.nextBatchIndex);
    state.nextBatchIndex++;
    state.microBatch = `${batch.ids.length}×${batch.ids[0]?.length ?? 0}`;
    let counts = { predictions: 0, bytes: 0 };
    // The loss is summed (mean × count) so accumulated micro-batches weigh by their predictions
    // and the final division gives the exact mean over the whole step.
    const { value, grads } = tf.variableGrads(() => {
      const r = model.loss(batch);
      counts = { predictions: r.predictions, bytes: r.bytes };
      return tf.mul(r.loss, r.predictions) as tf.Scalar;
    }, varList);
    const prevSum = sumNats;
    sumNats = tf.add(prevSum, value);
    prevSum.dispose();
    value.dispose();
    predictions += counts.predictions;
    bytes += counts.bytes;
    if (sum === null) {
      sum = new Map(Object.entries(grads).map(([k, g]) => [nameOf.get(k)!, g]));
    } else {
      for (const [k, g] of Object.entries(grads)) {
        const name = nameOf.get(k)!;
        const prev = sum.get(name)!;
        sum.set(name, tf.add(prev, g));
        prev.dispose();
        g.dispose();
      }
    }
  }
  return { grads: sum!, prescale: 1 / Math.max(1, predictions), sumNats, predictions, bytes };
}

/** Writes a checkpoint; `verify` runs between reading the weights back and writing them. */
async function checkpoint(
  options: TrainOptions,
  state: RunState,
  verify: () => Promise<void>,
): Promise<void> {
  if (options.checkpointDir === undefined) return;
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, v] of options.model.namedVariables()) {
    weights.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
  }
  const data: CheckpointData = {
    step: state.step,
    nextBatchIndex: state.nextBatchIndex,
    modelConfig: options.model.config,
    weights,
    optimizer: await state.optimizer.state(),
    trainConfig: state.config,
  };
  await verify();
  state.checkpoint = await saveCheckpoint(
    options.checkpointDir,
    data,
    state.config.keepCheckpoints,
  );
  await options.callbacks?.onCheckpoint?.({ step: state.step, dir: state.checkpoint });
}

async function evaluate(
  options: TrainOptions,
  state: RunState,
  evals: EvalMetrics[],
): Promise<void> {
  if (options.validation === undefined || options.validation.length === 0) return;
  const r = await bitsPerByteAsync(options.model, options.validation);
  const m = { step: state.step, bitsPerByte: r.bitsPerByte, lossNats: r.lossNats, bytes: r.bytes };
  evals.push(m);
  await options.callbacks?.onEval?.(m);
}

/**
 * While the device runs this step, fetches the next step's first batch and lets the model do its
 * host-side work for it (`TrainableModel.prepare`: the BLT's hash ids, ~40 ms per 16×4096 bytes
 * that the GPU would otherwise wait for). Same batch index, same batch: only earlier.
 */
function prefetch(options: TrainOptions, state: RunState): void {
  const prepare = options.model.prepare;
  if (prepare === undefined || state.workers !== null) return;
  if (state.step + 1 >= state.config.steps) return;
  const index = state.nextBatchIndex;
  const batch = options.data.batchAt(index);
  prepare.call(options.model, batch);
  state.prefetched = { index, batch };
}

// What the wasm backend says when its heap is exhausted (it cannot grow past its maximum).
const WASM_OOM = /memory access out of bounds|out of memory|cannot enlarge memory|OOM/i;

/**
 * An out-of-memory error of the wasm backend as a message that says what to do. The raw one
 * ("memory access out of bounds") names neither the cause nor a way out. Pure. Other errors and
 * other backends' errors are returned unchanged.
 *
 * @example
 * ```ts
 * import { outOfMemoryError } from "./loop.ts";
 * const e = outOfMemoryError(new Error("memory access out of bounds"), "wasm", 110e6, "at step 1") as Error;
 * console.log(e.message.includes("1.76 GB")); // true
 * ```
 */
export function outOfMemoryError(
  e: unknown,
  backend: string,
  weights: number,
  when: string,
): unknown {
  const message = e instanceof Error ? e.message : String(e);
  if (backend !== "wasm" || !WASM_OOM.test(message)) return e;
  const gb = (weights * 16 / 1e9).toFixed(2);
  return new Error(
    `Training stopped ${when}: the wasm backend ran out of memory ("${message}"). The model has ` +
      `${weights} weights, ${gb} GB with their gradients and AdamW's two moments, before any ` +
      "activations; the wasm heap cannot grow past a few GB. Use a smaller preset or a smaller " +
      "batch (gradAccumulation keeps the step's size), or the webgpu backend on a GPU. " +
      "Checkpoints already written are intact.",
    { cause: e },
  );
}

function weightCount(model: TrainableModel): number {
  let n = 0;
  for (const v of model.namedVariables().values()) n += v.size;
  return n;
}

function explainOutOfMemory<T>(f: () => T, model: TrainableModel, when: string): T {
  try {
    return f();
  } catch (e) {
    throw outOfMemoryError(e, tf.getBackend(), weightCount(model), when);
  }
}

async function runExplained(options: TrainOptions, state: RunState): Promise<TrainResult> {
  try {
    return await run(options, state);
  } catch (e) {
    const when = `at step ${state.step + 1}` +
      (state.checkpoint === null ? "" : ` (last good checkpoint: ${state.checkpoint})`);
    throw outOfMemoryError(e, tf.getBackend(), weightCount(options.model), when);
  }
}

async function run(options: TrainOptions, state: RunState): Promise<TrainResult> {
  const { config, optimizer } = state;
  const history: StepMetrics[] = [];
  const evals: EvalMetrics[] = [];
  // WebGPU errors are silent in tfjs: scopes around each step's work and its update (see
  // lib/gpu/guard.ts); null off webgpu.
  const guard = gpuGuard();
  let update: { step: number; check: Promise<GpuFault | null> } | null = null;
  type Phase = "step" | "update" | "checkpoint" | "evaluation";
  const fault = (f: GpuFault, step: number, phase: Phase, cause?: unknown) =>
    new GpuFaultError(
      f,
      gpuFaultError(f, {
        step,
        phase,
        checkpoint: state.checkpoint,
        weights: weightCount(options.model),
        microBatch: state.microBatch ?? undefined,
        gradAccumulation: config.gradAccumulation,
        limits: guard?.limits,
      }, cause),
      step,
    );
  // The last update's answer, awaited when the GPU is idle anyway: after the next read-back, and
  // before anything that reads the weights (evaluation, checkpoint, the end of the run).
  const settleUpdate = async () => {
    if (update === null) return;
    const { step, check } = update;
    update = null;
    const f = await check;
    if (f !== null) throw fault(f, step, "update");
  };
  // An exception inside a step on webgpu: a GPU fault explains it if there was one.
  const explain = async (e: unknown, check: Promise<GpuFault | null>, step: number) => {
    const now = await check;
    if (e instanceof GpuFaultError) return e.step === null ? fault(e.fault, step, "step", e) : e;
    await settleUpdate(); // the last update's fault, if any, is the earlier cause
    const lost = await guard!.lost(now === null ? 200 : 20); // the loss explains the rest
    const f = lost ?? now;
    return f === null ? e : fault(f, step, "step", e);
  };
  // Evaluation and checkpoints read the weights back: a lost device shows up there too.
  // `verify` ends the scopes and throws on a fault: a checkpoint calls it after reading the
  // weights and before writing them, so a bad read never replaces a good checkpoint.
  const readBack = async (phase: Phase, f: (verify: () => Promise<void>) => Promise<void>) => {
    if (guard === null) return await f(async () => {});
    guard.begin();
    let open = true;
    const verify = async () => {
      if (!open) return;
      open = false;
      const now = await guard.end();
      if (now !== null) throw fault(now, state.step, phase);
    };
    try {
      await f(verify);
      await verify();
    } catch (e) {
      let now: GpuFault | null = null;
      if (open) {
        open = false;
        now = await guard.end();
      }
      if (e instanceof GpuFaultError) {
        throw e.step === null ? fault(e.fault, state.step, phase, e) : e;
      }
      const found = (await guard.lost(now === null ? 200 : 20)) ?? now;
      throw found === null ? e : fault(found, state.step, phase, e);
    }
  };
  while (state.step < config.steps) {
    const started = performance.now();
    const lr = learningRate(state.step, config);
    const stepNumber = state.step + 1;
    guard?.begin();
    let acc: {
      grads: Map<string, tf.Tensor>;
      prescale: number;
      sumNats: tf.Scalar;
      predictions: number;
      bytes: number;
    };
    let clip: { scale: tf.Scalar; norm: tf.Scalar };
    let sumNats: number;
    let norm: number;
    let queued = started, readBackAt = started;
    try {
      acc = state.workers === null
        ? accumulate(options.model, options.data, state)
        : await state.workers.accumulate(
          options.model,
          Array.from({ length: config.gradAccumulation }, () =>
            options.data.batchAt(state.nextBatchIndex++)),
          state.step + 1,
        );
      // Gradients of the summed loss; prescale (1 / predictions) makes them the mean loss's.
      clip = clipScale(acc.grads, config.gradClip, acc.prescale);
      // One read-back per step: the loss and the norm, needed before the update (NaN check).
      const both = tf.stack([acc.sumNats, clip.norm]);
      queued = performance.now();
      // The next batch's host work while the GPU runs this step's: on Deno, tfjs-webgpu's
      // read-back (mapAsync) holds the thread until the GPU is done, so it comes after.
      gpuFlush();
      prefetch(options, state);
      [sumNats, norm] = await both.data();
      readBackAt = performance.now();
      tf.dispose([both, acc.sumNats, clip.norm]);
    } catch (e) {
      throw guard === null ? e : await explain(e, guard.end(), stepNumber);
    }
    if (guard !== null) {
      // The GPU is idle here (the read-back waited for it), so asking costs nothing.
      const now = await guard.end();
      await settleUpdate();
      if (now !== null) {
        acc.grads.forEach((g) => g.dispose());
        clip.scale.dispose();
        throw fault(now, stepNumber, "step");
      }
    }
    const grads = acc.grads;
    const loss = sumNats / acc.predictions;
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      grads.forEach((g) => g.dispose());
      clip.scale.dispose();
      const what = !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${norm}`;
      throw new Error(
        `Training stopped at step ${state.step + 1}: ${what}; the weights were not updated. ` +
          `Last good checkpoint: ${state.checkpoint ?? "none (no checkpoint written yet)"}. ` +
          "Lower the learning rate or tighten gradClip, then resume from it.",
      );
    }
    guard?.begin();
    try {
      optimizer.apply(grads, lr, clip.scale);
    } catch (e) {
      throw guard === null ? e : await explain(e, guard.end(), stepNumber);
    }
    if (guard !== null) update = { step: stepNumber, check: guard.end() };
    grads.forEach((g) => g.dispose());
    clip.scale.dispose();
    state.step += 1;
    const seconds = (performance.now() - started) / 1000;
    const metrics: StepMetrics = {
      step: state.step,
      loss,
      bitsPerByte: bitsPerByteFromNats(sumNats, acc.bytes),
      lr,
      gradNorm: norm,
      bytes: acc.bytes,
      seconds,
      queueSeconds: (queued - started) / 1000,
      readBackSeconds: (readBackAt - queued) / 1000,
      bytesPerSecond: acc.bytes / seconds,
      tflops: options.trainFlopsPerByte === undefined
        ? null
        : (options.trainFlopsPerByte * acc.bytes) / seconds / 1e12,
    };
    history.push(metrics);
    await options.callbacks?.onStep?.(metrics);
    const last = state.step === config.steps;
    if ((config.evalEvery > 0 && state.step % config.evalEvery === 0) || last) {
      await settleUpdate();
      await readBack("evaluation", () => evaluate(options, state, evals));
    }
    const stop = options.callbacks?.shouldStop?.(metrics) === true;
    if (stop || last || (config.checkpointEvery > 0 && state.step % config.checkpointEvery === 0)) {
      await settleUpdate(); // never write a checkpoint after a faulty update
      await readBack("checkpoint", (verify) => checkpoint(options, state, verify));
    }
    if (stop) {
      return { step: state.step, stopped: true, history, evals, checkpoint: state.checkpoint };
    }
  }
  await settleUpdate();
  return { step: state.step, stopped: false, history, evals, checkpoint: state.checkpoint };
}

/**
 * Trains `model` on `data` for `config.steps` optimizer steps and returns the metrics. A NaN or
 * infinite loss or gradient stops the run with an Error naming the step (the weights keep their
 * last finite values and the last checkpoint stays the newest).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { train } from "./loop.ts";
 * await tf.ready(); // importing the trainer registers the wasm backend, which loads asynchronously
 * const logits = tf.variable(tf.zeros([260]), true, "doc_unigram_logits");
 * const model = {
 *   config: { kind: "unigram" },
 *   namedVariables: () => new Map([["logits", logits]]),
 *   loss: (b: { ids: readonly (readonly number[])[] }) => {
 *     const targets = b.ids.flatMap((row) => row.slice(1));
 *     const loss = tf.tidy(() =>
 *       tf.neg(tf.mean(tf.gather(tf.logSoftmax(logits), targets))) as tf.Scalar
 *     );
 *     return { loss, predictions: targets.length, bytes: targets.length };
 *   },
 * };
 * const data = { batchAt: () => ({ ids: [[1, 72, 73, 72, 73]] }) };
 * const r = await train({ model, data, config: { steps: 20, warmupSteps: 2, lr: 0.1 } });
 * console.log(r.history[19].loss < r.history[0].loss); // true
 * logits.dispose();
 * ```
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const config = resolveTrainConfig(options.config ?? {});
  const optimizer = explainOutOfMemory(
    () => new AdamW(options.model.namedVariables(), config, options.decays),
    options.model,
    "while allocating AdamW's moments",
  );
  let workers: GradientWorkers | null = null;
  try {
    workers = await startGradientWorkers(options.model, config.workers, options.workerModel);
    const state: RunState = {
      config,
      optimizer,
      workers,
      step: 0,
      nextBatchIndex: 0,
      checkpoint: null,
      prefetched: null,
    };
    return await runExplained(options, state);
  } finally {
    optimizer.dispose();
    workers?.terminate();
  }
}

/** Copies checkpoint weights into the model's variables, checking names and shapes. */
function loadWeights(model: TrainableModel, weights: CheckpointData["weights"], dir: string): void {
  const named = model.namedVariables();
  for (const name of weights.keys()) {
    if (!named.has(name)) {
      throw new Error(
        `Checkpoint ${dir} has weight '${name}' that the model lacks; it belongs to another model`,
      );
    }
  }
  for (const [name, v] of named) {
    const w = weights.get(name);
    if (w === undefined || w.shape.join() !== v.shape.join()) {
      throw new Error(
        `Checkpoint ${dir}: weight '${name}' ${
          w === undefined ? "is missing" : `has shape [${w.shape}]`
        }, ` +
          `the model expects [${v.shape}]; build the model with the checkpoint's config.json`,
      );
    }
    tf.tidy(() => v.assign(tf.tensor(w.data, v.shape, "float32")));
  }
}

/**
 * Continues a run from its newest checkpoint (`dir`: the run directory or one step directory):
 * weights, AdamW state, step, data position and train config come from the checkpoint, so on a
 * deterministic backend the losses continue exactly as the uninterrupted run's. `model` must be
 * built with the checkpoint's config; `options.config` may override keys (e.g. more `steps`).
 * New checkpoints go to `options.checkpointDir`, by default the checkpoint's run directory.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { resume } from "./loop.ts";
 * const model = { config: null, namedVariables: () => new Map<string, tf.Variable>(), loss: () => ({ loss: tf.scalar(0), predictions: 1, bytes: 1 }) };
 * await resume("/nonexistent", { model, data: { batchAt: () => ({ ids: [] }) } })
 *   .catch((e) => console.log(e.message.startsWith("No checkpoint"))); // true
 * ```
 */
export async function resume(dir: string, options: TrainOptions): Promise<TrainResult> {
  const ckpt = await loadCheckpoint(dir);
  if (JSON.stringify(ckpt.modelConfig) !== JSON.stringify(options.model.config)) {
    throw new Error(
      `resume: the model's config differs from ${ckpt.dir}/config.json; build the model from that config`,
    );
  }
  const config = resolveTrainConfig(
    options.config ?? {},
    resolveTrainConfig(ckpt.trainConfig ?? {}),
  );
  loadWeights(options.model, ckpt.weights, ckpt.dir);
  const optimizer = explainOutOfMemory(
    () => new AdamW(options.model.namedVariables(), config, options.decays),
    options.model,
    "while allocating AdamW's moments",
  );
  let workers: GradientWorkers | null = null;
  try {
    optimizer.load(ckpt.optimizer);
    workers = await startGradientWorkers(options.model, config.workers, options.workerModel);
    const slash = ckpt.dir.lastIndexOf("/");
    const runDir = slash >= 0 ? ckpt.dir.slice(0, slash) : ".";
    const resumed = { ...options, checkpointDir: options.checkpointDir ?? runDir };
    return await runExplained(resumed, {
      config,
      optimizer,
      workers,
      step: ckpt.step,
      nextBatchIndex: ckpt.nextBatchIndex,
      checkpoint: ckpt.dir,
      prefetched: null,
    });
  } finally {
    optimizer.dispose();
    workers?.terminate();
  }
}
