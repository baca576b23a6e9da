/**
 * Jupyter display for the Deno kernel: sends the bundles of mime.ts to the kernel (or prints
 * their `text/plain` view outside it, so scripts and tests can run notebook code), keeps one
 * output updating in place (`display_id`), and inlines plotly.js once per notebook for the
 * exported HTML, because our machines are offline (no CDN).
 *
 * @example
 * ```ts
 * import { displayPlotly } from "./display.ts";
 * await displayPlotly({ data: [{ type: "bar", y: [1, 2] }], layout: {} }); // prints: Plotly figure: 1 trace (bar)
 * ```
 * @module
 */
import type { PlotlyFigure, PlotlyObject } from "./figure.ts";
import { htmlMimeBundle, type MimeBundle, plotlyMimeBundle, svgMimeBundle } from "./mime.ts";

/** Where bundles go: `Deno.jupyter.display`'s signature with `raw: true` implied. */
export type DisplaySink = (
  bundle: MimeBundle,
  options: { readonly display_id?: string; readonly update?: boolean },
) => Promise<void>;

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
 * import { LiveDisplay } from "./display.ts";
 * import type { MimeBundle } from "./mime.ts";
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
