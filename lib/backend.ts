/**
 * Picks the TensorFlow.js backend for this machine and says which one and why.
 *
 * Order (DESIGN.md, "Engine"): `webgpu` when a real (non-fallback) GPU adapter exists, else
 * `wasm` (≈10× faster than `cpu` here), else `cpu`. The environment variable `BLT_BACKEND`
 * overrides the choice with any registered backend name (`webgpu`, `wasm`, `cpu`, or
 * `tensorflow` for a user who installed tfjs-node themselves).
 *
 * @example
 * ```ts
 * import { setupBackend } from "./backend.ts";
 * const choice = await setupBackend({ override: "cpu", log: () => {} });
 * console.log(choice.backend); // "cpu"
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import "./wasm_kernels.ts";
import "./grad_fixes.ts";
import { disableGpuKernels, enableGpuKernels } from "./gpu/register.ts";

/** What a WebGPU adapter says about itself: enough to decide whether it is a real GPU. */
export interface GpuAdapterSummary {
  /** Human-readable adapter name, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15…)". */
  readonly name: string;
  /** True for software adapters (llvmpipe, SwiftShader): slower than tfjs's wasm backend. */
  readonly isFallback: boolean;
}

/** The backend chosen and the one-line reason logged for it. */
export interface BackendChoice {
  /** Registered tfjs backend name, e.g. "webgpu", "wasm" or "cpu". */
  readonly backend: string;
  /** Why this backend was chosen, e.g. `GPU adapter "NVIDIA H100 80GB HBM3"`. */
  readonly reason: string;
}

/** Options of {@link setupBackend}. */
export interface SetupBackendOptions {
  /** Backend name forced by the caller; defaults to the `BLT_BACKEND` environment variable. */
  readonly override?: string;
  /** Where the one-line summary goes; defaults to `console.log`. */
  readonly log?: (line: string) => void;
  /** On webgpu, use this project's WGSL kernels (default true); false keeps tfjs's stock ones. */
  readonly gpuKernels?: boolean;
}

/** Backends tried when nothing is forced, best first. */
const AUTO_ORDER = ["webgpu", "wasm", "cpu"] as const;

/**
 * Decides the backend order from the adapter found and the override, without touching tfjs.
 *
 * Returns candidates best first; the caller takes the first that initialises.
 *
 * @example
 * ```ts
 * import { planBackends } from "./backend.ts";
 * const plan = planBackends({ name: "llvmpipe", isFallback: true }, undefined, ["cpu", "wasm", "webgpu"]);
 * console.log(plan[0].backend); // "wasm"
 * ```
 */
export function planBackends(
  adapter: GpuAdapterSummary | null,
  override: string | undefined,
  registered: readonly string[],
): BackendChoice[] {
  if (override !== undefined && override !== "") {
    if (!registered.includes(override)) {
      throw new Error(
        `BLT_BACKEND: expected one of ${registered.join(", ")}, found '${override}'. ` +
          "Unset BLT_BACKEND to choose automatically, or import the backend's package first.",
      );
    }
    return [{ backend: override, reason: "forced by BLT_BACKEND" }];
  }
  const gpuReason = adapter === null
    ? "no WebGPU adapter"
    : adapter.isFallback
    ? `only a software WebGPU adapter "${adapter.name}"`
    : `GPU adapter "${adapter.name}"`;
  const plan: BackendChoice[] = [];
  for (const backend of AUTO_ORDER) {
    if (!registered.includes(backend)) continue;
    if (backend === "webgpu") {
      if (adapter !== null && !adapter.isFallback) plan.push({ backend, reason: gpuReason });
    } else {
      plan.push({ backend, reason: gpuReason });
    }
  }
  return plan;
}

/**
 * Asks WebGPU for its best adapter; `null` when the runtime has no WebGPU or no adapter.
 *
 * @example
 * ```ts
 * import { findGpuAdapter } from "./backend.ts";
 * const adapter = await findGpuAdapter();
 * console.log(adapter === null || typeof adapter.name === "string"); // true
 * ```
 */
export async function findGpuAdapter(): Promise<GpuAdapterSummary | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (gpu === undefined) return null;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) return null;
  const info = adapter.info;
  // Deno reports vendor/device as numbers on some drivers, hence String().
  const name = String(info.description || info.device || info.vendor || "unnamed adapter");
  return { name, isFallback: info.isFallbackAdapter === true };
}

/**
 * Chooses, initialises and announces the tfjs backend; returns what was chosen and why.
 *
 * A candidate whose initialisation fails is skipped and the failure is appended to the reason,
 * except a forced one, which throws.
 *
 * @example
 * ```ts
 * import { setupBackend } from "./backend.ts";
 * const lines: string[] = [];
 * const choice = await setupBackend({ override: "wasm", log: (l) => lines.push(l) });
 * console.log(choice.backend, lines.length); // "wasm" 1
 * ```
 */
export async function setupBackend(options: SetupBackendOptions = {}): Promise<BackendChoice> {
  const log = options.log ?? console.log;
  const override = options.override ?? Deno.env.get("BLT_BACKEND");
  const registered = Object.keys(tf.engine().registryFactory);
  const forced = override !== undefined && override !== "";
  const adapter = forced ? null : await findGpuAdapter();
  const failures: string[] = [];
  silenceNodeBanner();
  // tfjs-webgpu hands small tensors to CPU kernels through readSync, which needs a canvas and
  // fails under Deno ("reading 'clearRect'"): keep every op on the GPU.
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  for (const candidate of planBackends(adapter, override, registered)) {
    if (await tf.setBackend(candidate.backend)) {
      const reason = [candidate.reason, ...failures].join("; ");
      // Our WGSL kernels (lib/gpu: tiled matmul, fused attention, RMSNorm, SwiGLU, AdamW) replace
      // or join tfjs's stock webgpu kernels; `gpuKernels: false` keeps the stock ones.
      const ours = candidate.backend === "webgpu" && options.gpuKernels !== false;
      if (ours) enableGpuKernels();
      else if (candidate.backend === "webgpu") disableGpuKernels();
      log(`tfjs backend: ${candidate.backend} (${reason}${ours ? "; lib/gpu kernels on" : ""})`);
      return { backend: candidate.backend, reason };
    }
    if (forced) {
      throw new Error(
        `BLT_BACKEND: backend '${candidate.backend}' failed to initialise. ` +
          "Unset BLT_BACKEND to fall back automatically.",
      );
    }
    failures.push(`${candidate.backend} failed to initialise`);
  }
  throw new Error(
    `setupBackend: no tfjs backend initialised (${failures.join("; ")}). ` +
      "Check that @tensorflow/tfjs-backend-wasm can load its .wasm files.",
  );
}

/**
 * Stops the cpu backend's one-time "install tfjs-node" banner: Deno looks like Node.js to tfjs,
 * and tfjs-node-gpu cannot be installed on our machines (DESIGN.md), so the advice is noise.
 */
function silenceNodeBanner(): void {
  const cpu = tf.findBackend("cpu") as (tf.KernelBackend & { firstUse?: boolean }) | null;
  if (cpu !== null && cpu.firstUse === true) cpu.firstUse = false;
}
