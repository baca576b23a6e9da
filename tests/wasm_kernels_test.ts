import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import {
  clearMatMulCache,
  matMulRoute,
  packedWeightBytes,
  setFastMax,
  setFastTranspose,
  setLastAxisSums,
  setMiddleMean,
  setRowGather,
  setWasmGemm,
} from "../lib/wasm_kernels.ts";

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

Deno.test("wasm BatchMatMul routes at the thresholds = cpu (few rows, stock rows, small products)", async () => {
  const cases: [number[], number[], boolean, boolean, string][] = [
    [[1, 16], [24, 16], false, true, "fewRows"], // generation's dense layer: one row
    [[2, 32, 16], [24, 16], false, true, "fewRows"], // 64 rows in all: the last cached size
    [[65, 16], [24, 16], false, true, "blocked"], // 65 rows: per-call transpose
    [[16, 3], [16, 5], true, false, "fewRows"], // transposed a, few rows
    [[16, 3], [5, 16], true, true, "fewRows"],
    [[5, 7], [1, 7, 3], false, false, "fewRows"], // b's unit batch broadcasts: [1, 5, 3]
    [[1, 4, 1, 32], [1, 4, 27, 32], false, true, "stock"], // generation's attention
    [[2, 3, 4, 9], [2, 3, 9, 70], false, false, "stock"], // 4 rows a matrix
    [[2, 8, 64], [2, 64, 64], false, false, "stock"], // 32768 multiply-adds a matrix
    [[2, 8, 64], [2, 65, 64], false, true, "blocked"], // 33280
    [[2, 5, 80], [2, 90, 80], false, true, "blocked"], // 5 rows, 36000
    [[2, 80, 5], [2, 80, 90], true, false, "blocked"],
  ];
  for (const [sa, sb, ta, tb, route] of cases) {
    assert.equal(matMulRoute(sa, sb, ta, tb), route, `${sa} × ${sb}`);
    const [cpu, wasm] = await onBoth(() => {
      const c = tf.matMul(r(sa, 1), r(sb, 2), ta, tb);
      return [c, tf.tensor1d(c.shape)];
    });
    close(cpu, wasm, 1e-3);
  }
});

Deno.test("wasm BatchMatMul few-row products reuse a weight's transpose; new weights get theirs", async () => {
  await tf.setBackend("wasm");
  const gemmBefore = setWasmGemm(false); // XNNPACK's path: a cached transpose per weight
  clearMatMulCache();
  const wasm = tf.backend() as BackendWasm;
  const x = r([1, 16], 1);
  const reference = async (w: tf.Tensor) => {
    await tf.setBackend("cpu");
    const wc = tf.tensor(w.dataSync(), w.shape), xc = tf.tensor(x.dataSync(), x.shape);
    const out = Array.from(tf.matMul(xc, wc, false, true).dataSync());
    tf.dispose([wc, xc]);
    await tf.setBackend("wasm");
    return out;
  };
  const before = wasm.numDataIds();
  const w1 = r([24, 16], 2);
  const want1 = await reference(w1);
  for (let i = 0; i < 3; i++) {
    const y = tf.matMul(x, w1, false, true);
    close([want1], [Array.from(y.dataSync())]);
    y.dispose();
  }
  assert.equal(wasm.numDataIds(), before + 2); // w1 and its cached transpose
  w1.dispose();
  const w2 = tf.tidy(() => tf.mul(r([24, 16], 3), 2)); // may reuse w1's freed heap bytes, never its dataId
  const want2 = await reference(w2);
  const y2 = tf.matMul(x, w2, false, true);
  close([want2], [Array.from(y2.dataSync())]);
  y2.dispose();
  assert.equal(wasm.numDataIds(), before + 2); // w1's copy freed at this miss; w2 and its copy
  clearMatMulCache();
  assert.equal(wasm.numDataIds(), before + 1);
  tf.dispose([x, w2]);
  setWasmGemm(gemmBefore);
});

