/// <reference lib="dom" />
/**
 * JupyterLab check in a real browser: starts the project's JupyterLab headless (free localhost
 * port, random token, `BLT_SCALE=ci`), opens a notebook in headless Chromium through Playwright,
 * runs every cell from the Run menu, waits until the kernel is idle and every code cell has an
 * execution count, then asserts what the user would see: a rendered `.js-plotly-plot .main-svg`
 * for every plotly output, every SVG output non-empty, no error output. Screenshots go to
 * out/screenshots/ (`lab_NAME.png`: the notebook at its first figure; `lab_NAME_figN.png`: each
 * figure output). JupyterLab is always shut down, with a hard timeout.
 *
 *   deno task lab:check [notebooks/00_quickstart.ipynb] [--timeout=600]
 *
 * Lab runs with its own settings in a temporary directory (lab_session.ts): autosave off, so
 * the executed outputs never land in the tracked notebook.
 *
 * @example
 * ```ts
 * import { labProblems } from "./check_lab.ts";
 * const facts = { codeCells: 2, unexecuted: [], plotlyRendered: 1, svgOutputs: 0, emptySvgs: [], dialogs: [] };
 * console.log(labProblems(facts, { plotlyFigures: 1, errors: [] })); // []
 * ```
 * @module
 */
import { type Browser, chromium, type Page } from "playwright-core";
import {
  BROWSER_ARGS,
  chromiumPath,
  FIGURE_OUTPUTS,
  type NotebookExpectations,
  notebookExpectations,
  SCREENSHOT_DIR,
} from "./check_html.ts";
import { type LabSession, startLab } from "./lab_session.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

/** What the JupyterLab page shows after the run (gathered in the browser). */
export interface LabFacts {
  /** Code cells with source (empty cells are never executed). */
  readonly codeCells: number;
  /** 1-based indices of code cells with source but no execution count. */
  readonly unexecuted: readonly number[];
  /** Plotly outputs with a `.main-svg` drawn inside them. */
  readonly plotlyRendered: number;
  /** SVG outputs (images of `image/svg+xml` and inline drawings in HTML outputs). */
  readonly svgOutputs: number;
  /** Descriptions of SVG outputs that are empty or failed to load. */
  readonly emptySvgs: readonly string[];
  /** Text of any modal dialog left open (e.g. "Kernel not found"). */
  readonly dialogs: readonly string[];
}

/**
 * The problems of one run, from the page's facts and the notebook's outputs. Pure; empty = pass.
 *
 * @example
 * ```ts
 * import { labProblems } from "./check_lab.ts";
 * const facts = { codeCells: 3, unexecuted: [4], plotlyRendered: 0, svgOutputs: 1, emptySvgs: [], dialogs: [] };
 * console.log(labProblems(facts, { plotlyFigures: 1, errors: [] }));
 * // ["code cell 4 has no execution count (did not run)", "plotly: 0 of 1 figures rendered"]
 * ```
 */
export function labProblems(facts: LabFacts, expected: NotebookExpectations): string[] {
  const problems: string[] = [];
  if (facts.codeCells === 0) problems.push("no code cells found in the notebook page");
  for (const i of facts.unexecuted) {
    problems.push(`code cell ${i} has no execution count (did not run)`);
  }
  problems.push(...expected.errors);
  if (facts.plotlyRendered < expected.plotlyFigures) {
    problems.push(`plotly: ${facts.plotlyRendered} of ${expected.plotlyFigures} figures rendered`);
  }
  problems.push(...facts.emptySvgs.map((s) => `${s} is empty or failed to load`));
  problems.push(...facts.dialogs.map((d) => `dialog left open: ${d}`));
  return problems;
}

/** A cell of the notebook model's JSON, as far as the check reads it. */
interface NotebookCell {
  readonly cell_type: string;
  readonly source: string | string[];
  readonly execution_count?: number | null;
}

/** The parts of JupyterLab's app (`window.jupyterapp`, exposed by the server flag) we read. */
interface LabWindow {
  jupyterapp?: {
    shell: {
      currentWidget: {
        sessionContext?: {
          session?: { kernel?: { status: string } | null } | null;
          isReady: boolean;
        };
        content?: {
          model?: { toJSON(): unknown } | null;
          widgets?: readonly { node: HTMLElement }[];
          activeCellIndex?: number;
          scrollToItem?(index: number, align: string): Promise<void>;
        };
      } | null;
    };
  };
}

