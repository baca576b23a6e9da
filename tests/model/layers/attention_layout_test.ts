import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { setAttentionLayout, setAttentionUnrolled } from "../../../lib/gpu/attention.ts";
import { causalBias, initAttention, selfAttention } from "../../../lib/model/layers/attention.ts";
import { ropeTables } from "../../../lib/model/layers/rope.ts";
import { Params } from "../../../lib/model/params.ts";
import { maxAbsDiff, seeded, useWebgpu } from "../../gpu/webgpu_setup.ts";

// selfAttention on webgpu with q, k, v kept [B, T, H, d] (RoPE and the fused kernels in that
// layout, no head transposes) against the transposed [B, H, T, d] path: outputs and every
// gradient (x and the four projections), with documents and a window. Loop-form kernels
// (llvmpipe compiles them in seconds).
Deno.test("selfAttention on webgpu: the [B, T, H, d] layout equals [B, H, T, d]", async () => {
  await useWebgpu();
  setAttentionUnrolled(false);
  const [B, T, dim, heads] = [2, 70, 48, 3]; // headDim 16
  const p = new Params(3);
  initAttention(p, "attn", dim);
  const x = seeded([B, T, dim], 71) as tf.Tensor3D;
  const dy = seeded([B, T, dim], 72);
  const docs = tf.tensor2d(
    Array.from({ length: B * T }, (_, i) => (i % T < 30 ? 0 : 1) + (i >= T ? 5 : 0)),
    [B, T],
    "int32",
  );
  const { cos, sin } = ropeTables(T, dim / heads, 10000);
  const names = p.names();
  const run = (layout: "bhtd" | "bthd") => {
    setAttentionLayout(layout);
    const bias = causalBias(T, 20, docs);
    const f = (xx: tf.Tensor, ...ws: tf.Tensor[]) => {
      void ws;
      return tf.sum(
        tf.mul(selfAttention(p, "attn", { dim, heads }, xx as tf.Tensor3D, cos, sin, bias), dy),
      );
    };
    const vars = names.map((n) => p.get(n));
    const { value, grads } = tf.variableGrads(() => f(x) as tf.Scalar, vars as tf.Variable[]);
    const dx = tf.grad((xx: tf.Tensor) => f(xx))(x);
    bias.dispose();
    return { value, dx, grads: names.map((n) => grads[vars[names.indexOf(n)].name]) };
  };
  try {
    const a = run("bhtd");
    const b = run("bthd");
    assert.ok(Math.abs((await a.value.data())[0] - (await b.value.data())[0]) < 1e-4);
    assert.ok((await maxAbsDiff(a.dx, b.dx)) < 1e-5, "dx differs");
    for (let i = 0; i < names.length; i++) {
      const diff = await maxAbsDiff(a.grads[i], b.grads[i]);
      assert.ok(diff < 1e-5, `${names[i]} gradient differs by ${diff}`);
    }
    tf.dispose([a.value, a.dx, ...a.grads, b.value, b.dx, ...b.grads]);
  } finally {
    setAttentionLayout("auto");
    setAttentionUnrolled(true);
    tf.dispose([x, dy, docs, cos, sin]);
    p.dispose();
  }
});