Deno.test("wasm BatchMatMul few-row products on our kernel reuse a weight's packed form", async () => {
  await tf.setBackend("wasm");
  clearMatMulCache();
  const x = r([3, 16], 1), w1 = r([24, 16], 2);
  const want = tf.tidy(() => {
    setWasmGemm(false);
    const y = Array.from(tf.matMul(x, w1, false, true).dataSync());
    setWasmGemm(true);
    return y;
  });
  for (let i = 0; i < 3; i++) {
    const y = tf.matMul(x, w1, false, true);
    close([want], [Array.from(y.dataSync())]);
    y.dispose();
    assert.equal(packedWeightBytes(), 32 * 16 * 3); // K = 16 rows of 3 panels, packed once
  }
  w1.dispose();
  const w2 = r([40, 16], 3); // a miss: w1's packed form goes
  tf.matMul(x, w2, false, true).dispose();
  assert.equal(packedWeightBytes(), 32 * 16 * 5);
  clearMatMulCache();
  assert.equal(packedWeightBytes(), 0);
  tf.dispose([x, w2]);
});

Deno.test("wasm BatchMatMul one-row dense gradients (few-row paths, transposed a) = cpu", async () => {
  const [cpu, wasm] = await onBoth(() => {
    const x = r([1, 12], 3), w = r([20, 12], 4);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(a, b, false, true)))
    );
    return g([x, w]);
  });
  close(cpu, wasm, 1e-3);
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

Deno.test("wasm SplitV on any axis, Concat of RoPE pairs = cpu; UnsortedSegmentSum (gather's gradient) = cpu", async () => {
  const shape = [2, 3, 4, 6];
  for (const axis of [0, 1, 2, 3]) {
    const sizes = [1, shape[axis] - 1];
    const [cpu, wasm] = await onBoth(() => tf.split(r(shape, 5), sizes, axis));
    close(cpu, wasm, 0);
  }
  // RoPE's pairs: one value per run on both sides.
  const [cpuPairs, wasmPairs] = await onBoth(() => {
    const [even, odd] = tf.split(r([2, 3, 5, 2], 7), 2, 3);
    return [even, odd, tf.concat([tf.neg(odd), even], 3)];
  });
  close(cpuPairs, wasmPairs, 0);
  const [cpu, wasm] = await onBoth(() => {
    const table = r([10, 3], 6);
    return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, [1, 4, 4, 9, 0, 1]), 2)))(table);
  });
  close(cpu, wasm, 1e-6);
});

Deno.test("wasm BatchMatMul: our SIMD kernel and XNNPACK agree on training-sized products", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number[], boolean, boolean][] = [
    [[130, 70], [70, 9], false, false], // shared b: a's rows folded
    [[130, 70], [9, 70], false, true], // a dense layer
    [[130, 70], [130, 9], true, false], // its weight gradient
    [[2, 3, 50, 70], [2, 3, 70, 41], false, false], // matrix by matrix
    [[2, 3, 70, 50], [2, 3, 41, 70], true, true],
    [[1, 50, 70], [4, 70, 41], false, false], // a batch of 1 broadcasts
    [[3, 70, 50], [70, 41], true, false], // transposed a over a shared b
    [[2, 64, 300], [2, 300, 33], false, false], // sums over two passes
  ];
  for (const [sa, sb, ta, tb] of cases) {
    assert.equal(matMulRoute(sa, sb, ta, tb), "blocked", `${sa} ${sb}`);
    const run = (on: boolean) => {
      const before = setWasmGemm(on);
      try {
        return tf.tidy(() => Array.from(tf.matMul(r(sa, 1), r(sb, 2), ta, tb).dataSync()));
      } finally {
        setWasmGemm(before);
      }
    };
    close([run(false)], [run(true)], 1e-4);
  }
});

