import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { installLeanBackward } from "../lib/lean_backward.ts";
import { resolveConfig } from "../lib/config.ts";
import { createBlt } from "../lib/model/blt.ts";

const original = installLeanBackward();
type Gradients = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy: tf.Tensor | null,
  allowNoGradients: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };
const engine = tf.engine() as unknown as { gradients: Gradients };

function tinyBlt() {
  const cfg = resolveConfig("tiny", {
    "global.layers": 1,
    "decoder.layers": 2,
    "hash.buckets": 32,
    entropyModel: null,
  });
  const blt = createBlt(cfg, 3);
  const ids = [[1, 72, 101, 108, 108, 111, 32, 119, 111, 114], [
    1,
    40,
    41,
    42,
    2,
    1,
    50,
    51,
    52,
    53,
  ]];
  const batch = { ids, patchLengths: [[1, 3, 2, 4], [1, 1, 4, 4]] };
  return { blt, batch, vars: [...blt.namedVariables().values()] };
}

Deno.test("lean backward: BLT gradients bit for bit those of tfjs's own backward pass", async () => {
  await tf.setBackend("cpu");
  const { blt, batch, vars } = tinyBlt();
  const f = () => blt.loss(batch).loss;
  const lean = engine.gradients(f, vars, null, false);
  const stock = original.call(engine, f, vars, null, false);
  assert.equal(lean.value.dataSync()[0], stock.value.dataSync()[0]);
  vars.forEach((v, i) => {
    assert.deepEqual(lean.grads[i].dataSync(), stock.grads[i].dataSync(), v.name);
  });
  tf.dispose([lean.value, stock.value, ...lean.grads, ...stock.grads]);
  blt.dispose();
});

Deno.test("lean backward: lower peak than tfjs's, no tensors left behind", async () => {
  await tf.setBackend("cpu");
  const { blt, batch, vars } = tinyBlt();
  const peak = async (g: Gradients) => {
    const before = tf.memory().numTensors;
    const info = await tf.profile(() => {
      const { value, grads } = g.call(engine, () => blt.loss(batch).loss, vars, null, false);
      tf.dispose([value, ...grads]);
    });
    assert.equal(tf.memory().numTensors, before, "tensors leaked");
    return info.peakBytes;
  };
  const stock = await peak(original), lean = await peak(engine.gradients);
  assert.ok(lean < stock, `lean peak ${lean} should be below tfjs's ${stock}`);
  blt.dispose();
});

Deno.test("lean backward: gradients of gradients keep working (tfjs's path)", async () => {
  await tf.setBackend("cpu");
  const x = tf.tensor1d([1, 2, 3]);
  const d2 = tf.grad(tf.grad((t: tf.Tensor) => tf.sum(tf.pow(t, 3))))(x); // 6x
  assert.deepEqual(Array.from(d2.dataSync()), [6, 12, 18]);
  const init = tf.tensor1d([2, -1]);
  const before = tf.memory().numTensors;
  const v = tf.variable(init);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.square(v), v)), [v]);
  assert.deepEqual(Array.from(grads[v.name].dataSync()), [12, 3]);
  tf.dispose([value, ...Object.values(grads), v]);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  tf.dispose([x, d2, init]);
});

Deno.test("lean backward: a gradient that returns dy itself is not freed under its consumer", async () => {
  await tf.setBackend("cpu");
  const pass = tf.customGrad(
    ((t: tf.Tensor) => ({
      value: tf.mul(t, 1),
      gradFunc: (dy: tf.Tensor) => dy, // hands dy through unchanged
    })) as unknown as (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      value: tf.Tensor;
      gradFunc: (dy: tf.Tensor) => tf.Tensor;
    },
  );
  const v = tf.variable(tf.tensor1d([1, 2]));
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(pass(pass(v)), 3)), [v]);
  assert.deepEqual(Array.from(grads[v.name].dataSync()), [3, 3]);
  tf.dispose([value, ...Object.values(grads), v]);
});

Deno.test("lean backward: errors as tfjs's (no gradient path)", async () => {
  await tf.setBackend("cpu");
  const v = tf.variable(tf.scalar(1));
  assert.throws(() => tf.grad(() => tf.scalar(2))(tf.scalar(3)), /Cannot compute gradient/);
  v.dispose();
});
