/**
 * Data-parallel training steps on the CPU: tfjs's wasm backend runs one thread under Deno, so
 * `TrainConfig.workers` = N > 1 splits each optimizer step's batches across N Deno module Workers
 * (lib/train/parallel_worker.ts), each running its own wasm backend with an identical model built
 * from the same config. Per step the trainer writes the current weights into one
 * SharedArrayBuffer that every worker reads and sends each worker its share; each worker writes
 * the gradients of its summed loss (Σ mean · predictions) into its own shared buffer and returns
 * the loss sum and counts. The trainer adds them up and divides by the
 * step's predictions exactly as the single-thread path does, then clips and applies AdamW as
 * always: only float rounding differs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { Batch, TrainableModel, WorkerModelSpec } from "./types.ts";

/**
 * Messages to a worker.
 *
 * @example
 * ```ts
 * import type { ToWorker } from "./parallel.ts";
 * const kinds: ToWorker["kind"][] = ["init", "step"];
 * ```
 */
export type ToWorker =
  | {
    readonly kind: "init";
    readonly backend: string;
    readonly spec: WorkerModelSpec;
    /** Weights that do not train (a BLT's entropy model), sent once. */
    readonly frozen: readonly { name: string; shape: number[]; data: Float32Array }[];
  }
  | {
    /** Shared memory, sent once after `ready`: the trainable weights (the trainer writes them
     * before each step) and this worker's gradients (it writes them before replying), each
     * weight at `offsets[j]` floats in the `ready` reply's order. */
    readonly kind: "share";
    readonly weights: SharedArrayBuffer;
    readonly grads: SharedArrayBuffer;
    readonly offsets: number[];
  }
  | {
    /** One step over `batches`, from the weights now in the shared buffer. */
    readonly kind: "step";
    readonly batches: readonly Batch[];
  };

/**
 * Messages from a worker.
 *
 * @example
 * ```ts
 * import type { FromWorker } from "./parallel.ts";
 * const kinds: FromWorker["kind"][] = ["ready", "grads", "error"];
 * ```
 */
export type FromWorker =
  | { readonly kind: "ready"; readonly names: string[]; readonly shapes: number[][] }
  | { readonly kind: "shared" }
  | {
    readonly kind: "grads";
    /** Per weight: whether the share's Σ of gradients is in the shared buffer (false: the
     * weight got none). */
    readonly present: boolean[];
    readonly sumNats: number;
    readonly predictions: number;
    readonly bytes: number;
    /** Seconds the worker computed (assign, forward, backward, read-back). */
    readonly seconds: number;
    /** Milliseconds of the parts: weights assigned, each batch's forward + backward (with the
     * running sum), gradients read back. */
    readonly parts: WorkerParts;
  }
  | { readonly kind: "error"; readonly message: string };

/**
 * Milliseconds a worker spent on the parts of one step.
 *
 * @example
 * ```ts
 * import type { WorkerParts } from "./parallel.ts";
 * const busy = (p: WorkerParts) => p.assignMs + p.batchMs.reduce((a, b) => a + b, 0) + p.readMs;
 * ```
 */
export interface WorkerParts {
  readonly assignMs: number;
  readonly batchMs: readonly number[];
  readonly readMs: number;
}

/**
 * Milliseconds of the parts of the trainer's last {@link GradientWorkers.accumulate}: writing the
 * weights to shared memory (`readWeightsMs`; `copyWeightsMs` is 0 since all workers read that
 * one copy), each worker's round trip (send to reply, its own parts inside), and summing the
 * workers' gradients into new tensors (`sumMs`; `tensorsMs` is 0: the sum is written in place).
 *
 * @example
 * ```ts
 * import type { StepParts } from "./parallel.ts";
 * const idle = (s: StepParts) => Math.max(...s.roundTripMs) - Math.min(...s.roundTripMs);
 * ```
 */
