/**
 * Runs tests/reliability/train_child.ts in a subprocess with the narrowest permissions it needs:
 * read the run directory, the embedded corpus (data/) and the wasm backend's binary; write only
 * the run directory; no network, environment, system or subprocess access.
 *
 * @module
 */

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const CHILD = `${ROOT}/tests/reliability/train_child.ts`;

let wasmDist: string | null = null;

/** The directory holding tfjs-backend-wasm's .wasm binaries in Deno's npm cache. */
export async function wasmDistDir(): Promise<string> {
  if (wasmDist !== null) return wasmDist;
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const npmCache = JSON.parse(new TextDecoder().decode(out.stdout)).npmCache as string;
  wasmDist = `${npmCache}/registry.npmjs.org/@tensorflow/tfjs-backend-wasm/4.22.0/dist`;
  try {
    await Deno.stat(`${wasmDist}/tfjs-backend-wasm-simd.wasm`);
  } catch {
    throw new Error(`tfjs-backend-wasm 4.22.0 not found under ${wasmDist}; run deno install first`);
  }
  return wasmDist;
}

/** Permission flags for a child whose only writable place is `run` (`write` overrides it). */
export async function narrowPermissions(run: string, write = run): Promise<string[]> {
  return [`--allow-read=${run},${ROOT}/data,${await wasmDistDir()}`, `--allow-write=${write}`];
}

/** What a child printed: losses by step, the sampled ids, the final step. */
export interface ChildResult {
  readonly losses: Map<number, number>;
  readonly sample: number[] | null;
  readonly done: number | null;
  readonly code: number;
  readonly signal: string | null;
  readonly stderr: string;
}

/** Parses the child's output lines. */
export function parseChild(stdout: string): Pick<ChildResult, "losses" | "sample" | "done"> {
  const losses = new Map<number, number>();
  let sample: number[] | null = null;
  let done: number | null = null;
  for (const line of stdout.split("\n")) {
    const [kind, a, b] = line.split(" ");
    if (kind === "loss") losses.set(Number(a), Number(b));
    if (kind === "sample") sample = JSON.parse(a);
    if (kind === "done") done = Number(a);
  }
  return { losses, sample, done };
}

/**
 * Spawns the child on `run` with `args`; with `killAfterStep`, SIGKILLs it as soon as it
 * reports that step's loss.
 */
export async function runChild(
  run: string,
  args: readonly string[],
  options: { readonly killAfterStep?: number; readonly permissions?: string[] } = {},
): Promise<ChildResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.permissions ?? await narrowPermissions(run)), CHILD, run, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  const kill = options.killAfterStep;
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    stdout += chunk;
    if (kill !== undefined && new RegExp(`^loss ${kill} `, "m").test(stdout)) {
      child.kill("SIGKILL");
    }
  }
  const status = await child.status;
  return { ...parseChild(stdout), code: status.code, signal: status.signal, stderr: await stderr };
}
