/**
 * Catches what the GPU says during a training step. tfjs's webgpu backend never looks at WebGPU's
 * errors: a buffer that could not be allocated (out of memory) or is over the device's binding
 * limit becomes an invalid object, the step runs on, and the user sees at best "Buffer with ''
 * label is invalid" at the next read-back, at worst a NaN loss or weights silently overwritten.
 * The trainer opens WebGPU error scopes (out-of-memory, validation, internal) around each step
 * and listens for the device being lost; {@link gpuFaultError} turns a fault into a message that
 * names the cause, the step and the last good checkpoint.
 *
 * Cost: three scopes pushed and popped per step; the pop's answer is awaited only after the next
 * step's read-back (or before a checkpoint, an evaluation or the end of the run), so no step waits
 * for it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** What went wrong on the GPU. */
export interface GpuFault {
  /** WebGPU's error filter that caught it, or "device lost". */
  readonly kind: "out-of-memory" | "validation" | "internal" | "device lost";
  /** WebGPU's own message (for a lost device: reason and message). */
  readonly message: string;
}

/** The device's sizes that explain a fault (bytes). */
export interface GpuLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/** What {@link gpuFaultError} says about the run. */
export interface GpuFaultContext {
  /** 1-based step the fault was caught in. */
  readonly step: number;
  /**
   * Where it was caught: "step" (forward/backward; the update did not run), "update" (the
   * optimizer's update ran with or after it: the weights may be damaged), "checkpoint" or
   * "evaluation" (reading the weights back after the step).
   */
  readonly phase: "step" | "update" | "checkpoint" | "evaluation";
  /** The newest checkpoint directory, or null. */
  readonly checkpoint: string | null;
  /** Trainable weights of the model. */
  readonly weights: number;
  /** Rows × bytes of one micro-batch, e.g. "16×4096". */
  readonly microBatch?: string;
  readonly gradAccumulation: number;
  readonly limits?: GpuLimits;
}

const GB = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

/**
 * What a fault means and what to do, as one clause for "X stopped: …". `training` adds the
 * training-specific sizes and advice. Pure.
 *
 * @example
 * ```ts
 * import { describeGpuFault } from "./guard.ts";
 * const f = { kind: "validation" as const, message: "range 160000000 exceeds limit" };
 * console.log(describeGpuFault(f).startsWith("the GPU reported a validation error")); // true
 * ```
 */
export function describeGpuFault(
  fault: GpuFault,
  limits?: GpuLimits,
  training?: Pick<GpuFaultContext, "weights" | "microBatch" | "gradAccumulation">,
): string {
  const said = `WebGPU: "${fault.message.split("\n")[0].trim()}"`;
  if (fault.kind === "out-of-memory") {
    if (training === undefined) {
      return `the GPU ran out of memory (${said}). Use smaller batches or a smaller model.`;
    }
    const batch = training.microBatch === undefined ? "" : ` of ${training.microBatch} bytes`;
    return `the GPU ran out of memory (${said}). The model has ${training.weights} weights, ` +
      `${GB(training.weights * 16)} with their gradients and AdamW's two moments, before the ` +
      `activations of a micro-batch${batch}. Split the batch into more micro-batches (config ` +
      `gradAccumulation, now ${training.gradAccumulation}: the same update from smaller pieces; ` +
      "the benchmark's --micro), or use a smaller preset or batch.";
  }
  if (fault.kind === "device lost") {
    return `the GPU device was lost (${said}). The webgpu backend cannot go on in this process ` +
      "(a driver reset, another process, or the GPU itself): start a new process.";
  }
  const smaller = training === undefined
    ? "smaller batches"
    : "a smaller micro-batch (gradAccumulation)";
  const sizes = limits === undefined
    ? ""
    : ` This device allows buffers up to ${GB(limits.maxBufferSize)} and storage bindings up ` +
      `to ${GB(limits.maxStorageBufferBindingSize)}; a tensor larger than that needs ${smaller} ` +
      "or a smaller model.";
  return `the GPU reported a ${fault.kind} error (${said}).${sizes} Otherwise it is a bug in a ` +
    "kernel: please report it with this message.";
}

/**
 * A GPU fault in training as an Error that says what happened, what to do and where the last
 * good checkpoint is. Pure.
 *
 * @example
 * ```ts
 * import { gpuFaultError } from "./guard.ts";
 * const e = gpuFaultError(
 *   { kind: "out-of-memory", message: "Not enough memory left." },
 *   { step: 3, phase: "step", checkpoint: "runs/a/step-000002", weights: 2.5e8, gradAccumulation: 1 },
 * );
 * console.log(e.message.startsWith("Training stopped at step 3: the GPU ran out of memory")); // true
 * ```
 */
