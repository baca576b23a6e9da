/**
 * Entropy per byte, the picture that explains BLT's dynamic patching (paper Fig. 4): the small
 * byte LM's next-byte entropy drawn over the bytes of a text, the threshold that starts new
 * patches, and where patches actually start. Global mode draws θ as a horizontal line;
 * approximate-monotonic mode marks the bytes whose entropy jump exceeds θ_r (§ 2.3).
 *
 * @module
 */
import { byteGlyphs, OFFSET } from "../bytes/mod.ts";
import { SPECIAL_LABELS } from "./byte_units.ts";
import type { PlotlyFigure, PlotlyObject } from "./figure.ts";
import { assertFinite, assertPatchLengths, assertSameLength } from "./validate.ts";

/** How the threshold was applied: one global θ, or θ_r on entropy increases. */
export type EntropyPlotMode = "global" | "monotonic";

/** What {@link entropyPlot} draws. */
export interface EntropyPlotInput {
  /** Codec byte ids `[T]` (BOS=1, EOS=2, bytes + 4). */
  readonly ids: ArrayLike<number>;
  /** Entropy per position `[T]`, in nats. */
  readonly entropies: ArrayLike<number>;
  /** Patch lengths `[P]`, summing to T. */
  readonly patchLengths: ArrayLike<number>;
  /** θ (global mode) or θ_r (monotonic mode), in nats. */
  readonly threshold: number;
  /** Which rule `threshold` belongs to. */
  readonly mode: EntropyPlotMode;
  /** Figure title. */
  readonly title?: string;
}

/**
 * One x-axis label per byte: printable glyphs, a multi-byte UTF-8 character on its first byte
 * (continuation bytes get "·"), hex for bytes of broken sequences, specials as `<bos>`/`<eos>`.
 *
 * @example
 * ```ts
 * import { encode } from "../bytes/mod.ts";
 * import { entropyPlotLabels } from "./entropy_plot.ts";
 * entropyPlotLabels(encode("é!")); // ["<bos>", "é", "·", "!", "<eos>"]
 * ```
 */
export function entropyPlotLabels(ids: ArrayLike<number>): string[] {
  return byteGlyphs(ids).map((label, i) => SPECIAL_LABELS[ids[i]] ?? label);
}

/**
 * Positions where approximate-monotonic patching sees an entropy jump: H[i−1] − H[i−2] > θ_r.
 *
 * @example
 * ```ts
 * import { monotonicJumps } from "./entropy_plot.ts";
 * monotonicJumps([0.1, 0.2, 2.0, 1.0, 0.5], 1); // [3]
 * ```
 */
export function monotonicJumps(entropies: ArrayLike<number>, thresholdR: number): number[] {
  const jumps: number[] = [];
  for (let i = 2; i < entropies.length; i++) {
    if (entropies[i - 1] - entropies[i - 2] > thresholdR) jumps.push(i);
  }
  return jumps;
}

/**
 * Builds the entropy-per-byte figure (plotly): the entropy line (hover: byte, entropy, patch),
 * the threshold (θ line or θ_r markers), patch-start markers, and one vertical line per patch
 * start in `layout.shapes`.
 *
 * @example
 * ```ts
 * import { encode } from "../bytes/mod.ts";
 * import { entropyPlot } from "./entropy_plot.ts";
 * const ids = encode("a cat"); // 7 ids with BOS/EOS
 * const fig = entropyPlot({
 *   ids,
 *   entropies: [3.1, 2.0, 1.2, 2.6, 0.9, 0.4, 1.5],
 *   patchLengths: [1, 2, 4],
 *   threshold: 1.5,
 *   mode: "global",
 * });
 * fig.data.length; // 3: entropy, θ, patch starts
 * ```
 */
