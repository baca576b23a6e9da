/// <reference lib="dom" />
/**
 * Browser check of exported notebooks: opens each HTML page in headless Chromium and asserts
 * that every plotly figure rendered (a `.js-plotly-plot .main-svg` per figure), that every SVG
 * drawing is non-empty, that no script threw, and (from the executed `.ipynb` beside the page)
 * that no cell errored. Saves screenshots under out/screenshots/ (`NAME.png`, the whole page, and
 * `NAME_figN.png`, each figure).
 *
 *   deno run -A scripts/check_html.ts out/notebooks/00_quickstart.html [...]
 *
 * Chromium: `CHROMIUM` or /usr/bin/chromium (Debian: `apt-get install -y chromium`).
 *
 * @example
 * ```ts
 * import { notebookExpectations } from "./check_html.ts";
 * const nb = { cells: [{ cell_type: "code", outputs: [{ output_type: "error", ename: "E", evalue: "x" }] }] };
 * console.log(notebookExpectations(nb).errors); // ["cell 1: E: x"]
 * ```
 * @module
 */
import { chromium, type Page } from "playwright-core";

/** The part of an executed .ipynb that the check reads. */
export interface NotebookJson {
  readonly cells: readonly {
    readonly cell_type: string;
    readonly outputs?: readonly {
      readonly output_type: string;
      readonly data?: Readonly<Record<string, unknown>>;
      readonly ename?: string;
      readonly evalue?: string;
    }[];
  }[];
}

/** What an executed notebook promises its page shows, and the errors its cells raised. */
export interface NotebookExpectations {
  /** Outputs carrying a plotly figure: each needs a rendered `.main-svg` in the page. */
  readonly plotlyFigures: number;
  /** "cell N: ename: evalue" for every error output. */
  readonly errors: readonly string[];
}

/** The verdict on one page. */
export interface PageCheck {
  readonly page: string;
  readonly plotlyExpected: number;
  readonly plotlyRendered: number;
  readonly svgDrawings: number;
  /** Empty when the page passed. */
  readonly problems: readonly string[];
}

/**
 * Counts the plotly figures and collects the errors of an executed notebook. Pure.
 *
 * @example
 * ```ts
 * import { notebookExpectations } from "./check_html.ts";
 * const out = { output_type: "display_data", data: { "application/vnd.plotly.v1+json": {} } };
 * console.log(notebookExpectations({ cells: [{ cell_type: "code", outputs: [out] }] }).plotlyFigures); // 1
 * ```
 */
export function notebookExpectations(notebook: NotebookJson): NotebookExpectations {
  if (!Array.isArray(notebook?.cells)) {
    throw new Error("notebookExpectations: expected an .ipynb object with 'cells', found none.");
  }
  let plotlyFigures = 0;
  const errors: string[] = [];
  notebook.cells.forEach((cell, i) => {
    for (const output of cell.outputs ?? []) {
      if (output.output_type === "error") {
        errors.push(`cell ${i + 1}: ${output.ename}: ${output.evalue}`);
      }
      if (output.data?.["application/vnd.plotly.v1+json"] !== undefined) plotlyFigures++;
    }
  });
  return { plotlyFigures, errors };
}

/** What the page reports about its figures (runs in the browser). */
interface PageFacts {
  plotlyRendered: number;
  plotlyMissing: string[];
  svgDrawings: number;
  emptySvgs: string[];
}

/** Runs inside the page: counts rendered plots and inspects every SVG drawing. */
function inspectPage(): PageFacts {
  const plots = [...document.querySelectorAll(".js-plotly-plot")];
  const plotlyMissing = [...document.querySelectorAll("[data-blt-error]")]
    .map((e) => `${e.id}: ${e.getAttribute("data-blt-error")}`);
  const emptySvgs: string[] = [];
  const inline = [...document.querySelectorAll(".jp-OutputArea-output svg")]
    .filter((s) => s.parentElement?.closest("svg, .js-plotly-plot") === null);
  inline.forEach((s, i) => {
    const box = s.getBoundingClientRect();
    if (s.childElementCount === 0 || box.width === 0 || box.height === 0) {
      emptySvgs.push(`inline svg #${i + 1}`);
    }
  });
  const images = [...document.querySelectorAll<HTMLImageElement>(
    'img[src^="data:image/svg+xml"]',
  )];
  images.forEach((img, i) => {
    const base64 = img.src.slice(img.src.indexOf(",") + 1);
    const doc = new DOMParser().parseFromString(atob(base64), "image/svg+xml");
    if (!img.complete || img.naturalWidth === 0 || doc.documentElement.childElementCount === 0) {
      emptySvgs.push(`svg image #${i + 1}`);
    }
  });
  return {
    plotlyRendered: plots.filter((p) => p.querySelector(".main-svg") !== null).length,
    plotlyMissing,
    svgDrawings: inline.length + images.length,
    emptySvgs,
  };
}

/** Chromium's flags for the checks: headless, no sandbox (CI runs as root), offline. */
export const BROWSER_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
];

/** Where screenshots go unless told otherwise: out/screenshots/ in the checkout. */
export const SCREENSHOT_DIR: string = decodeURIComponent(
  new URL("../out/screenshots", import.meta.url).pathname,
);

/**
 * CSS selector of the output areas that hold a figure (a plotly plot, an SVG image or an inline
 * SVG drawing), in JupyterLab and in nbconvert's HTML alike: what the screenshots show.
 */
