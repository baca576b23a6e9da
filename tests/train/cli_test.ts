import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { formatDocuments } from "../../lib/data/mod.ts";
import { parseSampleArgs, parseTrainArgs } from "../../lib/train/cli.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { runSample, runTrain } from "../../lib/train/pipeline_run.ts";

await tf.setBackend("wasm");

// Tiny dims so an end-to-end run takes seconds.
const TINY = [
  "entropyModel.dim=16",
  "entropyModel.layers=1",
  "encoder.dim=32",
  "decoder.dim=32",
  "decoder.layers=1",
  "global.dim=64",
  "global.layers=1",
  "hash.buckets=64",
].flatMap((kv) => ["--set", kv]);
const quiet = { log: () => {}, write: () => {}, tty: false };

async function corpusDir(train: string[], validation: string[]): Promise<string> {
  const dir = await Deno.makeTempDir();
  const docs = (texts: string[]) =>
    formatDocuments(texts.map((text, i) => ({ id: `d${i}`, text })));
  await Deno.writeTextFile(`${dir}/train.jsonl`, docs(train));
  await Deno.writeTextFile(`${dir}/validation.jsonl`, docs(validation));
  return dir;
}

const sentences = [
  "The cat sat on the mat while the dog slept by the door.",
  "A quick brown fox jumps over the lazy dog near the river bank.",
  "Byte latent transformers group bytes into patches by entropy.",
  "Every document starts with its own beginning of sequence byte.",
];

Deno.test("parseTrainArgs: defaults, both option spellings, --set for model and trainer keys", () => {
  const d = parseTrainArgs([]);
  assert.equal(d.model, "blt");
  assert.equal(d.preset, "tiny");
  assert.equal(d.corpus, "brown-small");
  assert.equal(d.cache, "out/cache");
  assert.equal(d.given.size, 0);
  const a = parseTrainArgs([
    "--model=entropy",
    "--preset",
    "small",
    "--set",
    "global.layers=2",
    "--set=patching.mode=space",
    "--set",
    "patching.maxPatchLength=null",
    "--set",
    "train.lr=0.001",
    "--steps",
    "7",
    "--minutes=1.5",
    "--out",
    "out/x",
  ]);
  assert.equal(a.model, "entropy");
  assert.equal(a.preset, "small");
  assert.deepEqual(a.overrides, {
    "global.layers": 2,
    "patching.mode": "space",
    "patching.maxPatchLength": null,
  });
  assert.deepEqual(a.train, { lr: 0.001 });
  assert.equal(a.steps, 7);
  assert.equal(a.minutes, 1.5);
  assert.equal(a.out, "out/x");
  assert.deepEqual([...a.given].sort(), ["minutes", "model", "out", "preset", "set", "steps"]);
  assert.equal(parseTrainArgs(["--help"]).help, true);
});

Deno.test("parseTrainArgs: bad input throws naming the option, what was found and what is expected", () => {
  const cases: [string[], RegExp][] = [
    [["--preset", "huge"], /--preset: unknown preset 'huge'; expected one of tiny, small, medium/],
    [
      ["--set", "global.layrs=2"],
      /--set: Unknown config key 'global.layrs' \(did you mean 'global.layers'\?\)/,
    ],
    [
      ["--set", "train.lrr=1"],
      /--set train\.\*: Unknown train config key 'lrr' \(did you mean 'lr'\?\)/,
    ],
    [["--set", "global.layers"], /--set expects key=value/],
    [["--set", "global.layers=0"], /global.layers must be a positive integer/],
    [["--model", "gpt"], /--model must be 'entropy' or 'blt', found 'gpt'/],
    [["--stepz", "3"], /unknown option '--stepz'/],
    [["--steps"], /option '--steps' needs a value/],
    [["--steps", "2.5"], /--steps must be an integer ≥ 1, found '2.5'/],
    [["--window", "1"], /--window must be an integer ≥ 2/],
    [["--minutes", "0"], /--minutes must be > 0/],
    [["tiny"], /unexpected argument 'tiny'/],
  ];
  for (const [argv, message] of cases) assert.throws(() => parseTrainArgs(argv), message);
});

Deno.test("parseSampleArgs: defaults and errors", () => {
  const a = parseSampleArgs(["--run", "r", "--prompt=Hi", "--top-k", "5", "--top-p", "0.9"]);
  assert.deepEqual(
    [a.run, a.prompt, a.bytes, a.temperature, a.topK, a.topP, a.seed],
    ["r", "Hi", 200, 0.8, 5, 0.9, 0],
  );
  assert.throws(() => parseSampleArgs([]), /--run <dir> is required/);
  assert.throws(
    () => parseSampleArgs(["--run", "r", "--top-p", "1.5"]),
    /--top-p must lie in \(0, 1\]/,
  );
  assert.throws(
    () => parseSampleArgs(["--run", "r", "--top-k", "0"]),
    /--top-k must be an integer ≥ 1/,
  );
});

Deno.test("runTrain: missing, empty or too-short corpora are errors naming them", async () => {
  const missing = "/nonexistent/h10-corpus";
  await assert.rejects(
    () => runTrain(parseTrainArgs(["--corpus", missing, ...TINY]), quiet),
    (e: Error) => e.message.includes(`${missing}/train.jsonl`) && e.message.includes("not found"),
  );
  const empty = await corpusDir([], []);
  const short = await corpusDir(["Hi."], ["Yo."]);
  try {
    await assert.rejects(
      () => runTrain(parseTrainArgs(["--corpus", empty, ...TINY]), quiet),
      /has no training text \(train.jsonl is empty\)/,
    );
    await assert.rejects(
      () => runTrain(parseTrainArgs(["--corpus", short, "--window", "64", ...TINY]), quiet),
      (e: Error) => e.message.includes(short) && e.message.includes("fewer than one window of 64"),
    );
  } finally {
    await Deno.remove(empty, { recursive: true });
    await Deno.remove(short, { recursive: true });
  }
});

