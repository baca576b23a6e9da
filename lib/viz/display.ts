/**
 * Jupyter display for the Deno kernel: plotly figures, SVG drawings and live displays.
 *
 * A plotly figure becomes a MIME bundle with three views, because each frontend reads a
 * different one: `application/vnd.plotly.v1+json` for JupyterLab (rendered by the Python
 * `plotly` package's extension), `text/html` for nbconvert's HTML export (a div plus a script
 * that draws with plotly.js, which is inlined from npm once per document because our machines
 * are offline), and `text/plain` for terminals. The pure bundle builders work anywhere; the
 * `display*` functions send bundles to the kernel, or print their `text/plain` view outside it.
 *
 * @example
 * ```ts
 * import { plotlyMimeBundle } from "./display.ts";
 * const fig = { data: [{ type: "bar", y: [1, 2] }], layout: {} };
 * const bundle = plotlyMimeBundle(fig, { divId: "fig" });
 * console.log(Object.keys(bundle)); // ["application/vnd.plotly.v1+json", "text/html", "text/plain"]
 * ```
 * @module
 */
import { plotlyLoaderScript, plotlyRenderScript } from "./display_html.ts";
import type { PlotlyFigure, PlotlyObject } from "./figure.ts";

/** A Jupyter MIME bundle: MIME type → data (strings, or JSON objects for `+json` types). */
export type MimeBundle = Readonly<Record<string, string | object>>;

/** Options of {@link plotlyMimeBundle}. */
export interface PlotlyBundleOptions {
  /** DOM id of the figure's div in the HTML view; random when omitted. */
  readonly divId?: string;
  /** plotly.js source to inline in the HTML view (once per document: see {@link loadPlotlyJs}). */
  readonly plotlyJs?: string;
  /** Plotly config, e.g. `{ displayModeBar: false }`; `{ responsive: true }` when omitted. */
  readonly config?: PlotlyObject;
}

/** Where bundles go: `Deno.jupyter.display`'s signature with `raw: true` implied. */
export type DisplaySink = (
  bundle: MimeBundle,
  options: { readonly display_id?: string; readonly update?: boolean },
) => Promise<void>;

/** The default height of the HTML view when the layout gives none (plotly's own default). */
const DEFAULT_HEIGHT_PX = 450;

/**
 * Builds the MIME bundle of a plotly figure. Pure: same figure and options, same bundle.
 *
 * @example
 * ```ts
 * import { plotlyMimeBundle } from "./display.ts";
 * const fig = { data: [{ type: "scatter", y: [3, 1, 2] }], layout: { title: { text: "H" } } };
 * const b = plotlyMimeBundle(fig, { divId: "d" });
 * console.log(b["text/plain"]); // Plotly figure "H": 1 trace (scatter)
 * ```
 */
export function plotlyMimeBundle(
  figure: PlotlyFigure,
  options: PlotlyBundleOptions = {},
): MimeBundle {
  if (figure === null || typeof figure !== "object" || !Array.isArray(figure.data)) {
    throw new Error(
      "plotlyMimeBundle: expected a figure { data: [...traces], layout?, config? }, " +
        `found ${JSON.stringify(figure)?.slice(0, 80)}. Pass a plotly figure spec from lib/viz.`,
    );
  }
  const divId = options.divId ?? `blt-plotly-${crypto.randomUUID()}`;
  const spec = {
    data: figure.data,
    layout: figure.layout ?? {},
    config: options.config ?? { responsive: true },
  };
  const height = typeof spec.layout.height === "number" ? spec.layout.height : DEFAULT_HEIGHT_PX;
  const html = [
    `<div id="${escapeAttr(divId)}" class="blt-plotly" data-blt-plotly="1" ` +
    `style="width:100%;height:${height}px"></div>`,
    options.plotlyJs === undefined ? "" : plotlyLoaderScript(options.plotlyJs),
    plotlyRenderScript(divId, spec),
  ].join("\n");
  return {
    "application/vnd.plotly.v1+json": spec,
    "text/html": html,
    "text/plain": describeFigure(figure),
  };
}

