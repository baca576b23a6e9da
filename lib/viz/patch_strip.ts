/**
 * The text as a strip of boxes, one colour per patch: how BLT's patcher cut a text (paper
 * Fig. 3/4 style). Works for any script: characters are shaped by the browser inside each box
 * (CJK, emoji sequences, combining marks, Arabic joining), right-to-left text is laid out from
 * the right, and bytes that are not whole characters within their patch show as hex.
 *
 * @module
 */
/// <reference lib="dom" />
import { OFFSET } from "../bytes/mod.ts";
import { type ByteUnit, byteUnits, SPECIAL_LABELS } from "./byte_units.ts";
import { d3 } from "./d3.ts";
import { createSvg, svgString } from "./svg.ts";
import { assertPatchLengths } from "./validate.ts";

/** Options of {@link patchStripSvg}. */
export interface PatchStripOptions {
  /** Width of the drawing in px; lines wrap to fit (default 760). */
  readonly width?: number;
  /** Font size in px (default 16). */
  readonly fontSize?: number;
  /** Extra caption line, e.g. "entropy patching, θ = 1.335". */
  readonly caption?: string;
  /** Box order: left to right, right to left, or decided by the text's script (default). */
  readonly direction?: "ltr" | "rtl" | "auto";
}

/** One patch's part on one line of the strip. */
interface Piece {
  readonly patch: number;
  readonly units: ByteUnit[];
  readonly line: number;
  readonly x: number;
  readonly w: number;
}

const PAD = 3; // px of box padding on each side of the text
const GAP = 3; // px between boxes
const MARGIN = 8;

/**
 * Draws the patches of a byte sequence as coloured boxes, one `<g class="patch">` per patch
 * (a patch that wraps across lines has several `<rect>`s), with a caption and a legend.
 *
 * @example
 * ```ts
 * import { encode } from "../bytes/mod.ts";
 * import { patchStripSvg } from "./patch_strip.ts";
 * const ids = encode("Hello, 世界!"); // BOS + 14 bytes + EOS
 * const svg = patchStripSvg(ids, [1, 5, 2, 3, 3, 1, 1]);
 * svg.split('class="patch"').length - 1; // 7
 * ```
 */
export function patchStripSvg(
  ids: ArrayLike<number>,
  patchLengths: ArrayLike<number>,
  options: PatchStripOptions = {},
): string {
  assertPatchLengths("patchLengths", patchLengths, ids.length, "ids");
  const width = options.width ?? 760;
  const fontSize = options.fontSize ?? 16;
  if (!(width >= 100) || !(fontSize > 0)) {
    throw new Error(
      `options.width must be ≥ 100 and options.fontSize > 0, found ${width} and ${fontSize}`,
    );
  }
  const patches = splitPatches(ids, patchLengths);
  const unitWidth = 0.6 * fontSize; // one monospace cell
  const pieces = layout(patches, (text) => cells(text) * unitWidth, width - 2 * MARGIN);
  const rtl = options.direction === "rtl" ||
    (options.direction !== "ltr" && isMostlyRtl(patches.flat()));
  const lineHeight = Math.round(fontSize * 1.7);
  const lines = pieces.length === 0 ? 0 : pieces[pieces.length - 1].line + 1;
  const stripHeight = lines * (lineHeight + GAP);
  const svg = createSvg(width, MARGIN + stripHeight + 2 * fontSize + 12);
  const colour = d3.scaleOrdinal<number, string>(d3.schemeSet3);
  const strip = svg.append("g").attr("class", "strip")
    .attr("font-family", "ui-monospace, 'DejaVu Sans Mono', 'Noto Sans Mono', monospace")
    .attr("font-size", fontSize);

  patches.forEach((units, p) => {
    const g = strip.append("g").attr("class", "patch").attr("data-patch", p);
    const start = units[0].start;
    const bytes = units.reduce((n, u) => n + u.length, 0);
    const hex = Array.from({ length: bytes }, (_, j) => hexByte(ids[start + j])).join(" ");
    g.append("title").text(
      `patch ${p} · ${bytes} byte${bytes === 1 ? "" : "s"} (positions ${start}–${
        start + bytes - 1
      })\n${hex}`,
    );
    for (const piece of pieces.filter((q) => q.patch === p)) {
      const x = MARGIN + (rtl ? width - 2 * MARGIN - piece.x - piece.w : piece.x);
      const y = MARGIN + piece.line * (lineHeight + GAP);
      g.append("rect").attr("x", x).attr("y", y).attr("width", piece.w).attr("height", lineHeight)
        .attr("rx", 3).attr("fill", colour(p % 12)).attr("stroke", "#6b7280")
        .attr("stroke-width", 0.5);
      const text = g.append("text")
        .attr("x", x + piece.w / 2).attr("y", y + lineHeight / 2)
        .attr("dominant-baseline", "central").attr("text-anchor", "middle")
        .attr("direction", rtl ? "rtl" : "ltr")
        // Our widths are estimates (no font metrics headless); make the glyphs fit the box.
        .attr("textLength", piece.w - 2 * PAD).attr("lengthAdjust", "spacingAndGlyphs");
      for (const run of runs(piece.units)) {
        text.append("tspan").attr("class", run.kind)
          .attr("fill", run.kind === "byte" ? "#b91c1c" : run.kind === "special" ? "#6b7280" : null)
          .text(run.text);
      }
    }
  });

  const meanSize = ids.length / patchLengths.length;
  const captionY = MARGIN + stripHeight + fontSize;
  svg.append("text").attr("class", "caption").attr("x", MARGIN).attr("y", captionY)
    .attr("font-size", 13)
    .text(
      `${patchLengths.length} patches · ${ids.length} bytes · mean ${
        meanSize.toFixed(2)
      } bytes/patch` +
        (options.caption ? ` · ${options.caption}` : ""),
    );
  const legend = svg.append("text").attr("class", "legend").attr("x", MARGIN)
    .attr("y", captionY + 18).attr("font-size", 12).attr("fill", "#374151");
  legend.append("tspan").text("one colour per patch · ␣ space · ");
  legend.append("tspan").attr("fill", "#b91c1c").text("xE6");
  legend.append("tspan").text(" a byte that is not a whole UTF-8 character inside its patch");
  return svgString(svg);
}

