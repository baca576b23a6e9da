import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { type PatchingConfig, PRESETS } from "../../../lib/config.ts";
import { KvCache } from "../../../lib/model/cache/kv_cache.ts";
import { nextBytePatchLengths, PatchStream } from "../../../lib/model/cache/patch_stream.ts";
import { Rng } from "../../../lib/data/rng.ts";

await tf.setBackend("wasm");

const BASE = PRESETS.tiny.patching;

Deno.test("PatchStream agrees with the batch lengths at every step, all modes and max lengths", () => {
  const rng = new Rng(11);
  const configs: PatchingConfig[] = [];
  for (const maxPatchLength of [null, 1, 2, 5]) {
    configs.push(
      { ...BASE, threshold: 1, maxPatchLength },
      { ...BASE, threshold: 1, relativeThreshold: 0.3, maxPatchLength },
      { ...BASE, monotonic: true, relativeThreshold: 0.2, maxPatchLength },
      { ...BASE, mode: "space", maxPatchLength },
      { ...BASE, mode: "static", patchSize: 3, maxPatchLength },
      { ...BASE, mode: "byte", maxPatchLength },
    );
  }
  const text = " ab  c1,\u00e9d\u20acxy zz. \n  q ";
  for (const config of configs) {
    const ids = [1, ...new TextEncoder().encode(text).map((b) => b + 4), 2, 1, 70];
    const h = ids.map(() => rng.float() * 2);
    const stream = new PatchStream(config);
    const entropic = config.mode === "entropy";
    let longest = 0;
    for (let t = 0; t < ids.length; t++) {
      stream.push(ids[t], entropic ? h[t] : null);
      const batch = nextBytePatchLengths(
        config,
        ids.slice(0, t + 1),
        entropic ? h.slice(0, t + 1) : null,
      );
      assert.deepEqual(stream.patchLengths(t + 2), batch, `${JSON.stringify(config)} at byte ${t}`);
      longest = Math.max(longest, ...batch);
    }
    assert.ok(longest > 1 || config.mode === "byte" || config.maxPatchLength === 1);
    if (config.maxPatchLength !== null) assert.ok(longest <= config.maxPatchLength);
  }
  assert.throws(() => new PatchStream(BASE).push(5, null), /needs the byte's entropy/);
  assert.throws(() => new PatchStream(BASE).patchLengths(2), /'span' must be an integer in 0..1/);
  assert.throws(
    () => nextBytePatchLengths(BASE, [1, 5], [0.1]),
    /one entropy per byte \(2\), found 1/,
  );
});

Deno.test("KvCache keeps the last window positions and frees what it drops", () => {
  const before = tf.memory().numTensors;
  const cache = new KvCache(2, 3);
  for (let t = 0; t < 5; t++) {
    tf.tidy(() => {
      for (let layer = 0; layer < 2; layer++) {
        cache.append(
          layer,
          tf.fill([1, 1, 1, 2], t) as tf.Tensor4D,
          tf.fill([1, 1, 1, 2], -t) as tf.Tensor4D,
        );
      }
    });
  }
  assert.equal(cache.length, 3);
  assert.deepEqual(Array.from(cache.keys(1).dataSync()), [2, 2, 3, 3, 4, 4]);
  assert.deepEqual(Array.from(cache.values(0).dataSync()), [-2, -2, -3, -3, -4, -4]);
  assert.equal(tf.memory().numTensors, before + 4);
  cache.clear();
  assert.equal(cache.length, 0);
  assert.throws(() => cache.keys(0), /holds no positions yet/);
  assert.throws(() => cache.keys(2), /'layer' must be an integer in 0..1/);
  cache.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => new KvCache(1, 0), /'window' must be an integer ≥ 1/);
});
