import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { resolveConfig } from "../../lib/config.ts";
import { encodeDocuments } from "../../lib/data/mod.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import {
  cachedEntropies,
  documentEntropies,
  documentEntropiesAsync,
  modelHash,
} from "../../lib/train/entropy_cache.ts";

await tf.setBackend("wasm");

const cfg = resolveConfig("tiny", { "entropyModel.dim": 16, "entropyModel.layers": 1 })
  .entropyModel!;
const texts = [
  "A short one.",
  "The second document is a little longer than the context window of sixteen ids.",
  "Third!",
  "and a fourth that also spans more than one chunk of the sliding context",
];
const docs = encodeDocuments(texts);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("documentEntropies: a document's entropies are the same alone or batched with others", () => {
  const lm = createByteLm(cfg, 3);
  const before = tf.memory().numTensors;
  const options = { context: 16, stride: 8, batchSize: 4 };
  const together = documentEntropies(lm, docs, options);
  docs.forEach((doc, i) => {
    const alone = documentEntropies(lm, [doc], { ...options, batchSize: 1 })[0];
    assert.equal(together[i].length, doc.length);
    assert(maxDiff(alone, together[i]) < 1e-5, `doc ${i}: ${maxDiff(alone, together[i])}`);
  });
  assert.equal(tf.memory().numTensors, before);
  lm.dispose();
});

Deno.test("documentEntropies: each document starts from its own BOS (flattening would bleed)", () => {
  const lm = createByteLm(cfg, 4);
  const [a, , c] = docs;
  const ours = documentEntropies(lm, [a, c], { context: 64 })[1];
  // A short document is scored exactly as the model scores it on its own row.
  const direct = lm.entropies([[...c]])[0];
  assert(maxDiff(ours, direct) < 1e-5);
  // The reference's flattened stream: c's bytes read after a's. Its entropies differ, so the
  // equality above is a real check of document isolation.
  const flat = lm.entropies([[...a, ...c]])[0].subarray(a.length);
  assert(maxDiff(flat, direct) > 1e-3, `bleeding changed nothing: ${maxDiff(flat, direct)}`);
  lm.dispose();
});

Deno.test("documentEntropies: long documents are chunked with ≥ C − S bytes of left context", () => {
  const lm = createByteLm(cfg, 5);
  const doc = docs[1]; // 81 ids
  const C = 16, S = 8;
  const h = documentEntropies(lm, [doc], { context: C, stride: S })[0];
  const ids = [...doc];
  // Positions of the first chunk see the document from its BOS.
  assert(maxDiff(h.subarray(0, C), lm.entropies([ids.slice(0, C)])[0]) < 1e-5);
  // Position t in the chunk ending at e (e − S ≤ t < e) is scored from ids[e − C, t].
  for (const t of [C, C + 5, 40, doc.length - 1]) {
    const kept = C + Math.floor((t - C) / S) * S;
    const end = Math.min(kept + S, doc.length);
    const row = lm.entropies([ids.slice(end - C, end)])[0];
    assert(Math.abs(h[t] - row[t - (end - C)]) < 1e-5, `position ${t}`);
  }
  lm.dispose();
});

Deno.test("cachedEntropies: hit on the same model and corpus; miss when corpus, weights or context change", async () => {
  const lm = createByteLm(cfg, 6);
  const cacheDir = await Deno.makeTempDir();
  try {
    const options = { context: 16, cacheDir };
    const first = await cachedEntropies(lm, docs, options);
    assert.equal(first.hit, false);
    assert.equal(first.path, `${cacheDir}/entropies/${first.key}.safetensors`);
    const second = await cachedEntropies(lm, docs, options);
    assert.equal(second.hit, true);
    assert.equal(second.key, first.key);
    second.entropies.forEach((h, i) => assert.deepEqual(h, first.entropies[i]));

    const edited = encodeDocuments([...texts.slice(0, 3), texts[3].replace("fourth", "Fourth")]);
    const otherCorpus = await cachedEntropies(lm, edited, options);
    assert.equal(otherCorpus.hit, false);
    assert.notEqual(otherCorpus.key, first.key);

    const otherContext = await cachedEntropies(lm, docs, { ...options, context: 32 });
    assert.equal(otherContext.hit, false);

    const hash = await modelHash(lm);
    const w = lm.params.variables().get("norm.weight")!;
    w.assign(tf.tidy(() => tf.mul(w, 1.5)));
    assert.notEqual(await modelHash(lm), hash);
    const retrained = await cachedEntropies(lm, docs, options);
    assert.equal(retrained.hit, false);
    assert.notEqual(retrained.key, first.key);
    assert(maxDiff(retrained.entropies[1], first.entropies[1]) > 1e-4);

    // A cache file that does not fit the corpus is an error naming the file.
    const short = encodeDocuments(["tiny"]);
    const small = await cachedEntropies(lm, short, options);
    await Deno.copyFile(first.path, small.path);
    await assert.rejects(
      () => cachedEntropies(lm, short, options),
      (e: Error) => e.message.includes(small.path) && e.message.includes("delete the file"),
    );
  } finally {
    lm.dispose();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("documentEntropiesAsync (the WebGPU-safe path) equals documentEntropies", async () => {
  const lm = createByteLm(cfg, 5);
  const options = { context: 16, stride: 8, batchSize: 3 };
  const sync = documentEntropies(lm, docs, options);
  const viaAsync = await documentEntropiesAsync(lm, docs, options);
  sync.forEach((h, i) => assert.deepEqual(Array.from(viaAsync[i]), Array.from(h)));
  lm.dispose();
});
