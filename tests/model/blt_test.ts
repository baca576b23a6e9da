import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "../../lib/wasm_kernels.ts"; // gather gradients on wasm
import { type BltConfig, resolveConfig } from "../../lib/config.ts";
import { createBlt, createByteLm, loadByteLm, loadPretrained } from "../../lib/model/mod.ts";

await tf.setBackend("wasm");

/** A small random config: the property tests sweep over widths, depths, k and flags. */
function smallConfig(seed: number): BltConfig {
  const r = (n: number) => (seed * 7919 + n * 104729) % 997 % n;
  const hE = [8, 16][r(2)], k = 1 + r(3);
  return resolveConfig("tiny", {
    encoder: { dim: hE, heads: 2, layers: 1 + r(2), ffnDim: 16, crossAttnAllLayers: r(2) === 0 },
    decoder: { dim: hE, heads: 2, layers: 1 + r(2), ffnDim: 16, crossAttnAllLayers: r(2) === 1 },
    global: { dim: [16, 24][r(2)], heads: 2, layers: 1 + r(2), ffnDim: 32 },
    entropyModel: { dim: 8, heads: 2, layers: 1, ffnDim: 16 },
    hash: { buckets: 31, sizes: [3, 4] },
    crossAttnK: k,
    resetAtEos: seed % 3 === 0,
    "encoder.slidingWindow": seed % 4 === 1 ? 3 : null,
  });
}

function randomIds(T: number, seed: number): number[] {
  const ids = [1];
  for (let t = 1; t < T; t++) {
    ids.push(seed % 5 === 0 && t === 5 ? 2 : 4 + ((seed * 31 + t * 17) % 256));
  }
  return ids;
}

function randomLengths(T: number, seed: number): number[] {
  const out = [1];
  let left = T - 1, s = seed;
  while (left > 0) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const n = Math.min(left, 1 + (s % 5));
    out.push(n);
    left -= n;
  }
  return out;
}

Deno.test("causality: changing byte t+1 never changes logits at positions <= t", () => {
  for (let seed = 0; seed < 6; seed++) {
    const cfg = smallConfig(seed);
    const blt = createBlt(cfg, seed);
    const T = 12;
    const ids = randomIds(T, seed);
    const lengths = randomLengths(T, seed);
    const t = 2 + (seed % (T - 3));
    const changed = ids.slice();
    changed[t + 1] = ids[t + 1] === 100 ? 101 : 100;
    const a = blt.forward([ids, changed], { patchLengths: [lengths, lengths] }).logits;
    const [left, right] = tf.unstack(a).map((x) => x.arraySync() as number[][]);
    for (let s = 0; s <= t; s++) {
      for (let v = 0; v < 260; v++) {
        assert.ok(
          Math.abs(left[s][v] - right[s][v]) <= 1e-6,
          `seed ${seed}: logits[${s}] changed when byte ${t + 1} changed (patches ${lengths})`,
        );
      }
    }
    const later = left[T - 1].some((x, v) => Math.abs(x - right[T - 1][v]) > 1e-6);
    assert.ok(later, "the change must reach the last position (the test would be vacuous)");
    a.dispose();
    blt.dispose();
  }
});

Deno.test("save -> load round trip is bit-exact (BLT and byte LM)", async () => {
  const dir = await Deno.makeTempDir();
  const blt = createBlt(smallConfig(1), 11);
  await blt.save(dir);
  const back = await loadPretrained(dir);
  assert.deepEqual(back.config, blt.config);
  for (const [name, v] of blt.allVariables()) {
    assert.deepEqual(back.allVariables().get(name)!.dataSync(), v.dataSync(), name);
  }
  const ids = [randomIds(9, 2)];
  const a = blt.forward(ids), b = back.forward(ids);
  assert.deepEqual(a.patchLengths, b.patchLengths);
  assert.deepEqual(a.logits.dataSync(), b.logits.dataSync());
  tf.dispose([a.logits, b.logits]);

  const lmDir = await Deno.makeTempDir();
  const lm = createByteLm(blt.config.entropyModel!, 4);
  await lm.save(lmDir);
  const lmBack = await loadByteLm(lmDir);
  const la = lm.logits(ids), lb = lmBack.logits(ids);
  assert.deepEqual(la.dataSync(), lb.dataSync());
  // The patcher inside the BLT checkpoint loads as a byte LM too.
  const inner = await loadByteLm(dir);
  const li = inner.logits(ids), lp = blt.patcher!.logits(ids);
  assert.deepEqual(li.dataSync(), lp.dataSync());
  tf.dispose([la, lb, li, lp]);
  for (const m of [blt, back, lm, lmBack, inner]) m.dispose();
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(lmDir, { recursive: true });
});

