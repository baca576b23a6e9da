import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../../lib/backend.ts";
import { encode } from "../../lib/bytes/mod.ts";
import { loadPretrained } from "../../lib/model/mod.ts";
import { encoderPoolingWeights } from "../../lib/model/pooling_attention.ts";
import { rmsNorm } from "../../lib/model/layers/rms_norm.ts";
import { linear } from "../../lib/model/params.ts";

await setupBackend({ override: "wasm", log: () => {} });
const DIR = new URL("../../../shared/testdata/hf-blt-tiny/", import.meta.url).pathname;

async function fixture() {
  try {
    return await loadPretrained(DIR);
  } catch (e) {
    throw new Error(`HF fixture missing or unreadable at ${DIR}: ${(e as Error).message}`);
  }
}

Deno.test("pooling weights rebuild the encoder's patch states of the HF fixture", async () => {
  const blt = await fixture();
  const ids = [...encode("Byte patches, pooled.")];
  const lengths = [1, 4, 1, 7, 3, 5, 2];
  assert.equal(lengths.reduce((a, n) => a + n), ids.length);
  const before = tf.memory().numTensors;
  const out = blt.forward([ids], { patchLengths: [lengths], intermediates: true });
  const e = blt.config.encoder, k = blt.config.crossAttnK, h = e.dim, H = e.heads, d = h / H;
  const w = (n: string) => blt.params.get(`model.local_encoder.${n}.weight`);
  for (const patch of [1, 3, 5]) {
    const { start, length, weights } = encoderPoolingWeights(
      blt,
      out.encoderHidden!,
      out.patchLengths,
      patch,
    );
    assert.equal(start, lengths.slice(0, patch).reduce((a, n) => a + n, 0));
    assert.equal(length, lengths[patch]);
    assert.deepEqual([weights.length, weights[0].length, weights[0][0].length], [H, k, length]);
    for (const row of weights.flat()) {
      assert.ok(Math.abs(row.reduce((a, x) => a + x) - 1) < 1e-5, "rows sum to 1");
    }
    // Oracle: o_proj(Σ_s w·v_s) + 2·queries must equal the forward's pooled patch states.
    const [rebuilt, expected] = tf.tidy(() => {
      const bytes = tf.slice(out.encoderHidden!, [0, start, 0], [1, length, h]).reshape([
        length,
        h,
      ]);
      const queries = tf.reshape(linear(tf.max(bytes, 0, true), w("patch_embedding_projection")), [
        k,
        h,
      ]);
      const v = linear(
        rmsNorm(bytes, w("cross_attn_layers.0.k_norm"), e.normEps),
        w("cross_attn_layers.0.v_proj"),
      );
      const vh = tf.transpose(tf.reshape(v, [length, H, d]), [1, 0, 2]); // [H, L, d]
      const mixed = tf.matMul(tf.tensor3d(weights), vh); // [H, k, d]
      const attn = tf.reshape(tf.transpose(mixed, [1, 0, 2]), [k, h]);
      const pooled = tf.add(
        tf.add(linear(attn, w("cross_attn_layers.0.o_proj")), queries),
        queries,
      );
      const slots = tf.slice(out.encoderPatches!, [0, patch * k, 0], [1, k, h]).reshape([k, h]);
      return [pooled.arraySync() as number[][], slots.arraySync() as number[][]];
    });
    rebuilt.flat().forEach((x, i) =>
      assert.ok(Math.abs(x - expected.flat()[i]) < 1e-4, `slot value ${i}`)
    );
  }
  for (const t of Object.values(out)) if (t instanceof tf.Tensor) t.dispose();
  assert.equal(tf.memory().numTensors, before);
  blt.dispose();
});

Deno.test("pooling weights: bad patch or batch index names the argument", async () => {
  const blt = await fixture();
  const out = blt.forward([[1, 70, 71, 72]], { patchLengths: [[1, 3]], intermediates: true });
  assert.throws(
    () => encoderPoolingWeights(blt, out.encoderHidden!, out.patchLengths, 2),
    /patch must index/,
  );
  assert.throws(
    () => encoderPoolingWeights(blt, out.encoderHidden!, out.patchLengths, 0, 1),
    /batch must be/,
  );
  assert.throws(
    () => encoderPoolingWeights(blt, out.encoderHidden!, [[1, 2]], 0),
    /must sum to T=4/,
  );
  for (const t of Object.values(out)) if (t instanceof tf.Tensor) t.dispose();
  blt.dispose();
});
