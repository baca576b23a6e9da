// Our webgpu UnsortedSegmentSum against the cpu backend (which drops ids outside
// [0, numSegments), as ours does) and the stock webgpu kernel (for in-range ids; it wraps large
// ids modulo numSegments). Shapes are small: llvmpipe compiles each pipeline slowly, and both of
// ours (fill, scatter) are shape-independent, so every case reuses them.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  disableGpuKernels,
  enableGpuKernels,
  STOCK_UNSORTED_SEGMENT_SUM,
  stockUnsortedSegmentSum,
} from "../../lib/gpu/register.ts";
import { flatGrid, webgpuBackend } from "../../lib/gpu/dispatch.ts";
import {
  planSegmentSum,
  SEGMENT_SUM_ROWS,
  segmentSumGpu,
  segmentSumGrid,
} from "../../lib/gpu/segment_sum.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";

/** Deterministic ids in [lo, hi). */
function ids(n: number, lo: number, hi: number, seed: number): Int32Array {
  let s = seed >>> 0;
  return Int32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo));
  });
}

/** tf.unsortedSegmentSum of plain arrays on the cpu backend; leaves webgpu selected. */
async function onCpu(
  x: Float32Array,
  shape: number[],
  segmentIds: Int32Array,
  numSegments: number,
): Promise<Float32Array> {
  assert.ok(await tf.setBackend("cpu"));
  try {
    const out = tf.unsortedSegmentSum(
      tf.tensor(x, shape),
      tf.tensor1d(segmentIds, "int32"),
      numSegments,
    );
    return await out.data() as Float32Array;
  } finally {
    await useWebgpu();
  }
}

/** Largest |a - b| / (1 + |b|). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

interface Case {
  readonly name: string;
  readonly shape: number[];
  readonly numSegments: number;
  readonly ids: (rows: number) => Int32Array;
  /** All ids in [0, numSegments): the stock kernel agrees too. */
  readonly inRange: boolean;
}

const cases: Case[] = [
  {
    name: "2-D x [301, 37], random ids",
    shape: [301, 37],
    numSegments: 23,
    ids: (n) => ids(n, 0, 23, 1),
    inRange: true,
  },
  {
    name: "3-D x [67, 5, 7], random ids",
    shape: [67, 5, 7],
    numSegments: 11,
    ids: (n) => ids(n, 0, 11, 2),
    inRange: true,
  },
  {
    name: "1-D x [50] (inner 1)",
    shape: [50],
    numSegments: 6,
    ids: (n) => ids(n, 0, 6, 3),
    inRange: true,
  },
  {
    name: "heavy contention: all 2003 ids equal",
    shape: [2003, 16],
    numSegments: 5,
    ids: (n) => new Int32Array(n).fill(3),
    inRange: true,
  },
  {
    name: "sorted ids with runs (a byte's patch)",
    shape: [203, 9],
    numSegments: 40,
    ids: (n) => Int32Array.from({ length: n }, (_, i) => Math.floor(i / 5)),
    inRange: false, // 203 / 5 → ids up to 40 = numSegments
  },
  {
    name: "negative ids and ids ≥ numSegments are dropped",
    shape: [157, 13],
    numSegments: 17,
    ids: (n) => ids(n, -5, 25, 4),
    inRange: false,
  },
];

