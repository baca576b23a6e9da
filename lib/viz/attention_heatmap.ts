/**
 * Which bytes a patch looks at: the cross-attention weights of one patch as a heatmap. In BLT's
 * local encoder each patch is pooled by k queries per head attending over the bytes of that
 * patch (§ 3.2.2); in the decoder, bytes query patches. Rows are (head, query) pairs, columns
 * are bytes, colour is the attention weight.
 *
 * @module
 */
import type { PlotlyFigure, PlotlyObject } from "./figure.ts";
import { assertFinite, assertNonEmpty, assertSameLength } from "./validate.ts";

/** Options of {@link attentionHeatmap}. */
export interface AttentionHeatmapOptions {
  /** Index of the patch shown (for the title). */
  readonly patchIndex?: number;
  /** Figure title; defaults to one naming the patch. */
  readonly title?: string;
}

/**
 * Builds a plotly heatmap of cross-attention weights `[heads, k, bytes]` for one patch.
 * Columns are placed by index and labelled with `byteLabels`, so repeated bytes (two "l"s)
 * stay separate columns.
 *
 * @example
 * ```ts
 * import { attentionHeatmap } from "./attention_heatmap.ts";
 * // [heads=1, k=2, bytes=3]
 * const fig = attentionHeatmap([[[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]]], ["c", "a", "t"], {
 *   patchIndex: 4,
 * });
 * fig.data.length; // 1 heatmap trace with 2 rows
 * ```
 */
export function attentionHeatmap(
  weights: readonly (readonly (readonly number[])[])[],
  byteLabels: readonly string[],
  options: AttentionHeatmapOptions = {},
): PlotlyFigure {
  assertNonEmpty("weights", weights);
  assertNonEmpty("byteLabels", byteLabels);
  const k = weights[0].length;
  const rows: number[][] = []; // [heads·k, bytes]
  const rowNames: string[] = [];
  weights.forEach((head, h) => {
    if (head.length !== k || k === 0) {
      throw new Error(
        `weights must have shape [heads, k, bytes] with the same k ≥ 1 for every head; ` +
          `weights[0] has k=${k}, weights[${h}] has ${head.length}`,
      );
    }
    head.forEach((query, q) => {
      const name = `weights[${h}][${q}]`;
      assertSameLength(name, query, "byteLabels", byteLabels);
      assertFinite(name, query);
      const negative = query.findIndex((w) => w < 0);
      if (negative >= 0) {
        throw new Error(
          `${name}[${negative}] is ${query[negative]}, but attention weights are ≥ 0; ` +
            `pass softmax probabilities, not raw scores`,
        );
      }
      rows.push([...query]);
      rowNames.push(`head ${h} · query ${q}`);
    });
  });
  const columns = byteLabels.map((_, i) => i);
  const heatmap: PlotlyObject = {
    type: "heatmap",
    z: rows,
    x: columns,
    y: rowNames,
    customdata: rows.map((row) => row.map((_, i) => byteLabels[i])),
    colorscale: "Blues",
    reversescale: true, // plotly's "Blues" runs dark → light; strong attention should be dark
    zmin: 0,
    colorbar: { title: { text: "weight" } },
    hovertemplate: "%{y}<br>byte %{x}: %{customdata}<br>weight %{z:.3f}<extra></extra>",
  };
  // Thin lines between heads make the k queries of one head read as a group.
  const shapes: PlotlyObject[] = weights.slice(1).map((_, h) => ({
    type: "line",
    xref: "paper",
    x0: 0,
    x1: 1,
    yref: "y",
    y0: (h + 1) * k - 0.5,
    y1: (h + 1) * k - 0.5,
    line: { color: "white", width: 2 },
  }));
  const patch = options.patchIndex === undefined ? "one patch" : `patch ${options.patchIndex}`;
  return {
    data: [heatmap],
    layout: {
      title: { text: options.title ?? `Cross-attention of ${patch}` },
      xaxis: {
        title: { text: "byte" },
        tickmode: "array",
        tickvals: columns,
        ticktext: [...byteLabels],
      },
      yaxis: { autorange: "reversed" },
      margin: { l: 130 }, // room for the "head h · query q" row labels
      shapes,
    },
  };
}