Deno.test("loading refuses wrong shapes and missing tensors, naming them", async () => {
  const dir = await Deno.makeTempDir();
  const blt = createBlt(smallConfig(1), 1);
  await blt.save(dir);
  const hf = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  hf.global_config.num_hidden_layers += 1;
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(hf));
  await assert.rejects(
    loadPretrained(dir),
    /missing tensor 'model.global_transformer.layers.\d+.input_layernorm.weight'/,
  );
  hf.global_config.num_hidden_layers -= 1;
  hf.global_config.intermediate_size += 1;
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(hf));
  await assert.rejects(
    loadPretrained(dir),
    /model.safetensors: tensor '.*mlp.*' has shape \[\d+,\d+\], expected/,
  );
  blt.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad inputs give clear errors", () => {
  const blt = createBlt(smallConfig(2), 0);
  assert.throws(
    () => blt.forward([[1, 300]]),
    /ids\[0\]\[1\] = 300; expected an integer byte id in 0..259/,
  );
  assert.throws(() => blt.forward([[1, 5], [1]]), /ragged: row 1 has 1 ids but row 0 has 2/);
  assert.throws(
    () => blt.forward([[1, 5, 6]], { patchLengths: [[1, 1]] }),
    /sums to 2 but the sequence has 3/,
  );
  assert.throws(
    () => blt.forward([[1, 5, 6]], { patchLengths: [[1, 3, -1]] }),
    /= -1; expected a non-negative/,
  );
  assert.throws(
    () => blt.forward([[1, 5, 6]], { patchLengths: [[2, 1]] }),
    /first patch must be the BOS byte alone/,
  );
  assert.throws(
    () => blt.forward([[1, 5, 6]], { patchLengths: [[1, 0, 2]] }),
    /zeros are only allowed as trailing/,
  );
  blt.dispose();
});

Deno.test("gradients match finite differences on a tiny model", () => {
  const cfg = smallConfig(2);
  const blt = createBlt(cfg, 5);
  const batch = { ids: [randomIds(10, 3)], patchLengths: [randomLengths(10, 3)] };
  const vars = blt.namedVariables();
  const { grads } = tf.variableGrads(() => blt.loss(batch).loss, [...vars.values()]);
  const picks = [
    "model.encoder_hash_tok_embedding.weight",
    "model.local_encoder.cross_attn_layers.0.k_proj.weight",
    "model.global_transformer.layers.0.self_attn.q_proj.weight",
    "model.local_decoder.patch_embedding_projection.weight",
    "model.local_decoder.cross_attn_layers.0.o_proj.weight",
    "lm_head.weight",
  ];
  const lossAt = () => {
    const { loss } = blt.loss(batch);
    const x = loss.dataSync()[0];
    loss.dispose();
    return x;
  };
  for (const name of picks) {
    const v = vars.get(name)!;
    const g = grads[v.name].dataSync();
    let i = 0; // the coordinate with the largest gradient, so the check is not vacuous
    for (let j = 0; j < g.length; j++) if (Math.abs(g[j]) > Math.abs(g[i])) i = j;
    const orig = v.dataSync().slice();
    const eps = 1e-2;
    const at = (delta: number) => {
      const w = orig.slice();
      w[i] += delta;
      v.assign(tf.tensor(w, v.shape));
      return lossAt();
    };
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    v.assign(tf.tensor(orig, v.shape));
    assert.ok(Math.abs(g[i]) > 1e-4, `${name}: gradient vanished`);
    assert.ok(
      Math.abs(numeric - g[i]) <= 0.03 * Math.abs(g[i]) + 1e-4,
      `${name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`,
    );
  }
  tf.dispose(grads);
  blt.dispose();
});

Deno.test("no tensor leaks over repeated forward/backward", () => {
  const blt = createBlt(smallConfig(3), 0);
  const batch = { ids: [randomIds(10, 1), randomIds(10, 2)] };
  const step = () => {
    const { value, grads } = tf.variableGrads(() => blt.loss(batch).loss, [
      ...blt.namedVariables().values(),
    ]);
    tf.dispose([value, ...Object.values(grads)]);
    const out = blt.forward(batch.ids, { intermediates: true });
    tf.dispose([
      out.logits,
      out.embeddings!,
      out.encoderHidden!,
      out.encoderPatches!,
      out.globalHidden!,
      out.decoderOutput!,
    ]);
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before);
  blt.dispose();
});
