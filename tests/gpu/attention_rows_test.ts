import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  attentionForward,
  attentionRowsPerThread,
  type AttnRowsPerThread,
  autoRowsPerThread,
  fusedAttention,
  resolvedRowsPerThread,
  setAttentionRowsPerThread,
  setAttentionUnrolled,
} from "../../lib/gpu/attention.ts";
import { type AttentionOptions, referenceAttention } from "../../lib/gpu/attention_reference.ts";
import { attentionForwardWgsl, type AttnVariant } from "../../lib/gpu/attention_wgsl.ts";
import {
  attentionBackwardDkvRowsWgsl,
  attentionBackwardDqRowsWgsl,
  attentionForwardRowsWgsl,
  attnScoreChunk,
} from "../../lib/gpu/attention_rows_wgsl.ts";
import { onNvidia } from "../../lib/gpu/dispatch.ts";
import { maxAbsDiff, seeded, useWebgpu } from "./webgpu_setup.ts";
import { ATTENTION_OUTPUTS, attentionKernels, docIdsOf } from "./attention_fixtures.ts";

// Rows per thread R = 2 and 4 (setAttentionRowsPerThread) against R = 1 and the plain-tfjs
// reference. T = 300 is not a multiple of the 128 or 256 rows a workgroup covers, and the
// document boundaries (20, 145; 296) fall inside workgroups. The software adapter (llvmpipe)
// compiles every new pipeline slowly (the unrolled forms 30 s to minutes cold), so the masks run
// in the loop form at headDim 16 (R only changes the generator's register blocking, which both
// forms share), headDim 32 gets one loop-form case, and the unrolled form one case at headDim 16:
// 24 new attention pipelines in all (3 kernels × R ∈ {2, 4} × 4 variants), 6 of them unrolled.
const T = 300;
const cases: {
  name: string;
  d: number;
  unrolled: boolean;
  docs?: boolean;
  opts: AttentionOptions;
}[] = [
  { name: "causal", d: 16, unrolled: false, opts: {} },
  { name: "sliding window 7", d: 16, unrolled: false, opts: { window: 7 } },
  { name: "documents + window 5", d: 16, unrolled: false, docs: true, opts: { window: 5 } },
  { name: "non-causal documents", d: 16, unrolled: false, docs: true, opts: { causal: false } },
  { name: "documents + window 9", d: 32, unrolled: false, docs: true, opts: { window: 9 } },
  { name: "documents + window 5", d: 16, unrolled: true, docs: true, opts: { window: 5 } },
];

for (const c of cases) {
  Deno.test(
    `attention with 2 and 4 rows per thread equals 1 row and plain tfjs (${
      c.unrolled ? "unrolled" : "loops"
    }): ${c.name}, headDim ${c.d}, T ${T}`,
    async () => {
      await useWebgpu();
      setAttentionUnrolled(c.unrolled);
      const shape = [2, 2, T, c.d];
      const q = seeded(shape, 41), k = seeded(shape, 42), v = seeded(shape, 43);
      const dO = seeded(shape, 44);
      const docIds = c.docs ? docIdsOf(2, T) : undefined;
      const opts = { ...c.opts, docIds };
      try {
        setAttentionRowsPerThread(1);
        const { out, lse } = attentionForward(q, k, v, opts);
        const stats = tf.tidy(() => tf.stack([lse, tf.sum(tf.mul(dO, out), -1)], -1));
        tf.dispose([out, lse]);
        const one = attentionKernels(q, k, v, dO, stats, opts);
        // The reference's gradients of sum(attention ∘ dO) are dQ, dK, dV for cotangent dO.
        const loss = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
          tf.sum(tf.mul(referenceAttention(x, y, z, opts), dO));
        const ref = [referenceAttention(q, k, v, opts), ...tf.grads(loss)([q, k, v])];
        for (const r of [2, 4] as const) {
          setAttentionRowsPerThread(r);
          const before = tf.memory().numTensors;
          const many = attentionKernels(q, k, v, dO, stats, opts);
          for (let n = 0; n < 5; n++) {
            const diff = await maxAbsDiff(many[n], one[n]);
            assert.ok(diff < 1e-4, `R=${r}: ${ATTENTION_OUTPUTS[n]} differs from R=1 by ${diff}`);
          }
          for (const [n, m] of [[0, 0], [2, 1], [3, 2], [4, 3]]) {
            const diff = await maxAbsDiff(many[n], ref[m]);
            assert.ok(
              diff < 1e-4,
              `R=${r}: ${ATTENTION_OUTPUTS[n]} differs from plain tfjs by ${diff}`,
            );
          }
          tf.dispose(many);
          assert.equal(tf.memory().numTensors, before, "no tensor leak");
          // And through tf.grads, as the model uses it.
          const g = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
            tf.sum(tf.mul(fusedAttention(x, y, z, opts), dO))
          )([q, k, v]);
          for (let n = 0; n < 3; n++) {
            const diff = await maxAbsDiff(g[n], ref[n + 1]);
            assert.ok(diff < 1e-4, `R=${r}: tf.grads d${"QKV"[n]} differs by ${diff}`);
          }
          tf.dispose(g);
        }
        tf.dispose([stats, ...one, ...ref]);
      } finally {
        setAttentionRowsPerThread("auto");
        setAttentionUnrolled(true);
        tf.dispose([q, k, v, dO, ...(docIds ? [docIds] : [])]);
      }
    },
  );
}