Deno.test("wasm transposed BatchMatMul over tiles of the blocked transpose (ragged edges) = cpu", async () => {
  // 130 × 70 and 131 × 133 matrices: the 128-wide transpose tiles end mid-matrix, and row counts
  // that are not a multiple of 4 leave rows after the four-row groups.
  const cases: [number[], number[], boolean, boolean][] = [
    [[2, 3, 130, 70], [2, 3, 130, 5], true, false],
    [[2, 131, 133], [2, 131, 6], true, false],
    [[2, 7, 131], [2, 133, 131], false, true],
    [[2, 3, 70, 5], [2, 3, 130, 5], false, true],
    [[3, 130, 70], [3, 9, 130], true, true],
    [[130, 70], [130, 9], true, false], // a shared b: one folded product
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const [cpu, wasm] = await onBoth(() => tf.matMul(r(sa, 1), r(sb, 2), ta, tb));
    close(cpu, wasm, 1e-3);
  }
});

Deno.test("wasm Tile = cpu: float, int and bool; single values, blocks, every axis", async () => {
  const cases: [number[], number[]][] = [
    [[2, 5, 1], [1, 1, 7]], // Sum's gradient: [B, T, 1] → [B, T, V]
    [[2, 3], [3, 2]],
    [[4], [3]],
    [[2, 1, 3, 1], [2, 4, 1, 5]],
    [[3, 2], [1, 0]], // empty output
  ];
  for (const [shape, reps] of cases) {
    const [cpu, wasm] = await onBoth(() => [
      tf.tile(r(shape, 3), reps),
      tf.tile(tf.cast(tf.mul(r(shape, 4), 10), "int32"), reps),
      tf.tile(tf.greater(r(shape, 5), 0), reps),
    ]);
    close(cpu, wasm, 0);
  }
});

Deno.test("wasm broadcasting comparisons = cpu (causal mask, scalars, rank 3)", async () => {
  const ops = [tf.lessEqual, tf.less, tf.greaterEqual, tf.greater, tf.equal, tf.notEqual];
  const pairs: [() => tf.Tensor, () => tf.Tensor][] = [
    [() => tf.reshape(tf.range(0, 9), [1, 9]), () => tf.reshape(tf.range(0, 9), [9, 1])],
    [() => tf.round(r([2, 3, 4], 1)), () => tf.scalar(0)],
    [() => tf.round(r([4], 2)), () => tf.round(r([2, 3, 4], 3))],
    [() => tf.round(r([2, 1, 4], 4)), () => tf.round(r([3, 1], 5))],
    [() => tf.round(r([3, 4], 6)), () => tf.round(r([3, 4], 7))], // same shape: stock kernel
  ];
  for (const op of ops) {
    for (const [a, b] of pairs) {
      const [cpu, wasm] = await onBoth(() => op(a(), b()));
      close(cpu, wasm, 0);
    }
  }
});

Deno.test("wasm Concat = cpu on every axis, short and long runs, int and bool, empty parts", async () => {
  for (const axis of [0, 1, 2, 3]) {
    const [cpu, wasm] = await onBoth(() => [
      tf.concat([r([2, 3, 4, 1], 1), r([2, 3, 4, 1], 2)], axis),
      tf.concat([r([2, 3, 4, 70], 3), r([2, 3, 4, 70], 4), r([2, 3, 4, 70], 5)], axis),
      tf.concat([
        tf.range(0, 24, 1, "int32").reshape([2, 3, 4, 1]),
        tf.zeros([2, 3, 4, 1], "int32"),
      ], axis),
      tf.concat([tf.greater(r([2, 3, 4, 2], 6), 0), tf.less(r([2, 3, 4, 2], 7), 0)], axis),
    ]);
    close(cpu, wasm, 0);
  }
  const [cpu, wasm] = await onBoth(() => tf.concat([r([2, 0], 1), r([2, 3], 2), r([2, 2], 3)], 1));
  close(cpu, wasm, 0);
});

