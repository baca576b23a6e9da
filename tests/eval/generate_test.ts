import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { type BltConfig, resolveConfig } from "../../lib/config.ts";
import { generate, generateAsync, type GenerateOptions } from "../../lib/eval/generate.ts";
import { Blt, createBlt } from "../../lib/model/blt.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { stepper } from "../../lib/model/cache/steppers.ts";
import { loadPretrained } from "../../lib/model/io/hf.ts";

await tf.setBackend("wasm");

const FIXTURE = new URL("../../../shared/testdata/hf-blt-tiny/", import.meta.url).pathname;

/** A small random BLT; `over` overrides config keys (sliding windows, resetAtEos, k, …). */
function smallBlt(seed: number, over: Record<string, unknown> = {}): Blt {
  const cfg = resolveConfig("tiny", {
    encoder: { dim: 16, heads: 2, layers: 1, ffnDim: 32 },
    decoder: { dim: 16, heads: 2, layers: 2, ffnDim: 32 },
    global: { dim: 32, heads: 2, layers: 2, ffnDim: 64 },
    entropyModel: { dim: 16, heads: 2, layers: 1, ffnDim: 32 },
    hash: { buckets: 31, sizes: [3, 4] },
    ...over,
  });
  return withMedianThreshold(createBlt(cfg, seed));
}

/** Sets θ to the median entropy of a sample text, so that patches of several lengths occur
 * (a random entropy model is almost equally unsure about every byte). */
function withMedianThreshold(blt: Blt, patching: Partial<BltConfig["patching"]> = {}): Blt {
  const ids = [
    1,
    ...new TextEncoder().encode("The quick brown fox jumps over it").map((b) => b + 4),
  ];
  const h = Array.from(blt.patcher!.entropies([ids])[0]).sort((a, b) => a - b);
  const threshold = h[Math.floor(h.length / 2)];
  const config = { ...blt.config, patching: { ...blt.config.patching, threshold, ...patching } };
  return new Blt(config, blt.params, blt.patcher);
}

function bothWays(model: Parameters<typeof generate>[0], prompt: string, o: GenerateOptions) {
  const cached = generate(model, prompt, { ...o, useCache: true });
  const uncached = generate(model, prompt, { ...o, useCache: false });
  return { cached, uncached };
}

function assertSameGeneration(
  model: Parameters<typeof generate>[0],
  o: GenerateOptions,
  what: string,
) {
  const { cached, uncached } = bothWays(model, "Once upon", o);
  assert.deepEqual(cached.ids, uncached.ids, `${what}: ids`);
  assert.deepEqual(cached.patchLengths, uncached.patchLengths, `${what}: patch lengths`);
  const patchingMode = "config" in model && "patch" in model ? model.config.patching.mode : null;
  const expected = patchingMode === null || patchingMode === "entropy" ? cached.ids.length - 1 : 0;
  assert.equal(cached.entropies.length, expected, `${what}: one entropy per byte but the last`);
  for (let t = 0; t < cached.entropies.length; t++) {
    assert.ok(
      Math.abs(cached.entropies[t] - uncached.entropies[t]) < 1e-4,
      `${what}: entropy ${t}`,
    );
  }
  return cached;
}

const GREEDY = { temperature: 0 };
const SAMPLED = { temperature: 1, topK: 50, topP: 0.95 };

Deno.test("cached generation = uncached (tiny random BLT), greedy and seeded sampling, across patches", () => {
  const blt = smallBlt(1);
  for (const sampling of [GREEDY, SAMPLED]) {
    const out = assertSameGeneration(
      blt,
      { maxBytes: 40, sampling, seed: 5, stopAtEos: false },
      JSON.stringify(sampling),
    );
    const lengths = out.patchLengths!;
    assert.equal(lengths.reduce((a, b) => a + b), out.ids.length);
    assert.ok(lengths.some((n) => n >= 3) && lengths.length >= 8, `varied patches: ${lengths}`);
    // The patches it used are the batch patcher's on the final bytes.
    assert.deepEqual(lengths, blt.patch([out.ids]).patchLengths[0]);
  }
  blt.dispose();
});