/** A code cell as the run sees it: has it source, and its execution count. */
export interface CellState {
  readonly source: boolean;
  readonly count: number | null;
}

/** Runs in the page (self-contained): kernel status and the code cells, null before load. */
function labState(): { status: string; cells: CellState[] } | null {
  const widget = (window as unknown as LabWindow).jupyterapp?.shell.currentWidget;
  const model = widget?.content?.model;
  if (!widget?.sessionContext?.isReady || !model) return null;
  const cells = (model.toJSON() as { cells: NotebookCell[] }).cells
    .filter((c) => c.cell_type === "code")
    .map((c) => ({
      source: (Array.isArray(c.source) ? c.source.join("") : c.source).trim() !== "",
      count: typeof c.execution_count === "number" ? c.execution_count : null,
    }));
  return { status: widget.sessionContext.session?.kernel?.status ?? "none", cells };
}

/** Runs in the page: the open notebook as .ipynb JSON. */
function notebookJson(): unknown {
  return (window as unknown as LabWindow).jupyterapp?.shell.currentWidget?.content?.model
    ?.toJSON();
}

/** Runs in the page: counts rendered plots and inspects every SVG output. */
function inspectOutputs(): Omit<LabFacts, "codeCells" | "unexecuted"> {
  const notebook = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")!;
  const emptySvgs: string[] = [];
  const images = [...notebook.querySelectorAll<HTMLImageElement>(
    '.jp-OutputArea-output img[src^="data:image/svg+xml"]',
  )];
  images.forEach((img, i) => {
    const data = img.src.slice(img.src.indexOf(",") + 1);
    const text = img.src.includes(";base64,") ? atob(data) : decodeURIComponent(data);
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    if (!img.complete || img.naturalWidth === 0 || doc.documentElement.childElementCount === 0) {
      emptySvgs.push(`svg image #${i + 1}`);
    }
  });
  const inline = [...notebook.querySelectorAll(".jp-OutputArea-output svg")]
    .filter((s) => s.parentElement?.closest("svg, .js-plotly-plot") === null);
  inline.forEach((s, i) => {
    const box = s.getBoundingClientRect();
    if (s.childElementCount === 0 || box.width === 0 || box.height === 0) {
      emptySvgs.push(`inline svg #${i + 1}`);
    }
  });
  const dialogs = [...document.querySelectorAll(".jp-Dialog")]
    .map((d) => (d.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, 200));
  return {
    plotlyRendered: [...notebook.querySelectorAll(".js-plotly-plot")]
      .filter((p) => p.querySelector(".main-svg") !== null).length,
    svgOutputs: images.length + inline.length,
    emptySvgs,
    dialogs,
  };
}

/**
 * Counts the code cells with source and lists those without an execution count (1-based, among
 * code cells). Pure.
 *
 * @example
 * ```ts
 * import { executionFacts } from "./check_lab.ts";
 * const cells = [{ source: true, count: 1 }, { source: false, count: null }, { source: true, count: null }];
 * console.log(executionFacts(cells)); // { codeCells: 2, unexecuted: [3] }
 * ```
 */
export function executionFacts(
  cells: readonly CellState[],
): Pick<LabFacts, "codeCells" | "unexecuted"> {
  const unexecuted: number[] = [];
  cells.forEach((cell, i) => {
    if (cell.source && cell.count === null) unexecuted.push(i + 1);
  });
  return { codeCells: cells.filter((c) => c.source).length, unexecuted };
}

/** Milliseconds left before the deadline; throws naming the stage when none are. */
function left(deadline: number, stage: string): number {
  const ms = deadline - Date.now();
  if (ms <= 0) throw new Error(`check_lab: timed out ${stage}.`);
  return ms;
}

/** How long the kernel may sit idle with cells unfinished before the run counts as stalled. */
const STALL_MS = 45_000;
/**
 * How long one cell may keep the kernel "busy" without finishing. Seen in CI: the Deno kernel
 * stayed busy at 0% CPU on a display cell for minutes (a hang, not work); the quickstart's
 * slowest cell (training, ci scale) takes well under this on a loaded 2-core machine.
 */
const BUSY_STALL_MS = 180_000;

/**
 * Runs all cells from the Run menu; returns when the kernel is idle and every code cell has its
 * count, when it stalls (idle, cells unfinished: an error stops Run All), or near the deadline.
 */
