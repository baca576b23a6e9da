import assert from "node:assert/strict";
import { type CheckpointData, loadCheckpoint, saveCheckpoint } from "../../lib/train/checkpoint.ts";

function data(step: number): CheckpointData {
  return {
    step,
    nextBatchIndex: step * 2,
    modelConfig: { kind: "test", dim: 2 },
    weights: new Map([["w", { shape: [2, 2], data: new Float32Array([1, 2, 3, step]) }]]),
    optimizer: {
      step,
      decay: { w: true },
      moments: new Map([
        ["exp_avg.w", { shape: [2, 2], data: new Float32Array([0.1, 0.2, 0.3, 0.4]) }],
        ["exp_avg_sq.w", { shape: [2, 2], data: new Float32Array([1e-3, 2e-3, 3e-3, 4e-3]) }],
      ]),
    },
    trainConfig: null,
  };
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("saveCheckpoint/loadCheckpoint: round trip through latest, keeping the newest k", async () => {
  const run = await Deno.makeTempDir();
  try {
    for (const step of [1, 2, 3]) await saveCheckpoint(run, data(step), 2);
    assert.deepEqual(await names(run), ["latest", "step-00000002", "step-00000003"]);
    assert.deepEqual(await names(`${run}/step-00000003`), [
      "config.json",
      "model.safetensors",
      "optimizer.safetensors",
      "trainer_state.json",
    ]);
    const c = await loadCheckpoint(run);
    assert.equal(c.dir, `${run}/step-00000003`);
    assert.equal(c.step, 3);
    assert.equal(c.nextBatchIndex, 6);
    assert.deepEqual(c.modelConfig, { kind: "test", dim: 2 });
    assert.deepEqual([...c.weights.get("w")!.data], [1, 2, 3, 3]);
    assert.deepEqual([...c.optimizer.moments.get("exp_avg_sq.w")!.data], [
      ...data(3).optimizer.moments.get("exp_avg_sq.w")!.data,
    ]);
    assert.equal(c.optimizer.step, 3);
    assert.deepEqual(c.optimizer.decay, { w: true });
    // A step directory loads directly too.
    assert.equal((await loadCheckpoint(`${run}/step-00000002`)).step, 2);
  } finally {
    await Deno.remove(run, { recursive: true });
  }
});

Deno.test("saveCheckpoint: re-saving a step replaces it and leaves no temporary files", async () => {
  const run = await Deno.makeTempDir();
  try {
    await saveCheckpoint(run, data(4));
    await saveCheckpoint(run, { ...data(4), nextBatchIndex: 99 });
    assert.deepEqual(await names(run), ["latest", "step-00000004"]);
    assert.equal((await loadCheckpoint(run)).nextBatchIndex, 99);
  } finally {
    await Deno.remove(run, { recursive: true });
  }
});

Deno.test("loadCheckpoint: a corrupted file fails its SHA-256 check, naming the file", async () => {
  const run = await Deno.makeTempDir();
  try {
    const dir = await saveCheckpoint(run, data(1));
    const path = `${dir}/model.safetensors`;
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 0xff;
    await Deno.writeFile(path, bytes);
    await assert.rejects(loadCheckpoint(run), /model\.safetensors is corrupt: SHA-256/);
  } finally {
    await Deno.remove(run, { recursive: true });
  }
});

Deno.test("loadCheckpoint: a directory without a checkpoint says what it expected", async () => {
  const run = await Deno.makeTempDir();
  try {
    await assert.rejects(loadCheckpoint(run), /No checkpoint at .*trainer_state\.json.*latest/);
  } finally {
    await Deno.remove(run, { recursive: true });
  }
});
