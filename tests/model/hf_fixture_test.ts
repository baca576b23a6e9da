import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { loadPretrained } from "../../lib/model/io/hf.ts";
import { readSafetensorsFileMixed } from "../../lib/model/io/safetensors.ts";
import { fusedHashIds } from "../../lib/model/ngram_hash.ts";

const DIR = new URL("../../../shared/testdata/hf-blt-tiny/", import.meta.url).pathname;

async function fixture() {
  try {
    await Deno.stat(DIR);
  } catch {
    throw new Error(
      `missing fixture directory ${DIR}: the shared testdata must sit beside the repo`,
    );
  }
  const inter = await readSafetensorsFileMixed(DIR + "intermediates.safetensors");
  const summary = JSON.parse(await Deno.readTextFile(DIR + "summary.json"));
  return { inter, summary };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "sizes differ");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("matches every stage of the transformers 5.18 BLT fixture", async () => {
  await tf.setBackend(Deno.env.get("TFB") ?? "wasm");
  const { inter, summary } = await fixture();
  const blt = await loadPretrained(DIR);
  const before = tf.memory().numTensors;
  for (let c = 0; c < summary.cases.length; c++) {
    const expected = (name: string) => inter.get(`case${c}.${name}`)!.data as ArrayLike<number>;
    const ids: number[] = Array.from(expected("input_ids"));
    assert.deepEqual(ids, summary.cases[c].input_ids);

    const hashed = fusedHashIds([ids], blt.config.hash);
    summary.cases[c].hash_ids["0_3"].forEach((h: number, t: number) => {
      assert.equal(hashed.ids[t * hashed.nTables], h);
    });

    const out = blt.forward([ids], { intermediates: true });
    assert.ok(maxAbsDiff(out.entropies![0], expected("entropies")) <= 1e-4, "entropies");
    assert.deepEqual(out.patchLengths[0], Array.from(expected("patch_lengths")));
    const stages = [
      ["embeddings", out.embeddings!],
      ["encoder_hidden", out.encoderHidden!],
      ["encoder_patches", out.encoderPatches!],
      ["global_hidden", out.globalHidden!],
      ["decoder_normed", out.decoderOutput!],
      ["logits", out.logits],
    ] as const;
    for (const [name, tensor] of stages) {
      const d = maxAbsDiff(tensor.dataSync(), expected(name));
      assert.ok(d <= 1e-4, `case ${c} ${name}: max abs diff ${d}`);
    }
    const patcherLogits = blt.patcher!.logits([ids]);
    assert.ok(
      maxAbsDiff(patcherLogits.dataSync(), expected("patcher_logits")) <= 1e-4,
      "patcher logits",
    );
    patcherLogits.dispose();
    for (const [, t] of stages) t.dispose();

    const { loss } = blt.loss({ ids: [ids], patchLengths: out.patchLengths });
    const l = loss.dataSync()[0];
    loss.dispose();
    assert.ok(
      Math.abs(l - summary.cases[c].loss_next_byte) <= 1e-4,
      `loss ${l} vs ${summary.cases[c].loss_next_byte}`,
    );
  }
  assert.equal(tf.memory().numTensors, before, "forward leaked tensors");
  blt.dispose();
});
