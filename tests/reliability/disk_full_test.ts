/**
 * Disk full during a checkpoint write, two ways:
 * 1. simulated: `Deno.open` is wrapped so that writes fail with ENOSPC ("No space left on device
 *    (os error 28)", the OS's own message) after a byte budget, swept across every file of the
 *    checkpoint (deterministic, runs everywhere);
 * 2. real: a child writes checkpoints into a 30 MiB tmpfs mounted in an unprivileged user and
 *    mount namespace (`unshare --user --map-root-user --mount`); skipped where unshare is not
 *    available.
 * Either way the error must name the problem, the checkpoint and what to do; the previous
 * checkpoint must stay the newest and load exactly; no partial checkpoint may stay behind
 * taking the space; and the run must resume once space is back.
 */
import assert from "node:assert/strict";
import { createByteLm } from "../../lib/model/byte_lm.ts";
import { loadCheckpoint } from "../../lib/train/checkpoint.ts";
import { resume, train } from "../../lib/train/loop.ts";
import { assertClearError, TINY_LM, tinyData, useWasm, withTempDir } from "./helpers.ts";

await useWasm();

const ENOSPC = "No space left on device (os error 28)";

/** Makes every file opened for writing fail with ENOSPC once `budget` bytes are written in all. */
function limitWrites(budget: number): () => void {
  const open = Deno.open;
  let left = budget;
  const limited = async (path: string | URL, options?: Deno.OpenOptions) => {
    const file = await open(path, options);
    if (!options?.write) return file;
    return new Proxy(file, {
      get(target, prop) {
        if (prop === "write") {
          return async (p: Uint8Array) => {
            if (left <= 0) throw new Error(ENOSPC);
            const n = await target.write(p.subarray(0, Math.min(p.length, left)));
            left -= n;
            return n;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  Object.defineProperty(Deno, "open", { value: limited, configurable: true, writable: true });
  return () => Object.defineProperty(Deno, "open", { value: open });
}

/** Sizes of the files of one checkpoint, in the order saveCheckpoint writes them. */
async function fileSizes(dir: string): Promise<number[]> {
  const files = ["model.safetensors", "optimizer.safetensors", "config.json", "trainer_state.json"];
  return await Promise.all(files.map(async (f) => (await Deno.stat(`${dir}/${f}`)).size));
}

const config = { steps: 6, warmupSteps: 1, lr: 0.01, checkpointEvery: 1, evalEvery: 0 };

Deno.test("disk full (simulated ENOSPC) at any byte of a checkpoint keeps the previous one", async () => {
  // Where the budget runs out: inside each file, at its ends, and in the `latest` pointer.
  const probe = await withTempDir(async (run) => {
    const lm = createByteLm(TINY_LM, 5);
    await train({
      model: lm,
      data: tinyData(),
      config: { ...config, steps: 1 },
      checkpointDir: run,
    });
    lm.dispose();
    return await fileSizes(`${run}/step-00000001`);
  });
  const ends = probe.reduce((acc, n) => [...acc, acc[acc.length - 1] + n], [0]);
  const budgets = [
    0,
    1,
    ...ends.slice(1).flatMap((e, i) => [ends[i] + (probe[i] >> 1), e]),
    ends[4] + 10,
  ];
  for (const budget of budgets) {
    await withTempDir(async (run) => {
      const lm = createByteLm(TINY_LM, 5);
      let restore: (() => void) | null = null;
      let good: Map<string, Float32Array> | null = null;
      try {
        await assertClearError(
          () =>
            train({
              model: lm,
              data: tinyData(),
              config,
              checkpointDir: run,
              callbacks: {
                onCheckpoint: ({ step }) => {
                  if (step !== 2) return;
                  good = new Map(
                    [...lm.namedVariables()].map(([n, v]) => [n, v.dataSync() as Float32Array]),
                  );
                  restore = limitWrites(budget);
                },
              },
            }),
          [/No space left on device/, /step-00000003/, /step-00000002/, /Free disk space/],
        );
      } finally {
        (restore as (() => void) | null)?.();
      }
      const kept = await loadCheckpoint(run);
      assert.equal(kept.step, 2, `budget ${budget}: latest moved`);
      for (const [n, w] of kept.weights) {
        assert.deepEqual(w.data, good!.get(n), `${n} at ${budget}`);
      }
      const names = [...Deno.readDirSync(run)].map((e) => e.name);
      assert.deepEqual(
        names.filter((n) => n.includes(".tmp")),
        [],
        `budget ${budget}: partial files left`,
      );
      const rest = await resume(run, { model: lm, data: tinyData() });
      assert.equal(rest.step, 6);
      lm.dispose();
    });
  }
  assert.equal(budgets.length, 11);
});

/** Whether this machine lets an unprivileged process mount a tmpfs in its own namespace. */
async function canUnshare(): Promise<boolean> {
  try {
    const r = await new Deno.Command("unshare", {
      args: ["--user", "--map-root-user", "--mount", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return r.success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "disk full (real 30 MiB tmpfs): the writer fails clearly and step 2 survives intact",
  ignore: !(await canUnshare()),
  fn: async () => {
    await withTempDir(async (dir) => {
      const mount = `${dir}/tmpfs`;
      await Deno.mkdir(mount);
      const writer = new URL("./checkpoint_writer.ts", import.meta.url).pathname;
      const deno = Deno.execPath();
      const perms = `--allow-read=${mount} --allow-write=${mount}`;
      // Each checkpoint is 12 MiB: steps 1 and 2 fit, step 3 runs out of space mid-write.
      const script = `mount -t tmpfs -o size=30m tmpfs '${mount}' && ` +
        `{ '${deno}' run ${perms} '${writer}' '${mount}'; echo "writer exit $?"; ` +
        `'${deno}' run ${perms} '${writer}' --verify '${mount}'; }`;
      const out = await new Deno.Command("unshare", {
        args: ["--user", "--map-root-user", "--mount", "sh", "-c", script],
        env: { NO_COLOR: "1" },
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.match(stdout, /saved 2\n/);
      assert.doesNotMatch(stdout, /saved 3\n/);
      assert.match(stdout, /writer exit 1/);
      assert.match(stderr, /No space left on device/);
      assert.match(
        stderr,
        /step-00000003 failed/,
        "the error names the checkpoint it could not write",
      );
      assert.match(stderr, /Free disk space/);
      assert.match(stdout, /verified step 2, temporary entries: 0/, stdout + stderr);
    });
  },
});
