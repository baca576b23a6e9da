import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  rowSumFits,
  rowSumSettings,
  setRowSumEnabled,
  setRowSumForm,
} from "../../lib/gpu/row_sum.ts";
import { rowSumWgsl } from "../../lib/gpu/elementwise_wgsl.ts";
import { disableGpuKernels, enableGpuKernels } from "../../lib/gpu/register.ts";
import { seeded, useWebgpu } from "./webgpu_setup.ts";

// Our last-axis row sum (lib/gpu/row_sum.ts) against tfjs's stock webgpu Sum on the software
// adapter. The order of the additions differs, so values agree to float32 rounding (1e-5 here:
// rows of ≤ 260 values in [-3, 3)), not bit for bit.
const TOL = 1e-5 * 16;

/** Runs `f` and says whether one of its dispatches was our row sum (tf.profile's extra info). */
async function usesOurs(f: () => tf.Tensor): Promise<boolean> {
  const info = await tf.profile(f);
  tf.dispose(info.result as tf.Tensor);
  return JSON.stringify(info.kernels.map((k) => k.extraInfo)).includes("blt_row_sum");
}

async function withStock<T>(f: () => Promise<T>): Promise<T> {
  disableGpuKernels();
  try {
    return await f();
  } finally {
    enableGpuKernels();
  }
}

async function compare(x: tf.Tensor, axis: number | undefined, keepDims: boolean, label: string) {
  const ours = tf.sum(x, axis, keepDims);
  const oursV = await ours.data();
  const stock = await withStock(async () => {
    const s = tf.sum(x, axis, keepDims);
    const v = { shape: s.shape, data: await s.data() };
    s.dispose();
    return v;
  });
  assert.deepEqual(ours.shape, stock.shape, `${label}: shape`);
  let worst = 0;
  for (let i = 0; i < oursV.length; i++) {
    worst = Math.max(worst, Math.abs(oursV[i] - stock.data[i]));
  }
  assert.ok(worst <= TOL, `${label}: max |ours − stock| = ${worst} > ${TOL}`);
  ours.dispose();
}

Deno.test("row sum: last-axis float32 sums match the stock kernel, other cases take it", async () => {
  await useWebgpu();
  const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  try {
    // [37, 256]: a partial last workgroup; [2, 3, 260]: R/4 = 65, not a multiple of 8 lanes
    // (the guarded tail); [260]: rank 1 with no axis (the whole tensor is one row).
    const cases: [number[], number | undefined, boolean][] = [
      [[37, 256], -1, false],
      [[2, 3, 260], 2, true],
      [[260], undefined, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const x = tf.mul(seeded(shape, 7 + shape.length), 3);
      assert.ok(await usesOurs(() => tf.sum(x, axis, keepDims)), `${shape} should take ours`);
      await compare(x, axis, keepDims, `[${shape}] axis ${axis}`);
      x.dispose();
    }
    // The stock path: another axis, an odd row length, too short a row for 8 lanes, int32.
    const stockCases: [tf.Tensor, number][] = [
      [seeded([16, 64], 3), 0],
      [seeded([16, 30], 4), -1],
      [seeded([16, 16], 5), -1],
      [tf.cast(tf.mul(seeded([8, 64], 6), 10), "int32"), -1],
    ];
    for (const [x, axis] of stockCases) {
      assert.equal(rowSumFits(x.shape, x.dtype, axis), undefined);
      assert.ok(!(await usesOurs(() => tf.sum(x, axis))), `[${x.shape}] ${x.dtype} took ours`);
      const ours = await tf.sum(x, axis).data();
      const stock = await withStock(async () => await tf.sum(x, axis).data());
      assert.deepEqual(ours, stock, `[${x.shape}] ${x.dtype} axis ${axis}`);
      x.dispose();
    }
    // The switch.
    const x = seeded([4, 64], 9);
    setRowSumEnabled(false);
    assert.ok(!(await usesOurs(() => tf.sum(x, -1))), "setRowSumEnabled(false) still took ours");
    setRowSumEnabled(true);
    assert.ok(await usesOurs(() => tf.sum(x, -1)));
    x.dispose();
  } finally {
    setRowSumEnabled(true);
    tf.env().set("WEBGPU_CPU_FORWARD", forward);
  }
});

Deno.test("row sum: other forms (lanes, combine, grid-stride) match the stock kernel", async () => {
  await useWebgpu();
  const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  const x = tf.mul(seeded([70, 64], 21), 3);
  try {
    // gridStride 3: 3 workgroups loop over the blocks of rows (70 rows, 16 or 64 per block).
    const forms = [
      { lanes: 4, combine: "tree" as const },
      { lanes: 16, workgroup: 64, combine: "serial" as const, gridStride: 3 },
      { lanes: 1, combine: "serial" as const },
    ];
    for (const f of forms) {
      setRowSumForm(f);
      assert.ok(await usesOurs(() => tf.sum(x, -1)), `${JSON.stringify(f)} should take ours`);
      await compare(x, -1, false, JSON.stringify(f));
    }
    assert.throws(() => setRowSumForm({ lanes: 3 }), /lanes must be a power of two/);
    assert.throws(() => setRowSumForm({ lanes: 8, workgroup: 100 }), /workgroup must be/);
  } finally {
    setRowSumForm("default");
    x.dispose();
    tf.env().set("WEBGPU_CPU_FORWARD", forward);
  }
  assert.equal(rowSumSettings().lanes, 8);
});

Deno.test("row sum: gradients through tf.sum over the last axis", async () => {
  await useWebgpu();
  const x = seeded([8, 128], 33);
  const w = seeded([8, 128], 34);
  // d/dx Σ_rows (Σ_j x·w)² = 2 · (Σ_j x·w) · w, broadcast over the row.
  const f = (a: tf.Tensor) => tf.sum(tf.square(tf.sum(tf.mul(a, w), -1)));
  assert.ok(await usesOurs(() => tf.sum(tf.mul(x, w), -1)));
  const g = tf.grad(f)(x);
  const gv = await g.data();
  const s = await tf.sum(tf.mul(x, w), -1).data();
  const wv = await w.data();
  let worst = 0;
  for (let i = 0; i < gv.length; i++) {
    worst = Math.max(worst, Math.abs(gv[i] - 2 * s[Math.floor(i / 128)] * wv[i]));
  }
  assert.ok(worst < 1e-4, `gradient off by ${worst}`);
  const stock = await withStock(async () => await tf.grad(f)(x).data());
  for (let i = 0; i < gv.length; i++) assert.ok(Math.abs(gv[i] - stock[i]) < 1e-4);
  tf.dispose([x, w, g]);
});

Deno.test("row sum: WGSL of the subgroup forms parses (only the subgroups capability is missing)", async () => {
  const adapter = await navigator.gpu.requestAdapter();
  assert.ok(adapter !== null, "no WebGPU adapter");
  if (adapter.features.has("subgroups")) return; // then the sweep runs them for real
  const device = await adapter.requestDevice();
  for (const combine of ["shuffle", "subgroupAdd"] as const) {
    device.pushErrorScope("validation");
    const code = rowSumWgsl({ lanes: 32, workgroup: 256, combine, gridStride: 0 }, 256);
    device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
    });
    const error = await device.popErrorScope();
    assert.ok(error !== null, `${combine}: compiled without the subgroups feature?`);
    assert.match(error.message, /capability/, `${combine}: ${error.message}`);
  }
  device.destroy();
});
