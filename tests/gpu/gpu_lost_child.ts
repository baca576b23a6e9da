/**
 * Child process of guard_test.ts: trains the toy model on tfjs's webgpu backend (the software
 * adapter on CPU machines) with a checkpoint every 2 steps, destroys the GPU device after step 3
 * (as a driver reset would), and prints what the trainer threw as one JSON line. A lost device
 * cannot be brought back in-process, hence the child.
 *
 *   deno run -A tests/train/gpu_lost_child.ts RUN_DIR
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { GpuFaultError } from "../../lib/gpu/guard.ts";
import { train } from "../../lib/train/loop.ts";
import { ToyBigram, toyExamples } from "../train/toy_model.ts";

const [run] = Deno.args;
if (!(await tf.setBackend("webgpu"))) throw new Error("gpu_lost_child: no webgpu backend");
const model = new ToyBigram({ dim: 8, seed: 3 });
const rows = toyExamples(8, 33);
try {
  await train({
    model,
    data: { batchAt: (i) => ({ ids: [rows[i % 8].ids, rows[(i + 1) % 8].ids] }) },
    config: { steps: 5, checkpointEvery: 2, warmupSteps: 1, lr: 0.01 },
    checkpointDir: run,
    callbacks: {
      onStep: (m) => {
        if (m.step === 3) (tf.backend() as unknown as { device: GPUDevice }).device.destroy();
      },
    },
  });
  console.log(JSON.stringify({ threw: false }));
} catch (e) {
  const err = e as Error;
  console.log(JSON.stringify({
    threw: true,
    gpuFault: e instanceof GpuFaultError ? e.fault.kind : null,
    message: err.message,
  }));
}
