/**
 * Fault injection on checkpoints: every file of the newest checkpoint corrupted (one byte
 * flipped), truncated, emptied or deleted; files swapped between checkpoints; a checkpoint loaded
 * into the wrong model; Hugging Face exports truncated or with a config that does not match the
 * weights. Each must fail with an error naming the file and what to do, modify nothing on disk,
 * and leave the older checkpoint loadable with its exact weights.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { resolveConfig } from "../../lib/config.ts";
import { createBlt } from "../../lib/model/blt.ts";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { loadPretrained } from "../../lib/model/io/hf.ts";
import { loadCheckpoint, saveCheckpoint } from "../../lib/train/checkpoint.ts";
import { resume, train } from "../../lib/train/loop.ts";
import {
  assertClearError,
  TINY_LM,
  tinyBltConfig,
  tinyData,
  useWasm,
  withTempDir,
} from "./helpers.ts";

await useWasm();

const CHECKSUMMED = ["model.safetensors", "optimizer.safetensors", "config.json"] as const;

/** Every file under `dir` with its bytes, to prove a failed load changed nothing. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else out.set(p, (await Deno.readFile(p)).join());
    }
  };
  await walk(dir);
  return out;
}

/** Trains the tiny byte LM 2 steps with a checkpoint after each: run/step-00000001, -00000002. */
async function twoCheckpoints(run: string): Promise<void> {
  const lm = createByteLm(TINY_LM, 7);
  try {
    await train({
      model: lm,
      data: tinyData(),
      config: { steps: 2, warmupSteps: 1, lr: 0.01, checkpointEvery: 1, evalEvery: 0 },
      checkpointDir: run,
    });
  } finally {
    lm.dispose();
  }
}

type Damage = (bytes: Uint8Array) => Uint8Array | null;
const DAMAGES: Readonly<Record<string, Damage>> = {
  "one byte flipped": (b) => {
    const c = b.slice();
    c[Math.floor(c.length / 2)] ^= 0x01;
    return c;
  },
  "truncated to half": (b) => b.subarray(0, Math.floor(b.length / 2)),
  "emptied": () => new Uint8Array(0),
  "deleted": () => null,
};

Deno.test("checkpoint: a corrupted, truncated, emptied or deleted file is named; the older checkpoint still loads", async () => {
  await withTempDir(async (run) => {
    await twoCheckpoints(run);
    const older = await loadCheckpoint(`${run}/step-00000001`);
    const pristine = await snapshot(run);
    let faults = 0;
    for (const file of CHECKSUMMED) {
      for (const [what, damage] of Object.entries(DAMAGES)) {
        const path = `${run}/step-00000002/${file}`;
        const original = await Deno.readFile(path);
        const damaged = damage(original);
        if (damaged === null) await Deno.remove(path);
        else await Deno.writeFile(path, damaged);
        const before = await snapshot(run);
        await assertClearError(() => loadCheckpoint(run), [
          new RegExp(`step-00000002/${file.replace(".", "\\.")}`),
          damaged === null
            ? /cannot be read/
            : /is corrupt: SHA-256 .*resume from an older checkpoint/,
        ]);
        assert.deepEqual(await snapshot(run), before, `loading after '${what}' changed files`);
        const back = await loadCheckpoint(`${run}/step-00000001`);
        assert.equal(back.step, 1);
        for (const [name, w] of older.weights) {
          assert.deepEqual(back.weights.get(name)!.data, w.data, `${name} changed (${what})`);
        }
        await Deno.writeFile(path, original);
        faults++;
      }
    }
    assert.deepEqual(await snapshot(run), pristine);
    assert.equal(faults, 12);
    assert.equal((await loadCheckpoint(run)).step, 2, "restored files load again");
  });
});

