/**
 * Jupyter MIME bundles for the Deno kernel's display, built by pure functions (testable without
 * Jupyter). A plotly figure gets three views, because each frontend reads a different one:
 * `application/vnd.plotly.v1+json` for JupyterLab (rendered by the Python `plotly` package's
 * extension), `text/html` for nbconvert's HTML export (a div plus a script that draws with
 * plotly.js, see display_html.ts) and `text/plain` for terminals.
 *
 * @example
 * ```ts
 * import { plotlyMimeBundle } from "./mime.ts";
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
  /** plotly.js source to inline in the HTML view (once per document: display.ts decides). */
  readonly plotlyJs?: string;
  /** Plotly config, e.g. `{ displayModeBar: false }`; `{ responsive: true }` when omitted. */
  readonly config?: PlotlyObject;
}

/** The default height of the HTML view when the layout gives none (plotly's own default). */
const DEFAULT_HEIGHT_PX = 450;

/**
 * Builds the MIME bundle of a plotly figure. Pure: same figure and options, same bundle.
 *
 * @example
 * ```ts
 * import { plotlyMimeBundle } from "./mime.ts";
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
      "plotlyMimeBundle: expected a figure { data: [...traces], layout }, " +
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
 * import { svgMimeBundle } from "./mime.ts";
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
 * import { htmlMimeBundle } from "./mime.ts";
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
