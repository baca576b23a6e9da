/**
 * SIGKILL during checkpoint writes: a child `deno run` writes checkpoints in a loop and is killed
 * with SIGKILL at random moments, many times over. After every kill the run directory's newest
 * checkpoint must load (checksums verified), be at least as new as the last one the child
 * reported complete, and hold exactly that step's weights. A restarted child continues from it.
 */
import assert from "node:assert/strict";
import { Rng } from "../../lib/data/mod.ts";
import { loadCheckpoint, saveCheckpoint } from "../../lib/train/checkpoint.ts";
import { WEIGHT_SIZE, weightsAt } from "./checkpoint_writer.ts";
import { withTempDir } from "./helpers.ts";

const WRITER = new URL("./checkpoint_writer.ts", import.meta.url).pathname;
const KILLS = 24;

/** Reads the child's stdout lines into `lines` as they arrive. */
async function collect(stream: ReadableStream<Uint8Array>, lines: string[]): Promise<void> {
  let rest = "";
  const decoder = new TextDecoder();
  for await (const bytes of stream) {
    const chunk = decoder.decode(bytes, { stream: true });
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    lines.push(...parts);
  }
}

Deno.test("kill -9 during checkpoint writes never loses the previous checkpoint", async () => {
  await withTempDir(async (run) => {
    const rng = new Rng(2024);
    let lastSaved = 0;
    let midWrite = 0;
    const leftovers = new Set<string>();
    for (let kill = 0; kill < KILLS; kill++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", `--allow-read=${run}`, `--allow-write=${run}`, WRITER, run],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const lines: string[] = [];
      const reading = collect(child.stdout, lines);
      const stderr = new Response(child.stderr).text();
      // Wait until the child has loaded its checkpoint and started writing, then kill it at a
      // random moment within the next few writes.
      while (!lines.some((l) => l.startsWith("ready"))) {
        if (lines.length === 0) await new Promise((r) => setTimeout(r, 10));
        const status = await Promise.race([child.status, new Promise((r) => setTimeout(r, 0))]);
        if (status) throw new Error(`writer exited early: ${await stderr}`);
      }
      const ready = Number(lines.find((l) => l.startsWith("ready"))!.split(" ")[1]);
      assert.equal(ready, lastSaved, "the restarted child continues from the newest checkpoint");
      await new Promise((r) => setTimeout(r, 20 + rng.int(400)));
      child.kill("SIGKILL");
      const status = await child.status;
      await reading;
      await stderr;
      assert.equal(status.signal, "SIGKILL");
      for (const l of lines) if (l.startsWith("saved ")) lastSaved = Number(l.slice(6));
      // A temporary directory that was not there before this kill: the kill cut a write short.
      const fresh = [...Deno.readDirSync(run)].map((e) => e.name)
        .filter((n) => n.endsWith(".tmp") && !leftovers.has(n));
      if (fresh.length > 0) midWrite++;
      fresh.forEach((n) => leftovers.add(n));
      if (lastSaved === 0) continue;
      const ckpt = await loadCheckpoint(run);
      // The kill may land after the rename that completes step N + 1 but before "saved" is
      // printed: the newest checkpoint is then one step ahead of what the child reported.
      assert.ok(ckpt.step === lastSaved || ckpt.step === lastSaved + 1, `step ${ckpt.step}`);
      lastSaved = ckpt.step;
      for (const [name, w] of ckpt.weights) {
        assert.equal(w.data.length, WEIGHT_SIZE, name);
        assert.ok(w.data.every((x) => x === ckpt.step), `${name} does not hold step ${ckpt.step}`);
      }
      assert.equal(ckpt.optimizer.step, ckpt.step);
    }
    console.log(
      `${KILLS} kills, ${midWrite} cut a checkpoint write short, reached step ${lastSaved}`,
    );
    assert.ok(lastSaved > KILLS / 2, "the writer made progress between kills");
    // The next save (another process) clears what the killed writers left half-written.
    const next = lastSaved + 1;
    await saveCheckpoint(run, {
      step: next,
      nextBatchIndex: next,
      modelConfig: { kind: "fake", size: WEIGHT_SIZE },
      weights: weightsAt(next),
      optimizer: { step: next, decay: {}, moments: new Map() },
      trainConfig: null,
    });
    assert.deepEqual([...Deno.readDirSync(run)].map((e) => e.name).sort(), [
      "latest",
      `step-${String(lastSaved).padStart(8, "0")}`,
      `step-${String(next).padStart(8, "0")}`,
    ]);
    assert.equal((await loadCheckpoint(run)).step, next);
    assert.ok(
      midWrite >= KILLS / 4,
      `only ${midWrite} kills landed mid-write; the test is too lenient`,
    );
  });
});