Deno.test("wasm GatherV2 = cpu on every axis, index shapes, int values; bad indices throw", async () => {
  const x = () => r([4, 5, 70], 1);
  const [cpu, wasm] = await onBoth(() => [
    tf.gather(x(), [3, 0, 3], 0),
    tf.gather(x(), tf.tensor2d([[1, 4], [0, 0]], [2, 2], "int32"), 1), // [4, 2, 2, 70]
    tf.gather(x(), [69, 0, 5], 2), // short rows: value by value
    tf.gather(tf.range(0, 20, 1, "int32").reshape([5, 4]), [4, 1], 0),
    tf.gather(x(), tf.tensor1d([], "int32"), 0),
  ]);
  close(cpu, wasm, 0);
  await tf.setBackend("wasm");
  assert.throws(() => tf.gather(tf.zeros([3, 2]), [3]), /index value 3 is not in \[0, 2\]/);
});

Deno.test("wasm Slice = cpu: every rank to 5, partial and whole axes, short and long runs", async () => {
  const cases: [number[], number[], number[]][] = [
    [[10], [3], [5]],
    [[4, 70], [1, 0], [2, -1]], // whole rows: one run
    [[4, 70], [1, 3], [3, 66]], // long partial rows
    [[2, 4, 9, 3], [0, 1, 2, 0], [-1, 2, 5, -1]], // attention query rows
    [[2, 4, 9, 3], [1, 0, 0, 1], [1, -1, -1, 2]], // short runs on the last axis
    [[2, 3, 4, 5, 6], [1, 1, 1, 1, 1], [1, 2, 3, 4, 5]],
    [[3, 4], [1, 1], [0, 2]], // empty
  ];
  for (const [shape, begin, size] of cases) {
    const [cpu, wasm] = await onBoth(() => [
      tf.slice(r(shape, 3), begin, size),
      tf.slice(tf.cast(tf.mul(r(shape, 4), 10), "int32"), begin, size),
      tf.slice(tf.greater(r(shape, 5), 0), begin, size),
    ]);
    close(cpu, wasm, 0);
  }
});

Deno.test("wasm Identity shares its input's data; clones outlive their source", async () => {
  await tf.setBackend("wasm");
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  const v = tf.variable(b);
  v.assign(tf.tensor1d([4, 5, 6]));
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]); // assign never writes in place
  tf.dispose([b, v]);
});