Deno.test("checkpoint: a changed step, data position or train config in trainer_state.json is caught", async () => {
  await withTempDir(async (run) => {
    await twoCheckpoints(run);
    const path = `${run}/step-00000002/trainer_state.json`;
    const original = await Deno.readTextFile(path);
    const edits: [RegExp, string][] = [
      [/"step": 2/, '"step": 7'],
      [/"nextBatchIndex": 2/, '"nextBatchIndex": 3'],
      [/"lr": 0\.01/, '"lr": 0.02'],
      [/"stateSha256": "[0-9a-f]/, '"stateSha256": "x'],
    ];
    for (const [from, to] of edits) {
      assert.match(original, from);
      await Deno.writeTextFile(path, original.replace(from, to));
      await assertClearError(() => loadCheckpoint(run), [
        /step-00000002\/trainer_state\.json is corrupt/,
        /resume from an older checkpoint/,
      ]);
    }
    await Deno.writeTextFile(path, original);
    assert.equal((await loadCheckpoint(run)).nextBatchIndex, 2);
  });
});

Deno.test("checkpoint: files swapped in from another checkpoint fail their checksum", async () => {
  await withTempDir(async (run) => {
    await twoCheckpoints(run);
    for (const file of CHECKSUMMED.slice(0, 2)) {
      const path = `${run}/step-00000002/${file}`;
      const original = await Deno.readFile(path);
      await Deno.copyFile(`${run}/step-00000001/${file}`, path);
      await assertClearError(() => loadCheckpoint(run), [new RegExp(`${file}.* is corrupt`)]);
      await Deno.writeFile(path, original);
    }
  });
});

Deno.test("checkpoint: resuming into a model of another config or shape is refused, naming the fix", async () => {
  await withTempDir(async (run) => {
    await twoCheckpoints(run);
    const wider = createByteLm({ ...TINY_LM, dim: 32, headDim: 16 }, 0);
    const before = tf.memory().numTensors;
    try {
      await assertClearError(() => resume(run, { model: wider, data: tinyData() }), [
        /config differs from .*config\.json/,
        /build the model from that config/,
      ]);
      assert.equal(tf.memory().numTensors, before);
    } finally {
      wider.dispose();
    }
    // Same config.json, other weights: a checkpoint whose shapes do not fit the model.
    const lm = createByteLm(TINY_LM, 0);
    try {
      const weights = new Map(
        [...lm.namedVariables()].map(([name, v]) => [name, {
          shape: name === "norm.weight" ? [8] : v.shape,
          data: name === "norm.weight" ? new Float32Array(8) : v.dataSync() as Float32Array,
        }]),
      );
      const odd = `${run}/odd`;
      await saveCheckpoint(odd, {
        step: 1,
        nextBatchIndex: 1,
        modelConfig: lm.config,
        weights,
        optimizer: { step: 0, decay: {}, moments: new Map() },
        trainConfig: null,
      });
      await assertClearError(() => resume(odd, { model: lm, data: tinyData() }), [
        /weight 'norm\.weight' has shape \[8\], the model expects \[16\]/,
        /build the model with the checkpoint's config\.json/,
      ]);
    } finally {
      lm.dispose();
    }
  });
});

Deno.test("hf export: truncated weights, a broken header or a config that does not fit are named", async () => {
  await withTempDir(async (dir) => {
    const blt = createBlt(tinyBltConfig(), 0);
    await blt.save(dir);
    blt.dispose();
    const path = `${dir}/model.safetensors`;
    const good = await Deno.readFile(path);
    await Deno.writeFile(path, good.subarray(0, good.length - 100));
    await assertClearError(() => loadPretrained(dir), [/model\.safetensors/, /truncated/]);
    await Deno.writeFile(path, good.subarray(0, 5));
    await assertClearError(() => loadPretrained(dir), [/5 bytes/, /fully written/]);
    await Deno.writeFile(path, good);
    const config = await Deno.readTextFile(`${dir}/config.json`);
    await Deno.writeTextFile(`${dir}/config.json`, "{");
    await assertClearError(() => loadPretrained(dir), [/config\.json is not valid JSON/]);
    const json = JSON.parse(config);
    json.encoder_hash_byte_group_vocab = 128; // weights were saved with 64 buckets
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(json));
    await assertClearError(() => loadPretrained(dir), [/model\.safetensors/, /shape/]);
    await Deno.writeTextFile(`${dir}/config.json`, config);
    const back = await loadPretrained(dir);
    assert.deepEqual(back.config, resolveConfig(tinyBltConfig()));
    back.dispose();
  });
});

Deno.test("hf export: a model loaded (or failing to load) and disposed leaves no tensor behind", async () => {
  await withTempDir(async (dir) => {
    const before = tf.memory();
    createBlt(tinyBltConfig(), 0).dispose();
    assert.equal(tf.memory().numTensors, before.numTensors, "createBlt + dispose");
    const blt = createBlt(tinyBltConfig(), 0);
    await blt.save(dir);
    blt.dispose();
    (await loadPretrained(dir)).dispose();
    const json = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    json.encoder_hash_byte_group_vocab = 128;
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(json));
    await assertClearError(() => loadPretrained(dir), [/shape/]);
    assert.equal(tf.memory().numTensors, before.numTensors, "load, failed load");
    assert.equal(tf.memory().numBytes, before.numBytes);
  });
});

Deno.test("checkpoint: unreadable trainer_state.json or latest names the file and the fix", async () => {
  await withTempDir(async (run) => {
    await twoCheckpoints(run);
    const state = `${run}/step-00000002/trainer_state.json`;
    for (const text of ["{garbage", "", '{"format": "blt-notebooks/trainer-checkpoint/1", "st']) {
      await Deno.writeTextFile(state, text);
      await assertClearError(() => loadCheckpoint(run), [
        /step-00000002\/trainer_state\.json is not valid JSON/,
        /resume from an older checkpoint/,
      ]);
    }
    await Deno.remove(state);
    await assertClearError(() => loadCheckpoint(`${run}/step-00000002`), [
      /No checkpoint at .*step-00000002/,
      /pass the checkpointDir/,
    ]);
    await Deno.writeTextFile(`${run}/latest`, '{"step":2,');
    await assertClearError(() => loadCheckpoint(run), [
      /latest is not valid JSON/,
      /pass one of the step directories/,
    ]);
    await Deno.writeTextFile(`${run}/latest`, '{"step":9,"dir":"step-00000009"}');
    await assertClearError(() => loadCheckpoint(run), [
      /step-00000009\/trainer_state\.json/,
      /resume from an older checkpoint/,
    ]);
    assert.equal((await loadCheckpoint(`${run}/step-00000001`)).step, 1);
  });
});