export interface StepParts {
  readonly readWeightsMs: number;
  readonly copyWeightsMs: number;
  readonly roundTripMs: readonly number[];
  readonly workers: readonly (WorkerParts | null)[];
  readonly sumMs: number;
  readonly tensorsMs: number;
}

/**
 * What one step's gradient accumulation gives the trainer (the single-thread path's shape):
 * gradients of the summed loss with `prescale` = 1 / predictions (the mean loss's gradients are
 * grads · prescale; the trainer folds it into clipping and the optimizer), and the summed loss
 * in nats.
 *
 * @example
 * ```ts
 * import type { Accumulated } from "./parallel.ts";
 * const mean = (a: Accumulated, sumNats: number) => sumNats / a.predictions;
 * ```
 */
export interface Accumulated {
  readonly grads: Map<string, tf.Tensor>;
  readonly prescale: number;
  readonly sumNats: tf.Scalar;
  readonly predictions: number;
  readonly bytes: number;
}

/**
 * Rows `[from, to)` of a batch (ids, patch lengths, target mask).
 *
 * @example
 * ```ts
 * import { sliceRows } from "./parallel.ts";
 * console.log(sliceRows({ ids: [[1, 5], [1, 6], [1, 7]] }, 1, 3).ids); // [[1, 6], [1, 7]]
 * ```
 */
export function sliceRows(batch: Batch, from: number, to: number): Batch {
  return {
    ids: batch.ids.slice(from, to),
    ...(batch.patchLengths ? { patchLengths: batch.patchLengths.slice(from, to) } : {}),
    ...(batch.targetMask ? { targetMask: batch.targetMask.slice(from, to) } : {}),
  };
}

/**
 * Splits one step's (micro-)batches into `n` shares: whole batches while they divide evenly
 * (G = 4 micro-batches over 2 workers: two each), and the remaining batches by rows into `n`
 * contiguous, near-equal parts. Row splits keep every sum exact because each model's summed loss
 * (mean · predictions) is a sum over rows. A share may be empty (fewer rows than workers).
 *
 * @example
 * ```ts
 * import { splitShares } from "./parallel.ts";
 * const b = (x: number) => ({ ids: [[1, x], [1, x + 1]] });
 * console.log(splitShares([b(4), b(6), b(8)], 2).map((s) => s.map((x) => x.ids.length)));
 * // [[2, 1], [2, 1]]: one whole batch each, the third split by rows
 * ```
 */
export function splitShares(batches: readonly Batch[], n: number): Batch[][] {
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`splitShares: the number of workers must be an integer ≥ 1, found ${n}`);
  }
  const shares: Batch[][] = Array.from({ length: n }, () => []);
  const whole = batches.length - (batches.length % n);
  const per = whole / n;
  for (let w = 0; w < n; w++) shares[w].push(...batches.slice(w * per, (w + 1) * per));
  for (const batch of batches.slice(whole)) {
    const rows = batch.ids.length;
    for (let w = 0; w < n; w++) {
      const from = Math.floor((w * rows) / n), to = Math.floor(((w + 1) * rows) / n);
      if (to > from) shares[w].push(sliceRows(batch, from, to));
    }
  }
  return shares;
}

/** A readable copy of a tensor's values that may be transferred to a worker. */
async function ownCopy(v: tf.Tensor): Promise<Float32Array> {
  const data = (await v.data()) as Float32Array;
  // wasm's read-back is already a fresh copy; the cpu backend returns its own storage.
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  return tf.getBackend() === "wasm" && whole ? data : data.slice();
}

/**
 * Float offsets of each weight in a shared buffer (16-byte aligned) and the buffer's size in
 * floats.
 *
 * @example
 * ```ts
 * import { sharedLayout } from "./parallel.ts";
 * console.log(sharedLayout([[2, 3], [5]])); // { offsets: [0, 8], floats: 16 }
 * ```
 */
export function sharedLayout(shapes: readonly (readonly number[])[]): {
  offsets: number[];
  floats: number;
} {
  const offsets: number[] = [];
  let at = 0;
  for (const shape of shapes) {
    offsets.push(at);
    at += Math.ceil(shape.reduce((a, b) => a * b, 1) / 4) * 4;
  }
  return { offsets, floats: at };
}

