/**
 * Small file helpers shared by the weight files (safetensors) and the training checkpoints, so
 * both write durably the same way.
 *
 * @module
 */

/**
 * Writes `bytes` to a new file (it must not exist) and fsyncs it before returning; the caller
 * renames it into place, which makes the write atomic.
 *
 * @example
 * ```ts
 * import { writeSynced } from "./fs.ts";
 * const path = `${await Deno.makeTempDir()}/x.bin`;
 * await writeSynced(path, new Uint8Array([1, 2, 3]));
 * console.log((await Deno.readFile(path)).length); // 3
 * ```
 */
export async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
}

/**
 * Whether a path exists (other errors, e.g. permissions, are thrown).
 *
 * @example
 * ```ts
 * import { exists } from "./fs.ts";
 * console.log(await exists("/definitely/not/here")); // false
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
