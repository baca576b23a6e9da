/**
 * Child process of resume_test.ts and permissions_test.ts: trains the tiny BLT on the embedded
 * corpus (brown-small) through the real trainer with a checkpoint after every step, or resumes
 * it, then optionally samples bytes and exports the model. Prints one line per event:
 * `loss STEP VALUE`, `sample IDS`, `done STEP`.
 *
 *   deno run --allow-read=RUN,data,WASM_DIST --allow-write=RUN \
 *     tests/reliability/train_child.ts RUN STEPS [--resume] [--stop-after K] [--sample N]
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { encodeDocuments, loadCorpus, sampleBatches } from "../../lib/data/mod.ts";
import { generate } from "../../lib/eval/generate.ts";
import { createBlt } from "../../lib/model/blt.ts";
import { resume, train, type TrainOptions } from "../../lib/train/loop.ts";
import { tinyBltConfig } from "./helpers.ts";

const [run, steps, ...flags] = Deno.args;
const flag = (name: string) => {
  const i = flags.indexOf(name);
  return i < 0 ? null : flags[i + 1] ?? "";
};
if (!(await tf.setBackend("wasm"))) {
  throw new Error("train_child: the wasm backend failed to start");
}
const corpus = await loadCorpus("brown-small");
const data = sampleBatches(encodeDocuments(corpus.train), { window: 16, batchSize: 2, seed: 8 });
const blt = createBlt(tinyBltConfig(), 5);
const stopAfter = flag("--stop-after");
const options: TrainOptions = {
  model: blt,
  data,
  config: { steps: Number(steps), warmupSteps: 2, lr: 0.01, evalEvery: 0, checkpointEvery: 1 },
  checkpointDir: run,
  callbacks: {
    onStep: (m) => console.log(`loss ${m.step} ${m.loss}`),
    shouldStop: (m) => stopAfter !== null && m.step === Number(stopAfter),
  },
};
const result = flags.includes("--resume") ? await resume(run, options) : await train(options);
const sample = flag("--sample");
if (sample !== null) {
  const { ids } = generate(blt, "The ", { maxBytes: Number(sample), stopAtEos: false });
  console.log(`sample ${JSON.stringify(ids)}`);
  await blt.save(`${run}/export`);
}
console.log(`done ${result.step}`);
