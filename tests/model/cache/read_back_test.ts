import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {
  canReadSync,
  readAsync,
  type Reads,
  readSync,
} from "../../../lib/model/cache/read_back.ts";

await tf.setBackend("wasm");

/** Reads two tensors, the second made from the first's values; records that `finally` ran. */
function* twoReads(log: string[]): Reads<number> {
  try {
    const a = yield tf.tensor1d([1, 2, 3]);
    const b = yield tf.tensor1d([a[0] + a[2], 10], "int32");
    return b[0] * b[1];
  } finally {
    log.push("finally");
  }
}

Deno.test("readSync = readAsync; every yielded tensor is read once and disposed", async () => {
  const before = tf.memory().numTensors;
  const log: string[] = [];
  assert.equal(readSync(twoReads(log)), 40);
  assert.equal(await readAsync(twoReads(log)), 40);
  assert.deepEqual(log, ["finally", "finally"]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("a failing read is thrown into the computation (its finally frees), then out", async () => {
  const log: string[] = [];
  function* broken(): Reads<number> {
    try {
      const t = tf.tensor1d([1, 2]);
      t.dataSync = () => {
        throw new Error("no canvas");
      };
      t.data = () => Promise.reject(new Error("device lost"));
      return (yield t)[0];
    } finally {
      log.push("finally");
    }
  }
  const before = tf.memory().numTensors;
  assert.throws(() => readSync(broken()), /no canvas/);
  await assert.rejects(() => readAsync(broken()), /device lost/);
  assert.deepEqual(log, ["finally", "finally"]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("canReadSync: wasm and cpu can; webgpu cannot under Deno (no 2d OffscreenCanvas)", () => {
  assert.equal(canReadSync(), true);
  assert.equal(canReadSync("cpu"), true);
  assert.equal(canReadSync("webgpu"), false);
});
