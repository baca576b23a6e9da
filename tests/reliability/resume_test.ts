/**
 * Resume equality through the real trainer and a tiny BLT, with real process interruptions: a
 * run SIGKILLed mid-training and resumed in a fresh process, and a run stopped and resumed
 * twice, reproduce the uninterrupted run's losses exactly (same floats), and end with weights
 * that sample the same bytes.
 */
import assert from "node:assert/strict";
import { runChild } from "./child.ts";
import { withTempDir } from "./helpers.ts";

const STEPS = "8";

Deno.test("resume: a run killed with SIGKILL and resumed in a new process matches the uninterrupted losses", async () => {
  await withTempDir(async (dir) => {
    const reference = await runChild(`${dir}/reference`, [STEPS, "--sample", "24"]);
    assert.equal(reference.code, 0, reference.stderr);
    assert.equal(reference.losses.size, 8);

    const killed = await runChild(`${dir}/killed`, [STEPS], { killAfterStep: 4 });
    assert.equal(killed.signal, "SIGKILL", "the child must die mid-run");
    const resumed = await runChild(`${dir}/killed`, [STEPS, "--resume", "--sample", "24"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const first = Math.min(...resumed.losses.keys());
    assert.ok(first >= 4 && first <= 6, `resumed from step ${first - 1}`);
    for (const [step, loss] of killed.losses) {
      assert.equal(loss, reference.losses.get(step), `step ${step} before the kill`);
    }
    for (const [step, loss] of resumed.losses) {
      assert.equal(loss, reference.losses.get(step), `step ${step} after resuming`);
    }
    assert.equal(resumed.done, 8);
    assert.deepEqual(resumed.sample, reference.sample, "final weights differ");
  });
});

Deno.test("resume: stopped after steps 2 and 5 and resumed twice, the losses equal the uninterrupted run's", async () => {
  await withTempDir(async (dir) => {
    const reference = await runChild(`${dir}/reference`, [STEPS, "--sample", "24"]);
    const run = `${dir}/stopped`;
    const a = await runChild(run, [STEPS, "--stop-after", "2"]);
    const b = await runChild(run, [STEPS, "--resume", "--stop-after", "5"]);
    const c = await runChild(run, [STEPS, "--resume", "--sample", "24"]);
    for (const r of [a, b, c]) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([a.done, b.done, c.done], [2, 5, 8]);
    const stitched = [...a.losses, ...b.losses, ...c.losses];
    assert.deepEqual(stitched, [...reference.losses]);
    assert.deepEqual(c.sample, reference.sample);
  });
});
