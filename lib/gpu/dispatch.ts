/**
 * The one place that touches tfjs-backend-webgpu internals: it records a raw WGSL compute shader
 * into the backend's own command encoder, so our kernels interleave with stock kernels, share its
 * buffer pool and queue batching, and may have several outputs (tfjs's `runWebGPUProgram` has
 * one output and writes the WGSL preamble itself).
 *
 * Binding convention for every kernel in lib/gpu: inputs at bindings 0..n-1 (`read`), outputs at
 * n..n+m-1 (`read_write`), then one uniform struct at binding n+m.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";

/** A scalar uniform, packed tightly in declaration order (4 bytes each). */
export interface Uniform {
  readonly type: "int32" | "uint32" | "float32";
  readonly value: number;
}

/** What one dispatch needs: a cache key, the WGSL source and the workgroup grid. */
export interface KernelLaunch {
  /** Unique per distinct WGSL source; pipelines are cached by it. */
  readonly key: string;
  /** Builds the WGSL source (called once per key and device). */
  readonly wgsl: () => string;
  /** Number of workgroups in x, y, z. */
  readonly workgroups: readonly [number, number, number];
}

/** Shape and dtype of one kernel output. */
export interface OutputSpec {
  readonly shape: number[];
  readonly dtype: "float32" | "int32";
}

// The backend's private members we rely on (stable at the pinned tfjs 4.22.0).
interface BackendInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
  activeTimers: { name: string; query: Promise<number> }[] | null;
  supportTimestampQuery: boolean;
  querySet: GPUQuerySet | null;
  querySetCount: number;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  getQueryTime(): Promise<number>;
  uploadToGPU(dataId: object): void;
  tensorToBinding(t: tf.TensorInfo): GPUBindingResource;
  makeUniforms(u: { type: string; data: number[] }[]): GPUBindingResource;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();
// WebGPU reports shader/pipeline errors asynchronously; a failed key throws on its next dispatch
// (the first one produced garbage, and the error is printed as soon as it is known).
const failures = new Map<string, string>();

/**
 * The active backend as a WebGPUBackend, or an Error saying how to select it.
 *
 * @example
 * ```ts
 * import { webgpuBackend } from "./dispatch.ts";
 * try { webgpuBackend(); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function webgpuBackend(): WebGPUBackend {
  if (tf.getBackend() !== "webgpu") {
    throw new Error(
      `GPU kernels need the 'webgpu' backend, found '${tf.getBackend()}'. ` +
        `Import "@tensorflow/tfjs-backend-webgpu" and await tf.setBackend("webgpu") first.`,
    );
  }
  return tf.backend() as unknown as WebGPUBackend;
}

function pipelineFor(device: GPUDevice, launch: KernelLaunch): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (cache === undefined) {
    cache = new Map();
    pipelines.set(device, cache);
  }
  let pipeline = cache.get(launch.key);
  if (pipeline === undefined) {
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code: launch.wgsl(), label: launch.key });
    pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label: launch.key,
    });
    device.popErrorScope().then((error) => {
      if (error === null) return;
      const message = `GPU kernel '${launch.key}' failed to compile: ${error.message}`;
      failures.set(launch.key, message);
      console.error(message);
    });
    cache.set(launch.key, pipeline);
  }
  return pipeline;
}

/**
 * Records one dispatch of `launch` reading `inputs` and writing fresh outputs; returns them as
 * TensorInfos owned by the caller (a kernelFunc returns them to the engine).
 *
 * @example
 * ```ts
 * import { dispatch } from "./dispatch.ts";
 * console.log(typeof dispatch); // used by every kernel in lib/gpu, needs the webgpu backend
 * ```
 */