Deno.test("cached = uncached with maxPatchLength, sliding windows, resetAtEos, k = 3, other modes", () => {
  const variants: [string, Record<string, unknown>, Partial<BltConfig["patching"]>][] = [
    ["maxPatchLength 2", {}, { maxPatchLength: 2, threshold: 99 }],
    ["windows", {
      "encoder.slidingWindow": 3,
      "decoder.slidingWindow": 2,
      "global.slidingWindow": 2,
    }, {}],
    ["resetAtEos, k 3, cross-attn everywhere", {
      resetAtEos: true,
      crossAttnK: 3,
      "encoder.crossAttnAllLayers": true,
      "encoder.layers": 2,
    }, {}],
    ["space", {}, { mode: "space" }],
    ["static 3, max 2", {}, { mode: "static", patchSize: 3, maxPatchLength: 2 }],
    ["byte", {}, { mode: "byte" }],
    ["monotonic", {}, { monotonic: true, relativeThreshold: 0.01 }],
  ];
  for (const [name, over, patching] of variants) {
    const base = smallBlt(2, over);
    const blt = withMedianThreshold(base, patching);
    // EOS in the prompt exercises the block-causal reset.
    const out = assertSameGeneration(blt, {
      maxBytes: 16,
      sampling: SAMPLED,
      seed: 9,
      stopAtEos: false,
    }, name);
    if (patching.maxPatchLength) {
      assert.ok(
        out.patchLengths!.every((n) => n <= patching.maxPatchLength!),
        `${name}: ${out.patchLengths}`,
      );
    }
    const { cached, uncached } = bothWays(blt, "", {
      maxBytes: 6,
      sampling: GREEDY,
      stopAtEos: false,
    });
    assert.deepEqual(cached.ids, uncached.ids, `${name}: from BOS`);
    const eos = [1, 40, 41, 2, 1, 42];
    assert.deepEqual(
      generate(blt, eos, { maxBytes: 8, stopAtEos: false }).ids,
      generate(blt, eos, { maxBytes: 8, stopAtEos: false, useCache: false }).ids,
      `${name}: prompt with EOS`,
    );
    base.dispose();
  }
});

Deno.test("cached logits equal the full forward over the final bytes (training semantics)", () => {
  const blt = smallBlt(3, { "decoder.slidingWindow": 4 });
  const out = generate(blt, "Hello", {
    maxBytes: 20,
    sampling: SAMPLED,
    seed: 1,
    stopAtEos: false,
  });
  const s = stepper(blt, { useCache: true });
  const rows: Float32Array[] = [];
  for (const id of out.ids.slice(0, -1)) {
    s.push(id);
    rows.push(s.logits());
  }
  s.dispose();
  const full = blt.forward([out.ids], { patchLengths: [out.patchLengths!] });
  const ref = full.logits.arraySync()[0];
  full.logits.dispose();
  // Row T − 1 reads the patch before the last (the forward cannot know the next byte's patch).
  for (let t = 0; t < out.ids.length - 1; t++) {
    const err = Math.max(...rows[t].map((x, v) => Math.abs(x - ref[t][v])));
    assert.ok(err < 1e-4, `logits at byte ${t} differ by ${err}`);
  }
  blt.dispose();
});

Deno.test("cached generation = uncached on the Hugging Face fixture model", async () => {
  try {
    await Deno.stat(FIXTURE);
  } catch {
    throw new Error(
      `missing fixture directory ${FIXTURE}: the shared testdata must sit beside the repo`,
    );
  }
  const hf = await loadPretrained(FIXTURE);
  for (const sampling of [GREEDY, SAMPLED]) {
    const out = assertSameGeneration(
      hf,
      { maxBytes: 32, sampling, seed: 2, stopAtEos: false },
      `HF ${JSON.stringify(sampling)}`,
    );
    assert.ok(out.patchLengths!.some((n) => n > 2), `HF patches vary: ${out.patchLengths}`);
  }
  const capped = new Blt(
    { ...hf.config, patching: { ...hf.config.patching, maxPatchLength: 3 } },
    hf.params,
    hf.patcher,
  );
  const out = assertSameGeneration(
    capped,
    { maxBytes: 32, sampling: GREEDY, stopAtEos: false },
    "HF maxPatchLength 3",
  );
  assert.ok(out.patchLengths!.every((n) => n <= 3) && out.patchLengths!.includes(3));
  hf.dispose();
});

