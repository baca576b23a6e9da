/**
 * Training checkpoints on disk, written atomically and verified on load.
 *
 * Layout of a run directory:
 * ```
 * run/
 *   latest                    JSON {step, dir}: the newest complete checkpoint
 *   step-00000100/
 *     model.safetensors       the model's namedVariables() (Hugging Face names, F32)
 *     config.json             the model's config
 *     optimizer.safetensors   AdamW moments exp_avg.<name>, exp_avg_sq.<name>
 *     trainer_state.json      step, data position, optimizer step, train config, SHA-256 of
 *                             the three files above, and `stateSha256` of its own other fields
 * ```
 * A checkpoint is assembled in a hidden temporary directory, every file fsynced, then renamed into
 * place and only then named by `latest`, so a crash at any moment leaves the previous checkpoint
 * intact and `latest` pointing at a complete one. The next save deletes what a crashed writer
 * left half-written.
 *
 * @module
 */
import { exists, writeSynced } from "../fs.ts";
import type { AdamWState } from "./adamw.ts";
import type { TrainConfig } from "./config.ts";
import type { Json } from "./types.ts";
import {
  parseSafetensors,
  parseSafetensorsMetadata,
  serializeSafetensors,
  type TensorToWrite,
} from "../model/io/safetensors.ts";

/** Format tag written into trainer_state.json and checked on load. */
const FORMAT = "blt-notebooks/trainer-checkpoint/1";

/**
 * Everything a checkpoint holds, in memory.
 *
 * @example
 * ```ts
 * import type { CheckpointData } from "./checkpoint.ts";
 * const c: CheckpointData = {
 *   step: 0, nextBatchIndex: 0, modelConfig: {}, weights: new Map(), trainConfig: null,
 *   optimizer: { step: 0, decay: {}, moments: new Map() },
 * };
 * ```
 */
export interface CheckpointData {
  /** Optimizer steps completed. */
  readonly step: number;
  /** Index of the next batch to draw from the BatchSource. */
  readonly nextBatchIndex: number;
  /** The model's config (written as config.json). */
  readonly modelConfig: Json;
  /** Model weights by Hugging Face name. */
  readonly weights: ReadonlyMap<string, TensorToWrite>;
  /** Optimizer state. */
  readonly optimizer: AdamWState;
  /** The train config the run used (null when saved outside a training run). */
  readonly trainConfig: TrainConfig | null;
}

/** trainer_state.json as written by {@link saveCheckpoint}. */
interface StoredState {
  readonly format: unknown;
  readonly step: number;
  readonly nextBatchIndex: number;
  readonly decay?: AdamWState["decay"];
  readonly trainConfig: TrainConfig | null;
  readonly sha256?: Readonly<Record<string, string>>;
  readonly stateSha256?: string;
}

/** SHA-256 of bytes as lowercase hex. */
async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** fsyncs a directory so renames inside it survive a crash (skipped where unsupported). */
async function syncDir(path: string): Promise<void> {
  try {
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  } catch {
    // Some platforms cannot open or fsync directories; the rename is still atomic there.
  }
}

