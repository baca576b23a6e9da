import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  attentionBackwardDkv,
  attentionBackwardDq,
  attentionForward,
  attentionTuning,
  type AttnKernelKind,
  type AttnTuning,
  autoTuning,
  fusedAttention,
  resolvedRowsPerThread,
  setAttentionTuning,
  setAttentionUnrolled,
} from "../../lib/gpu/attention.ts";
import { type AttentionOptions, referenceAttention } from "../../lib/gpu/attention_reference.ts";
import {
  attentionForwardWgsl,
  attnRowsPerWorkgroup,
  usesRowsGenerator,
} from "../../lib/gpu/attention_wgsl.ts";
import {
  attentionBackwardDkvRowsWgsl,
  attentionBackwardDqRowsWgsl,
  attentionForwardRowsWgsl,
  inLayout,
} from "../../lib/gpu/attention_rows_wgsl.ts";
import { onNvidia } from "../../lib/gpu/dispatch.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";
import { ATTENTION_OUTPUTS, attentionKernels, docIdsOf } from "./attention_fixtures.ts";

// setAttentionTuning's forms (split blocks, workgroup sizes, one row per thread through the rows
// generator) against the default form. T = 300 at headDim 16 stages 64-row blocks, so the causal
// and the window-150 cases have whole blocks below the diagonal (the unmasked body) next to
// diagonal ones, non-causal has whole blocks up to the last, and document ids never split. Loop
// form: llvmpipe compiles it in seconds (the unrolled form shares the generator's block logic).
const T = 300;
const KINDS: readonly AttnKernelKind[] = ["forward", "dq", "dkv"];
const cases: { name: string; docs?: boolean; opts: AttentionOptions }[] = [
  { name: "causal", opts: {} },
  { name: "window 150", opts: { window: 150 } },
  { name: "non-causal", opts: { causal: false } },
  { name: "documents + window 150", docs: true, opts: { window: 150 } },
];
const forms: AttnTuning[] = [
  { split: true },
  { threads: 128, rows: 2, split: true },
  { threads: 32 },
  { split: true, parts: true }, // dK and dV by two kernels (the others take the rest of the form)
];
// The form for one kernel: `parts` belongs to the dK/dV kernel only.
const formFor = (kind: AttnKernelKind, form: AttnTuning): AttnTuning => {
  const { parts, ...rest } = form;
  return kind === "dkv" && parts !== undefined ? form : rest;
};

for (const c of cases) {
  Deno.test(`attention tuning forms equal the default form: ${c.name}, T ${T}`, async () => {
    await useWebgpu();
    setAttentionUnrolled(false);
    const shape = [2, 2, T, 16];
    const q = seeded(shape, 51), k = seeded(shape, 52), v = seeded(shape, 53);
    const dO = seeded(shape, 54);
    const docIds = c.docs ? docIdsOf(2, T) : undefined;
    const opts = { ...c.opts, docIds };
    try {
      const { out, lse } = attentionForward(q, k, v, opts);
      const stats = tf.tidy(() => tf.stack([lse, tf.sum(tf.mul(dO, out), -1)], -1));
      tf.dispose([out, lse]);
      const base = attentionKernels(q, k, v, dO, stats, opts);
      for (const form of forms) {
        for (const kind of KINDS) setAttentionTuning(kind, formFor(kind, form));
        const got = attentionKernels(q, k, v, dO, stats, opts);
        for (let n = 0; n < 5; n++) {
          const diff = await maxAbsDiff(got[n], base[n]);
          assert.ok(
            diff < 1e-4,
            `${JSON.stringify(form)}: ${ATTENTION_OUTPUTS[n]} differs by ${diff}`,
          );
        }
        tf.dispose(got);
      }
      tf.dispose([stats, ...base]);
    } finally {
      for (const kind of KINDS) setAttentionTuning(kind, {});
      setAttentionUnrolled(true);
      tf.dispose([q, k, v, dO, ...(docIds ? [docIds] : [])]);
    }
  });
}