export function dispatch(
  backend: WebGPUBackend,
  launch: KernelLaunch,
  inputs: readonly tf.TensorInfo[],
  outputs: readonly OutputSpec[],
  uniforms: readonly Uniform[],
): tf.TensorInfo[] {
  const b = backend as unknown as BackendInternals;
  const failure = failures.get(launch.key);
  if (failure !== undefined) throw new Error(failure);
  const outs = outputs.map((o) => b.makeTensorInfo(o.shape, o.dtype));
  if (launch.workgroups.some((n) => n === 0)) return outs;
  for (const n of launch.workgroups) {
    if (n > 65535) {
      throw new Error(`Kernel '${launch.key}': ${n} workgroups in one dimension exceeds 65535.`);
    }
  }
  for (const t of [...inputs, ...outs]) b.uploadToGPU(t.dataId);
  const pipeline = pipelineFor(b.device, launch);
  const u = uniforms.length > 0 ? uniforms : [{ type: "int32" as const, value: 0 }];
  const resources = [
    ...inputs.map((t) => b.tensorToBinding(t)),
    ...outs.map((t) => b.tensorToBinding(t)),
    b.makeUniforms(u.map((x) => ({ type: x.type, data: [x.value] }))),
  ];
  for (const t of [...inputs, ...outs]) b.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = b.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: resources.map((resource, binding) => ({ binding, resource })),
  });
  const timed = b.activeTimers != null;
  b.ensureCommandEncoderReady();
  if (timed && b.supportTimestampQuery) {
    // Mirrors the backend's own profiling path so tf.time / tf.profile see our kernels.
    b.endComputePassEncoder();
    if (b.querySet == null) {
      b.querySet = b.device.createQuerySet({ type: "timestamp", count: b.querySetCount });
    }
    b.computePassEncoder = b.commandEncoder!.beginComputePass({
      timestampWrites: {
        querySet: b.querySet,
        beginningOfPassWriteIndex: 0,
        endOfPassWriteIndex: 1,
      },
    });
  } else if (b.computePassEncoder == null) {
    b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  }
  const pass = b.computePassEncoder!;
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...launch.workgroups);
  b.dispatchCountInPass++;
  const batch = tf.env().getNumber("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE");
  if (timed || batch <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    if (timed) b.activeTimers!.push({ name: launch.key, query: b.getQueryTime() });
    else b.submitQueue();
  }
  return outs;
}

/**
 * Waits until every dispatch recorded so far has finished on the GPU (for timing).
 *
 * @example
 * ```ts
 * import { gpuFinish } from "./dispatch.ts";
 * console.log(typeof gpuFinish);
 * ```
 */
export async function gpuFinish(backend: WebGPUBackend): Promise<void> {
  const b = backend as unknown as BackendInternals;
  if (b.commandEncoder != null) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
  await b.device.queue.onSubmittedWorkDone();
}

/**
 * Submits every dispatch recorded so far without waiting (tfjs-webgpu submits every
 * `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE` dispatches and on read-backs). No-op off webgpu. The trainer
 * calls it before preparing the next batch on the host, so the GPU runs meanwhile.
 *
 * @example
 * ```ts
 * import { gpuFlush } from "./dispatch.ts";
 * gpuFlush(); // nothing to do off webgpu
 * ```
 */
export function gpuFlush(): void {
  if (tf.getBackend() !== "webgpu") return;
  const b = tf.backend() as unknown as BackendInternals;
  if (b.commandEncoder != null) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
}

/** PCI vendor id of NVIDIA as Deno's WebGPU (wgpu) reports it in the adapter info, and by name. */
const NVIDIA_VENDORS = new Set(["4318", "0x10de", "nvidia"]);

/**
 * Whether tfjs runs on the webgpu backend over an NVIDIA adapter: the forms tuned on the H100
 * (attention, matmul) are chosen there only; software adapters compile large unrolled kernels
 * very slowly and other GPUs are unmeasured.
 *
 * @example
 * ```ts
 * import { onNvidia } from "./dispatch.ts";
 * console.log(typeof onNvidia()); // "boolean"
 * ```
 */
export function onNvidia(): boolean {
  const vendor = tf.getBackend() === "webgpu"
    ? String(
      (tf.backend() as unknown as { adapterInfo?: { vendor?: string } }).adapterInfo?.vendor ?? "",
    ).toLowerCase()
    : "";
  return NVIDIA_VENDORS.has(vendor);
}

/**
 * A 2-D workgroup grid covering `count` items with `perGroup` items per workgroup (WebGPU caps
 * each dimension at 65535). Shaders recover the flat group as `wid.y * nwg.x + wid.x` and skip
 * groups past the end. The groups are split evenly over y, so at most y − 1 of them are idle:
 * filling x first left up to 65534 idle workgroups (at 64M elements a vec4 kernel launched twice
 * the groups it needed and ran at 1.24 TB/s on an H100 against 1.64 split evenly,
 * bench/README.md, sixth session).
 *
 * @example
 * ```ts
 * import { flatGrid } from "./dispatch.ts";
 * console.log(flatGrid(1_000_000, 256)); // [3907, 1, 1]
 * console.log(flatGrid(65536 * 256, 256)); // [32768, 2, 1]
 * ```
 */
export function flatGrid(count: number, perGroup: number): [number, number, number] {
  const groups = Math.ceil(count / perGroup);
  if (groups <= 0) return [0, 1, 1];
  const y = Math.ceil(groups / 65535);
  if (y > 65535) {
    throw new Error(`flatGrid: ${count} items need ${groups} workgroups, more than 65535².`);
  }
  return [Math.ceil(groups / y), y, 1];
}
