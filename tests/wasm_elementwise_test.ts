import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "../lib/wasm_kernels.ts";
import "../lib/grad_fixes.ts";
import { applyRope, ropeTables } from "../lib/model/layers/rope.ts";
import { rmsNorm } from "../lib/model/layers/rms_norm.ts";
import { initMlp, mlp } from "../lib/model/layers/mlp.ts";
import { Params } from "../lib/model/params.ts";
import { resolveConfig } from "../lib/config.ts";
import { createBlt } from "../lib/model/blt.ts";
import { benchRows } from "../bench/cpu_profile.ts";
import { nextByteLoss } from "../lib/model/loss.ts";
import {
  elementwiseModuleBytes,
  fusedElementwiseAvailable,
  nextBytePicksWasm,
  rmsNormWasm,
  ropeWasm,
  setFusedElementwise,
  swigluWasm,
} from "../lib/wasm_elementwise.ts";

await tf.setBackend("wasm");

/** Value and gradients of Σ f(xs) ⊙ w, fused or in the tfjs form, as plain arrays. */
function run(fused: boolean, f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): number[][] {
  const before = setFusedElementwise(fused);
  try {
    return tf.tidy(() => {
      const out = f(...xs);
      const w = tf.randomNormal(out.shape, 0, 1, "float32", 7);
      const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), w)))(xs);
      return [out, ...grads].map((t) => Array.from(t.dataSync()));
    });
  } finally {
    setFusedElementwise(before);
  }
}

function sameBits(fused: number[][], plain: number[][], what: string) {
  assert.equal(fused.length, plain.length);
  fused.forEach((a, i) => {
    const b = plain[i];
    assert.equal(a.length, b.length);
    const bad = a.findIndex((v, j) => !Object.is(Math.fround(v), Math.fround(b[j])));
    assert.equal(bad, -1, `${what}: output ${i} differs at ${bad}: ${a[bad]} vs ${b[bad]}`);
  });
}

Deno.test("the elementwise module validates and runs here", () => {
  assert.ok(WebAssembly.validate(elementwiseModuleBytes()));
  assert.ok(fusedElementwiseAvailable());
});

Deno.test("fused SwiGLU gate (wasm) = silu(g)·u in tfjs ops bit for bit: value and both gradients", () => {
  const gate = (g: tf.Tensor, u: tf.Tensor) =>
    swigluWasm(g, u) ?? tf.mul(tf.mul(g, tf.sigmoid(g)), u);
  for (const shape of [[2, 7, 12], [3, 64], [1, 5, 4]]) {
    const g = tf.randomNormal(shape, 0, 3, "float32", 1),
      u = tf.randomNormal(shape, 0, 1, "float32", 2);
    assert.ok(tf.tidy(() => swigluWasm(g, u) !== null));
    sameBits(run(true, gate, [g, u]), run(false, gate, [g, u]), `gate ${shape}`);
    // The whole layer: the same products either way.
    const p = new Params(3);
    initMlp(p, "m", shape[shape.length - 1], 8);
    const f = (x: tf.Tensor) => mlp(p, "m", x);
    sameBits(run(true, f, [g]), run(false, f, [g]), `mlp ${shape}`);
    p.dispose();
    tf.dispose([g, u]);
  }
});

Deno.test("fused RoPE (wasm) = the tfjs interleaved-pair form bit for bit: value and gradient", () => {
  for (const [B, H, T, d] of [[2, 4, 37, 32], [1, 2, 9, 64], [1, 1, 3, 4]]) {
    const { cos, sin } = ropeTables(T, d, 10000);
    const x = tf.randomNormal([B, H, T, d], 0, 2, "float32", 5);
    assert.ok(tf.tidy(() => ropeWasm(x, cos, sin) !== null));
    const f = (a: tf.Tensor) => applyRope(a, cos, sin);
    sameBits(run(true, f, [x]), run(false, f, [x]), `rope ${[B, H, T, d]}`);
    tf.dispose([cos, sin, x]);
  }
});

Deno.test("fused RMSNorm (wasm) = the tfjs form bit for bit: value and gradients of x and weight", () => {
  for (const shape of [[2, 33, 128], [3, 256], [1, 4, 2, 8]]) {
    const h = shape[shape.length - 1];
    const x = tf.randomNormal(shape, 0, 2, "float32", 8);
    const w = tf.randomNormal([h], 1, 0.2, "float32", 9);
    assert.ok(tf.tidy(() => rmsNormWasm(x, w, 1e-5) !== null));
    const f = (a: tf.Tensor, b: tf.Tensor) => rmsNorm(a, b, 1e-5);
    sameBits(run(true, f, [x, w]), run(false, f, [x, w]), `rmsNorm ${shape}`);
    tf.dispose([x, w]);
  }
});

Deno.test("fused passes leak no tensors: forward + backward, tables disposed before backward", () => {
  const before = tf.memory().numTensors;
  const x = tf.randomNormal([1, 2, 8, 8], 0, 1, "float32", 3);
  const w = tf.ones([8]);
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.tidy(() => {
      const { cos, sin } = ropeTables(8, 8, 10000);
      const y = applyRope(rmsNorm(a, b, 1e-5), cos, sin);
      tf.dispose([cos, sin]);
      return tf.sum(tf.mul(y, swigluWasm(y, y)!));
    })
  )([x, w]);
  const logits = tf.randomNormal([2, 5, 8], 0, 1, "float32", 4);
  const ids = [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]];
  const [gl] = tf.grads((a: tf.Tensor) => nextByteLoss(() => a as tf.Tensor3D, { ids }).loss)([
    logits,
  ]);
  tf.dispose([x, w, ...g, logits, gl]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("a tiny BLT's loss and every weight's gradient: fused passes = tfjs form bit for bit", () => {
  const config = resolveConfig("tiny", {
    entropyModel: null,
    patching: { mode: "static", patchSize: 4 },
  });
  const model = createBlt(config, 0);
  const vars = [...model.namedVariables().values()];
  const batch = benchRows(2, 64);
  const once = (fused: boolean) => {
    const before = setFusedElementwise(fused);
    try {
      const { value, grads } = tf.variableGrads(() => model.loss(batch).loss, vars);
      const out = [value, ...vars.map((v) => grads[v.name])].map((t) => Array.from(t.dataSync()));
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    } finally {
      setFusedElementwise(before);
    }
  };
  sameBits(once(true), once(false), "tiny BLT");
  model.dispose();
});

Deno.test("fused next-byte loss picks (wasm) = the tfjs form bit for bit: loss and logits' gradient, masked targets too", () => {
  const B = 3, T = 37, V = 260;
  const ids = Array.from(
    { length: B },
    (_, b) => Array.from({ length: T }, (_, t) => (t * 7 + b * 31) % V),
  );
  const targetMask = ids.map((row, b) => row.map((_, t) => (t + b) % 5 === 0 ? 0 : 1));
  const x = tf.randomNormal([B, T, V], 0, 3, "float32", 11);
  const f = (a: tf.Tensor) => nextByteLoss(() => a as tf.Tensor3D, { ids, targetMask }).loss;
  assert.ok(
    tf.tidy(() => nextBytePicksWasm(x as tf.Tensor3D, new Int32Array(B * (T - 1))) !== null),
  );
  sameBits(run(true, f, [x]), run(false, f, [x]), "loss");
  x.dispose();
});
