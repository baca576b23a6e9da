/**
 * Host-side caches for tfjs-webgpu's per-dispatch work. On an H100 the small preset's training
 * step was bound by the host (2026-11-22 18:40 UTC: 583 ms of a 653 ms step went to queueing
 * ~1,600 dispatches, the GPU then needed 60 ms more), and each dispatch paid for a fresh uniform
 * buffer (pool acquire + `queue.writeBuffer`), `pipeline.getBindGroupLayout(0)` and
 * `device.createBindGroup`. A training step repeats the same dispatches with the same uniforms,
 * and tfjs's buffer pool hands the same buffers to the same ops step after step, so:
 *
 * - uniforms: one immutable uniform buffer per distinct content (the bytes tfjs's own
 *   `makeUniforms` lays out), written once and never returned to the pool;
 * - bind-group layouts: one per pipeline (tfjs asks the pipeline for it on every dispatch);
 * - bind groups: one per (layout, bound buffers, offsets, sizes); a buffer tfjs destroys is never
 *   handed out again, so its groups are simply never hit again (the cache is bounded);
 * - uploads: a tensor made from host values (batch ids, masks, scalars) goes to its pooled device
 *   buffer by `queue.writeBuffer` instead of a fresh staging buffer mapped at creation (47 uploads
 *   per small-preset step took 100 ms of host time in `getMappedRange` on the H100 host, 18:59 UTC).
 *
 * Installed on the backend's own device and backend object only (`enableHostCaching`); every
 * kernel, ours and tfjs's, goes through it; `setHostCaching(false)` restores the plain path.
 * Results are unchanged: the same kernels read the same bytes.
 *
 * @module
 */
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";

/** Hits and misses of the caches since installation (`hostCacheStats`). */
export interface HostCacheStats {
  readonly uniformHits: number;
  readonly uniformMisses: number;
  readonly bindGroupHits: number;
  readonly bindGroupMisses: number;
  /** Host values uploaded by `queue.writeBuffer`. */
  readonly uploads: number;
  /** Whether the caches are in use now. */
  readonly enabled: boolean;
}

type Uniform = { type: string; data: number[] };
type BufferBinding = { buffer: GPUBuffer; offset?: number; size?: number };

interface TensorData {
  values: ArrayLike<number> | null;
  dtype: string;
  shape: number[];
  resource: unknown;
}

interface BackendInternals {
  device: GPUDevice;
  makeUniforms(u: Uniform[]): BufferBinding;
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): TensorData | undefined };
  bufferManager: { acquireBuffer(size: number, usage: number): GPUBuffer };
}

/** Entries kept before a cache starts over (a few steps' worth of distinct dispatches). */
const MAX_ENTRIES = 32768;

let enabled = true;
const stats = {
  uniformHits: 0,
  uniformMisses: 0,
  bindGroupHits: 0,
  bindGroupMisses: 0,
  uploads: 0,
};
const installed = new WeakSet<object>();

/**
 * Turns the caches on (default) or off for later dispatches; off, every dispatch takes tfjs's
 * own path again.
 *
 * @example
 * ```ts
 * import { hostCaching, setHostCaching } from "./host_cache.ts";
 * setHostCaching(false);
 * console.log(hostCaching()); // false
 * setHostCaching(true);
 * ```
 */
export function setHostCaching(on: boolean): void {
  if (typeof on !== "boolean") {
    throw new Error(`setHostCaching: 'on' must be a boolean, found ${typeof on}`);
  }
  enabled = on;
}

/**
 * Whether the host caches are in use.
 *
 * @example
 * ```ts
 * import { hostCaching } from "./host_cache.ts";
 * console.log(hostCaching()); // true
 * ```
 */
export function hostCaching(): boolean {
  return enabled;
}

/**
 * Counters of the caches (for `bench/train_bench.ts --profile`).
 *
 * @example
 * ```ts
 * import { hostCacheStats } from "./host_cache.ts";
 * console.log(hostCacheStats().bindGroupHits >= 0); // true
 * ```
 */
export function hostCacheStats(): HostCacheStats {
  return { ...stats, enabled };
}

/** The uniform bytes tfjs's `makeUniforms` would write, computed without touching the GPU. */
function uniformBytes(
  make: BackendInternals["makeUniforms"],
  u: Uniform[],
): Uint8Array<ArrayBuffer> {
  let bytes: Uint8Array<ArrayBuffer> | null = null;
  const probe = {
    bufferManager: { acquireBuffer: () => ({}) },
    queue: {
      writeBuffer: (_b: unknown, _o: number, data: ArrayBuffer, at = 0, size?: number) => {
        bytes = new Uint8Array(data, at, size ?? data.byteLength - at).slice();
      },
    },
    uniformPendingDisposal: { push: () => 0 },
  };
  make.call(probe, u);
  if (bytes === null) throw new Error("host cache: tfjs's makeUniforms wrote no uniform bytes");
  return bytes;
}

