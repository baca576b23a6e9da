/// <reference lib="dom" />
/**
 * A headless SVG canvas for d3: linkedom supplies the DOM that d3 needs outside a browser, and
 * the drawing is returned as a standalone SVG string (with its XML namespace, so it renders as
 * `image/svg+xml` in Jupyter and parses back with a DOMParser).
 *
 * @module
 */
import { d3 } from "./d3.ts";
import { parseHTML } from "linkedom";

/** A d3 selection of the root `<svg>` element of a headless drawing. */
export type SvgRoot = d3.Selection<SVGSVGElement, unknown, null, undefined>;

/**
 * Creates an empty `<svg>` of the given size inside a fresh linkedom document and returns it as
 * a d3 selection; draw into it, then call {@link svgString}.
 *
 * @example
 * ```ts
 * import { createSvg, svgString } from "./svg.ts";
 * const svg = createSvg(100, 40);
 * svg.append("rect").attr("width", 10).attr("height", 10);
 * svgString(svg).startsWith("<svg");
 * ```
 */
export function createSvg(width: number, height: number): SvgRoot {
  if (!(width > 0) || !(height > 0)) {
    throw new Error(`SVG size must be positive, found ${width}×${height}`);
  }
  const { document } = parseHTML("<!doctype html><html><body></body></html>");
  // linkedom's element types are its own; at runtime they are the DOM nodes d3 expects.
  const svg = document.createElementNS(
    "http://www.w3.org/2000/svg",
    "svg",
  ) as unknown as SVGSVGElement;
  document.body.appendChild(svg as unknown as Node);
  return d3.select(svg)
    .attr("xmlns", "http://www.w3.org/2000/svg")
    .attr("width", width)
    .attr("height", height)
    .attr("viewBox", `0 0 ${width} ${height}`)
    .attr("font-family", "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', sans-serif");
}

/**
 * Serializes a headless drawing to a standalone SVG string.
 *
 * @example
 * ```ts
 * import { createSvg, svgString } from "./svg.ts";
 * svgString(createSvg(10, 10)).includes('xmlns="http://www.w3.org/2000/svg"');
 * ```
 */
export function svgString(svg: SvgRoot): string {
  return (svg.node() as SVGSVGElement).outerHTML;
}