/**
 * Builds the MIME bundle of an SVG drawing (e.g. a d3 drawing serialised with linkedom).
 *
 * Adds the SVG namespace when missing: nbconvert's HTML embeds SVG as a data-URL image, and
 * browsers refuse to draw an SVG image without it.
 *
 * @example
 * ```ts
 * import { svgMimeBundle } from "./display.ts";
 * const b = svgMimeBundle('<svg width="4" height="4"><rect width="4" height="4"/></svg>', "a square");
 * console.log(b["text/plain"]); // a square
 * ```
 */
export function svgMimeBundle(svg: string, alt = "SVG drawing"): MimeBundle {
  const start = svg.search(/<svg[\s>]/);
  if (typeof svg !== "string" || start < 0) {
    throw new Error(
      `svgMimeBundle: expected svg markup starting with '<svg', found ` +
        `'${String(svg).slice(0, 40)}'. Pass the outerHTML of an <svg> element.`,
    );
  }
  const root = svg.slice(start, svg.indexOf(">", start) + 1);
  const withNs = root.includes("xmlns=")
    ? svg
    : svg.slice(0, start) + '<svg xmlns="http://www.w3.org/2000/svg"' + svg.slice(start + 4);
  return { "image/svg+xml": withNs, "text/plain": alt };
}

/**
 * Builds the MIME bundle of an HTML fragment (e.g. the training dashboard) with a plain-text
 * view for terminals.
 *
 * @example
 * ```ts
 * import { htmlMimeBundle } from "./display.ts";
 * const b = htmlMimeBundle("<b>step 3/10</b>", "step 3/10");
 * console.log(b["text/html"]); // <b>step 3/10</b>
 * ```
 */
export function htmlMimeBundle(html: string, plain: string): MimeBundle {
  if (typeof html !== "string" || typeof plain !== "string") {
    throw new Error(
      `htmlMimeBundle: expected (html: string, plain: string), found (${typeof html}, ` +
        `${typeof plain}). Pass the fragment and a one-line text summary.`,
    );
  }
  return { "text/html": html, "text/plain": plain };
}

let plotlyJsCache: string | undefined;

/**
 * The plotly.js-dist-min bundle (pinned in deno.json) as text, read from the npm cache once.
 *
 * @example
 * ```ts
 * import { loadPlotlyJs } from "./display.ts";
 * console.log((await loadPlotlyJs()).includes("plotly.js v2.35.2")); // true
 * ```
 */
export async function loadPlotlyJs(): Promise<string> {
  plotlyJsCache ??= (await import("plotly.js-dist-min/plotly.min.js", { with: { type: "text" } }))
    .default;
  return plotlyJsCache;
}

/**
 * Sends bundles to the Deno kernel, or prints their `text/plain` view when not in a kernel
 * (scripts and tests import the same notebooks code).
 *
 * @example
 * ```ts
 * import { defaultSink } from "./display.ts";
 * await defaultSink({ "text/plain": "hello" }, {}); // prints "hello" outside Jupyter
 * ```
 */
export const defaultSink: DisplaySink = async (bundle, options) => {
  if (inJupyter()) {
    await Deno.jupyter.display(bundle, { raw: true, ...options });
  } else {
    console.log(String(bundle["text/plain"] ?? ""));
  }
};

/**
 * One output that updates in place (Jupyter `display_id`): the first `show` displays, later
 * calls replace it. For live training progress and dashboards.
 *
 * @example
 * ```ts
 * import { LiveDisplay, type MimeBundle } from "./display.ts";
 * const sent: [MimeBundle, boolean][] = [];
 * const live = new LiveDisplay("progress", async (b, o) => void sent.push([b, o.update === true]));
 * await live.show({ "text/plain": "step 1" });
 * await live.show({ "text/plain": "step 2" });
 * console.log(sent.map(([, update]) => update)); // [false, true]
 * ```
 */
export class LiveDisplay {
  #shown = false;

  /**
   * @param id The Jupyter display id; random when omitted.
   * @param sink Where bundles go; the kernel by default.
   */
  constructor(
    readonly id: string = `blt-live-${crypto.randomUUID()}`,
    private readonly sink: DisplaySink = defaultSink,
  ) {}