/**
 * Installs the caches on a webgpu backend (idempotent; `enableGpuKernels` + `setupBackend` call
 * it). If tfjs's internals are not as expected (another tfjs version), nothing is installed and
 * a warning says so.
 *
 * @example
 * ```ts
 * import { enableHostCaching } from "./host_cache.ts";
 * console.log(typeof enableHostCaching); // enableHostCaching(tf.backend()) on webgpu
 * ```
 */
export function enableHostCaching(backend: WebGPUBackend): void {
  if (installed.has(backend)) return;
  const b = backend as unknown as BackendInternals;
  const device = b.device;
  if (typeof b.makeUniforms !== "function" || device === undefined) {
    console.warn("host cache: not a tfjs webgpu backend as expected; not installed");
    return;
  }
  const makeUniforms = b.makeUniforms;
  if (typeof b.uploadToGPU !== "function" || b.tensorMap === undefined || !b.bufferManager) {
    console.warn("host cache: tfjs-webgpu's upload path is not as expected; not installed");
    return;
  }
  try {
    uniformBytes(makeUniforms, [{ type: "uint32", data: [1] }, { type: "float32", data: [2] }]);
  } catch (e) {
    console.warn(`host cache: tfjs's makeUniforms is not as expected (${e}); not installed`);
    return;
  }
  installed.add(backend);

  const ids = new WeakMap<object, number>();
  let nextId = 1;
  const idOf = (o: object): number => {
    let id = ids.get(o);
    if (id === undefined) ids.set(o, id = nextId++);
    return id;
  };

  // Uniform buffers by content: immutable once written.
  const uniforms = new Map<string, BufferBinding>();
  b.makeUniforms = function (u: Uniform[]): BufferBinding {
    if (!enabled) return makeUniforms.call(this, u);
    const bytes = uniformBytes(makeUniforms, u);
    const key = new Uint32Array(bytes.buffer, 0, bytes.byteLength >> 2).join(",");
    const hit = uniforms.get(key);
    if (hit !== undefined) {
      stats.uniformHits++;
      return hit;
    }
    stats.uniformMisses++;
    if (uniforms.size >= MAX_ENTRIES) uniforms.clear(); // their buffers stay alive while bound
    const buffer = device.createBuffer({
      size: bytes.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "blt-uniforms",
    });
    device.queue.writeBuffer(buffer, 0, bytes);
    const binding = { buffer, offset: 0, size: bytes.byteLength };
    uniforms.set(key, binding);
    return binding;
  };

  // Uploads of host values by queue.writeBuffer (ordered before every later submit, as the
  // staging copy tfjs records into the open encoder is).
  const upload = b.uploadToGPU;
  b.uploadToGPU = function (dataId: object): void {
    const td = b.tensorMap.get(dataId);
    const n = td?.shape.reduce((p, d) => p * d, 1) ?? 0;
    if (
      !enabled || td === undefined || td.resource != null || !td.values || n === 0 ||
      !["float32", "int32", "bool"].includes(td.dtype)
    ) return upload.call(this, dataId);
    const data = td.dtype === "float32"
      ? (td.values instanceof Float32Array ? td.values : Float32Array.from(td.values))
      : (td.values instanceof Int32Array ? td.values : Int32Array.from(td.values));
    const buffer = b.bufferManager.acquireBuffer(
      4 * n,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    );
    device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, 4 * n);
    stats.uploads++;
    td.values = null;
    td.resource = buffer;
  };

  // One bind-group layout per pipeline.
  const withLayout = (p: GPUComputePipeline): GPUComputePipeline => {
    const get = p.getBindGroupLayout.bind(p);
    let zero: GPUBindGroupLayout | undefined;
    p.getBindGroupLayout = (i: number) => i !== 0 || !enabled ? get(i) : (zero ??= get(0));
    return p;
  };
  const createPipeline = device.createComputePipeline.bind(device);
  device.createComputePipeline = (d: GPUComputePipelineDescriptor) => withLayout(createPipeline(d));
  const createPipelineAsync = device.createComputePipelineAsync.bind(device);
  device.createComputePipelineAsync = async (d: GPUComputePipelineDescriptor) =>
    withLayout(await createPipelineAsync(d));

  // Bind groups by (layout, bound buffers with offsets and sizes).
  const groups = new Map<string, GPUBindGroup>();
  const createBindGroup = device.createBindGroup.bind(device);
  device.createBindGroup = (desc: GPUBindGroupDescriptor): GPUBindGroup => {
    if (!enabled) return createBindGroup(desc);
    let key = `${idOf(desc.layout)}|`;
    for (const e of desc.entries) {
      const r = e.resource as Partial<BufferBinding>;
      if (r === null || typeof r !== "object" || !(r.buffer instanceof GPUBuffer)) {
        return createBindGroup(desc); // textures, samplers: not cached
      }
      key += `${e.binding}:${idOf(r.buffer)}@${r.offset ?? 0}+${r.size ?? "all"},`;
    }
    const hit = groups.get(key);
    if (hit !== undefined) {
      stats.bindGroupHits++;
      return hit;
    }
    stats.bindGroupMisses++;
    if (groups.size >= MAX_ENTRIES) groups.clear();
    const group = createBindGroup(desc);
    groups.set(key, group);
    return group;
  };
}