Deno.test("byte LM generation: cached = uncached; EOS stops; results hold text and bytes", () => {
  const lm = createByteLm(
    resolveConfig("tiny", {
      entropyModel: { dim: 16, heads: 2, layers: 2, ffnDim: 32, slidingWindow: 5 },
    }).entropyModel!,
    4,
  );
  for (const sampling of [GREEDY, SAMPLED]) {
    const out = assertSameGeneration(
      lm,
      { maxBytes: 30, sampling, seed: 8, stopAtEos: false },
      "byte LM",
    );
    assert.equal(out.patchLengths, null);
    assert.equal(out.generated.length, 30);
    assert.equal(out.text, new TextDecoder().decode(out.bytes));
  }
  // A hot temperature makes EOS (1 of 260 ids) come soon; this seed meets it at a fixed byte.
  const hot = generate(lm, "x", { maxBytes: 2000, sampling: { temperature: 20 }, seed: 1 });
  assert.equal(hot.stop, "eos");
  assert.equal(hot.generated.at(-1), 2);
  assert.equal(hot.generated.indexOf(2), hot.generated.length - 1);
  assert.deepEqual(
    hot.ids,
    generate(lm, "x", { maxBytes: 2000, sampling: { temperature: 20 }, seed: 1, useCache: false })
      .ids,
  );
  lm.dispose();
});

Deno.test("no tensor leak: numTensors steady while generating and back to start after", () => {
  const base = smallBlt(5, { "global.slidingWindow": 3 });
  const blt = withMedianThreshold(base, { maxPatchLength: 4 });
  for (const useCache of [true, false]) {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    generate(blt, "Leak", {
      maxBytes: 60,
      sampling: SAMPLED,
      stopAtEos: false,
      useCache,
      onByte: () => counts.push(tf.memory().numTensors),
    });
    // Cached: fixed caches and tables plus the open patch's byte states (≤ maxPatchLength).
    const spread = Math.max(...counts.slice(8)) - Math.min(...counts.slice(8));
    assert.ok(spread <= 4, `numTensors wandered by ${spread} (useCache ${useCache})`);
    assert.equal(tf.memory().numTensors, before, `tensors left behind (useCache ${useCache})`);
  }
  base.dispose();
});

Deno.test("bad input: clear errors; empty prompt starts from BOS", () => {
  const blt = smallBlt(6);
  assert.deepEqual(generate(blt, "", { maxBytes: 0 }).ids, [1]);
  assert.deepEqual(generate(blt, [], { maxBytes: 2, stopAtEos: false }).ids.slice(0, 1), [1]);
  const zero = generate(blt, "ab", { maxBytes: 0 });
  assert.deepEqual([zero.ids, zero.generated], [[1, 101, 102], []]);
  assert.deepEqual(zero.patchLengths, blt.patch([zero.ids]).patchLengths[0]);
  assert.throws(
    () => generate(blt, [1, 300], { maxBytes: 1 }),
    /prompt\[1\] = 300; byte ids are integers in 0..259/,
  );
  assert.throws(() => generate(blt, [1, 2.5], { maxBytes: 1 }), /prompt\[1\] = 2.5/);
  assert.throws(
    () => generate(blt, "a", { maxBytes: -1 }),
    /maxBytes must be an integer ≥ 0.*found -1/,
  );
  assert.throws(() => generate(blt, "a", { maxBytes: 1.5 }), /maxBytes/);
  assert.throws(() => generate(blt, "a", { maxBytes: 1, sampling: { topP: 0 } }), /sampling.topP/);
  assert.throws(() => generate(blt, "a", { maxBytes: 1, seed: -3 }), /seed/);
  const noPatcher = new Blt({ ...blt.config, entropyModel: null }, blt.params, null);
  for (const useCache of [true, false]) {
    assert.throws(() => generate(noPatcher, "a", { maxBytes: 1, useCache }), /no entropy model/);
  }
  blt.dispose();
});

Deno.test("generate: a BLT with ablated cross-attention generates (uncached path), same bytes asked with or without cache", () => {
  const cfg = resolveConfig("tiny", {
    "encoder.dim": 32,
    "decoder.dim": 32,
    "global.dim": 64,
    "global.layers": 1,
    "decoder.layers": 1,
    "encoder.heads": 2,
    "decoder.heads": 2,
    "global.heads": 2,
    "hash.buckets": 32,
    entropyModel: null,
    patching: { mode: "static", patchSize: 3 },
    "encoder.crossAttn": false,
    "decoder.crossAttn": false,
  });
  const blt = createBlt(cfg, 1);
  try {
    const a = generate(blt, "ab", { maxBytes: 6, stopAtEos: false });
    const b = generate(blt, "ab", { maxBytes: 6, stopAtEos: false, useCache: false });
    assert.deepEqual(a.ids, b.ids);
  } finally {
    blt.dispose();
  }
});

