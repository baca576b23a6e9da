/**
 * Raw-WebGPU helpers shared by the kernel sweeps (matmul_sweep.ts, elementwise_sweep.ts): compile
 * one WGSL compute shader into a pipeline with an automatic layout (validation errors and rejected
 * creations become errors carrying the driver's message), seeded input floats, and reading a
 * buffer back.
 *
 * @module
 */

/**
 * Compiles `code` (entry point `main`) on `device`; rejects with the WGSL or pipeline error.
 *
 * @example
 * ```ts
 * import { compilePipeline } from "./webgpu_pipeline.ts";
 * const adapter = await navigator.gpu?.requestAdapter();
 * if (adapter) {
 *   const device = await adapter.requestDevice();
 *   const pipe = await compilePipeline(device, "@compute @workgroup_size(1) fn main() {}");
 *   console.log(typeof pipe.getBindGroupLayout); // "function"
 * }
 * ```
 */
export async function compilePipeline(
  device: GPUDevice,
  code: string,
): Promise<GPUComputePipeline> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  let pipe: GPUComputePipeline | undefined, thrown: unknown;
  try {
    pipe = await device.createComputePipelineAsync({
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
  } catch (e) {
    thrown = e;
  }
  const err = await device.popErrorScope();
  if (err !== null) throw new Error(`WGSL/pipeline error: ${err.message}`);
  if (thrown !== undefined || pipe === undefined) {
    throw new Error(`pipeline creation failed: ${String((thrown as Error)?.message ?? thrown)}`);
  }
  return pipe;
}

/**
 * `n` floats in [-1, 1) from a 32-bit LCG seeded with `seed`: the same values on every run, for
 * sweep inputs and their CPU references.
 *
 * @example
 * ```ts
 * import { seededFloats } from "./webgpu_pipeline.ts";
 * console.log(seededFloats(3, 7).length); // 3
 * ```
 */
export function seededFloats(n: number, seed: number): Float32Array<ArrayBuffer> {
  let s = seed >>> 0;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

/**
 * Reads the first `count` floats of `buf` (which needs COPY_SRC) back to the host through a
 * staging buffer; waits for the GPU.
 *
 * @example
 * ```ts
 * import { readFloats } from "./webgpu_pipeline.ts";
 * console.log(typeof readFloats); // needs a device and a buffer
 * ```
 */
export async function readFloats(
  device: GPUDevice,
  buf: GPUBuffer,
  count: number,
): Promise<Float32Array> {
  const bytes = Math.max(16, Math.ceil(count / 4) * 16); // copies are whole multiples of 4 bytes
  const staging = device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buf, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0, count * 4));
  staging.unmap();
  staging.destroy();
  return out;
}
