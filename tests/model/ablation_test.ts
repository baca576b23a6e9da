import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "../../lib/wasm_kernels.ts"; // gather gradients on wasm
import { encode } from "../../lib/bytes/codec.ts";
import { type BltConfig, type ConfigOverrides, resolveConfig } from "../../lib/config.ts";
import { type Blt, createBlt } from "../../lib/model/blt.ts";
import { HASH_TABLE } from "../../lib/model/hash_embedding.ts";
import { causalBias } from "../../lib/model/layers/attention.ts";
import { ropeTables } from "../../lib/model/layers/rope.ts";
import { localDecoder } from "../../lib/model/local_decoder.ts";
import { decoderGather } from "../../lib/model/patch_geometry.ts";
import { shuffledBatches } from "../../lib/train/batches.ts";
import { train } from "../../lib/train/loop.ts";
import { loadBlt, saveModel } from "../../lib/train/pipeline_models.ts";

await tf.setBackend("wasm");

/** Small dims; k = 2 so the decoder's projection shapes differ between the two decoder modes. */
function config(overrides: ConfigOverrides = {}): BltConfig {
  return resolveConfig(
    resolveConfig("tiny", {
      encoder: { dim: 16, heads: 2, layers: 2, ffnDim: 32 },
      decoder: { dim: 16, heads: 2, layers: 2, ffnDim: 32 },
      global: { dim: 32, heads: 2, layers: 1, ffnDim: 64 },
      entropyModel: null,
      hash: { buckets: 31, sizes: [3, 4] },
      crossAttnK: 2,
      "patching.mode": "space",
    }),
    overrides,
  );
}

const SWITCHES: Record<string, ConfigOverrides> = {
  "decoder cross-attn off": { "decoder.crossAttn": false },
  "encoder pooling only": { "encoder.crossAttn": false },
  "hash n-grams off": { "hash.sizes": [] },
  "all three": { "decoder.crossAttn": false, "encoder.crossAttn": false, "hash.sizes": [] },
};

const IDS = [1, 76, 105, 107, 101, 36, 97, 36, 102, 105, 115, 104];
const LENGTHS = [1, 3, 2, 2, 4];