for (const c of cases) {
  Deno.test(`segment sum (ours) equals the cpu backend: ${c.name}`, async () => {
    await useWebgpu();
    const xt = seeded(c.shape, 11);
    const x = await xt.data() as Float32Array;
    xt.dispose();
    const rows = c.shape[0];
    const segs = c.ids(rows);
    const expect = await onCpu(x, c.shape, segs, c.numSegments);
    const before = tf.memory().numTensors;
    const xg = tf.tensor(x, c.shape), idsg = tf.tensor1d(segs, "int32");
    const ours = tf.unsortedSegmentSum(xg, idsg, c.numSegments);
    assert.deepEqual(ours.shape, [c.numSegments, ...c.shape.slice(1)]);
    // Float atomics add in arrival order, so sums of many rows differ from an ordered sum by
    // rounding that grows with the number of terms (2e-5 seen for 2003 equal ids in a CI try);
    // a dropped or doubled row would be off by ~1e-2 or more.
    const tol = Math.max(1e-5, 4e-7 * rows);
    const d = relDiff(await ours.data(), expect);
    assert.ok(d < tol, `max relative diff to cpu ${d}`);
    if (c.inRange) {
      const stock = stockUnsortedSegmentSum(xg, idsg, c.numSegments);
      const ds = relDiff(await ours.data(), await stock.data());
      assert.ok(ds < tol, `max relative diff to the stock kernel ${ds}`);
      stock.dispose();
    }
    tf.dispose([xg, idsg, ours]);
    assert.equal(tf.memory().numTensors, before);
  });
}

Deno.test("segment sum zeroes its pooled output: segments without ids are 0 after garbage", async () => {
  await useWebgpu();
  const shape = [30, 8], numSegments = 12;
  // A freed [12, 8] buffer full of 7s goes back to the pool that our output draws from.
  const junk = tf.add(tf.fill([numSegments, 8], 7), tf.scalar(0));
  await junk.data();
  junk.dispose();
  const segs = ids(30, 0, 6, 5); // segments 6..11 get nothing
  const out = tf.unsortedSegmentSum(seeded(shape, 12), tf.tensor1d(segs, "int32"), numSegments);
  const v = await out.data();
  assert.deepEqual(Array.from(v.slice(6 * 8)), new Array(6 * 8).fill(0));
});

Deno.test("segment sum on a 2-D workgroup grid (x capped) equals the 1-D grid", async () => {
  await useWebgpu();
  const shape = [1001, 40], numSegments = 9;
  const plan = planSegmentSum(shape, [1001], numSegments);
  const grid = segmentSumGrid(plan.threads, 256, 3);
  assert.ok(grid[1] > 1 && grid[0] * grid[1] * 256 > plan.threads, `grid ${grid}`);
  const x = seeded(shape, 13), segs = tf.tensor1d(ids(1001, -1, 10, 6), "int32");
  const b = webgpuBackend();
  const capped = tf.engine().makeTensorFromTensorInfo(segmentSumGpu(b, x, segs, numSegments, 3));
  const flat = tf.unsortedSegmentSum(x, segs, numSegments);
  // Float atomics add in whatever order threads arrive: equal up to rounding, not bit for bit
  // (a bit-exact assertion failed once in a full-suite run, 3.8e-6 on sums of ~110 values).
  const d = await maxAbsDiff(capped, flat);
  assert.ok(d < 1e-4, `max diff ${d}`);
  // A row of x left out by the y-dimension of the grid would change a sum by ~0.5.
  tf.dispose([x, segs, capped, flat]);
});

Deno.test("segmentSumGrid equals flatGrid by default and splits a large count over y", () => {
  for (const n of [1, 255, 256, 257, 65535 * 256, 65535 * 256 + 1, 16 * 4096 * 768]) {
    assert.deepEqual(segmentSumGrid(n, 256), flatGrid(n, 256));
  }
  // A [4·65536, 768] gradient needs more than 65535 workgroups of 256 threads: y > 1.
  const p = planSegmentSum([4 * 65536, 768], [4 * 65536], 260);
  assert.equal(p.threads, (4 * 65536 / SEGMENT_SUM_ROWS) * 768);
  const [gx, gy] = segmentSumGrid(p.threads, 256);
  assert.ok(gx <= 65535 && gy > 1 && gx * gy * 256 >= p.threads);
  assert.deepEqual(segmentSumGrid(10_000, 256, 16), [16, 3, 1]);
  assert.throws(() => segmentSumGrid(10, 256, 0), /maxX must be an integer in \[1, 65535\]/);
});