export function entropyPlot(input: EntropyPlotInput): PlotlyFigure {
  const { ids, entropies, patchLengths, threshold, mode } = input;
  assertSameLength("ids", ids, "entropies", entropies);
  assertFinite("entropies", entropies);
  assertPatchLengths("patchLengths", patchLengths, ids.length, "ids");
  if (!Number.isFinite(threshold)) {
    throw new Error(`threshold must be a finite number (nats), found ${String(threshold)}`);
  }
  if (mode !== "global" && mode !== "monotonic") {
    throw new Error(`mode must be "global" or "monotonic", found ${JSON.stringify(mode)}`);
  }
  const labels = entropyPlotLabels(ids);
  const T = ids.length;
  const x = Array.from({ length: T }, (_, i) => i);
  const y = Array.from(entropies);
  const starts: number[] = [];
  const patchOf: number[] = []; // [T]: index of the patch each byte belongs to
  for (let p = 0, pos = 0; p < patchLengths.length; pos += patchLengths[p], p++) {
    starts.push(pos);
    for (let j = 0; j < patchLengths[p]; j++) patchOf.push(p);
  }
  const hex = Array.from(
    ids,
    (id) =>
      id < OFFSET ? "special" : "0x" + (id - OFFSET).toString(16).toUpperCase().padStart(2, "0"),
  );
  const entropyTrace: PlotlyObject = {
    type: "scatter",
    mode: "lines+markers",
    name: "entropy",
    x,
    y,
    customdata: x.map((i) => [labels[i], patchOf[i], hex[i]]),
    line: { color: "#1f77b4", width: 1.5 },
    marker: { size: 5, color: patchOf.map((p) => (p % 2 === 0 ? "#1f77b4" : "#ff7f0e")) },
    hovertemplate: "byte %{x}: %{customdata[0]} (%{customdata[2]})<br>" +
      "entropy %{y:.3f} nats<br>patch %{customdata[1]}<extra></extra>",
  };
  const thresholdTrace: PlotlyObject = mode === "global"
    ? {
      type: "scatter",
      mode: "lines",
      name: `θ = ${threshold.toFixed(3)}`,
      x: [-0.5, T - 0.5],
      y: [threshold, threshold],
      line: { color: "#d62728", dash: "dash", width: 1 },
      hoverinfo: "name",
    }
    : thresholdMarkers(monotonicJumps(entropies, threshold), y, labels, threshold);
  const startTrace: PlotlyObject = {
    type: "scatter",
    mode: "markers",
    name: "patch start",
    x: starts,
    y: starts.map((i) => y[i]),
    customdata: starts.map((i, p) => [labels[i], p, patchLengths[p]]),
    marker: { symbol: "triangle-up", size: 9, color: "#2ca02c" },
    hovertemplate: "patch %{customdata[1]} starts at byte %{x}: %{customdata[0]}<br>" +
      "length %{customdata[2]} bytes<extra></extra>",
  };
  const shapes: PlotlyObject[] = starts.map((i) => ({
    type: "line",
    xref: "x",
    x0: i - 0.5,
    x1: i - 0.5,
    yref: "paper",
    y0: 0,
    y1: 1,
    line: { color: "rgba(44,160,44,0.5)", width: 1 },
  }));
  return {
    data: [entropyTrace, thresholdTrace, startTrace],
    layout: {
      title: {
        text: input.title ??
          `Entropy per byte: ${patchLengths.length} patches over ${T} bytes (${mode} threshold)`,
      },
      xaxis: {
        title: { text: "byte" },
        tickmode: "array",
        tickvals: x,
        // Specials (<bos>, <eos>) drop to a second line: plotly draws every tick of the
        // array, and a 5-glyph label beside one-glyph neighbours overlaps them.
        ticktext: labels.map((label, i) => (ids[i] < OFFSET ? `<br>${label}` : label)),
        tickangle: 0,
        range: [-0.5, T - 0.5],
      },
      yaxis: { title: { text: "entropy (nats)" }, rangemode: "tozero" },
      shapes,
      hovermode: "closest",
      legend: { orientation: "h", y: -0.2 },
    },
  };
}

function thresholdMarkers(
  jumps: number[],
  y: number[],
  labels: string[],
  thresholdR: number,
): PlotlyObject {
  return {
    type: "scatter",
    mode: "markers",
    name: `H[i−1] − H[i−2] > θ_r = ${thresholdR.toFixed(3)}`,
    x: jumps,
    y: jumps.map((i) => y[i]),
    customdata: jumps.map((i) => [labels[i], y[i - 1] - y[i - 2]]),
    marker: { symbol: "x", size: 9, color: "#d62728" },
    hovertemplate: "byte %{x}: %{customdata[0]}<br>jump %{customdata[1]:.3f} nats" +
      "<extra></extra>",
  };
}
