/**
 * Profiling and diagnosis of WebGPU training steps (bench/train_bench.ts `--profile`,
 * `--diagnose`): counts of GPU calls (compute dispatches, queue submits, uploads, buffer
 * creations), a per-kernel summary of `tf.profile` records, the adapter's and device's limits
 * checked against the largest tensors, and a trace that names the tfjs kernel behind the first
 * WebGPU validation / out-of-memory error.
 *
 * `tf.profile`'s `kernelTimeMs` is real on webgpu only when the device has the `timestamp-query`
 * feature (tfjs asks for it when the adapter offers it); without it every kernel reports 0 and
 * {@link summariseKernels} ranks by call count instead.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** GPU API calls made while a {@link countGpuCalls} counter ran. */
export interface GpuCallCounts {
  /** `GPUComputePassEncoder.dispatchWorkgroups` calls: one per kernel launch. */
  readonly dispatches: number;
  /** `GPUQueue.submit` calls. */
  readonly submits: number;
  /** `GPUQueue.writeBuffer` calls (tfjs writes every kernel's uniforms this way). */
  readonly writeBuffers: number;
  /** Bytes written by those calls. */
  readonly writeBytes: number;
  /** `GPUDevice.createBuffer` calls (the buffer pool had no free buffer of that size). */
  readonly buffersCreated: number;
  /** Bytes of the buffers created. */
  readonly bytesCreated: number;
}

/** A running counter; `stop()` restores the patched methods and returns the counts. */
export interface GpuCallCounter {
  stop(): GpuCallCounts;
}

type Method = (this: unknown, ...args: never[]) => unknown;

/** Replaces `proto[name]` with a counting wrapper; returns the undo. */
function wrapMethod(
  proto: Record<string, unknown> | undefined,
  name: string,
  count: (args: unknown[]) => void,
): () => void {
  if (proto === undefined || typeof proto[name] !== "function") return () => {};
  const original = proto[name] as Method;
  proto[name] = function (this: unknown, ...args: never[]) {
    count(args);
    return original.apply(this, args);
  };
  return () => {
    proto[name] = original;
  };
}

function protoOf(className: string): Record<string, unknown> | undefined {
  const ctor = (globalThis as Record<string, unknown>)[className] as
    | { prototype: Record<string, unknown> }
    | undefined;
  return ctor?.prototype;
}

/**
 * Counts WebGPU calls (all devices) from now until `stop()`. Outside a WebGPU runtime every
 * count stays 0. Counters must not overlap.
 *
 * @example
 * ```ts
 * import { countGpuCalls } from "./profile.ts";
 * const counter = countGpuCalls();
 * // ... run a training step ...
 * const counts = counter.stop();
 * console.log(counts.dispatches >= 0, counts.submits >= 0); // true true
 * ```
 */