/**
 * `t`'s values without a copy where the backend allows: a view of the wasm heap (valid until the
 * next allocation) or the cpu backend's own array. Read it, never write it.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { valuesOf } from "./parallel.ts";
 * await tf.setBackend("cpu");
 * console.log(Array.from(valuesOf(tf.tensor1d([1, 2])))); // [1, 2]
 * ```
 */
export function valuesOf(t: tf.TensorInfo): Float32Array {
  if (tf.getBackend() === "wasm") {
    return (tf.backend() as BackendWasm).typedArrayFromHeap(t) as Float32Array;
  }
  return tf.engine().backend.readSync(t.dataId) as Float32Array;
}

/**
 * A new float32 tensor of `shape` whose values `fill` writes (into the wasm heap in place, or a
 * fresh array elsewhere).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tensorFilled } from "./parallel.ts";
 * await tf.setBackend("cpu");
 * console.log(tensorFilled([3], (out) => out.fill(7)).arraySync()); // [7, 7, 7]
 * ```
 */
export function tensorFilled(shape: number[], fill: (out: Float32Array) => void): tf.Tensor {
  if (tf.getBackend() === "wasm") {
    const wasm = tf.backend() as BackendWasm;
    const out = wasm.makeOutput(shape, "float32");
    fill(wasm.typedArrayFromHeap(out) as Float32Array); // the view after the allocation
    return tf.engine().makeTensorFromTensorInfo(out);
  }
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(values);
  return tf.tensor(values, shape, "float32");
}

/** The buffers to transfer with arrays that each own their whole buffer. */
function buffers(arrays: readonly Float32Array[]): ArrayBuffer[] {
  return arrays.map((a) => a.buffer as ArrayBuffer);
}

type Pending = {
  readonly resolve: (m: FromWorker) => void;
  readonly reject: (e: Error) => void;
  readonly what: string;
};

/**
 * N workers that compute gradients for the trainer. Start with {@link startGradientWorkers};
 * always {@link GradientWorkers.terminate} (the trainer does, on success, error and stop).
 *
 * @example
 * ```ts
 * import type { GradientWorkers } from "./parallel.ts";
 * const stop = (w: GradientWorkers | null) => w?.terminate();
 * ```
 */
export class GradientWorkers {
  readonly #workers: Worker[];
  readonly #pending: (Pending | null)[];
  readonly #failed: (Error | null)[];
  #names: string[] = [];
  #shapes: number[][] = [];
  /** Float offsets of the weights in the shared buffers. */
  #offsets: number[] = [];
  /** The weights the workers read, and each worker's gradients. */
  #weights: Float32Array = new Float32Array(0);
  #grads: Float32Array[] = [];
  /** Seconds each worker computed in the last step (0 for a worker with no share). */
  lastWorkerSeconds: number[] = [];
  /** Where the last step's time went (for profiling), or null before the first. */
  lastParts: StepParts | null = null;

