import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "../lib/wasm_kernels.ts";

/** Runs `f` on the cpu backend (reference) and on wasm (our kernels), returning both results. */
async function onBoth(f: () => tf.Tensor | tf.Tensor[]): Promise<[number[][], number[][]]> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    tf.util.assert(tf.getBackend() === backend, () => `backend ${backend} unavailable`);
    const out = tf.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const values = list.map((t) => Array.from(t.dataSync()));
    tf.dispose(list);
    return values;
  };
  return [await run("cpu"), await run("wasm")];
}

function close(a: number[][], b: number[][], tol = 1e-4) {
  assert.equal(a.length, b.length);
  a.forEach((row, i) => {
    assert.equal(row.length, b[i].length);
    row.forEach((v, j) =>
      assert.ok(Math.abs(v - b[i][j]) <= tol * (1 + Math.abs(v)), `${i}/${j}: ${v} vs ${b[i][j]}`)
    );
  });
}

const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

Deno.test("wasm BatchMatMul: transposes, shared weights, equal batches, broadcast = cpu", async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[2, 3, 5, 7], [7, 4], false, false], // shared b folds a's batch into rows
    [[2, 3, 5, 7], [2, 3, 4, 7], false, true], // attention-shaped, equal batches
    [[6, 7, 5], [6, 7, 4], true, false],
    [[1, 5, 7], [3, 7, 4], false, false], // broadcast a: stock path
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const [cpu, wasm] = await onBoth(() => tf.matMul(r(sa, 1), r(sb, 2), ta, tb));
    close(cpu, wasm);
  }
});

Deno.test("wasm BatchMatMul gradients = cpu", async () => {
  const [cpu, wasm] = await onBoth(() => {
    const a = r([2, 4, 6], 3), b = r([2, 5, 6], 4);
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(x, y, false, true)))
    );
    return g([a, b]);
  });
  close(cpu, wasm, 1e-3);
});

Deno.test("wasm SplitV on any axis = cpu; UnsortedSegmentSum (gather's gradient) = cpu", async () => {
  const shape = [2, 3, 4, 6];
  for (const axis of [0, 1, 2, 3]) {
    const sizes = [1, shape[axis] - 1];
    const [cpu, wasm] = await onBoth(() => tf.split(r(shape, 5), sizes, axis));
    close(cpu, wasm, 0);
  }
  const [cpu, wasm] = await onBoth(() => {
    const table = r([10, 3], 6);
    return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, [1, 4, 4, 9, 0, 1]), 2)))(table);
  });
  close(cpu, wasm, 1e-6);
});

Deno.test("wasm kernels leak no tensors", async () => {
  await tf.setBackend("wasm");
  const a = r([2, 8, 4], 7), b = r([2, 8, 4], 8);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    tf.tidy(() => tf.matMul(a, b, true, false).add(tf.split(a, 2, 2)[0].sum())).dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([a, b]);
});

Deno.test("wasm kernels survive wasm heap growth mid-kernel (views re-taken after allocations)", async () => {
  await tf.setBackend("wasm");
  // Big enough that the per-matrix copies and outputs grow the heap several times.
  for (const [b, m, k, n] of [[16, 384, 512, 384], [4, 1024, 1024, 512]]) {
    const a = tf.randomNormal([b, m, k], 0, 1, "float32", 1);
    const w = tf.randomNormal([b, k, n], 0, 1, "float32", 2);
    const c = tf.matMul(a, w);
    const first = tf.matMul(tf.slice(a, [0, 0, 0], [1, m, k]), tf.slice(w, [0, 0, 0], [1, k, n]));
    const last = tf.matMul(
      tf.slice(a, [b - 1, 0, 0], [1, m, k]),
      tf.slice(w, [b - 1, 0, 0], [1, k, n]),
    );
    close([Array.from(first.dataSync())], [
      Array.from(tf.slice(c, [0, 0, 0], [1, m, n]).dataSync()),
    ], 1e-3);
    close([Array.from(last.dataSync())], [
      Array.from(tf.slice(c, [b - 1, 0, 0], [1, m, n]).dataSync()),
    ], 1e-3);
    tf.dispose([a, w, c, first, last]);
  }
});
