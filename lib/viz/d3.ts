/**
 * d3 with its types. The npm `d3` package ships no TypeScript types, so they come from
 * DefinitelyTyped (`@types/d3`, matching d3 7.9), and those describe DOM nodes, hence the `dom`
 * lib. Drawing happens on linkedom's DOM (see `svg.ts`), which implements the same interfaces.
 * Every viz file imports d3 from here so the types are declared once.
 *
 * @example
 * ```ts
 * import { d3 } from "./d3.ts";
 * d3.scaleLinear().domain([0, 1]).range([0, 100])(0.5); // 50
 * ```
 *
 * @module
 */
/// <reference lib="dom" />
// @ts-types="npm:@types/d3@7.4.3"
import * as d3 from "d3";

export { d3 };
