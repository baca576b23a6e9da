/**
 * The plain-data figure types the builders in `lib/viz` return. A plotly figure here is only
 * JSON (no functions, no DOM), so it can be tested, stored, sent as the
 * `application/vnd.plotly.v1+json` MIME bundle, or rendered by plotly.js unchanged.
 *
 * @module
 */

/** A JSON-able object: what plotly traces and layouts are made of. */
export type PlotlyObject = { readonly [key: string]: unknown };

/**
 * A plotly figure spec: `data` (one object per trace) and `layout`.
 *
 * @example
 * ```ts
 * import type { PlotlyFigure } from "./figure.ts";
 * const fig: PlotlyFigure = { data: [{ type: "bar", x: ["a"], y: [1] }], layout: {} };
 * JSON.stringify(fig);
 * ```
 */
export interface PlotlyFigure {
  readonly data: readonly PlotlyObject[];
  readonly layout: PlotlyObject;
}
