import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { addMany, clipOnDevice } from "../../lib/train/clip.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

await tf.setBackend("cpu");

// A BLT has ~90 gradients; one tf.addN over all of them exceeds WebGPU's 8 storage buffers per
// shader stage, failed validation and left the norm unwritten. Watch for such errors directly.
Deno.test("clipOnDevice on webgpu: the global norm of 90 gradients is right and raises no GPU error", async () => {
  const shapes = Array.from({ length: 90 }, (_, i) => [1 + (i % 5), 3 + (i % 7)]);
  const grads = new Map(shapes.map((s, i) => [`g${i}`, seeded(s, i + 1)] as const));
  let want = 0;
  for (const g of grads.values()) for (const x of await g.data()) want += x * x;
  want = Math.sqrt(want);
  tf.dispose([...grads.values()]);

  await useWebgpu();
  // deno-lint-ignore no-explicit-any
  const device = (tf.backend() as any).device as GPUDevice;
  device.pushErrorScope("validation");
  const onGpu = new Map(shapes.map((s, i) => [`g${i}`, seeded(s, i + 1)] as const));
  const { grads: clipped, norm } = clipOnDevice(onGpu, want / 2);
  const got = (await norm.data())[0];
  const first = (await clipped.get("g0")!.data())[0];
  const error = await device.popErrorScope();
  assert.equal(error, null, `GPU validation error: ${error?.message}`);
  assert.ok(Math.abs(got - want) < 1e-4 * want, `norm ${got} vs ${want}`);
  const g0 = (await onGpu.get("g0")!.data())[0];
  assert.ok(Math.abs(first - g0 / 2) < 1e-5, `clipped ${first} vs ${g0 / 2}`);
  tf.dispose([...onGpu.values(), ...clipped.values(), norm]);
  await tf.setBackend("cpu");
});

Deno.test("addMany: sums any number of tensors in chunks; refuses none", async () => {
  await tf.setBackend("cpu");
  tf.tidy(() => {
    for (const n of [1, 2, 7, 8, 49, 50]) {
      const terms = Array.from({ length: n }, (_, i) => tf.scalar(i + 1));
      assert.equal(addMany(terms).dataSync()[0], (n * (n + 1)) / 2, `n = ${n}`);
    }
  });
  assert.throws(() => addMany([]), /no tensors to add/);
});