Deno.test("generateAsync = generate (sync read-backs): cached and uncached, BLT and byte LM, greedy and seeded", async () => {
  const blt = smallBlt(7, { "decoder.slidingWindow": 5 });
  const space = withMedianThreshold(blt, { mode: "space" });
  const lm = createByteLm(
    resolveConfig("tiny", { entropyModel: { dim: 16, heads: 2, layers: 2, ffnDim: 32 } })
      .entropyModel!,
    3,
  );
  for (const [name, model] of [["BLT", blt], ["BLT space", space], ["byte LM", lm]] as const) {
    for (const sampling of [GREEDY, SAMPLED]) {
      for (const useCache of [true, false]) {
        const o = { maxBytes: 24, sampling, seed: 11, stopAtEos: false, useCache };
        const what = `${name} ${JSON.stringify(sampling)} cache ${useCache}`;
        const sync = generate(model, "Once upon", o);
        const bytesSeen: number[] = [];
        const async = await generateAsync(model, "Once upon", {
          ...o,
          onByte: (id) => bytesSeen.push(id),
        });
        assert.deepEqual(async.ids, sync.ids, `${what}: ids`);
        assert.deepEqual(async.patchLengths, sync.patchLengths, `${what}: patch lengths`);
        assert.deepEqual(async.entropies, sync.entropies, `${what}: entropies`);
        assert.equal(async.stop, sync.stop);
        assert.deepEqual(bytesSeen, async.generated, `${what}: onByte`);
      }
    }
  }
  // Cached = uncached on the async path too.
  const a = await generateAsync(blt, "Hi", { maxBytes: 20, sampling: SAMPLED, seed: 3 });
  const b = await generateAsync(blt, "Hi", {
    maxBytes: 20,
    sampling: SAMPLED,
    seed: 3,
    useCache: false,
  });
  assert.deepEqual(a.ids, b.ids);
  assert.deepEqual(a.patchLengths, b.patchLengths);
  blt.dispose();
  lm.dispose();
});

Deno.test("read-backs: one logits row [1, 1, 260] per byte (+ the entropy model's row in entropy mode)", () => {
  const blt = smallBlt(8);
  const space = withMedianThreshold(blt, { mode: "space" });
  const lm = createByteLm(blt.config.entropyModel!, 1);
  const cases = [
    [blt, true, 2],
    [blt, false, 2], // the uncached BLT also reads the entropy model's rows over the prefix
    [space, true, 1],
    [space, false, 1],
    [lm, true, 1],
    [lm, false, 1],
  ] as const;
  for (const [model, useCache, readsPerByte] of cases) {
    const s = stepper(model, { useCache });
    const what = `${
      model instanceof Blt ? model.config.patching.mode : "byte LM"
    } cache ${useCache}`;
    s.push(1);
    s.logits();
    for (const id of [76, 77, 78]) {
      s.push(id);
      const reads = s.logitsReads();
      const shapes: number[][] = [];
      let next = reads.next();
      while (!next.done) {
        shapes.push(next.value.shape);
        const values = next.value.dataSync() as Float32Array;
        next.value.dispose();
        next = reads.next(values);
      }
      assert.equal(next.value.length, 260);
      assert.equal(shapes.length, readsPerByte, `${what}: read-backs per byte`);
      // The logits row is read alone (the uncached BLT's entropy read covers the prefix).
      assert.deepEqual(shapes.at(-1), [1, 1, 260], `${what}: logits read-back shape`);
    }
    s.dispose();
  }
  blt.dispose();
  lm.dispose();
});

Deno.test("generateAsync: no tensor leak; bad input rejects with the same clear errors", async () => {
  const blt = smallBlt(9, { "global.slidingWindow": 3 });
  for (const useCache of [true, false]) {
    const before = tf.memory().numTensors;
    await generateAsync(blt, "Leak", { maxBytes: 30, sampling: SAMPLED, useCache });
    assert.equal(tf.memory().numTensors, before, `tensors left behind (useCache ${useCache})`);
  }
  await assert.rejects(
    () => generateAsync(blt, [1, 300], { maxBytes: 1 }),
    /prompt\[1\] = 300; byte ids are integers in 0..259/,
  );
  await assert.rejects(() => generateAsync(blt, "a", { maxBytes: -1 }), /maxBytes must be/);
  // An onByte that throws stops generation and frees the caches.
  const before = tf.memory().numTensors;
  await assert.rejects(
    () =>
      generateAsync(blt, "a", {
        maxBytes: 10,
        onByte: (_id, i) => {
          if (i === 3) throw new Error("stop here");
        },
      }),
    /stop here/,
  );
  assert.equal(tf.memory().numTensors, before);
  blt.dispose();
});
