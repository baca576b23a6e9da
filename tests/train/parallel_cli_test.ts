import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { formatDocuments } from "../../lib/data/mod.ts";
import { parseTrainArgs, TRAIN_HELP } from "../../lib/train/cli.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { runTrain } from "../../lib/train/pipeline_run.ts";

await tf.setBackend("wasm");

Deno.test("--workers: parsed, default 1, --set train.workers is the same flag, bad values refused", () => {
  assert.equal(parseTrainArgs([]).workers, 1);
  assert.equal(parseTrainArgs(["--workers", "2"]).workers, 2);
  assert(TRAIN_HELP.includes("--workers N"));
  const viaSet = parseTrainArgs(["--set", "train.workers=3", "--set", "train.lr=0.01"]);
  assert.equal(viaSet.workers, 3);
  assert.deepEqual(viaSet.train, { lr: 0.01 }); // a machine setting: not in run.json's train
  for (const bad of ["0", "-1", "1.5", "two", ""]) {
    assert.throws(
      () => parseTrainArgs(["--workers", bad]),
      new RegExp(`--workers must be an integer ≥ 1, found '${bad}'`),
    );
  }
  assert.throws(
    () => parseTrainArgs(["--set", "train.workers=0"]),
    /--set train\.workers must be an integer ≥ 1, found '0'/,
  );
  assert.throws(
    () => parseTrainArgs(["--workers", "2", "--set", "train.workers=2"]),
    /not both/,
  );
});

Deno.test("runTrain --workers 2: a static-patch BLT run trains, checkpoints, keeps workers out of run.json", async () => {
  const corpus = await Deno.makeTempDir();
  const out = await Deno.makeTempDir();
  const text = "The cat sat on the mat while the dog slept by the door. ".repeat(6);
  const docs = formatDocuments([{ id: "a", text }, { id: "b", text: text.toUpperCase() }]);
  await Deno.writeTextFile(`${corpus}/train.jsonl`, docs);
  await Deno.writeTextFile(`${corpus}/validation.jsonl`, docs);
  const tiny = [
    "encoder.dim=32",
    "decoder.dim=32",
    "decoder.layers=1",
    "global.dim=64",
    "global.layers=1",
    "hash.buckets=64",
    "entropyModel=null",
    "patching.mode=static",
  ].flatMap((kv) => ["--set", kv]);
  try {
    const args = parseTrainArgs([
      ...["--corpus", corpus, "--window", "32", "--batch", "4", "--steps", "2"],
      ...["--val-batches", "1", "--out", out, "--workers", "2", ...tiny],
    ]);
    const s = await runTrain(args, { log: () => {}, write: () => {}, tty: false });
    assert.equal(s.step, 2);
    assert(s.validationBpb !== null && Number.isFinite(s.validationBpb));
    assert.equal((await loadCheckpoint(out)).step, 2);
    const run = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
    assert.equal("workers" in run.train, false);
  } finally {
    await Deno.remove(corpus, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