/** The display units of each patch. */
function splitPatches(ids: ArrayLike<number>, patchLengths: ArrayLike<number>): ByteUnit[][] {
  const patches: ByteUnit[][] = [];
  for (let p = 0, pos = 0; p < patchLengths.length; pos += patchLengths[p], p++) {
    patches.push(byteUnits(ids, pos, pos + patchLengths[p]));
  }
  return patches;
}

/**
 * Flows patches into lines of at most `maxWidth` px: a patch that does not fit on the current
 * line moves to the next; a patch wider than a whole line is split between units; a newline
 * byte ends its line.
 */
function layout(
  patches: ByteUnit[][],
  measure: (text: string) => number,
  maxWidth: number,
): Piece[] {
  const pieces: Piece[] = [];
  let line = 0;
  let x = 0;
  const boxWidth = (units: ByteUnit[]) =>
    2 * PAD + measure(runs(units).map((r) => r.text).join(""));
  patches.forEach((units, patch) => {
    if (x > 0 && x + boxWidth(units) > maxWidth && boxWidth(units) <= maxWidth) {
      line++;
      x = 0;
    }
    let current: ByteUnit[] = [];
    const flush = () => {
      if (current.length === 0) return;
      const w = boxWidth(current);
      pieces.push({ patch, units: current, line, x, w });
      x += w + GAP;
      current = [];
    };
    for (const unit of units) {
      if (current.length > 0 && x + boxWidth([...current, unit]) > maxWidth) {
        flush();
        line++;
        x = 0;
      }
      current.push(unit);
      if (unit.kind === "char" && unit.length === 1 && unit.text === "␊") {
        flush();
        line++;
        x = 0;
      }
    }
    flush();
  });
  return pieces;
}

/**
 * Consecutive characters joined so the browser shapes them as one string; hex bytes stay
 * separate runs, with a thin space between neighbours so "xE6 x97" does not read as one token.
 */
function runs(units: ByteUnit[]): { kind: ByteUnit["kind"]; text: string }[] {
  const out: { kind: ByteUnit["kind"]; text: string }[] = [];
  for (const u of units) {
    const last = out[out.length - 1];
    if (last && last.kind === "char" && u.kind === "char") last.text += u.text;
    else if (last && last.kind === "byte" && u.kind === "byte") {
      out.push({ kind: u.kind, text: `\u2009${u.text}` });
    } else out.push({ kind: u.kind, text: u.text });
  }
  return out;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const ZERO_WIDTH = /[\p{M}\u200B-\u200F\uFE00-\uFE0F]/u;
const WIDE =
  /[\p{Extended_Pictographic}\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{20000}-\u{3FFFD}]/u;

/**
 * Monospace cells a string takes: 2 per wide grapheme (CJK, Hangul, emoji), 1 otherwise; a
 * grapheme's combining marks, joiners and variation selectors add nothing.
 */
function cells(text: string): number {
  let n = 0;
  for (const { segment } of segmenter.segment(text)) {
    const points = [...segment];
    if (points.some((c) => WIDE.test(c) && !ZERO_WIDTH.test(c))) n += 2;
    else n += 1;
  }
  return n;
}

const RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF\u{10800}-\u{10FFF}\u{1E800}-\u{1EFFF}]/u;
const LETTER = /\p{L}/u;

/** Whether most letters of the text belong to right-to-left scripts (Hebrew, Arabic, …). */
function isMostlyRtl(units: ByteUnit[]): boolean {
  const text = units.filter((u) => u.kind === "char").map((u) => u.text).join("");
  const letters = [...text].filter((c) => LETTER.test(c));
  const rtl = letters.filter((c) => RTL.test(c)).length;
  return rtl > letters.length - rtl;
}

function hexByte(id: number): string {
  return id < OFFSET
    ? SPECIAL_LABELS[id]
    : (id - OFFSET).toString(16).toUpperCase().padStart(2, "0");
}
