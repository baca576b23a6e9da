/**
 * A teaching diagram of a BLT config (paper Fig. 2): bytes enter at the bottom, the hash n-gram
 * embeddings join the byte embedding in the local encoder, the entropy model decides patch
 * boundaries, cross-attention pools bytes into patches for the latent global transformer, and
 * the local decoder cross-attends back from bytes to patches to predict the next byte. Every
 * block states its widths, depth, heads and exact parameter count (from `parameter_counts.ts`).
 *
 * @module
 */
/// <reference lib="dom" />
import type { BltConfig, TransformerConfig } from "../config.ts";
import { type BltParameterCounts, bltParameterCounts } from "./parameter_counts.ts";
import { createSvg, type SvgRoot, svgString } from "./svg.ts";

const WIDTH = 780;
const HEIGHT = 660;
const CENTER = 400;

/** A box of the diagram, in SVG coordinates (x, y = top-left). */
interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/**
 * Draws the architecture of `cfg` as a standalone SVG string. Blocks are `<g class="block
 * block-…">` (hash, encoder, entropy, global, decoder, plus input and output), arrows are
 * `<g class="arrow arrow-…">`; each block's `<title>` holds its parameter breakdown.
 *
 * @example
 * ```ts
 * import { PRESETS } from "../config.ts";
 * import { architectureSvg } from "./architecture.ts";
 * const svg = architectureSvg(PRESETS.tiny);
 * svg.includes("Latent global transformer"); // true
 * ```
 */