Deno.test("wasm kernels leak no tensors", async () => {
  await tf.setBackend("wasm");
  const a = r([2, 8, 4], 7), b = r([2, 8, 4], 8);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    tf.tidy(() => tf.matMul(a, b, true, false).add(tf.split(a, 2, 2)[0].sum())).dispose();
    tf.tidy(() => tf.concat([tf.tile(a, [1, 1, 2]), tf.lessEqual(b, tf.scalar(0))], 2)).dispose();
    tf.tidy(() => tf.clone(tf.gather(a, [1, 0], 1))).dispose();
    tf.tidy(() => tf.slice(a, [0, 1, 0], [1, 3, 2])).dispose();
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

Deno.test("wasm Sum over middle/leading axes = cpu, and bit for bit the stock last-axis order", async () => {
  const cases: [number[], number[], boolean][] = [
    [[2048, 128], [0], false],
    [[2, 1024, 128], [0, 1], true],
    [[8192, 1, 2, 32], [0], false],
    [[2, 7, 6, 13], [2], false], // inner 13: SIMD lanes and a scalar tail
    [[3, 5, 3], [1], true], // inner below 4
    [[4, 6], [1], false], // last axis: the stock kernel
    [[2, 3, 4], [0, 2], false], // not contiguous: the stock kernel
  ];
  const [cpu, wasm] = await onBoth(() => cases.map(([s, a, k], i) => tf.sum(r(s, i + 1), a, k)));
  close(cpu, wasm, 1e-3); // float32 sums of up to 2048 terms (the cpu backend adds in float64)
  await tf.setBackend("wasm");
  for (const [i, [s, a, k]] of cases.entries()) {
    tf.tidy(() => {
      const x = r(s, i + 1); // (seed 0 would mean unseeded)
      const rest = s.map((_, d) => d).filter((d) => !a.includes(d));
      // The stock order: summed axes moved last (in order), then a sequential last-axis sum.
      const moved = tf.sum(tf.transpose(x, [...rest, ...a]), a.map((_, j) => rest.length + j));
      const got = tf.sum(x, a, k);
      assert.deepEqual(Array.from(got.dataSync()), Array.from(moved.dataSync()), `${s} ${a}`);
      assert.deepEqual(got.shape, k ? s.map((d, j) => (a.includes(j) ? 1 : d)) : moved.shape);
    });
  }
});

Deno.test("wasm Mean over middle axes: bit for bit the stock kernel (NaN, -0, infinities, keepDims)", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number[], boolean][] = [
    [[2, 1024, 128], [1], false], // the cross-attention's pooled mean
    [[2, 257, 4, 128], [2], false],
    [[2048, 128], [0], true],
    [[2, 7, 6, 13], [1, 2], false], // inner 13, two axes
    [[3, 5, 3], [1], true],
    [[4, 6], [1], false], // last axis: the stock kernel either way
  ];
  for (const [i, [s, a, k]] of cases.entries()) {
    tf.tidy(() => {
      const x = r(s, i + 1);
      const run = (on: boolean) => {
        const before = setMiddleMean(on);
        try {
          return [tf.mean(x, a, k)];
        } finally {
          setMiddleMean(before);
        }
      };
      const [stock, ours] = [run(false), run(true)];
      for (const j of [0]) {
        assert.deepEqual(ours[j].shape, stock[j].shape, `${s} ${a}`);
        assert.deepEqual(
          Array.from(ours[j].dataSync()),
          Array.from(stock[j].dataSync()),
          `${s} ${a} ${j}`,
        );
      }
    });
  }
  // NaN first or later, signed zeros, infinities
  const special = tf.tensor3d(
    [NaN, 1, -0, 0, 2, NaN, 0, -0, -Infinity, 3, Infinity, -1],
    [1, 3, 4],
  );
  const before = setMiddleMean(false);
  const stock = [tf.mean(special, 1)].map((t) => Array.from(t.dataSync()));
  setMiddleMean(true);
  const ours = [tf.mean(special, 1)].map((t) => Array.from(t.dataSync()));
  setMiddleMean(before);
  assert.deepEqual(
    ours.map((v) => v.map((x) => Object.is(x, -0) ? "-0" : x)),
    stock.map((v) => v.map((x) => Object.is(x, -0) ? "-0" : x)),
  );
  special.dispose();
});

Deno.test("wasm Transpose: middle-axes swaps = the stock kernel, identity perms share, others stock", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number[], "float32" | "int32" | "bool"][] = [
    [[2, 1024, 4, 32], [0, 2, 1, 3], "float32"], // attention's head split
    [[2, 4, 257, 64], [0, 2, 1, 3], "float32"],
    [[2, 257, 4, 2, 32], [0, 1, 3, 2, 4], "float32"],
    [[3, 5, 7], [1, 0, 2], "int32"], // no outer axes
    [[2, 3, 4, 5, 8], [0, 3, 1, 2, 4], "float32"], // blocks [1, 3) and [3, 4) swapped
    [[2, 3, 2, 5, 3], [0, 3, 4, 1, 2], "float32"], // blocks swapped, the last axis moves: stock
    [[2, 3, 5, 6], [0, 2, 3, 1], "float32"], // the last axis moves: stock
    [[4, 6, 2, 3], [2, 3, 0, 1], "float32"], // blocks of two axes swapped, the last moves: stock
    [[2, 6, 4, 3], [0, 2, 1, 3], "float32"], // runs of 3 (not SIMD)
    [[2, 3, 4, 8], [0, 2, 1, 3], "bool"], // 1-byte values: stock
    [[6, 4, 2], [0, 1, 2], "float32"], // identity
  ];
  for (const [i, [shape, perm, dtype]] of cases.entries()) {
    tf.tidy(() => {
      const x = tf.cast(tf.mul(r(shape, i + 1), 100), dtype);
      const run = (on: boolean) => {
        const before = setFastTranspose(on);
        try {
          return tf.transpose(x, perm);
        } finally {
          setFastTranspose(before);
        }
      };
      const [stock, ours] = [run(false), run(true)];
      assert.deepEqual(ours.shape, stock.shape, `${shape} ${perm}`);
      assert.equal(ours.dtype, dtype);
      assert.deepEqual(
        Array.from(ours.dataSync()),
        Array.from(stock.dataSync()),
        `${shape} ${perm}`,
      );
    });
  }
  const x = tf.tensor2d([[1, 2], [3, 4]]);
  const y = tf.transpose(x, [0, 1]);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]); // shares x's data, outlives it
  y.dispose();
});

