/**
 * Raw-WebGPU helper shared by the kernel sweeps (matmul_sweep.ts, elementwise_sweep.ts): compile
 * one WGSL compute shader into a pipeline with an automatic layout, turning validation errors and
 * rejected creations into errors that carry the driver's message.
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