Deno.test("planSegmentSum rejects bad shapes and numSegments with clear messages", () => {
  assert.throws(() => planSegmentSum([], [], 3), /rank ≥ 1/);
  assert.throws(() => planSegmentSum([4, 2], [5], 3), /one id per row of x \(\[4\]\), found \[5\]/);
  assert.throws(() => planSegmentSum([4, 2], [2, 2], 3), /must be 1-D/);
  assert.throws(() => planSegmentSum([4, 2], [4], 2.5), /numSegments must be an integer ≥ 0/);
  assert.deepEqual(planSegmentSum([0, 3], [0], 4).outShape, [4, 3]);
});

Deno.test("segment sum of zero rows is all zeros", async () => {
  await useWebgpu();
  const out = tf.unsortedSegmentSum(tf.zeros([0, 3]), tf.tensor1d([], "int32"), 4);
  assert.deepEqual(out.shape, [4, 3]);
  assert.deepEqual(Array.from(await out.data()), new Array(12).fill(0));
});

Deno.test("gradient of tf.gather through our kernel equals the cpu backend's", async () => {
  await useWebgpu();
  const tableShape = [50, 4, 3], idsShape = [3, 20];
  const tt = seeded(tableShape, 14), wt = seeded([...idsShape, 4, 3], 15);
  const table = await tt.data(), w = await wt.data();
  tf.dispose([tt, wt]);
  const gatherIds = ids(60, 0, 50, 7);
  gatherIds.fill(9, 10, 30); // a long run of one repeated row
  const grad = () => {
    const idx = tf.tensor(gatherIds, idsShape, "int32"), wv = tf.tensor(w, [...idsShape, 4, 3]);
    return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), wv)))(
      tf.tensor(table, tableShape),
    );
  };
  const gpu = await grad().data();
  assert.ok(await tf.setBackend("cpu"));
  let cpu: Float32Array;
  try {
    cpu = await grad().data() as Float32Array;
  } finally {
    await useWebgpu();
  }
  const d = relDiff(gpu, cpu);
  assert.ok(d < 1e-5, `max relative diff ${d}`);
});

// tfjs 4.22's stock webgpu kernel returns [1077936128, 1082130432, ...] here (it adds the bits of
// f32(x) as integers), so int32 x runs our kernel too.
Deno.test("int32 x: exact integer sums, out-of-range ids dropped", async () => {
  await useWebgpu();
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, -9, 10], [5, 2], "int32");
  const out = tf.unsortedSegmentSum(x, tf.tensor1d([1, 0, 1, -1, 2], "int32"), 2);
  assert.equal(out.dtype, "int32");
  assert.deepEqual(Array.from(await out.data()), [3, 4, 6, 8]);
  const big = tf.unsortedSegmentSum(
    tf.fill([5000, 3], 1, "int32"),
    tf.tensor1d(new Int32Array(5000).fill(1), "int32"),
    2,
  );
  assert.deepEqual(Array.from(await big.data()), [0, 0, 0, 5000, 5000, 5000]);
});

Deno.test("enableGpuKernels replaces UnsortedSegmentSum and keeps the stock kernel; disable restores it", async () => {
  await useWebgpu();
  const ours = tf.getKernel(tf.UnsortedSegmentSum, "webgpu")?.kernelFunc;
  const stock = tf.getKernel(STOCK_UNSORTED_SEGMENT_SUM, "webgpu")?.kernelFunc;
  assert.ok(ours !== undefined && stock !== undefined);
  assert.notEqual(ours, stock);
  disableGpuKernels();
  assert.equal(tf.getKernel(tf.UnsortedSegmentSum, "webgpu")?.kernelFunc, stock);
  assert.equal(tf.getKernel(STOCK_UNSORTED_SEGMENT_SUM, "webgpu"), undefined);
  assert.throws(() => stockUnsortedSegmentSum(tf.ones([2]), tf.tensor1d([0, 1], "int32"), 2));
  enableGpuKernels();
  enableGpuKernels(); // idempotent
  assert.equal(tf.getKernel(tf.UnsortedSegmentSum, "webgpu")?.kernelFunc === stock, false);
  assert.equal(tf.getKernel(STOCK_UNSORTED_SEGMENT_SUM, "webgpu")?.kernelFunc, stock);
});
