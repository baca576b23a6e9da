/**
 * Data-parallel training steps on the CPU: tfjs's wasm backend runs one thread under Deno, so
 * `TrainConfig.workers` = N > 1 splits each optimizer step's batches across N Deno module Workers
 * (lib/train/parallel_worker.ts), each running its own wasm backend with an identical model built
 * from the same config. Per step the trainer sends the current weights (transferred
 * Float32Arrays) and each worker's share; each worker returns the gradients of its summed loss
 * (Σ mean · predictions) with the loss sum and counts. The trainer adds them up and divides by the
 * step's predictions exactly as the single-thread path does, then clips and applies AdamW as
 * always: only float rounding differs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
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
    readonly kind: "step";
    /** Current trainable weights, in the order of the `ready` reply's names. */
    readonly weights: Float32Array[];
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
  | {
    readonly kind: "grads";
    /** Σ of the share's gradients per weight (null: the weight got none). */
    readonly grads: (Float32Array | null)[];
    readonly sumNats: number;
    readonly predictions: number;
    readonly bytes: number;
    /** Seconds the worker computed (assign, forward, backward, read-back). */
    readonly seconds: number;
  }
  | { readonly kind: "error"; readonly message: string };

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
  /** Seconds each worker computed in the last step (0 for a worker with no share). */
  lastWorkerSeconds: number[] = [];

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
    const weights = await Promise.all(this.#names.map((n) => ownCopy(named.get(n)!)));
    // One copy per busy worker, all made before the first transfer detaches `weights`.
    const busy = shares.map((share) => share.length > 0);
    const last = busy.lastIndexOf(true);
    const copies = busy.map((b, i) =>
      !b ? [] : i === last ? weights : weights.map((w) => w.slice())
    );
    const replies = await Promise.all(shares.map((share, i) => {
      if (share.length === 0) return Promise.resolve(null);
      const mine = copies[i];
      const msg: ToWorker = { kind: "step", weights: mine, batches: share };
      const what = `at step ${step}; the weights were not updated`;
      return this.#call(i, what, msg, buffers(mine));
    }));
    let sumNats = 0, predictions = 0, bytes = 0;
    const sums: (Float32Array | null)[] = this.#names.map(() => null);
    this.lastWorkerSeconds = replies.map((r) => r?.kind === "grads" ? r.seconds : 0);
    for (const r of replies) {
      if (r === null || r.kind !== "grads") continue;
      sumNats += r.sumNats;
      predictions += r.predictions;
      bytes += r.bytes;
      r.grads.forEach((g, j) => {
        const acc = sums[j];
        if (g === null) return;
        if (acc === null) sums[j] = g;
        else for (let k = 0; k < acc.length; k++) acc[k] += g[k];
      });
    }
    const grads = new Map<string, tf.Tensor>();
    sums.forEach((g, j) => {
      if (g === null) return;
      const shape = this.#shapes[j];
      grads.set(this.#names[j], tf.tensor(g, shape, "float32"));
    });
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
