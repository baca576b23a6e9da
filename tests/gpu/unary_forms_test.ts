import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { setUnaryForm, unaryForm } from "../../lib/gpu/unary.ts";
import { UNARY_DEFAULT_FORM } from "../../lib/gpu/elementwise_wgsl.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

// The vec4 unary kernels' other WGSL forms (lib/gpu/elementwise_wgsl.ts: vec4s per thread,
// workgroup size, grid, grid-stride) against the default form, bit for bit, on 4100 elements
// (1025 vec4s: partial blocks; grid-stride over 2 or 3 workgroups loops several times).
Deno.test("unary forms equal the default form bit for bit", async () => {
  await useWebgpu();
  const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  const x = tf.mul(seeded([4100], 5), 3);
  try {
    assert.deepEqual(unaryForm(), UNARY_DEFAULT_FORM);
    const want = [await tf.neg(x).data(), await tf.sigmoid(x).data()];
    const forms = [
      { perThread: 2, workgroup: 64, gridStride: 0, grid: "balanced" as const },
      { perThread: 4, workgroup: 128, gridStride: 3, grid: "flat" as const },
      { perThread: 1, workgroup: 64, gridStride: 2, grid: "flat" as const },
    ];
    for (const f of forms) {
      setUnaryForm(f);
      const info = await tf.profile(() => tf.neg(x));
      tf.dispose(info.result as tf.Tensor);
      assert.ok(JSON.stringify(info.kernels.map((k) => k.extraInfo)).includes("blt_unary_Neg_v"));
      const got = [await tf.neg(x).data(), await tf.sigmoid(x).data()];
      assert.deepEqual(got, want, JSON.stringify(f));
    }
    assert.throws(() => setUnaryForm({ ...UNARY_DEFAULT_FORM, perThread: 3 }), /perThread/);
  } finally {
    setUnaryForm("default");
    x.dispose();
    tf.env().set("WEBGPU_CPU_FORWARD", forward);
  }
});
