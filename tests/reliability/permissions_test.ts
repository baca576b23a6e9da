/**
 * Least privilege: training, sampling and export run in a subprocess without `--allow-net` (or
 * env, sys, run), reading only the corpus, the wasm binary and a temp directory and writing only
 * there; the same child is stopped by the sandbox when it tries to write elsewhere. deno.json's
 * tasks never ask for everything or for unscoped network access.
 */
import assert from "node:assert/strict";
import { narrowPermissions, runChild } from "./child.ts";
import { withTempDir } from "./helpers.ts";

/** Every file under `dir`, relative to it. */
function listFiles(dir: string, prefix = ""): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) =>
    e.isDirectory ? listFiles(`${dir}/${e.name}`, `${prefix}${e.name}/`) : [`${prefix}${e.name}`]
  ).sort();
}

Deno.test("permissions: train, sample and export with no network and writes confined to a temp dir", async () => {
  await withTempDir(async (dir) => {
    const run = `${dir}/run`;
    await Deno.mkdir(run);
    const r = await runChild(run, ["3", "--sample", "16"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.done, 3);
    assert.equal(r.sample!.length, 4 + 1 + 16); // BOS "The " + 16 bytes
    assert.ok([...r.losses.values()].every(Number.isFinite));
    assert.doesNotMatch(r.stderr, /NotCapable|Requires .* access/);
    assert.deepEqual(listFiles(dir), [
      "run/export/config.json",
      "run/export/model.safetensors",
      "run/latest",
      "run/step-00000002/config.json",
      "run/step-00000002/model.safetensors",
      "run/step-00000002/optimizer.safetensors",
      "run/step-00000002/trainer_state.json",
      "run/step-00000003/config.json",
      "run/step-00000003/model.safetensors",
      "run/step-00000003/optimizer.safetensors",
      "run/step-00000003/trainer_state.json",
    ]);
  });
});

Deno.test("permissions: the sandbox is real: writing outside the allowed directory is refused", async () => {
  await withTempDir(async (dir) => {
    const allowed = `${dir}/allowed`;
    const run = `${dir}/elsewhere`;
    await Deno.mkdir(allowed);
    const r = await runChild(run, ["1"], { permissions: await narrowPermissions(run, allowed) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotCapable: Requires write access to ".*elsewhere/);
    assert.deepEqual(listFiles(dir), []);
  });
});

Deno.test("permissions: deno.json tasks never grant everything or unscoped network access", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const tasks = Object.entries(config.tasks as Record<string, string>);
  assert.ok(tasks.length > 0);
  for (const [name, command] of tasks) {
    const flags = command.split(/\s+/);
    assert.ok(!flags.includes("-A") && !flags.includes("--allow-all"), `task ${name}: ${command}`);
    assert.ok(!flags.includes("--allow-net"), `task ${name} asks for any host: ${command}`);
    for (const f of flags.filter((f) => f.startsWith("--allow-net="))) {
      assert.match(f, /^--allow-net=[\w.-]+(,[\w.-]+)*$/, `task ${name}: ${f}`);
    }
  }
});