export function gpuFaultError(fault: GpuFault, context: GpuFaultContext, cause?: unknown): Error {
  const last = context.checkpoint === null
    ? "No checkpoint was written yet."
    : `The last good checkpoint is ${context.checkpoint} (intact); resume from it.`;
  const weightsState = {
    step: "The weights were not updated at this step.",
    update: "The step's update ran with or after the fault: do not trust the weights in memory.",
    checkpoint: "The step finished, but its checkpoint could not be read back and was not written.",
    evaluation: "The step finished, but its evaluation could not be read back.",
  }[context.phase];
  const body = describeGpuFault(fault, context.limits, context);
  return new Error(
    `Training stopped at step ${context.step}: ${body} ${weightsState} ${last}`,
    { cause },
  );
}

/**
 * The error the trainer throws for a GPU fault: {@link gpuFaultError}'s message, with the fault.
 *
 * @example
 * ```ts
 * import { GpuFaultError } from "./guard.ts";
 * const fault = { kind: "device lost" as const, message: "destroyed: gone" };
 * const e = new GpuFaultError(fault, new Error("Training stopped at step 2: ..."));
 * console.log(e.fault.kind, e instanceof Error); // device lost true
 * ```
 */
export class GpuFaultError extends Error {
  readonly fault: GpuFault;
  /** The training step it stopped, or null outside training (an evaluation, a generation). */
  readonly step: number | null;
  constructor(fault: GpuFault, explained: Error, step: number | null = null) {
    super(explained.message, { cause: explained.cause });
    this.name = "GpuFaultError";
    this.fault = fault;
    this.step = step;
  }
}

/** Error scopes around training steps on one device; see the module doc. */
export interface GpuGuard {
  /** Opens the step's error scopes. */
  begin(): void;
  /**
   * Closes them (call once per {@link begin}, also on failure). The promise gives the first fault
   * caught in the step, or the device's loss, or null; it never rejects.
   */
  end(): Promise<GpuFault | null>;
  /** The device's loss, if it was lost (waits up to `waitMs` for the news). */
  lost(waitMs?: number): Promise<GpuFault | null>;
  /** The device's buffer limits. */
  readonly limits: GpuLimits;
}

/**
 * A guard for the active backend's device, or null when the backend is not webgpu.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gpuGuard } from "./guard.ts";
 * await tf.setBackend("cpu");
 * console.log(gpuGuard()); // null
 * ```
 */
export function gpuGuard(): GpuGuard | null {
  if (tf.getBackend() !== "webgpu") return null;
  const device = (tf.backend() as unknown as { device?: GPUDevice }).device;
  if (device === undefined) return null;
  let lostFault: GpuFault | null = null;
  const lostPromise = device.lost.then((info) => {
    lostFault = { kind: "device lost", message: `${info.reason}: ${info.message}` };
    return lostFault;
  });
  const lost = async (waitMs = 0): Promise<GpuFault | null> => {
    if (lostFault !== null || waitMs <= 0) return lostFault;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), waitMs)));
    const r = await Promise.race([lostPromise, timeout]);
    clearTimeout(timer);
    return r;
  };
  const kinds = ["validation", "out-of-memory", "internal"] as const;
  return {
    limits: {
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    },
    begin() {
      for (const kind of kinds) device.pushErrorScope(kind);
    },
    end() {
      // Popped in reverse; each promise is caught so a lost device cannot reject the step.
      const popped = [...kinds].reverse().map((kind) =>
        device.popErrorScope().then(
          (err): GpuFault | null => (err === null ? null : { kind, message: err.message }),
          () => null,
        )
      );
      return Promise.all(popped).then((faults) => {
        // An out-of-memory or a lost device explains the validation errors about invalid
        // buffers that follow it, so they are reported first.
        const found = faults.filter((f): f is GpuFault => f !== null);
        return found.find((f) => f.kind === "out-of-memory") ?? lostFault ?? found[0] ?? null;
      });
    },
    lost,
  };
}

/**
 * Runs `f` (work on the active backend that ends in read-backs: an evaluation, a generation)
 * inside WebGPU error scopes; a GPU fault becomes an Error "`what` stopped: …" instead of silent
 * zeros or "Buffer with '' label is invalid". Off webgpu it just runs `f`.
 *
 * @example
 * ```ts
 * import { gpuChecked } from "./guard.ts";
 * console.log(await gpuChecked("sum", () => Promise.resolve(1 + 1))); // 2
 * ```
 */
export async function gpuChecked<T>(what: string, f: () => Promise<T>): Promise<T> {
  const guard = gpuGuard();
  if (guard === null) return await f();
  const fail = (fault: GpuFault, cause?: unknown) =>
    new GpuFaultError(
      fault,
      new Error(`${what} stopped: ${describeGpuFault(fault, guard.limits)}`, { cause }),
    );
  guard.begin();
  let result: T;
  try {
    result = await f();
  } catch (e) {
    const now = await guard.end();
    if (e instanceof GpuFaultError) throw e;
    const found = (await guard.lost(now === null ? 200 : 20)) ?? now;
    throw found === null ? e : fail(found, e);
  }
  const now = await guard.end();
  if (now !== null) throw fail(now);
  return result;
}