export function architectureSvg(cfg: BltConfig): string {
  const counts = bltParameterCounts(cfg);
  const svg = createSvg(WIDTH, HEIGHT);
  defineArrowHead(svg);
  const maxDim = Math.max(cfg.encoder.dim, cfg.global.dim);
  // Box width grows with the hidden width so h_G ≫ h_E is visible at a glance.
  const widthOf = (dim: number) => 230 + 260 * (dim / maxDim);
  const centered = (dim: number, y: number, h: number): Box => {
    const w = widthOf(dim);
    return { x: CENTER - w / 2, y, w, h };
  };

  const output = { x: CENTER - 120, y: 40, w: 240, h: 34 };
  const decoder = centered(cfg.decoder.dim, 110, 70);
  const global = centered(cfg.global.dim, 250, 76);
  const encoder = centered(cfg.encoder.dim, 400, 70);
  const hash = { x: 14, y: 505, w: 236, h: 62 };
  const entropy = { x: WIDTH - 250, y: 505, w: 236, h: 62 };
  const input = { x: CENTER - 110, y: 590, w: 220, h: 34 };

  block(svg, "output", output, "#f3f4f6", [`next-byte logits [B, T, ${cfg.vocabSize}]`], []);
  block(svg, "decoder", decoder, "#dbeafe", [
    "Local decoder",
    `${stackLine("h_D", cfg.decoder)}`,
    `cross-attn ${crossAttnWhere(cfg.decoder.crossAttnAllLayers)} · ${
      compact(counts.decoder.total)
    } params`,
  ], decoderBreakdown(counts));
  block(svg, "global", global, "#fde68a", [
    "Latent global transformer",
    stackLine("h_G", cfg.global),
    `over patches, causal · ${compact(counts.global.total)} params`,
  ], globalBreakdown(counts));
  block(svg, "encoder", encoder, "#dbeafe", [
    "Local encoder",
    stackLine("h_E", cfg.encoder),
    `cross-attn ${crossAttnWhere(cfg.encoder.crossAttnAllLayers)} · ${
      compact(counts.encoder.total)
    } params`,
  ], encoderBreakdown(counts));
  const sizes = cfg.hash.sizes;
  const rows = cfg.hash.functions * sizes.length * cfg.hash.buckets;
  block(svg, "hash", hash, "#dcfce7", [
    "Hash n-gram embeddings",
    `n = ${sizes.join(", ")} · ${cfg.hash.functions} hash fn`,
    `${exact(rows)} rows × h_E · ${compact(counts.hashEmbeddings)} params`,
  ], [`hash n-gram embeddings: ${exact(counts.hashEmbeddings)}`]);
  block(svg, "entropy", entropy, "#fce7f3", entropyLines(cfg, counts), [
    `entropy model: ${exact(counts.entropyModel)}`,
  ]);
  block(svg, "input", input, "#f3f4f6", ["bytes [B, T] (ids, vocab 260)"], []);

  const top = (b: Box) => ({ x: b.x + b.w / 2, y: b.y });
  const bottom = (b: Box) => ({ x: b.x + b.w / 2, y: b.y + b.h });
  arrow(svg, "embedding", top(input), bottom(encoder), "byte embedding", "left");
  arrow(svg, "hash", { x: hash.x + hash.w / 2, y: hash.y }, {
    x: encoder.x + 30,
    y: encoder.y + encoder.h,
  }, "+ Σ n-gram embeddings");
  arrow(svg, "entropy-input", { x: input.x + input.w, y: input.y + 17 }, {
    x: entropy.x + entropy.w / 2,
    y: entropy.y + entropy.h,
  }, "");
  arrow(svg, "patches", { x: entropy.x + entropy.w / 2, y: entropy.y }, {
    x: encoder.x + encoder.w - 30,
    y: encoder.y + encoder.h,
  }, "patch boundaries");
  const k = cfg.crossAttnK;
  const projection = counts.global.inputProjection > 0 ? ` → h_G=${cfg.global.dim}` : "";
  arrow(
    svg,
    "pooling",
    top(encoder),
    bottom(global),
    `cross-attn pooling: ${k} queries/patch → ${k}·h_E = ${k * cfg.encoder.dim}${projection}`,
  );
  arrow(
    svg,
    "cross-attention",
    top(global),
    bottom(decoder),
    `cross-attn: bytes query patches (h_G → ${k}·h_D)`,
  );
  const side = Math.min(encoder.x, decoder.x, global.x) - 28;
  path(
    svg,
    "byte-states",
    [
      { x: encoder.x, y: encoder.y + encoder.h / 2 },
      { x: side, y: encoder.y + encoder.h / 2 },
      { x: side, y: decoder.y + decoder.h / 2 },
      { x: decoder.x, y: decoder.y + decoder.h / 2 },
    ],
    "byte states",
    { x: side - 6, y: global.y + global.h / 2 },
    "end",
  );
  arrow(svg, "logits", top(decoder), bottom(output), `LM head (h_D × ${cfg.vocabSize})`);

  svg.append("text").attr("class", "caption")
    .attr("x", CENTER).attr("y", HEIGHT - 12).attr("text-anchor", "middle").attr("font-size", 13)
    .text(
      `BLT: ${exact(counts.total)} parameters` +
        (counts.entropyModel > 0 ? ` (+ ${exact(counts.entropyModel)} entropy model)` : "") +
        ` · k = ${k} · patching: ${cfg.patching.mode}`,
    );
  return svgString(svg);
}

function stackLine(width: string, s: TransformerConfig): string {
  const layers = `${s.layers} layer${s.layers === 1 ? "" : "s"}`;
  return `${width}=${s.dim} · ${layers} · ${s.heads} heads · FFN ${s.ffnDim}`;
}

function crossAttnWhere(allLayers: boolean): string {
  return allLayers ? "in every layer" : "once";
}

function entropyLines(cfg: BltConfig, counts: BltParameterCounts): string[] {
  const p = cfg.patching;
  const rule = p.mode !== "entropy"
    ? `${p.mode} patching${p.mode === "static" ? ` (${p.patchSize} bytes)` : ""}`
    : p.relativeThreshold === null
    ? `new patch where H > θ = ${p.threshold.toFixed(3)}`
    : `new patch where ΔH > θ_r = ${p.relativeThreshold.toFixed(3)}`;
  const em = cfg.entropyModel;
  if (em === null) return ["Patcher (no entropy model)", rule, "patch lengths given or rule-based"];
  return [
    "Entropy model (byte LM)",
    `h=${em.dim} · ${em.layers} layers · ${compact(counts.entropyModel)} params`,
    rule,
  ];
}