Deno.test("wasm Sum over the last axes (SIMD, 4 rows at a time): bit for bit the stock kernel", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number | number[], boolean][] = [
    [[8192, 1, 2, 32], 3, false], // the cross-attention's scores
    [[2, 1024, 128], -1, false],
    [[2046, 260], 1, true], // the loss's softmax sums
    [[7, 3, 8], [1, 2], false], // two trailing axes; 7 rows: a tail of 3
    [[5, 6], 1, false], // d not a multiple of 4: stock
    [[3, 8], 1, true], // fewer than 4 rows: stock
    [[4, 8], [0, 1], false], // everything: stock
  ];
  for (const [i, [shape, axis, keep]] of cases.entries()) {
    tf.tidy(() => {
      const x = tf.mul(r(shape, i + 1), tf.scalar(i % 2 ? 1e3 : 1e-3));
      const run = (on: boolean) => {
        const before = setLastAxisSums(on);
        try {
          return tf.sum(x, axis, keep);
        } finally {
          setLastAxisSums(before);
        }
      };
      const [stock, ours] = [run(false), run(true)];
      assert.deepEqual(ours.shape, stock.shape, `${shape} ${axis}`);
      assert.deepEqual(
        Array.from(ours.dataSync()),
        Array.from(stock.dataSync()),
        `${shape} ${axis}`,
      );
    });
  }
  const special = tf.tensor2d([
    -0,
    -0,
    -0,
    -0,
    NaN,
    1,
    2,
    3,
    Infinity,
    -Infinity,
    0,
    0,
    1e30,
    1,
    -1e30,
    1,
    5,
    6,
    7,
    8,
  ], [5, 4]);
  const before = setLastAxisSums(false);
  const stock = Array.from(tf.sum(special, 1).dataSync());
  setLastAxisSums(true);
  const ours = Array.from(tf.sum(special, 1).dataSync());
  setLastAxisSums(before);
  assert.deepEqual(
    ours.map((v) => Object.is(v, -0) ? "-0" : v),
    stock.map((v) => Object.is(v, -0) ? "-0" : v),
  );
  special.dispose();
});

Deno.test("wasm GatherV2's SIMD row loop = the row copies (float32 and int32 rows, index shapes)", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number[], "float32" | "int32"][] = [
    [[24576, 128], [2, 64, 6], "float32"], // hash n-gram rows
    [[260, 128], [2, 1024], "float32"],
    [[7, 8], [5], "int32"],
    [[9, 2, 4], [3, 3], "float32"], // rows of 2·4 values
    [[6, 3], [4], "float32"], // rows of 3: not SIMD
  ];
  for (const [i, [shape, idShape, dtype]] of cases.entries()) {
    tf.tidy(() => {
      const x = tf.cast(tf.mul(r(shape, i + 1), 1000), dtype);
      const n = idShape.reduce((a, b) => a * b, 1);
      const ids = tf.tensor(
        Array.from({ length: n }, (_, k) => (k * 7919) % shape[0]),
        idShape,
        "int32",
      );
      const run = (on: boolean) => {
        const before = setRowGather(on);
        try {
          return tf.gather(x, ids);
        } finally {
          setRowGather(before);
        }
      };
      const [slow, fast] = [run(false), run(true)];
      assert.deepEqual(fast.shape, slow.shape);
      assert.deepEqual(Array.from(fast.dataSync()), Array.from(slow.dataSync()), `${shape}`);
    });
  }
});

