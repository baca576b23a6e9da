/**
 * Child process of kill_test.ts: writes checkpoints of a fixed-size fake model in a loop, each
 * step's weights all equal to the step number, so a reader can check that a checkpoint's
 * content belongs to its step. Continues after the newest checkpoint in the run directory.
 *
 *   deno run --allow-read=RUN --allow-write=RUN tests/reliability/checkpoint_writer.ts RUN
 *   deno run --allow-read=RUN tests/reliability/checkpoint_writer.ts --verify RUN
 *
 * `--verify` loads the newest checkpoint, checks that its weights hold its step, and prints
 * `verified step N, temporary entries: K` (K = leftover `*.tmp` entries in RUN).
 *
 * @module
 */
import { loadCheckpoint, saveCheckpoint } from "../../lib/train/checkpoint.ts";

/** Floats per weight tensor (two tensors, 4 MiB of weights + 8 MiB of moments per checkpoint). */
export const WEIGHT_SIZE = 1 << 19;

/** The fake model's weights after `step` steps: every value equals the step. */
export function weightsAt(step: number): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map(
    ["a.weight", "b.weight"].map((name) => [
      name,
      { shape: [WEIGHT_SIZE], data: new Float32Array(WEIGHT_SIZE).fill(step) },
    ]),
  );
}

/** Loads and checks the newest checkpoint; returns the line `--verify` prints. */
export async function verify(run: string): Promise<string> {
  const ckpt = await loadCheckpoint(run);
  for (const [name, w] of ckpt.weights) {
    if (w.data.length !== WEIGHT_SIZE || !w.data.every((x) => x === ckpt.step)) {
      throw new Error(`${ckpt.dir}: weight '${name}' does not hold step ${ckpt.step}`);
    }
  }
  const tmp = [...Deno.readDirSync(run)].filter((e) => e.name.endsWith(".tmp")).length;
  return `verified step ${ckpt.step}, temporary entries: ${tmp}`;
}

if (import.meta.main && Deno.args[0] === "--verify") {
  console.log(await verify(Deno.args[1]));
} else if (import.meta.main) {
  const run = Deno.args[0];
  let step = 0;
  try {
    step = (await loadCheckpoint(run)).step;
  } catch {
    // No complete checkpoint yet: start from step 0.
  }
  console.log(`ready ${step}`);
  for (;;) {
    step++;
    const weights = weightsAt(step);
    const moments = new Map(
      [...weights].flatMap(([n, w]) => [[`exp_avg.${n}`, w], [`exp_avg_sq.${n}`, w]]),
    );
    await saveCheckpoint(run, {
      step,
      nextBatchIndex: step,
      modelConfig: { kind: "fake", size: WEIGHT_SIZE },
      weights,
      optimizer: { step, decay: {}, moments },
      trainConfig: null,
    });
    console.log(`saved ${step}`);
  }
}
