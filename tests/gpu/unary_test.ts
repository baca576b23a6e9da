import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { UNARY_VEC4 } from "../../lib/gpu/unary.ts";
import { disableGpuKernels, enableGpuKernels } from "../../lib/gpu/register.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

const OPS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  Neg: tf.neg,
  Abs: tf.abs,
  Exp: tf.exp,
  Sqrt: (x) => tf.sqrt(tf.abs(x)),
  Rsqrt: (x) => tf.rsqrt(tf.add(tf.abs(x), 0.5)),
  Square: tf.square,
  Sigmoid: tf.sigmoid,
};

// Our vec4 unary kernels against tfjs's stock webgpu kernels, bit for bit (same WGSL expression
// per element), on a size divisible by 4 (ours) and one that is not (the stock fallback).
Deno.test("vec4 unary kernels equal tfjs's stock webgpu kernels bit for bit", async () => {
  await useWebgpu();
  const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  try {
    assert.deepEqual(Object.keys(OPS).sort(), Object.keys(UNARY_VEC4).sort());
    for (const n of [4096, 4099]) {
      const x = tf.mul(seeded([n], 81), 3);
      const ours: Float32Array[] = [];
      for (const f of Object.values(OPS)) ours.push((await f(x).data()) as Float32Array);
      const ourNeg = tf.getKernel(tf.Neg, "webgpu")?.kernelFunc;
      disableGpuKernels();
      assert.notEqual(
        tf.getKernel(tf.Neg, "webgpu")?.kernelFunc,
        ourNeg,
        "ours was not registered",
      );
      for (const [i, [name, f]] of Object.entries(OPS).entries()) {
        const stock = (await f(x).data()) as Float32Array;
        assert.deepEqual(ours[i], stock, `${name} at ${n} elements differs from the stock kernel`);
      }
      enableGpuKernels();
      x.dispose();
    }
  } finally {
    enableGpuKernels();
    tf.env().set("WEBGPU_CPU_FORWARD", forward);
  }
});