Deno.test("wasm Max over middle or last axes (SIMD) = the stock kernel's picks (NaN, -0, inf)", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number | number[], boolean][] = [
    [[2, 257, 4, 128], 2, false], // the cross-attention's
    [[2046, 260], 1, true], // the loss's logSoftmax
    [[6, 5, 8], [0, 1], false], // leading axes
    [[8, 12], -1, false],
    [[6, 12], 1, false], // 6 rows: 4 by SIMD, 2 in JS
    [[3, 12], 1, false], // 3 rows: stock
    [[8, 6], 1, false], // 6 values a row: stock
    [[3, 5, 6], 1, false], // inner 6: stock
  ];
  const run = (on: boolean, f: () => tf.Tensor) => {
    const before = setFastMax(on);
    try {
      return f();
    } finally {
      setFastMax(before);
    }
  };
  const tag = (v: number) => (Object.is(v, -0) ? "-0" : v);
  for (const [i, [shape, axis, keep]] of cases.entries()) {
    tf.tidy(() => {
      const x = r(shape, i + 1);
      const [stock, ours] = [false, true].map((on) => run(on, () => tf.max(x, axis, keep)));
      assert.deepEqual(ours.shape, stock.shape, `${shape} ${axis}`);
      assert.deepEqual(
        Array.from(ours.dataSync()),
        Array.from(stock.dataSync()),
        `${shape} ${axis}`,
      );
    });
  }
  // special values: rows (last axis) and columns (middle axis) with NaN first, later, zeros, inf
  const vals = [NaN, 1, 2, 3, 1, NaN, 3, 2, -0, 0, -1, -2, 0, -0, -3, -4, -Infinity, -Infinity];
  const more = [5, 4, 4, 5, NaN, NaN, -0, -0, 0, 0, 7, 7, -7, NaN];
  const special = tf.tensor2d([...vals, ...more], [8, 4]); // 8 rows: the SIMD path for axis 1
  const tail = tf.tensor2d([...vals, ...more].slice(8), [6, 4]); // 4 rows SIMD, 2 in JS
  for (const [t, axis] of [[special, 0], [special, 1], [tail, 1]] as [tf.Tensor, number][]) {
    const [stock, ours] = [false, true].map((on) =>
      Array.from(run(on, () => tf.max(t, axis)).dataSync()).map(tag)
    );
    assert.deepEqual(ours, stock, `[${t.shape}] axis ${axis}`);
  }
  tf.dispose([special, tail]);
});

Deno.test("wasm Tile through the SIMD row gather = the JS loops (outer and middle reps)", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number[], "float32" | "int32"][] = [
    [[2, 64, 1, 128], [1, 1, 6, 1], "float32"], // the hash n-gram gradient's
    [[3, 2, 8], [2, 3, 1], "int32"],
    [[5, 4], [3, 1], "float32"],
    [[2, 3, 4], [1, 2, 2], "float32"], // the last axis repeated: JS loops
  ];
  for (const [i, [shape, reps, dtype]] of cases.entries()) {
    tf.tidy(() => {
      const x = tf.cast(tf.mul(r(shape, i + 1), 100), dtype);
      const run = (on: boolean) => {
        const before = setRowGather(on);
        try {
          return tf.tile(x, reps);
        } finally {
          setRowGather(before);
        }
      };
      const [slow, fast] = [run(false), run(true)];
      assert.deepEqual(fast.shape, slow.shape);
      assert.deepEqual(
        Array.from(fast.dataSync()),
        Array.from(slow.dataSync()),
        `${shape} ${reps}`,
      );
    });
  }
});

Deno.test("wasm Cast to the same dtype shares the data; other casts convert", async () => {
  await tf.setBackend("wasm");
  const x = tf.tensor1d([1.5, -2.25]);
  const y = tf.cast(x, "float32");
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1.5, -2.25]); // outlives its source
  const i = tf.cast(y, "int32");
  assert.equal(i.dtype, "int32");
  assert.deepEqual(Array.from(i.dataSync()), [1, -2]);
  tf.dispose([y, i]);
});