Deno.test("runTrain: 3-step entropy run writes a checkpoint; resume continues it and rejects another config", async () => {
  const corpus = await corpusDir(sentences, sentences.slice(0, 2));
  const out = await Deno.makeTempDir();
  const base = ["--model", "entropy", "--corpus", corpus, "--window", "32", "--batch", "2"];
  try {
    const args = [...base, "--steps", "3", "--out", out, "--val-batches", "1", ...TINY];
    const s = await runTrain(parseTrainArgs(args), quiet);
    assert.equal(s.step, 3);
    assert.equal(s.stopped, false);
    assert(s.validationBpb !== null && s.validationBpb > 0);
    const ckpt = await loadCheckpoint(out);
    assert.equal(ckpt.step, 3);
    assert.equal((ckpt.modelConfig as { dim: number }).dim, 16);
    const run = JSON.parse(await Deno.readTextFile(`${out}/run.json`));
    assert.equal(run.model, "entropy");

    const more = await runTrain(parseTrainArgs(["--resume", out, "--steps", "4"]), quiet);
    assert.equal(more.step, 4);
    assert.equal((await loadCheckpoint(out)).step, 4);

    await assert.rejects(
      () => runTrain(parseTrainArgs(["--resume", out, "--preset", "small"]), quiet),
      (e: Error) =>
        e.message.includes(`--resume ${out}`) && e.message.includes("--preset tiny") &&
        e.message.includes("from another config"),
    );
    await assert.rejects(
      () => runTrain(parseTrainArgs(["--resume", out, "--set", "entropyModel.dim=32"]), quiet),
      (e: Error) => e.message.includes(out) && e.message.includes("'entropyModel.dim' differs"),
    );
    await assert.rejects(
      () => runTrain(parseTrainArgs(["--resume", corpus]), quiet),
      (e: Error) => e.message.includes(`${corpus}/run.json`),
    );

    const text = await runSample(
      parseSampleArgs(["--run", out, "--prompt", "The ", "--bytes", "8", "--seed", "1"]),
      quiet,
    );
    assert(text.startsWith("The "));
  } finally {
    await Deno.remove(out, { recursive: true });
    await Deno.remove(corpus, { recursive: true });
  }
});

Deno.test("runTrain: BLT end to end — entropy model, cached entropies, calibrated θ, checkpoint, sample", async () => {
  const corpus = await corpusDir(sentences, sentences.slice(2));
  const out = await Deno.makeTempDir();
  const cache = await Deno.makeTempDir();
  const common = ["--corpus", corpus, "--window", "32", "--batch", "2", "--cache", cache];
  try {
    const args = [...common, "--steps", "3", "--out", `${out}/a`, "--target-patch-size", "3"];
    const a = await runTrain(parseTrainArgs([...args, ...TINY]), quiet);
    assert.equal(a.step, 3);
    assert(Math.abs(a.meanPatchSize! - 3) < 0.2, `mean patch size ${a.meanPatchSize}`);
    const ckpt = await loadCheckpoint(`${out}/a`);
    assert.equal(ckpt.step, 3);
    assert.equal(
      (ckpt.modelConfig as { patching: { threshold: number } }).patching.threshold,
      a.threshold,
    );
    assert.equal((await loadCheckpoint(`${out}/a/entropy_model`)).weights.size > 0, true);
    const cached = [...Deno.readDirSync(`${cache}/entropies`)].length;
    assert.equal(cached, 2); // training and validation splits

    // A second run with the same settings reuses the entropy model and its entropies.
    const lines: string[] = [];
    const again = { ...quiet, log: (l: string) => void lines.push(l) };
    const b = await runTrain(
      parseTrainArgs([
        ...common,
        "--steps",
        "3",
        "--out",
        `${out}/b`,
        "--target-patch-size",
        "3",
        ...TINY,
      ]),
      again,
    );
    assert(lines.some((l) => l.startsWith("entropy model: reused")), lines.join("\n"));
    assert(lines.includes("entropies: cached"), lines.join("\n"));
    assert.equal(b.threshold, a.threshold);

    const text = await runSample(
      parseSampleArgs([
        "--run",
        `${out}/a`,
        "--prompt",
        "The",
        "--bytes",
        "6",
        "--temperature",
        "0",
      ]),
      quiet,
    );
    assert(text.startsWith("The"));
  } finally {
    await Deno.remove(out, { recursive: true });
    await Deno.remove(cache, { recursive: true });
    await Deno.remove(corpus, { recursive: true });
  }
});

Deno.test("runTrain: an interrupt stops after the step with an intact checkpoint", async () => {
  const corpus = await corpusDir(sentences, sentences.slice(0, 1));
  const out = await Deno.makeTempDir();
  try {
    const controller = new AbortController();
    controller.abort(); // as if Ctrl-C came during the first step
    const args = ["--model", "entropy", "--corpus", corpus, "--window", "32", "--batch", "2"];
    const s = await runTrain(
      parseTrainArgs([...args, "--steps", "50", "--out", out, "--val-batches", "1", ...TINY]),
      { ...quiet, signal: controller.signal },
    );
    assert.equal(s.stopped, true);
    assert.equal(s.step, 1);
    assert.equal((await loadCheckpoint(out)).step, 1);
    const leftovers = [...Deno.readDirSync(out)].filter((e) => e.name.endsWith(".tmp"));
    assert.deepEqual(leftovers, []);
  } finally {
    await Deno.remove(out, { recursive: true });
    await Deno.remove(corpus, { recursive: true });
  }
});