Deno.test("rows-per-thread WGSL keeps the bindings, 64 threads and no private arrays unrolled", () => {
  const gens = [
    attentionForwardRowsWgsl,
    attentionBackwardDqRowsWgsl,
    attentionBackwardDkvRowsWgsl,
  ];
  for (const hasDoc of [false, true]) {
    for (const unrolled of [false, true]) {
      const one: AttnVariant = { headDim: 32, hasDoc, unrolled };
      for (const gen of gens) {
        const bindings = (s: string) => s.match(/@binding\(\d+\) var<[^>]+> \w+/g)?.join();
        const base = gen(one);
        for (const rows of [2, 4] as const) {
          const s = gen({ ...one, rows });
          assert.notEqual(s, base);
          assert.equal(bindings(s), bindings(base));
          assert.match(s, /@workgroup_size\(64, 1, 1\)/);
          assert.match(s, new RegExp(`const ROWS = ${64 * rows}u;`));
          if (unrolled) {
            assert.doesNotMatch(s, /var \w+: array</);
            assert.doesNotMatch(s, /for \(var d /);
          }
        }
      }
    }
  }
  assert.equal(attnScoreChunk({ headDim: 16, hasDoc: false, rows: 4 }), 8);
  assert.equal(attnScoreChunk({ headDim: 44, hasDoc: false, rows: 2 }), 2); // block 46
  assert.equal(attnScoreChunk({ headDim: 32, hasDoc: false, rows: 2, scoreChunk: 8 }), 8);
  assert.throws(
    () => attnScoreChunk({ headDim: 32, hasDoc: false, rows: 2, scoreChunk: 24 }),
    /score chunk 24 must be a whole divisor of the staged block 64/,
  );
  assert.throws(
    () => attentionForwardWgsl({ headDim: 16, hasDoc: false, rows: 2 }),
    /rows per thread 2/,
  );
});

// The pipelines above cover the unrolled form at headDim 16 only; the presets' 32 and 64 (and
// 128) would take minutes each to compile here, so their WGSL is only validated (wgpu/naga
// parses and checks a shader module in milliseconds; the slow part is llvmpipe's pipeline).
Deno.test("rows-per-thread WGSL validates at headDim 32, 64 and 128 in both forms", async () => {
  await useWebgpu();
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const gens = [
    attentionForwardRowsWgsl,
    attentionBackwardDqRowsWgsl,
    attentionBackwardDkvRowsWgsl,
  ];
  for (const headDim of [32, 64, 128]) {
    for (const hasDoc of [false, true]) {
      for (const unrolled of [false, true]) {
        for (const rows of [2, 4] as const) {
          for (const gen of gens) {
            device.pushErrorScope("validation");
            const module = device.createShaderModule({
              code: gen({ headDim, hasDoc, unrolled, rows }),
            });
            const info = await module.getCompilationInfo();
            const error = await device.popErrorScope();
            const where =
              `${gen.name} headDim ${headDim} doc ${hasDoc} unrolled ${unrolled} R ${rows}`;
            assert.equal(error, null, `${where}: ${error?.message}`);
            assert.deepEqual(info.messages.filter((m) => m.type === "error"), [], where);
          }
        }
      }
    }
  }
});

Deno.test("setAttentionRowsPerThread accepts 1, 2, 4, auto and rejects anything else", async () => {
  await useWebgpu();
  assert.equal(attentionRowsPerThread(), "auto", "default: auto");
  // auto: the H100-measured choice on NVIDIA only; the software adapter keeps one row.
  assert.equal(resolvedRowsPerThread("forward", 32), onNvidia() ? 2 : 1);
  assert.deepEqual(
    (["forward", "dq", "dkv"] as const).map((k) => autoRowsPerThread(k, 32)),
    [2, 2, 1],
  );
  assert.deepEqual(
    (["forward", "dq", "dkv"] as const).map((k) => autoRowsPerThread(k, 64)),
    [1, 1, 1],
  );
  setAttentionRowsPerThread(4);
  assert.equal(attentionRowsPerThread(), 4);
  assert.equal(resolvedRowsPerThread("dkv", 64), 4);
  setAttentionRowsPerThread("auto");
  assert.throws(
    () => setAttentionRowsPerThread(3 as AttnRowsPerThread),
    /must be 1, 2, 4 or "auto"/,
  );
  assert.equal(attentionRowsPerThread(), "auto");
});
