/**
 * The `<script>` snippets of a plotly figure's `text/html` view (see display.ts), written for
 * nbconvert's HTML pages: they run in document order while the page is parsed, next to the
 * require.js that nbconvert's lab template loads.
 *
 * @example
 * ```ts
 * import { plotlyRenderScript } from "./display_html.ts";
 * console.log(plotlyRenderScript("fig", { data: [] }).startsWith("<script>")); // true
 * ```
 * @module
 */

/**
 * Wraps plotly.js so that it defines `window.Plotly` once per page, even when require.js is
 * present: plotly's UMD header registers an anonymous AMD module whenever a global `define`
 * exists (and then never sets `window.Plotly`), so the bundle runs in a function whose
 * parameters `define`, `module` and `exports` shadow the globals with `undefined`.
 *
 * @example
 * ```ts
 * import { plotlyLoaderScript } from "./display_html.ts";
 * const html = plotlyLoaderScript("self.Plotly = {};");
 * console.log(html.includes("if (!window.Plotly)")); // true
 * ```
 */
export function plotlyLoaderScript(plotlyJs: string): string {
  return [
    "<script>",
    "if (!window.Plotly) {",
    "(function (define, module, exports) {",
    escapeScript(plotlyJs),
    "})();",
    "}",
    "</script>",
  ].join("\n");
}

/**
 * Draws the figure into the div `divId` with the page's `window.Plotly`; when plotly.js is
 * missing it writes that into the div (marked `data-blt-error`) instead of failing silently.
 *
 * @example
 * ```ts
 * import { plotlyRenderScript } from "./display_html.ts";
 * const html = plotlyRenderScript("fig", { data: [{ y: [1] }], layout: {}, config: {} });
 * console.log(html.includes('"fig"')); // true
 * ```
 */
export function plotlyRenderScript(divId: string, spec: object): string {
  return [
    "<script>",
    "(function () {",
    `  var el = document.getElementById(${scriptJson(divId)});`,
    `  var fig = ${scriptJson(spec)};`,
    "  if (!el) return;",
    "  if (window.Plotly) {",
    "    window.Plotly.newPlot(el, fig.data, fig.layout, fig.config);",
    "  } else {",
    '    el.setAttribute("data-blt-error", "plotly.js missing");',
    '    el.textContent = "plotly.js is not loaded on this page: the output that inlines it " +',
    '      "(the first plotly figure of the notebook) is missing. Re-run the notebook.";',
    "  }",
    "})();",
    "</script>",
  ].join("\n");
}

/** JSON that is also safe inside a `<script>` element (no `</script>` or `<!--` can form). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/**
 * Keeps an inlined library from closing its `<script>` early. plotly.js 2.35.2 contains no
 * `</script`; the guard keeps a future pinned version from breaking pages silently.
 */
function escapeScript(js: string): string {
  return js.replace(/<\/script/gi, "<\\/script");
}