  private constructor(count: number) {
    const url = new URL("./parallel_worker.ts", import.meta.url).href;
    this.#pending = Array.from({ length: count }, () => null);
    this.#failed = Array.from({ length: count }, () => null);
    this.#workers = Array.from({ length: count }, (_, i) => {
      const w = new Worker(url, { type: "module" });
      w.onmessage = (e: MessageEvent<FromWorker>) => this.#settle(i, e.data);
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault(); // an uncaught worker error must not take the trainer down with it
        this.#fail(i, e.message);
      };
      w.onmessageerror = () => this.#fail(i, "a message could not be deserialised");
      return w;
    });
  }

  /** Number of workers. */
  get count(): number {
    return this.#workers.length;
  }

  #settle(i: number, m: FromWorker): void {
    const p = this.#pending[i];
    this.#pending[i] = null;
    if (p === null) return;
    if (m.kind === "error") p.reject(this.#error(i, p.what, m.message));
    else p.resolve(m);
  }

  #fail(i: number, message: string): void {
    const p = this.#pending[i];
    this.#pending[i] = null;
    const e = this.#error(i, p?.what ?? "while idle", message);
    if (p === null) this.#failed[i] = e;
    else p.reject(e);
  }

  #error(i: number, what: string, message: string): Error {
    return new Error(`Worker ${i + 1} of ${this.count} failed ${what}: ${message}`);
  }

  #call(i: number, what: string, msg: ToWorker, transfer: Transferable[]): Promise<FromWorker> {
    const failed = this.#failed[i];
    if (failed !== null) return Promise.reject(failed);
    const reply = new Promise<FromWorker>((resolve, reject) => {
      this.#pending[i] = { resolve, reject, what };
      this.#workers[i].postMessage(msg, transfer);
    });
    // Handled here too: after another worker's failure nobody awaits this one any more.
    reply.catch(() => {});
    return reply;
  }

  /**
   * Starts `count` workers, each building `spec`'s model on `backend`, and checks that their
   * trainable weights match `model`'s by name and shape. Frozen weights (those in
   * `model.allVariables()` but not `namedVariables()`) are copied to them once.
   */
  static async start(
    model: TrainableModel,
    count: number,
    spec: WorkerModelSpec,
    backend: string,
  ): Promise<GradientWorkers> {
    const pool = new GradientWorkers(count);
    try {
      const named = model.namedVariables();
      const all = (model as { allVariables?: () => Map<string, tf.Variable> }).allVariables?.() ??
        new Map<string, tf.Variable>();
      const replies = await Promise.all(pool.#workers.map(async (_, i) => {
        const frozen = [];
        for (const [name, v] of all) {
          if (!named.has(name)) frozen.push({ name, shape: v.shape, data: await ownCopy(v) });
        }
        const init: ToWorker = { kind: "init", backend, spec, frozen };
        return await pool.#call(i, "while starting", init, buffers(frozen.map((f) => f.data)));
      }));
      const expected = [...named].map(([n, v]) => `${n} [${v.shape}]`).join(", ");
      for (const [i, r] of replies.entries()) {
        const got = r.kind === "ready" ? r.names.map((n, j) => `${n} [${r.shapes[j]}]`) : [];
        if (got.join(", ") !== expected) {
          throw new Error(
            `Worker ${i + 1} of ${count} built a model whose weights differ from the trainer's ` +
              `(${spec.module} ${spec.factory}); the factory must build the same model from ` +
              "the same config",
          );
        }
      }
      pool.#names = [...named.keys()];
      pool.#shapes = [...named.values()].map((v) => v.shape);
      // Weights and gradients travel through shared memory: one copy of the weights for all
      // workers, and no per-step allocation or transfer of ~size-of-the-model arrays.
      const { offsets, floats } = sharedLayout(pool.#shapes);
      pool.#offsets = offsets;
      const weights = new SharedArrayBuffer(4 * floats);
      pool.#weights = new Float32Array(weights);
      await Promise.all(pool.#workers.map((_, i) => {
        const grads = new SharedArrayBuffer(4 * floats);
        pool.#grads.push(new Float32Array(grads));
        const share: ToWorker = { kind: "share", weights, grads, offsets };
        return pool.#call(i, "while starting", share, []);
      }));
      return pool;
    } catch (e) {
      pool.terminate();
      throw e;
    }
  }

  /**
   * One step's gradients over `batches` (the step's micro-batches), computed by the workers from
   * `model`'s current weights; `step` (1-based) names the step in errors.
   */
  async accumulate(
    model: TrainableModel,
    batches: readonly Batch[],
    step: number,
  ): Promise<Accumulated> {
    const shares = splitShares(batches, this.count);
    const named = model.namedVariables();
    const t0 = performance.now();
    this.#names.forEach((n, j) => this.#weights.set(valuesOf(named.get(n)!), this.#offsets[j]));
    const t1 = performance.now();
    const roundTripMs = shares.map(() => 0);
    const replies = await Promise.all(shares.map(async (share, i) => {
      if (share.length === 0) return null;
      const msg: ToWorker = { kind: "step", batches: share };
      const what = `at step ${step}; the weights were not updated`;
      const sent = performance.now();
      const reply = await this.#call(i, what, msg, []);
      roundTripMs[i] = performance.now() - sent;
      return reply;
    }));
    const t2 = performance.now();
    let sumNats = 0, predictions = 0, bytes = 0;
    this.lastWorkerSeconds = replies.map((r) => r?.kind === "grads" ? r.seconds : 0);
    const from: Float32Array[][] = this.#names.map(() => []);
    replies.forEach((r, i) => {
      if (r === null || r.kind !== "grads") return;
      sumNats += r.sumNats;
      predictions += r.predictions;
      bytes += r.bytes;
      r.present.forEach((has, j) => {
        if (has) from[j].push(this.#grads[i]);
      });
    });
    // Σ over workers in worker order (float32 adds, as before), written into the new tensors.
    const grads = new Map<string, tf.Tensor>();
    from.forEach((parts, j) => {
      if (parts.length === 0) return;
      const shape = this.#shapes[j], at = this.#offsets[j];
      const size = shape.reduce((a, b) => a * b, 1);
      grads.set(
        this.#names[j],
        tensorFilled(shape, (out) => {
          out.set(parts[0].subarray(at, at + size));
          for (const g of parts.slice(1)) {
            for (let k = 0; k < size; k++) out[k] += g[at + k];
          }
        }),
      );
    });
    this.lastParts = {
      readWeightsMs: t1 - t0,
      copyWeightsMs: 0,
      roundTripMs,
      workers: replies.map((r) => r?.kind === "grads" ? r.parts : null),
      sumMs: performance.now() - t2,
      tensorsMs: 0,
    };
    const prescale = 1 / Math.max(1, predictions);
    return { grads, prescale, sumNats: tf.scalar(sumNats), predictions, bytes };
  }

  /** Stops every worker at once (idempotent). */
  terminate(): void {
    for (const [i, w] of this.#workers.entries()) {
      w.terminate();
      const p = this.#pending[i];
      this.#pending[i] = null;
      p?.reject(new Error(`Worker ${i + 1} of ${this.count} was terminated`));
    }
  }
}