export const FIGURE_OUTPUTS: string = ".jp-OutputArea-output:has(.js-plotly-plot), " +
  '.jp-OutputArea-output:has(img[src^="data:image/svg+xml"]), ' +
  ".jp-OutputArea-output:has(svg):not(:has(.js-plotly-plot))";

/** Options of {@link checkPages}. */
export interface CheckOptions {
  /** Chromium's executable; `CHROMIUM` or /usr/bin/chromium when omitted. */
  readonly executablePath?: string;
  /** Per-page timeout for loading and rendering (ms, default 30 000). */
  readonly timeoutMs?: number;
  /**
   * Folder for screenshots (`NAME.png`: the whole page; `NAME_figN.png`: each figure); none
   * when null. When omitted: {@link SCREENSHOT_DIR} for pages under the checkout's out/ (the
   * exported notebooks), none for pages elsewhere (scratch pages of tests).
   */
  readonly screenshotDir?: string | null;
}

/**
 * The Chromium executable to use: the argument, else `CHROMIUM`, else /usr/bin/chromium;
 * throws saying how to install it when the file is missing.
 *
 * @example
 * ```ts
 * import { chromiumPath } from "./check_html.ts";
 * await chromiumPath("/no/such/chromium").catch((e) => console.log(e.message.startsWith("check_html"))); // true
 * ```
 */
export async function chromiumPath(path?: string): Promise<string> {
  const executablePath = path ?? Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new Error(
      `check_html: Chromium not found at ${executablePath}. ` +
        "Install it (apt-get install -y chromium) or set CHROMIUM to its path.",
    );
  }
  return executablePath;
}

/**
 * Opens each page in headless Chromium and checks it (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { checkPages } from "./check_html.ts";
 * const [result] = await checkPages(["out/notebooks/00_quickstart.html"]);
 * console.log(result.problems); // []
 * ```
 */
export async function checkPages(
  pages: readonly string[],
  options: CheckOptions = {},
): Promise<PageCheck[]> {
  const executablePath = await chromiumPath(options.executablePath);
  const browser = await chromium.launch({ executablePath, args: [...BROWSER_ARGS] });
  try {
    const results: PageCheck[] = [];
    for (const page of pages) results.push(await checkPage(browser, page, options));
    return results;
  } finally {
    await browser.close();
  }
}

async function checkPage(
  browser: import("playwright-core").Browser,
  path: string,
  options: CheckOptions,
): Promise<PageCheck> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const problems: string[] = [];
  const ipynb = path.replace(/\.html$/, ".ipynb");
  let expected: NotebookExpectations | undefined;
  try {
    expected = notebookExpectations(JSON.parse(await Deno.readTextFile(ipynb)));
    problems.push(...expected.errors);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const page = await browser.newPage();
  page.on("pageerror", (e) => problems.push(`script error in page: ${e.message}`));
  try {
    const url = new URL(`file://${await Deno.realPath(path)}`).href;
    await page.goto(url, { waitUntil: "load", timeout: timeoutMs });
    const plotlyExpected = expected?.plotlyFigures ??
      await page.evaluate(() => document.querySelectorAll("[data-blt-plotly]").length);
    await page.waitForFunction(
      (n) => document.querySelectorAll(".js-plotly-plot .main-svg").length >= n,
      plotlyExpected,
      { timeout: timeoutMs },
    ).catch(() => {/* the counts below say what is missing */});
    const facts = await page.evaluate(inspectPage);
    if (facts.plotlyRendered < plotlyExpected) {
      problems.push(`plotly: ${facts.plotlyRendered} of ${plotlyExpected} figures rendered`);
    }
    problems.push(...facts.plotlyMissing.map((m) => `plotly figure ${m}`));
    problems.push(...facts.emptySvgs.map((s) => `${s} is empty or failed to load`));
    const screenshotDir = options.screenshotDir === undefined
      ? (url.startsWith(new URL("../out/", import.meta.url).href) ? SCREENSHOT_DIR : null)
      : options.screenshotDir;
    if (screenshotDir !== null) await screenshots(page, path, screenshotDir);
    return {
      page: path,
      plotlyExpected,
      plotlyRendered: facts.plotlyRendered,
      svgDrawings: facts.svgDrawings,
      problems,
    };
  } finally {
    await page.close();
  }
}

/** Saves the whole page and each figure (plotly or SVG output) as PNGs. */
async function screenshots(page: Page, path: string, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const name = path.split("/").pop()!.replace(/\.html$/, "");
  await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
  const figures = page.locator(FIGURE_OUTPUTS);
  const count = await figures.count();
  for (let i = 0; i < count; i++) {
    await figures.nth(i).screenshot({ path: `${dir}/${name}_fig${i + 1}.png` });
  }
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("usage: deno run -A scripts/check_html.ts PAGE.html [...]");
    Deno.exit(2);
  }
  const results = await checkPages(Deno.args);
  for (const r of results) {
    const verdict = r.problems.length === 0 ? "ok" : "FAILED";
    console.log(
      `${verdict} ${r.page}: plotly ${r.plotlyRendered}/${r.plotlyExpected}, ` +
        `svg drawings ${r.svgDrawings}`,
    );
    for (const p of r.problems) console.log(`  - ${p}`);
  }
  const failed = results.filter((r) => r.problems.length > 0).length;
  console.log(`browser check: ${results.length - failed} passed, ${failed} failed`);
  if (failed > 0) Deno.exit(1);
}