function logitsOf(blt: Blt, ids = IDS, lengths = LENGTHS): Float32Array {
  const { logits } = blt.forward([ids], { patchLengths: [lengths] });
  const out = logits.dataSync() as Float32Array;
  logits.dispose();
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Sets every weight whose name contains `part` to zero. */
function zeroWeights(blt: Blt, part: string): void {
  let n = 0;
  for (const [name, v] of blt.namedVariables()) {
    if (name.includes(part)) {
      tf.tidy(() => v.assign(tf.zerosLike(v)));
      n++;
    }
  }
  assert.ok(n > 0, `no weight named *${part}*`);
}

Deno.test("each switch changes the logits; weights the switch removes are gone", () => {
  const full = createBlt(config(), 3);
  const reference = logitsOf(full);
  const names = [...full.namedVariables().keys()];
  full.dispose();
  for (const [label, overrides] of Object.entries(SWITCHES)) {
    const blt = createBlt(config(overrides), 3); // same seed: shared weights are identical
    assert.ok(maxAbsDiff(logitsOf(blt), reference) > 1e-3, `${label}: logits did not change`);
    const have = [...blt.namedVariables().keys()];
    const gone = names.filter((n) => !have.includes(n));
    assert.ok(gone.length > 0, `${label}: removes no weights`);
    assert.ok(have.every((n) => names.includes(n)), `${label}: adds weights`);
    blt.dispose();
  }
});

Deno.test("hash n-grams off = the full model with a zero hash table", () => {
  const full = createBlt(config(), 4);
  zeroWeights(full, HASH_TABLE);
  const off = createBlt(config({ "hash.sizes": [] }), 4);
  assert.equal(off.namedVariables().has(HASH_TABLE), false);
  assert.ok(maxAbsDiff(logitsOf(off), logitsOf(full)) < 1e-5);
  full.dispose();
  off.dispose();
});

Deno.test("encoder pooling only = projected per-patch max of the encoder's byte states", () => {
  const cfg = config({ "encoder.crossAttn": false });
  const blt = createBlt(cfg, 5);
  const out = blt.forward([IDS], { patchLengths: [LENGTHS], intermediates: true });
  const hidden = out.encoderHidden!.arraySync()[0]; // [T, hE]
  const patches = out.encoderPatches!.arraySync()[0]; // [P·k, hE]
  const w = blt.params.get("model.local_encoder.patch_embedding_projection.weight")
    .arraySync() as number[][]; // [k·hE, hE]
  const hE = cfg.encoder.dim, k = cfg.crossAttnK;
  let start = 0;
  LENGTHS.forEach((n, p) => {
    const max = Array.from(
      { length: hE },
      (_, c) => Math.max(...hidden.slice(start, start + n).map((row) => row[c])),
    );
    for (let r = 0; r < k * hE; r++) {
      const want = w[r].reduce((s, x, c) => s + x * max[c], 0);
      const got = patches[p * k + Math.floor(r / hE)][r % hE];
      assert.ok(Math.abs(got - want) < 1e-4, `patch ${p} row ${r}: ${got} vs ${want}`);
    }
    start += n;
  });
  for (const t of Object.values(out)) if (t instanceof tf.Tensor) t.dispose();
  blt.dispose();
});

Deno.test("decoder without cross-attn adds W_D·g of the patch each byte may see, once, first", () => {
  const cfg = config({ "decoder.crossAttn": false });
  const blt = createBlt(cfg, 6);
  const p = blt.params, hD = cfg.decoder.dim, hG = cfg.global.dim, k = cfg.crossAttnK;
  const T = IDS.length, P = LENGTHS.length;
  const w = p.get("model.local_decoder.patch_embedding_projection.weight")
    .arraySync() as number[][];
  assert.deepEqual([w.length, w[0].length], [hD, hG]);
  const bytes = tf.randomNormal([1, T, hD], 0, 1, "float32", 1) as tf.Tensor3D;
  const global = tf.randomNormal([1, P, hG], 0, 1, "float32", 2) as tf.Tensor3D;
  const slots = decoderGather([LENGTHS], T, k);
  // Reference: the global states folded into the byte states by hand, then no global input.
  const g = global.arraySync()[0], b = bytes.arraySync()[0];
  const shifted = b.map((row, t) => {
    const patch = slots[t * k] / k;
    return row.map((x, r) => x + w[r].reduce((s, wc, c) => s + wc * g[patch][c], 0));
  });
  const { cos, sin } = ropeTables(T, cfg.decoder.headDim, cfg.decoder.ropeTheta);
  const run = (x: tf.Tensor3D, y: tf.Tensor3D) =>
    tf.tidy(() =>
      localDecoder(p, cfg, x, y, tf.tensor3d(slots, [1, T, k], "int32"), cos, sin, causalBias(T))
        .dataSync()
    );
  const got = run(bytes, global);
  const want = run(tf.tensor3d([shifted]), tf.zeros([1, P, hG]));
  assert.ok(maxAbsDiff(got, want) < 1e-4, `max diff ${maxAbsDiff(got, want)}`);
  tf.dispose([bytes, global, cos, sin]);
  blt.dispose();
});

Deno.test("causality under every switch: changing byte t+1 never changes logits <= t", () => {
  const lengths = [1, 2, 3, 1, 4, 1];
  for (const [label, overrides] of Object.entries(SWITCHES)) {
    const blt = createBlt(config({ ...overrides, resetAtEos: label === "all three" }), 7);
    for (const t of [1, 3, 6, 9]) {
      const changed = IDS.slice();
      changed[t + 1] = IDS[t + 1] === 100 ? 101 : 100;
      const a = logitsOf(blt, IDS, lengths), b = logitsOf(blt, changed, lengths);
      assert.ok(
        maxAbsDiff(a.subarray(0, (t + 1) * 260), b.subarray(0, (t + 1) * 260)) <= 1e-6,
        `${label}: logits <= ${t} changed when byte ${t + 1} changed`,
      );
      assert.ok(maxAbsDiff(a, b) > 1e-6, `${label}: the change reached no position (vacuous)`);
    }
    blt.dispose();
  }
});

Deno.test("every switch trains through lib/train: loss falls; no tensors leak", async () => {
  const text = "the cat sat on the mat. the dog sat on the log. ".repeat(6);
  const all = Array.from(encode(text));
  const examples = Array.from({ length: 8 }, (_, i) => ({ ids: all.slice(i * 9, i * 9 + 48) }));
  const data = shuffledBatches(examples, { batchSize: 4, seed: 1 });
  for (const [label, overrides] of Object.entries(SWITCHES)) {
    const blt = createBlt(config(overrides), 8);
    const before = tf.memory().numTensors;
    const r = await train({
      model: blt,
      data,
      config: { steps: 10, warmupSteps: 1, lr: 1e-2, evalEvery: 0 },
    });
    const losses = r.history.map((m) => m.loss);
    assert.ok(losses.every(Number.isFinite), `${label}: ${losses}`);
    assert.ok(losses[9] < 0.8 * losses[0], `${label}: loss ${losses[0]} → ${losses[9]}`);
    assert.equal(tf.memory().numTensors, before, `${label}: tensors leaked`);
    blt.dispose();
  }
});

Deno.test("ablation models round-trip through training checkpoints (HF export refuses them)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = config(SWITCHES["all three"]);
    const blt = createBlt(cfg, 9);
    await assert.rejects(() => blt.save(dir), /decoder\.crossAttn is false/);
    await saveModel(dir, cfg, blt.namedVariables());
    const back = await loadBlt(dir, null);
    assert.deepEqual(back.config, cfg);
    assert.deepEqual(logitsOf(back), logitsOf(blt));
    back.dispose();
    blt.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