async function runAllCells(
  page: Page,
  deadline: number,
): Promise<{ status: string; cells: CellState[] }> {
  await page.locator(".lm-MenuBar-item", { hasText: /^Run$/ }).click();
  await page.locator(".lm-Menu-item", { hasText: /^Run All Cells/ }).click();
  let nextReport = Date.now() + 30_000;
  let progressAt = Date.now();
  let done = -1;
  while (deadline - Date.now() > 20_000) {
    await page.waitForTimeout(1000);
    const state = await page.evaluate(labState);
    if (state === null) throw new Error("check_lab: the notebook closed while running.");
    const { codeCells, unexecuted } = executionFacts(state.cells);
    if (state.status === "idle" && unexecuted.length === 0) return state;
    const ran = codeCells - unexecuted.length;
    if (ran !== done) {
      done = ran;
      progressAt = Date.now();
    } else if (Date.now() - progressAt > (state.status === "idle" ? STALL_MS : BUSY_STALL_MS)) {
      return state;
    }
    if (Date.now() >= nextReport) {
      nextReport += 30_000;
      console.log(`  ${done}/${codeCells} code cells ran, kernel ${state.status}`);
    }
  }
  return (await page.evaluate(labState))!;
}

/** The kernel stopped answering mid-run (no error in any cell): worth one fresh start. */
class KernelStall extends Error {}

/** Opens the notebook, runs all cells and returns the problems found (empty = pass). */
async function runInLab(
  browser: Browser,
  lab: LabSession,
  notebookPath: string,
  deadline: number,
): Promise<string[]> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = new Map<string, number>();
  page.on("pageerror", (e) => pageErrors.set(e.message, (pageErrors.get(e.message) ?? 0) + 1));
  await page.goto(`${lab.url}/lab/tree/${notebookPath}?token=${lab.token}`, {
    timeout: left(deadline, "loading JupyterLab"),
  });
  await page.waitForFunction(labState, undefined, {
    timeout: left(deadline, "waiting for the notebook and its kernel to start"),
    polling: 500,
  }).catch((e) => {
    throw new Error(`check_lab: ${notebookPath} did not open with a ready kernel: ${e.message}`);
  });
  const name = notebookPath.split("/").pop()!.replace(/\.ipynb$/, "");
  console.log(`lab: running all cells of ${notebookPath} at ${lab.url}`);
  const state = await runAllCells(page, deadline);
  const errors = () =>
    page.evaluate(notebookJson).then((nb) =>
      notebookExpectations(nb as Parameters<typeof notebookExpectations>[0]).errors
    );
  if (executionFacts(state.cells).unexecuted.length > 0 && (await errors()).length === 0) {
    // Seen in CI: the Deno kernel went idle with a cell unfinished (no reply), or stayed busy at
    // 0% CPU on a display cell, once after an IOPub message Lab could not parse ("Bad control
    // character in string literal", a 3.9 MB plotly output). Restarting the kernel from the page
    // then left it "unknown"; checkLab starts a fresh server and kernel instead.
    throw new KernelStall(`kernel ${state.status} with cells unfinished and no error`);
  }
  // Deno's kernel may publish a cell's last displays just after `idle` (execute_notebook.py).
  await page.waitForTimeout(3000);
  const notebook = await page.evaluate(notebookJson);
  const expected = notebookExpectations(notebook as Parameters<typeof notebookExpectations>[0]);
  await page.waitForFunction(
    (n) => document.querySelectorAll(".jp-Notebook .js-plotly-plot .main-svg").length >= n,
    expected.plotlyFigures,
    { timeout: 10_000 },
  ).catch(() => {/* counted below */});
  const facts: LabFacts = {
    ...executionFacts(state.cells),
    ...await page.evaluate(inspectOutputs),
  };
  await screenshots(page, name);
  console.log(
    `lab ${notebookPath}: ${facts.codeCells - facts.unexecuted.length}/${facts.codeCells} ` +
      `code cells ran, plotly ${facts.plotlyRendered}/${expected.plotlyFigures}, ` +
      `svg outputs ${facts.svgOutputs}`,
  );
  // Script errors in Lab's page are reported, not failed on: JupyterLab itself throws some
  // (its debugger panel asks a Deno kernel, which has no debugger, for a session), and a
  // figure that failed to draw fails the counts above anyway.
  for (const [message, n] of pageErrors) {
    console.log(`  warning: script error in JupyterLab's page (×${n}): ${message}`);
  }
  return labProblems(facts, expected);
}

