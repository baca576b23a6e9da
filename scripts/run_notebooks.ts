/**
 * Executes notebooks headless with the Deno kernel, exports them to HTML and checks the pages
 * in headless Chromium (scripts/check_html.ts). What `deno task notebooks` runs.
 *
 *   deno task notebooks                         every notebooks/*.ipynb
 *   deno task notebooks notebooks/00_quickstart.ipynb
 *   deno task notebooks --no-browser-check ...  skip Chromium (pages are still written)
 *
 * Writes out/notebooks/NAME.ipynb (executed) and out/notebooks/NAME.html. Notebooks read the
 * scale from `BLT_SCALE` (`ci` = tiny settings for CI, `full` = the default); cells time out
 * after `BLT_CELL_TIMEOUT` seconds (default 900 at ci scale, none at full scale).
 *
 * @example
 * ```ts
 * import { notebookPaths } from "./run_notebooks.ts";
 * console.log((await notebookPaths([])).every((p) => p.endsWith(".ipynb"))); // true
 * ```
 * @module
 */
import { checkPages, notebookExpectations } from "./check_html.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const OUT_DIR = `${ROOT}/out/notebooks`;
const JUPYTER = `${ROOT}/scripts/jupyter.sh`;

/** Scales a notebook may be run at (see the module doc). */
export const SCALES = ["ci", "full"] as const;

/**
 * The notebooks to run: the given paths, or every notebooks/*.ipynb in name order.
 *
 * @example
 * ```ts
 * import { notebookPaths } from "./run_notebooks.ts";
 * console.log(await notebookPaths(["notebooks/00_quickstart.ipynb"])); // ["notebooks/00_quickstart.ipynb"]
 * ```
 */
export async function notebookPaths(args: readonly string[]): Promise<string[]> {
  if (args.length > 0) {
    for (const path of args) {
      if (!path.endsWith(".ipynb")) {
        throw new Error(`run_notebooks: expected .ipynb paths, found '${path}'.`);
      }
    }
    return [...args];
  }
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}/notebooks`)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(`notebooks/${entry.name}`);
  }
  return names.sort();
}

/** Runs scripts/jupyter.sh with arguments; throws with the tail of its output on failure. */
async function jupyter(args: string[], env: Record<string, string>): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: [JUPYTER, ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    throw new Error(`jupyter ${args[0]} exited with ${code}:\n${text.slice(-4000)}`);
  }
}

/** Executes one notebook and exports it; returns the HTML path and the cells' errors. */
async function runNotebook(
  path: string,
  scale: string,
  timeout: string,
): Promise<{ html: string; errors: readonly string[]; seconds: number }> {
  const name = path.split("/").pop()!.replace(/\.ipynb$/, "");
  const started = performance.now();
  const env = { BLT_SCALE: scale, NO_COLOR: "1" };
  const executed = `${OUT_DIR}/${name}.ipynb`;
  // Not `nbconvert --execute`: it drops outputs that Deno's kernel publishes after `idle`
  // (see scripts/execute_notebook.py). Cells that throw do not stop the run; checked below.
  await jupyter([
    "python",
    `${ROOT}/scripts/execute_notebook.py`,
    path,
    executed,
    "--kernel=deno",
    `--timeout=${timeout}`,
  ], env);
  await jupyter(["nbconvert", "--to=html", `--output-dir=${OUT_DIR}`, executed], env);
  const { errors } = notebookExpectations(JSON.parse(await Deno.readTextFile(executed)));
  return {
    html: `${OUT_DIR}/${name}.html`,
    errors,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Runs a notebook; if the executor itself died (a kernel or protocol failure, not an error in a
 * cell, which is reported in the result), runs it once more from a fresh kernel.
 */
async function runNotebookRetrying(
  path: string,
  scale: string,
  timeout: string,
): Promise<{ html: string; errors: readonly string[]; seconds: number }> {
  try {
    return await runNotebook(path, scale, timeout);
  } catch (e) {
    console.log(`retry ${path}: the executor failed, running it once more:`);
    console.log((e as Error).message.split("\n").slice(-6).map((l) => `  | ${l}`).join("\n"));
    return await runNotebook(path, scale, timeout);
  }
}

if (import.meta.main) {
  const browserCheck = !Deno.args.includes("--no-browser-check");
  const paths = await notebookPaths(Deno.args.filter((a) => a !== "--no-browser-check"));
  const scale = Deno.env.get("BLT_SCALE") ?? "full";
  if (!(SCALES as readonly string[]).includes(scale)) {
    console.error(`BLT_SCALE: expected one of ${SCALES.join(", ")}, found '${scale}'.`);
    Deno.exit(2);
  }
  const timeout = Deno.env.get("BLT_CELL_TIMEOUT") ?? (scale === "ci" ? "900" : "-1");
  await Deno.mkdir(OUT_DIR, { recursive: true });
  console.log(`notebooks: ${paths.length} at BLT_SCALE=${scale} → ${OUT_DIR}`);
  const failed = new Set<string>();
  const pages = new Map<string, string>();
  for (const path of paths) {
    try {
      const result = await runNotebookRetrying(path, scale, timeout);
      pages.set(result.html, path);
      const verdict = result.errors.length === 0 ? "ok" : "FAILED";
      console.log(`${verdict} ${path} (${result.seconds.toFixed(1)} s) → ${result.html}`);
      for (const e of result.errors) console.log(`  - ${e}`);
      if (result.errors.length > 0) failed.add(path);
    } catch (e) {
      failed.add(path);
      console.log(`FAILED ${path}: ${(e as Error).message}`);
    }
  }
  if (browserCheck && pages.size > 0) {
    for (const r of await checkPages([...pages.keys()])) {
      const verdict = r.problems.length === 0 ? "ok" : "FAILED";
      console.log(
        `${verdict} browser ${r.page}: plotly ${r.plotlyRendered}/${r.plotlyExpected}, ` +
          `svg drawings ${r.svgDrawings}`,
      );
      for (const p of r.problems) console.log(`  - ${p}`);
      if (r.problems.length > 0) failed.add(pages.get(r.page)!);
    }
  }
  console.log(`notebooks: ${paths.length - failed.size} passed, ${failed.size} failed`);
  if (failed.size > 0) Deno.exit(1);
}