function encoderBreakdown(c: BltParameterCounts): string[] {
  return [
    `local encoder: ${exact(c.encoder.total)}`,
    `  byte embedding ${exact(c.encoder.byteEmbedding)}`,
    `  layers ${exact(c.encoder.layers)}`,
    `  cross-attention ${exact(c.encoder.crossAttention)}`,
    `  patch projection ${exact(c.encoder.patchProjection)}`,
  ];
}

function globalBreakdown(c: BltParameterCounts): string[] {
  return [
    `latent global transformer: ${exact(c.global.total)}`,
    `  layers ${exact(c.global.layers)}`,
    `  input projection ${exact(c.global.inputProjection)}`,
  ];
}

function decoderBreakdown(c: BltParameterCounts): string[] {
  return [
    `local decoder: ${exact(c.decoder.total)}`,
    `  layers ${exact(c.decoder.layers)}`,
    `  cross-attention ${exact(c.decoder.crossAttention)}`,
    `  patch projection ${exact(c.decoder.patchProjection)}`,
    `  final norm ${exact(c.decoder.norm)}`,
    `  LM head ${exact(c.decoder.lmHead)}`,
  ];
}

function block(
  svg: SvgRoot,
  name: string,
  box: Box,
  fill: string,
  lines: readonly string[],
  breakdown: readonly string[],
): void {
  const g = svg.append("g").attr("class", `block block-${name}`);
  g.append("title").text(breakdown.length > 0 ? breakdown.join("\n") : lines.join("\n"));
  g.append("rect")
    .attr("x", box.x).attr("y", box.y).attr("width", box.w).attr("height", box.h)
    .attr("rx", 8).attr("fill", fill).attr("stroke", "#374151");
  const lineHeight = 18;
  const firstY = box.y + box.h / 2 - ((lines.length - 1) * lineHeight) / 2 + 4;
  lines.forEach((line, i) => {
    g.append("text")
      .attr("x", box.x + box.w / 2).attr("y", firstY + i * lineHeight)
      .attr("text-anchor", "middle")
      .attr("font-size", i === 0 && lines.length > 1 ? 14 : 12)
      .attr("font-weight", i === 0 && lines.length > 1 ? 600 : null)
      .text(line);
  });
}

function defineArrowHead(svg: SvgRoot): void {
  svg.append("defs").append("marker")
    .attr("id", "blt-arch-arrow")
    .attr("viewBox", "0 0 10 10").attr("refX", 9).attr("refY", 5)
    .attr("markerWidth", 7).attr("markerHeight", 7).attr("orient", "auto-start-reverse")
    .append("path").attr("d", "M0,0L10,5L0,10z").attr("fill", "#374151");
}

interface Point {
  readonly x: number;
  readonly y: number;
}

function arrow(
  svg: SvgRoot,
  name: string,
  from: Point,
  to: Point,
  label: string,
  side: "left" | "right" = "right",
): void {
  const at = { x: (from.x + to.x) / 2 + (side === "right" ? 8 : -8), y: (from.y + to.y) / 2 + 4 };
  path(svg, name, [from, to], label, at, side === "right" ? "start" : "end");
}

function path(
  svg: SvgRoot,
  name: string,
  points: readonly Point[],
  label: string,
  at: Point,
  anchor: "start" | "end",
): void {
  const g = svg.append("g").attr("class", `arrow arrow-${name}`);
  g.append("path")
    .attr("d", points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x},${p.y}`).join(""))
    .attr("fill", "none").attr("stroke", "#374151").attr("stroke-width", 1.5)
    .attr("marker-end", "url(#blt-arch-arrow)");
  if (label !== "") {
    g.append("text").attr("x", at.x).attr("y", at.y).attr("font-size", 11).attr("fill", "#1f2937")
      .attr("text-anchor", anchor).text(label);
  }
}

/** 1.23M, 45.6k: for box labels. */
function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** 1,221,632: exact counts for captions and tooltips. */
function exact(n: number): string {
  return n.toLocaleString("en-US");
}