/** Saves the notebook view at its first figure and one screenshot per figure output. */
async function screenshots(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
  const figures = page.locator(FIGURE_OUTPUTS);
  const count = await figures.count();
  for (let i = 0; i < count; i++) {
    await figures.nth(i).scrollIntoViewIfNeeded();
    await figures.nth(i).screenshot({ path: `${SCREENSHOT_DIR}/lab_${name}_fig${i + 1}.png` });
  }
  // The view a user gets at the first plotly figure: its cell made active (Lab keeps
  // scrolling back to the active cell, the last one after Run All) and scrolled to the top.
  await page.evaluate(async () => {
    const notebook = (window as unknown as LabWindow).jupyterapp?.shell.currentWidget?.content;
    const index = notebook?.widgets?.findIndex((cell) =>
      cell.node.querySelector(".js-plotly-plot") !== null
    ) ?? -1;
    if (notebook === undefined || index < 0) return;
    notebook.activeCellIndex = index;
    await notebook.scrollToItem?.(index, "start");
  });
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${SCREENSHOT_DIR}/lab_${name}.png` });
  console.log(`lab screenshots: ${SCREENSHOT_DIR}/lab_${name}*.png (${count} figures)`);
}

/**
 * Starts JupyterLab, checks the notebook in Chromium, always shuts everything down.
 * Returns the problems found (empty = pass); throws when the check itself could not run.
 *
 * @example
 * ```ts ignore
 * import { checkLab } from "./check_lab.ts";
 * console.log(await checkLab("notebooks/00_quickstart.ipynb", 600_000)); // []
 * ```
 */
export async function checkLab(notebookPath: string, timeoutMs: number): Promise<string[]> {
  await Deno.stat(`${ROOT}/${notebookPath}`).catch(() => {
    throw new Error(`check_lab: notebook '${notebookPath}' not found under ${ROOT}.`);
  });
  const executablePath = await chromiumPath();
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1;; attempt++) {
    try {
      return await checkOnce(notebookPath, executablePath, deadline);
    } catch (e) {
      if (!(e instanceof KernelStall)) throw e;
      if (attempt > 1) return [`${e.message}, twice (also with a fresh server and kernel)`];
      console.log(`lab: ${e.message}; a fresh JupyterLab server and kernel, run all again`);
    }
  }
}

/** One JupyterLab server, one browser, one run of all cells; always shuts everything down. */
async function checkOnce(
  notebookPath: string,
  executablePath: string,
  deadline: number,
): Promise<string[]> {
  const lab = await startLab(ROOT, { BLT_SCALE: "ci", NO_COLOR: "1" }, left(deadline, "starting"));
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath, args: [...BROWSER_ARGS] });
    // Hard limit: a frozen page can hang an evaluate() forever; 30 s past the deadline the
    // check gives up, and `finally` still closes the browser and stops the server.
    return await hardLimit(
      runInLab(browser, lab, notebookPath, deadline),
      deadline + 30_000 - Date.now(),
      `check_lab: hard timeout (${
        Math.round((deadline - Date.now()) / 1000)
      } s + 30 s) running ${notebookPath}.`,
    );
  } catch (e) {
    if (e instanceof KernelStall) throw e;
    console.error(`JupyterLab log (tail):\n${await lab.logTail()}`);
    throw e;
  } finally {
    await hardLimit(browser?.close() ?? Promise.resolve(), 20_000, "browser close").catch(() => {});
    await lab.stop();
  }
}

/** The promise's result, or a rejection with `message` after `ms` milliseconds. */
function hardLimit<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), Math.max(0, ms));
  });
  promise.catch(() => {/* reported by the race when it loses; ignored after a timeout */});
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

if (import.meta.main) {
  const timeoutArg = Deno.args.find((a) => a.startsWith("--timeout="));
  const seconds = Number(timeoutArg?.slice("--timeout=".length) ?? 600);
  if (!(seconds > 0)) {
    console.error(`check_lab: --timeout expects seconds > 0, found '${timeoutArg}'.`);
    Deno.exit(2);
  }
  const notebook = Deno.args.find((a) => !a.startsWith("--")) ?? "notebooks/00_quickstart.ipynb";
  const problems = await checkLab(notebook, seconds * 1000);
  for (const p of problems) console.log(`  - ${p}`);
  console.log(`${problems.length === 0 ? "ok" : "FAILED"} JupyterLab check of ${notebook}`);
  if (problems.length > 0) Deno.exit(1);
}
