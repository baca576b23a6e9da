import assert from "node:assert/strict";
import { exists, writeSynced } from "../lib/fs.ts";

Deno.test("writeSynced writes all bytes and refuses an existing file; exists tells", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.bin`;
  assert.equal(await exists(path), false);
  const bytes = new Uint8Array(1 << 20).map((_, i) => i % 251);
  await writeSynced(path, bytes);
  assert.deepEqual(await Deno.readFile(path), bytes);
  assert.equal(await exists(path), true);
  await assert.rejects(() => writeSynced(path, bytes), Deno.errors.AlreadyExists);
  await Deno.remove(dir, { recursive: true });
});