/** The directory name of the checkpoint after `step` optimizer steps. */
function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, "0")}`;
}

/**
 * Writes a checkpoint into `runDir` (created if missing), points `runDir/latest` at it, and
 * deletes all but the newest `keep` checkpoints. Returns the checkpoint's directory.
 *
 * @example
 * ```ts
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const run = await Deno.makeTempDir();
 * const weights = new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]);
 * const optimizer = { step: 3, decay: { w: false }, moments: new Map() };
 * await saveCheckpoint(run, {
 *   step: 3, nextBatchIndex: 3, modelConfig: { dim: 2 }, weights, optimizer, trainConfig: null,
 * });
 * console.log((await loadCheckpoint(run)).step); // 3
 * await Deno.remove(run, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  runDir: string,
  data: CheckpointData,
  keep = 2,
): Promise<string> {
  await Deno.mkdir(runDir, { recursive: true });
  const name = stepDirName(data.step);
  const tmp = `${runDir}/.${name}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const latestTmp = `${runDir}/.latest.${Deno.pid}.tmp`;
  try {
    await writeCheckpoint(runDir, name, tmp, latestTmp, data);
  } catch (e) {
    // A failed write (disk full, quota, I/O error) must not leave a partial checkpoint taking
    // the space, and `latest` still names the previous complete checkpoint.
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await Deno.remove(latestTmp).catch(() => {});
    if (await exists(`${runDir}/${name}`)) {
      await Deno.remove(`${tmp}.old`, { recursive: true }).catch(() => {});
    }
    const previous = await resolveCheckpointDir(runDir).catch(() => null);
    throw new Error(
      `Writing checkpoint ${runDir}/${name} failed: ${(e as Error).message}. ` +
        (previous === null
          ? "No earlier checkpoint exists in this run directory. "
          : `The previous checkpoint ${previous} is intact and still the newest. `) +
        "Free disk space (or pass another checkpointDir), then resume.",
      { cause: e },
    );
  }
  await prune(runDir, keep);
  return `${runDir}/${name}`;
}

/** The steps of {@link saveCheckpoint} that may fail part-way; the caller cleans up. */
async function writeCheckpoint(
  runDir: string,
  name: string,
  tmp: string,
  latestTmp: string,
  data: CheckpointData,
): Promise<void> {
  await Deno.mkdir(tmp);
  const files: Record<string, Uint8Array> = {
    "model.safetensors": serializeSafetensors(data.weights, { format: "pt" }),
    "optimizer.safetensors": serializeSafetensors(data.optimizer.moments, {
      format: "pt",
      step: String(data.optimizer.step),
    }),
    "config.json": new TextEncoder().encode(JSON.stringify(data.modelConfig, null, 2) + "\n"),
  };
  const checksums: Record<string, string> = {};
  for (const [file, bytes] of Object.entries(files)) {
    await writeSynced(`${tmp}/${file}`, bytes);
    checksums[file] = await sha256(bytes);
  }
  const state = {
    format: FORMAT,
    step: data.step,
    nextBatchIndex: data.nextBatchIndex,
    optimizerStep: data.optimizer.step,
    decay: data.optimizer.decay,
    trainConfig: data.trainConfig,
    sha256: checksums,
  };
  const stateSha256 = await sha256(new TextEncoder().encode(JSON.stringify(state)));
  await writeSynced(
    `${tmp}/trainer_state.json`,
    new TextEncoder().encode(JSON.stringify({ ...state, stateSha256 }, null, 2) + "\n"),
  );
  await syncDir(tmp);
  const final = `${runDir}/${name}`;
  // Re-saving a step (after resume) replaces the old copy; it moves aside first because rename
  // cannot replace a non-empty directory.
  const old = `${tmp}.old`;
  const hadOld = await exists(final);
  if (hadOld) await Deno.rename(final, old);
  try {
    await Deno.rename(tmp, final);
  } catch (e) {
    if (hadOld) await Deno.rename(old, final);
    throw e;
  }
  await syncDir(runDir);
  await writeSynced(
    latestTmp,
    new TextEncoder().encode(JSON.stringify({ step: data.step, dir: name }) + "\n"),
  );
  await Deno.rename(latestTmp, `${runDir}/latest`);
  await syncDir(runDir);
  if (hadOld) await Deno.remove(old, { recursive: true });
}

/** A writer's temporary entry: `.step-NNNNNNNN.<pid>.<id>.tmp[.old]` or `.latest.<pid>.tmp`. */
const TEMPORARY = /^\.(?:step-\d{8}|latest)\.(\d+)\..*tmp(?:\.old)?$/;

/**
 * Deletes all but the newest `keep` step directories, and the temporaries of writers that died
 * mid-write (another process id: a run directory has one writer), which would otherwise pile up
 * after every crash and eat the disk.
 */
async function prune(runDir: string, keep: number): Promise<void> {
  const steps: string[] = [];
  for await (const entry of Deno.readDir(runDir)) {
    if (entry.isDirectory && /^step-\d{8}$/.test(entry.name)) steps.push(entry.name);
    const pid = TEMPORARY.exec(entry.name)?.[1];
    if (pid !== undefined && Number(pid) !== Deno.pid) {
      await Deno.remove(`${runDir}/${entry.name}`, { recursive: true });
    }
  }
  steps.sort();
  for (const name of steps.slice(0, Math.max(0, steps.length - keep))) {
    await Deno.remove(`${runDir}/${name}`, { recursive: true });
  }
}

/** Parses a checkpoint's JSON file, naming it and what to do when it is not JSON. */
function parseJson(bytes: Uint8Array, path: string, fix: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`Checkpoint file ${path} is not valid JSON (${(e as Error).message}); ${fix}`);
  }
}

async function readOrThrow(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new Error(
      `Checkpoint ${what} cannot be read at ${path} (${(e as Error).message}); the checkpoint ` +
        "is incomplete or was moved: resume from an older checkpoint (a step directory)",
    );
  }
}

/**
 * The directory of the checkpoint `path` names: a step directory itself (it holds
 * trainer_state.json), or a run directory whose `latest` file names one.
 *
 * @example
 * ```ts
 * import { resolveCheckpointDir } from "./checkpoint.ts";
 * await resolveCheckpointDir("/nonexistent").catch((e) => console.log(e.message.slice(0, 10)));
 * ```
 */
export async function resolveCheckpointDir(path: string): Promise<string> {
  if (await exists(`${path}/trainer_state.json`)) return path;
  if (!(await exists(`${path}/latest`))) {
    throw new Error(
      `No checkpoint at ${path}: expected ${path}/trainer_state.json (a step directory) or ` +
        `${path}/latest (a run directory); pass the checkpointDir of a training run`,
    );
  }
  const latest = parseJson(
    await readOrThrow(`${path}/latest`, "pointer"),
    `${path}/latest`,
    `pass one of the step directories in ${path} instead`,
  ) as { dir?: unknown } | null;
  if (typeof latest?.dir !== "string") {
    throw new Error(
      `Checkpoint pointer ${path}/latest must hold {"step", "dir"}, found ${
        JSON.stringify(latest)
      }`,
    );
  }
  return `${path}/${latest.dir}`;
}

/**
 * Loads and verifies a checkpoint (`path`: a run directory or a step directory). Every file's
 * SHA-256 is checked against trainer_state.json; a mismatch throws naming the file.
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "./checkpoint.ts";
 * await loadCheckpoint("/nonexistent").catch((e) => console.log(e.message.startsWith("No checkpoint"))); // true
 * ```
 */
export async function loadCheckpoint(
  path: string,
): Promise<CheckpointData & { readonly dir: string }> {
  const dir = await resolveCheckpointDir(path);
  const statePath = `${dir}/trainer_state.json`;
  const state = parseJson(
    await readOrThrow(statePath, "state"),
    statePath,
    "resume from an older checkpoint",
  ) as StoredState | null;
  if (state?.format !== FORMAT) {
    throw new Error(
      `${statePath}: format must be '${FORMAT}', found ${JSON.stringify(state?.format)}`,
    );
  }
  // The step and data position decide what a resumed run computes: check them as the weights.
  const { stateSha256, ...fields } = state;
  const found = await sha256(new TextEncoder().encode(JSON.stringify(fields)));
  if (found !== stateSha256) {
    throw new Error(
      `Checkpoint file ${statePath} is corrupt: its fields hash to SHA-256 ${found}, its ` +
        `stateSha256 records ${stateSha256}; resume from an older checkpoint`,
    );
  }
  const files: Record<string, Uint8Array> = {};
  for (const file of ["model.safetensors", "optimizer.safetensors", "config.json"]) {
    const bytes = await readOrThrow(`${dir}/${file}`, file);
    const found = await sha256(bytes);
    if (found !== state.sha256?.[file]) {
      throw new Error(
        `Checkpoint file ${dir}/${file} is corrupt: SHA-256 ${found}, trainer_state.json records ` +
          `${state.sha256?.[file]}; resume from an older checkpoint`,
      );
    }
    files[file] = bytes;
  }
  const moments = parseSafetensors(files["optimizer.safetensors"], `${dir}/optimizer.safetensors`);
  const optimizerStep = Number(
    parseSafetensorsMetadata(files["optimizer.safetensors"], `${dir}/optimizer.safetensors`).step,
  );
  return {
    dir,
    step: state.step,
    nextBatchIndex: state.nextBatchIndex,
    modelConfig: JSON.parse(new TextDecoder().decode(files["config.json"])),
    weights: parseSafetensors(files["model.safetensors"], `${dir}/model.safetensors`),
    optimizer: { step: optimizerStep, decay: state.decay ?? {}, moments },
    trainConfig: state.trainConfig,
  };
}