Deno.test("tuning forms: split bodies, workgroup sizes, and bad settings named", () => {
  const one = { headDim: 32, hasDoc: false, unrolled: true };
  assert.equal(usesRowsGenerator(one), false);
  assert.equal(usesRowsGenerator({ ...one, split: true }), true);
  assert.equal(usesRowsGenerator({ ...one, threads: 128 }), true);
  assert.equal(attnRowsPerWorkgroup({ ...one, threads: 128, rows: 2 }), 256);
  for (const gen of [attentionForwardRowsWgsl, attentionBackwardDqRowsWgsl]) {
    const s = gen({ ...one, split: true, threads: 128 });
    assert.match(s, /@workgroup_size\(128, 1, 1\)/);
    assert.match(s, /if \(j0 \+ BLK <= hi && !HAS_DOC/);
    // The unmasked body calls no mask; the masked one does.
    assert.equal(s.split("allowed(").length - 1 > 0, true);
    assert.equal(gen({ ...one, split: false, rows: 2 }).includes("j0 + BLK <= hi"), false);
  }
  assert.match(attentionBackwardDkvRowsWgsl({ ...one, split: true }), /if \(i0 \+ BLK <= hi/);
  assert.throws(() => attentionForwardWgsl({ ...one, split: true }), /split blocks/);
  assert.throws(() => setAttentionTuning("dq", { threads: 96 }), /one of 32, 64, 128, 256/);
  assert.throws(
    () => setAttentionTuning("dq", { rows: 3 as 1 }),
    /rows must be 1, 2 or 4, found 3/,
  );
  assert.throws(
    () => setAttentionTuning("up" as AttnKernelKind, {}),
    /kind must be forward, dq or dkv, found 'up'/,
  );
  assert.throws(() => setAttentionTuning("dq", { parts: true }), /dkv kernel only/);
  // The parts: dV holds k and dV (no v, no dK, one output DV); dK holds k, v and dK.
  const dv = attentionBackwardDkvRowsWgsl({ ...one, split: true, part: "dv" });
  assert.ok(dv.includes("var<storage, read_write> DV") && !dv.includes("DK["));
  assert.ok(!/\bv0_/.test(dv) && !dv.includes("dk0_"), "no v or dK registers in the dV part");
  const dk = attentionBackwardDkvRowsWgsl({ ...one, split: true, part: "dk" });
  assert.ok(dk.includes("var<storage, read_write> DK") && !dk.includes("DV["));
  assert.ok(!dk.includes("dv0_"), "no dV registers in the dK part");
  assert.deepEqual(attentionTuning("dq"), {});
});

// The presets' head sizes in the unrolled form: validated only (llvmpipe would take minutes to
// build each pipeline; naga checks a module in milliseconds).
Deno.test("tuning forms validate at headDim 32 and 64, unrolled", async () => {
  await useWebgpu();
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  for (const headDim of [32, 64]) {
    for (const hasDoc of [false, true]) {
      for (
        const form of [
          { split: true },
          { split: true, rows: 2 as const, threads: 128 },
          { threads: 256 },
          { split: true, part: "dk" as const },
          { split: true, part: "dv" as const },
        ]
      ) {
        for (
          const gen of [
            attentionForwardRowsWgsl,
            attentionBackwardDqRowsWgsl,
            attentionBackwardDkvRowsWgsl,
          ]
        ) {
          if ("part" in form && gen !== attentionBackwardDkvRowsWgsl) continue;
          device.pushErrorScope("validation");
          const module = device.createShaderModule({
            code: gen({ headDim, hasDoc, unrolled: true, ...form }),
          });
          const info = await module.getCompilationInfo();
          const error = await device.popErrorScope();
          const where = `${gen.name} headDim ${headDim} doc ${hasDoc} ${JSON.stringify(form)}`;
          assert.equal(error, null, `${where}: ${error?.message}`);
          assert.deepEqual(info.messages.filter((m) => m.type === "error"), [], where);
        }
      }
    }
  }
});

Deno.test("autoTuning: the H100-measured forms, split everywhere; software adapters keep one row", async () => {
  assert.deepEqual(autoTuning("forward", 32), { rows: 2, split: true, threads: 128 });
  assert.deepEqual(autoTuning("dq", 32), { rows: 2, split: true, threads: 128 });
  assert.deepEqual(autoTuning("dkv", 32), { rows: 1, split: true, threads: 128 });
  assert.deepEqual(autoTuning("forward", 64), {
    rows: 1,
    split: true,
    threads: 128,
    scoreChunk: 4,
  });
  assert.deepEqual(autoTuning("dq", 64), { rows: 1, split: true, threads: 128 });
  assert.deepEqual(autoTuning("dkv", 64), { rows: 1, split: true, threads: 128, parts: true });
  assert.deepEqual(autoTuning("dkv", 16), autoTuning("dkv", 32));
  assert.deepEqual(autoTuning("forward", 128), autoTuning("forward", 64));
  await useWebgpu();
  // "auto": the measured rows on NVIDIA, one row elsewhere (llvmpipe in CI).
  assert.equal(resolvedRowsPerThread("forward", 32), onNvidia() ? 2 : 1);
});

// [B, T, H, D] inputs (layout "bthd", as the projections produce them) against [B, H, T, D]
// through the same kernels and against plain tfjs, with gradients through fusedAttention.
for (const c of [cases[0], cases[3]]) {
  Deno.test(`attention in the [B, T, H, D] layout equals [B, H, T, D]: ${c.name}`, async () => {
    await useWebgpu();
    setAttentionUnrolled(false);
    const shape = [2, 3, T, 16]; // [B, H, T, D]: three heads, so H and T differ from B
    const q = seeded(shape, 61), k = seeded(shape, 62), v = seeded(shape, 63);
    const dO = seeded(shape, 64);
    const docIds = c.docs ? docIdsOf(2, T) : undefined;
    const opts = { ...c.opts, docIds };
    const toBthd = (x: tf.Tensor) => tf.transpose(x, [0, 2, 1, 3]);
    const [qt, kt, vt, dOt] = [q, k, v, dO].map(toBthd);
    const bthd = { ...opts, layout: "bthd" as const };
    try {
      for (const form of [{}, { rows: 2 as const, threads: 128, split: true }]) {
        for (const kind of KINDS) setAttentionTuning(kind, form);
        const { out, lse } = attentionForward(q, k, v, opts);
        const stats = tf.tidy(() => tf.stack([lse, tf.sum(tf.mul(dO, out), -1)], -1));
        const base = [out, lse, ...attentionKernels(q, k, v, dO, stats, opts).slice(2)];
        const got = tf.tidy(() => {
          const f = attentionForward(qt, kt, vt, bthd);
          const st = tf.stack([f.lse, tf.sum(tf.mul(dOt, f.out), -1)], -1); // [B, T, H, 2]
          return [
            toBthd(f.out),
            tf.transpose(f.lse, [0, 2, 1]),
            toBthd(attentionBackwardDq(qt, kt, vt, dOt, st, bthd)),
            ...attentionBackwardDkv(qt, kt, vt, dOt, st, bthd).map(toBthd),
          ];
        });
        for (let n = 0; n < 5; n++) {
          const diff = await maxAbsDiff(got[n], base[n]);
          assert.ok(
            diff < 1e-5,
            `${JSON.stringify(form)}: ${ATTENTION_OUTPUTS[n]} differs by ${diff}`,
          );
        }
        const g = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
          tf.sum(tf.mul(fusedAttention(x, y, z, bthd), dOt))
        )([qt, kt, vt]);
        const ref = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
          tf.sum(tf.mul(referenceAttention(x, y, z, bthd), dOt))
        )([qt, kt, vt]);
        for (let n = 0; n < 3; n++) {
          const diff = await maxAbsDiff(g[n], ref[n]);
          assert.ok(diff < 1e-4, `tf.grads d${"QKV"[n]} in [B, T, H, D] differs by ${diff}`);
        }
        tf.dispose([stats, ...base, ...got, ...g, ...ref]);
      }
    } finally {
      for (const kind of KINDS) setAttentionTuning(kind, {});
      setAttentionUnrolled(true);
      tf.dispose([q, k, v, dO, qt, kt, vt, dOt, ...(docIds ? [docIds] : [])]);
    }
  });
}

Deno.test("inLayout rewrites row addresses and statistics for [B, T, H, D] only", () => {
  const text = "let base = bh * u.T * D4;\nQ[base + ic0 * D4 + 3u]; STATS[bh * u.T + ic0].x;";
  assert.equal(inLayout({ headDim: 16, hasDoc: false }, text), text);
  assert.equal(
    inLayout({ headDim: 16, hasDoc: false, layout: "bthd" }, text),
    "let hh = bh - b * u.H;\nQ[((b * u.T + ic0) * u.H + hh) * D4 + 3u]; " +
      "STATS[(b * u.T + ic0) * u.H + hh].x;",
  );
  const q = tf.zeros([1, 2, 3, 4]);
  assert.throws(
    () => attentionForward(q, q, q, { layout: "tbhd" as "bthd" }),
    /layout must be "bhtd" or "bthd", found 'tbhd'/,
  );
  q.dispose();
});