  /** Displays the bundle the first time, then replaces the same output. */
  async show(bundle: MimeBundle): Promise<void> {
    await this.sink(bundle, { display_id: this.id, update: this.#shown });
    this.#shown = true;
  }
}

/** Options of {@link displayPlotly}, {@link displaySvg} and {@link displayHtml}. */
export interface DisplayOptions {
  /** Update this live display instead of adding a new output. */
  readonly live?: LiveDisplay;
  /** Where a non-live bundle goes; the kernel by default. */
  readonly sink?: DisplaySink;
  /** Plotly config (plotly figures only); see {@link PlotlyBundleOptions.config}. */
  readonly config?: PlotlyObject;
}

/**
 * Which output carries the inlined plotly.js in this kernel session. A live display that
 * carries it keeps carrying it on every update, or its replacement would drop the loader
 * that the later figures of the exported HTML page rely on.
 */
let plotlyJsCarrier: string | undefined;

/**
 * Forgets which output carries plotly.js, so the next figure inlines it again. Call it after
 * clearing the output of the notebook's first figure; a kernel restart does it by itself.
 *
 * @example
 * ```ts
 * import { resetPlotlyLoader } from "./display.ts";
 * resetPlotlyLoader();
 * ```
 */
export function resetPlotlyLoader(): void {
  plotlyJsCarrier = undefined;
}

/**
 * Displays a plotly figure (see the module doc for its three views); await it.
 *
 * @example
 * ```ts
 * import { displayPlotly } from "./display.ts";
 * await displayPlotly({ data: [{ type: "bar", y: [1, 2] }], layout: {} }); // prints: Plotly figure: 1 trace (bar)
 * ```
 */
export async function displayPlotly(
  figure: PlotlyFigure,
  options: DisplayOptions = {},
): Promise<void> {
  const target = options.live?.id ?? `static-${crypto.randomUUID()}`;
  plotlyJsCarrier ??= target;
  const plotlyJs = plotlyJsCarrier === target ? await loadPlotlyJs() : undefined;
  await send(plotlyMimeBundle(figure, { plotlyJs, config: options.config }), options);
}

/**
 * Displays an SVG drawing; await it.
 *
 * @example
 * ```ts
 * import { displaySvg } from "./display.ts";
 * await displaySvg('<svg width="2" height="2"><circle r="1" cx="1" cy="1"/></svg>', "a dot"); // prints: a dot
 * ```
 */
export async function displaySvg(
  svg: string,
  alt?: string,
  options: DisplayOptions = {},
): Promise<void> {
  await send(svgMimeBundle(svg, alt), options);
}

/**
 * Displays an HTML fragment (with a one-line text view); pass `live` to update it in place.
 *
 * @example
 * ```ts
 * import { displayHtml } from "./display.ts";
 * await displayHtml("<i>done</i>", "done"); // prints: done
 * ```
 */
export async function displayHtml(
  html: string,
  plain: string,
  options: DisplayOptions = {},
): Promise<void> {
  await send(htmlMimeBundle(html, plain), options);
}

/** Shows a bundle in the live display when given one, else as a new output. */
async function send(bundle: MimeBundle, options: DisplayOptions): Promise<void> {
  if (options.live !== undefined) await options.live.show(bundle);
  else await (options.sink ?? defaultSink)(bundle, {});
}

/**
 * True inside the Deno Jupyter kernel (elsewhere `Deno.jupyter` throws on access).
 *
 * @example
 * ```ts
 * import { inJupyter } from "./display.ts";
 * console.log(inJupyter()); // false under deno test
 * ```
 */
export function inJupyter(): boolean {
  try {
    return typeof Deno.jupyter?.display === "function";
  } catch {
    return false;
  }
}

/** One line saying what a figure shows, for terminals and screen readers. */
function describeFigure(figure: PlotlyFigure): string {
  const title = figure.layout?.title;
  const text = typeof title === "string" ? title : (title as { text?: unknown } | undefined)?.text;
  const types = [...new Set(figure.data.map((t) => String(t.type ?? "scatter")))];
  const n = figure.data.length;
  const named = typeof text === "string" && text !== "" ? ` "${text}"` : "";
  return `Plotly figure${named}: ${n} trace${n === 1 ? "" : "s"} (${types.join(", ")})`;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}