/**
 * Starts the workers of `TrainConfig.workers` = `count`, or returns null for count ≤ 1 (the
 * trainer then computes on its own thread). The workers run the trainer's backend, which must be
 * a CPU one (wasm or cpu); `spec` says how a worker builds the model, by default the BLT or byte
 * LM factory of lib/train/parallel_models.ts.
 *
 * @example
 * ```ts
 * import { startGradientWorkers } from "./parallel.ts";
 * const model = { config: null, namedVariables: () => new Map(), loss: () => { throw new Error(); } };
 * console.log(await startGradientWorkers(model, 1)); // null
 * ```
 */
export async function startGradientWorkers(
  model: TrainableModel,
  count: number,
  spec?: WorkerModelSpec,
): Promise<GradientWorkers | null> {
  if (count <= 1) return null;
  const backend = tf.getBackend();
  if (backend !== "wasm" && backend !== "cpu") {
    throw new Error(
      `workers: ${count} splits steps across CPU workers (wasm or cpu backend), but the trainer ` +
        `runs on '${backend}'; use workers 1 there, or BLT_BACKEND=wasm to train on the CPU`,
    );
  }
  const resolved = spec ?? (await import("./parallel_models.ts")).workerModelSpecFor(model);
  if (resolved === null) {
    throw new Error(
      `workers: ${count} needs to know how a worker builds this model: pass ` +
        "TrainOptions.workerModel (a module URL and its factory, see WorkerModelSpec); only " +
        "the BLT and the byte LM are known without it",
    );
  }
  return await GradientWorkers.start(model, count, resolved, backend);
}