export function countGpuCalls(): GpuCallCounter {
  const c = {
    dispatches: 0,
    submits: 0,
    writeBuffers: 0,
    writeBytes: 0,
    buffersCreated: 0,
    bytesCreated: 0,
  };
  const undo = [
    wrapMethod(protoOf("GPUComputePassEncoder"), "dispatchWorkgroups", () => c.dispatches++),
    wrapMethod(
      protoOf("GPUComputePassEncoder"),
      "dispatchWorkgroupsIndirect",
      () => c.dispatches++,
    ),
    wrapMethod(protoOf("GPUQueue"), "submit", () => c.submits++),
    wrapMethod(protoOf("GPUQueue"), "writeBuffer", (args) => {
      c.writeBuffers++;
      // writeBuffer(buffer, offset, data, dataOffset?, size?): size counts elements of a typed array.
      const data = args[2] as ArrayBufferView | ArrayBuffer;
      const unit = ArrayBuffer.isView(data) && "BYTES_PER_ELEMENT" in data
        ? (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT
        : 1;
      c.writeBytes += typeof args[4] === "number" ? args[4] * unit : data.byteLength;
    }),
    wrapMethod(protoOf("GPUDevice"), "createBuffer", (args) => {
      c.buffersCreated++;
      c.bytesCreated += (args[0] as GPUBufferDescriptor).size;
    }),
  ];
  let stopped = false;
  return {
    stop: () => {
      if (!stopped) undo.reverse().forEach((f) => f());
      stopped = true;
      return { ...c };
    },
  };
}

/** The part of a `tf.profile` kernel record that {@link summariseKernels} reads. */
export interface KernelRecord {
  readonly name: string;
  /** GPU ms of the kernel (0 when the backend cannot time it). */
  readonly kernelTimeMs: number | { error: string };
  /** Input shapes, as tf.profile records them (used by `byShape`). */
  readonly inputShapes?: readonly (readonly number[] | undefined)[];
}

/** Totals of one kernel name. */
export interface KernelStat {
  readonly name: string;
  readonly calls: number;
  readonly totalMs: number;
  /** Fraction of all kernel time (of all calls when untimed). */
  readonly share: number;
}

/** What {@link summariseKernels} returns. */
export interface KernelSummary {
  /** Kernel invocations recorded (engine level; a few, e.g. Reshape, dispatch nothing). */
  readonly calls: number;
  /** True when some record has a positive time (timestamp queries worked). */
  readonly timed: boolean;
  /** Sum of all kernel times, ms (0 when untimed). */
  readonly totalMs: number;
  /** Distinct kernel names. */
  readonly distinct: number;
  /** The top kernels: by total time when timed, else by calls; ties by name. */
  readonly top: readonly KernelStat[];
}

/**
 * Groups kernel records by name (with `byShape`, by name and input shapes, e.g.
 * `Sum([4096,2,32])`) and ranks them. Pure.
 *
 * @example
 * ```ts
 * import { summariseKernels } from "./profile.ts";
 * const s = summariseKernels([
 *   { name: "BatchMatMul", kernelTimeMs: 3 },
 *   { name: "Add", kernelTimeMs: 0.5 },
 *   { name: "BatchMatMul", kernelTimeMs: 2 },
 * ], 1);
 * console.log(s.timed, s.top[0]); // true { name: "BatchMatMul", calls: 2, totalMs: 5, share: 0.9090909090909091 }
 * ```
 */
export function summariseKernels(
  records: readonly KernelRecord[],
  top = 25,
  byShape = false,
): KernelSummary {
  if (!Number.isInteger(top) || top < 0) {
    throw new Error(`summariseKernels: top must be an integer ≥ 0, found ${top}.`);
  }
  const byName = new Map<string, { calls: number; totalMs: number }>();
  let totalMs = 0;
  for (const r of records) {
    const ms = typeof r.kernelTimeMs === "number" && Number.isFinite(r.kernelTimeMs)
      ? r.kernelTimeMs
      : 0;
    const key = byShape
      ? `${r.name}(${(r.inputShapes ?? []).map((x) => `[${x ?? "?"}]`).join(", ")})`
      : r.name;
    const s = byName.get(key) ?? { calls: 0, totalMs: 0 };
    s.calls++;
    s.totalMs += ms;
    byName.set(key, s);
    totalMs += ms;
  }
  const timed = totalMs > 0;
  const stats = [...byName].map(([name, s]) => ({
    name,
    calls: s.calls,
    totalMs: s.totalMs,
    share: timed ? s.totalMs / totalMs : s.calls / records.length,
  }));
  stats.sort((a, b) =>
    (timed ? b.totalMs - a.totalMs : 0) || b.calls - a.calls || (a.name < b.name ? -1 : 1)
  );
  return {
    calls: records.length,
    timed,
    totalMs,
    distinct: stats.length,
    top: stats.slice(0, top),
  };
}

/** Everything `--profile` prints about one training step. */
export interface StepProfileReport {
  /** GPU calls of an unprofiled step (tf.profile's timing submits after every kernel). */
  readonly counts: GpuCallCounts;
  /** Wall-clock ms of that unprofiled step. */
  readonly wallMs: number;
  /** Kernel summary of the profiled step. */
  readonly kernels: KernelSummary;
  /** Whether the device has timestamp queries (else webgpu kernel times read 0; other backends
   * time kernels with their own timers). */
  readonly timestampQuery: boolean;
  /** `tf.memory()` after the step. */
  readonly memory: { readonly numBytes: number; readonly numTensors: number };
  /** Buffer-pool bytes in use and allocated on the GPU (webgpu only). */
  readonly gpuBytes?: { readonly used: number; readonly allocated: number };
  /** tf.profile's peak bytes during the step and bytes/tensors left behind by it. */
  readonly peakBytes: number;
  readonly newBytes: number;
  readonly newTensors: number;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/**
 * Text lines of a step profile (for the console). Pure.
 *
 * @example
 * ```ts
 * import { formatStepProfile, summariseKernels } from "./profile.ts";
 * const lines = formatStepProfile({
 *   counts: { dispatches: 3, submits: 1, writeBuffers: 3, writeBytes: 96, buffersCreated: 0, bytesCreated: 0 },
 *   wallMs: 2.5,
 *   kernels: summariseKernels([{ name: "Add", kernelTimeMs: 0 }]),
 *   timestampQuery: false,
 *   memory: { numBytes: 1024, numTensors: 4 },
 *   peakBytes: 2048, newBytes: 0, newTensors: 0,
 * });
 * console.log(lines[0]); // "step: 3 dispatches, 1 queue submits, 3 writeBuffer (96 B), 0 new buffers (0.0 MiB), wall 2.5 ms"
 * ```
 */
export function formatStepProfile(p: StepProfileReport): string[] {
  const c = p.counts, k = p.kernels;
  const lines = [
    `step: ${c.dispatches} dispatches, ${c.submits} queue submits, ${c.writeBuffers} writeBuffer ` +
    `(${c.writeBytes < 2 ** 20 ? `${c.writeBytes} B` : mib(c.writeBytes)}), ` +
    `${c.buffersCreated} new buffers (${mib(c.bytesCreated)}), wall ${p.wallMs.toFixed(1)} ms`,
    `kernels (tf.profile): ${k.calls} invocations of ${k.distinct} kernels; ` +
    (k.timed
      ? p.timestampQuery
        ? `GPU time ${k.totalMs.toFixed(2)} ms (timestamp queries; each kernel timed alone)`
        : `kernel time ${k.totalMs.toFixed(2)} ms (the backend's own timer, not GPU timestamps)`
      : `no GPU times (${
        p.timestampQuery ? "timestamp-query present but all times 0" : "no timestamp-query"
      }): ranked by calls`),
    `| kernel | calls | total ms | mean ms | share |`,
    `|---|---|---|---|---|`,
    ...k.top.map((s) =>
      `| ${s.name} | ${s.calls} | ${s.totalMs.toFixed(3)} | ${(s.totalMs / s.calls).toFixed(4)} | ${
        (100 * s.share).toFixed(1)
      }% |`
    ),
    `memory: tf.memory() numBytes ${p.memory.numBytes} (${
      mib(p.memory.numBytes)
    }), numTensors ${p.memory.numTensors}` + (p.gpuBytes === undefined
      ? ""
      : `; GPU buffers in use ${mib(p.gpuBytes.used)}, allocated ${mib(p.gpuBytes.allocated)}`),
    `profiled step: peak ${mib(p.peakBytes)}, new bytes ${p.newBytes}, new tensors ${p.newTensors}`,
  ];
  return lines;
}

/**
 * Runs `tf.profile` until `done` settles, so a step driven elsewhere (e.g. inside `train`,
 * between two `onStep` callbacks) can be profiled: start it right after one step ends and
 * resolve `done` when the next one ends. Do not await it before `done` can settle.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { profileUntil } from "./profile.ts";
 * let finish = () => {};
 * const profiled = profileUntil(new Promise<void>((r) => (finish = r)));
 * tf.tidy(() => tf.add(tf.ones([2]), 1));
 * finish();
 * console.log((await profiled).kernels.some((k) => k.name === "Add")); // true
 * ```
 */
export function profileUntil(done: Promise<unknown>): Promise<ProfiledKernels> {
  return tf.profile(() => done.then(() => [])) as Promise<ProfiledKernels>;
}

/** The fields of tfjs's `ProfileInfo` used here (tfjs does not export the type). */
export interface ProfiledKernels {
  readonly newBytes: number;
  readonly newTensors: number;
  readonly peakBytes: number;
  readonly kernels: readonly KernelRecord[];
}

/** WebGPU limits that decide whether one tensor fits in one buffer / binding. */
export interface BufferLimits {
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
}

/** A tensor and its size, for {@link bufferFindings}. */
export interface SizedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly bytes: number;
}

/**
 * Says whether the largest of `tensors` fits the buffer limits, naming each tensor that does not
 * (a WebGPU storage buffer must hold a whole tfjs tensor, and be bound whole). Pure.
 *
 * @example
 * ```ts
 * import { bufferFindings } from "./profile.ts";
 * const lines = bufferFindings(
 *   [{ name: "table", shape: [600012, 512], bytes: 1228824576 }],
 *   { maxBufferSize: 2 ** 31 - 1, maxStorageBufferBindingSize: 2 ** 27 },
 * );
 * console.log(lines[1]); // "table needs 1228824576 bytes > maxStorageBufferBindingSize 134217728"
 * ```
 */
export function bufferFindings(tensors: readonly SizedTensor[], limits: BufferLimits): string[] {
  if (tensors.length === 0) return ["no tensors to check"];
  const sorted = [...tensors].sort((a, b) => b.bytes - a.bytes);
  const big = sorted[0];
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(3)} GiB`;
  const lines = [
    `largest: ${big.name} [${big.shape}] ${big.bytes} bytes (${gib(big.bytes)}); limits: ` +
    `maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize} (${
      gib(limits.maxStorageBufferBindingSize)
    }), maxBufferSize ${limits.maxBufferSize} (${gib(limits.maxBufferSize)})`,
  ];
  for (const t of sorted) {
    if (t.bytes > limits.maxBufferSize) {
      lines.push(`${t.name} needs ${t.bytes} bytes > maxBufferSize ${limits.maxBufferSize}`);
    } else if (t.bytes > limits.maxStorageBufferBindingSize) {
      lines.push(
        `${t.name} needs ${t.bytes} bytes > maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}`,
      );
    } else break;
  }
  if (lines.length === 1) lines.push("all fit in one buffer and one binding");
  return lines;
}

/**
 * Every numeric limit of a `GPUSupportedLimits` as a plain record (its fields are getters).
 *
 * @example
 * ```ts
 * import { limitsRecord } from "./profile.ts";
 * const adapter = await navigator.gpu?.requestAdapter();
 * if (adapter) console.log(limitsRecord(adapter.limits).maxBufferSize > 0); // true
 * ```
 */
export function limitsRecord(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in limits) {
    const v = (limits as unknown as Record<string, unknown>)[key];
    if (typeof v === "number") out[key] = v;
  }
  return out;
}

/** One GPU error the trace caught, with the tfjs kernel running when it was raised. */
export interface TracedGpuError {
  /** "validation", "out-of-memory", "internal", "uncaptured", "exception" or "device lost". */
  readonly kind: string;
  readonly message: string;
  /** The tfjs kernel and input shapes, or why none is known. */
  readonly kernel: string;
}

/** What {@link traceKernelErrors} returns. */
export interface KernelErrorTrace {
  /** Waits (up to `timeoutMs`) for the GPU to report, then returns the errors caught so far. */
  settle(timeoutMs?: number): Promise<TracedGpuError[]>;
  /** Largest tensors output by kernels while tracing (bytes, biggest first, at most 5). */
  largest(): SizedTensor[];
  /** Kernel invocations traced. */
  kernels(): number;
  /** Restores `engine.runKernel` and removes the listeners (further errors are not caught). */
  stop(): void;
}

interface MinimalEngine {
  runKernel: (name: string, inputs: Record<string, tf.Tensor>, attrs: object) => unknown;
}

function describeKernel(name: string, inputs: Record<string, tf.Tensor>): string {
  const shapes = Object.entries(inputs ?? {}).map(([k, t]) =>
    `${k}[${(t as { shape?: number[] })?.shape ?? "?"}]`
  );
  const shown = shapes.length > 6 ? [...shapes.slice(0, 4), `… ${shapes.length} inputs`] : shapes;
  return `${name}(${shown.join(", ")})`;
}

/**
 * Wraps every tfjs kernel in WebGPU error scopes (validation, out-of-memory, internal) on
 * `device`, so the first real GPU error is reported with the kernel (and input shapes) that
 * caused it; also listens for uncaptured errors and device loss, and annotates exceptions thrown
 * inside a kernel. Costs three error scopes per kernel: use it around one step. Errors raised
 * when a buffer, bind group or pipeline is created name their kernel exactly; errors inside
 * recorded commands surface at the next queue submit, i.e. in a later kernel.
 *
 * @example
 * ```ts
 * import { traceKernelErrors } from "./profile.ts";
 * console.log(typeof traceKernelErrors); // traceKernelErrors(backend.device, console.log) on webgpu
 * ```
 */
export function traceKernelErrors(
  device: GPUDevice,
  log: (line: string) => void,
): KernelErrorTrace {
  const engine = tf.engine() as unknown as MinimalEngine;
  const original = engine.runKernel;
  const own = Object.prototype.hasOwnProperty.call(engine, "runKernel");
  const errors: TracedGpuError[] = [];
  const pending: Promise<unknown>[] = [];
  let largest: SizedTensor[] = [];
  let count = 0;
  let current: string | null = null;
  let last = "(none yet)";
  let active = true;
  const report = (e: TracedGpuError) => {
    errors.push(e);
    if (errors.length <= 3) {
      log(`GPU ${e.kind} error in kernel ${e.kernel}: ${e.message.split("\n")[0]}`);
    } else if (errors.length === 4) log("(further GPU errors are counted, not printed)");
  };
  const noteOutputs = (what: string, out: unknown) => {
    for (const t of Array.isArray(out) ? out : [out]) {
      const x = t as tf.Tensor | undefined;
      if (x?.shape === undefined) continue;
      const bytes = x.size * (x.dtype === "complex64" ? 8 : 4);
      if (largest.length < 5 || bytes > largest[largest.length - 1].bytes) {
        largest = [...largest, { name: `output of ${what}`, shape: x.shape, bytes }]
          .sort((a, b) => b.bytes - a.bytes).slice(0, 5);
      }
    }
  };
  engine.runKernel = function (name, inputs, attrs) {
    const what = describeKernel(name, inputs);
    const outer = current;
    current = what;
    last = what;
    count++;
    device.pushErrorScope("validation");
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("internal");
    try {
      const out = original.call(this, name, inputs, attrs);
      noteOutputs(what, out);
      return out;
    } catch (e) {
      report({ kind: "exception", message: (e as Error).message, kernel: what });
      throw e;
    } finally {
      current = outer;
      for (const kind of ["internal", "out-of-memory", "validation"]) {
        pending.push(
          device.popErrorScope().then(
            (err) => {
              if (err !== null) report({ kind, message: err.message, kernel: what });
            },
            () => {},
          ),
        );
      }
    }
  };
  const onUncaptured = (ev: Event) => {
    const message = (ev as GPUUncapturedErrorEvent).error?.message ?? String(ev);
    report({
      kind: "uncaptured",
      message,
      kernel: current ?? `(outside any kernel; last kernel ${last})`,
    });
  };
  device.addEventListener("uncapturederror", onUncaptured);
  device.lost.then((info) => {
    if (active) {
      report({
        kind: "device lost",
        message: `${info.reason}: ${info.message}`,
        kernel: `(last kernel ${last})`,
      });
    }
  });
  return {
    settle: async (timeoutMs = 5000) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
      const work = Promise.all(pending).then(() => device.queue.onSubmittedWorkDone()).catch(
        () => {},
      );
      await Promise.race([work, timeout]);
      clearTimeout(timer);
      return [...errors];
    },
    largest: () => [...largest],
    kernels: () => count,
    stop: () => {
      if (!active) return;
      active = false;
      if (own) engine.runKernel = original;
      else delete (engine as Partial<MinimalEngine>).runKernel;
      device.removeEventListener("uncapturederror", onUncaptured);
    },
  };
}
