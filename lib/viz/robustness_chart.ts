/**
 * Robustness at a glance: a grouped bar chart of one metric (accuracy, BPB, …) per noise type,
 * one bar group per noise and one colour per model family, the way the paper compares BLT with
 * token-based models on noised inputs (§ 6.1, Table 3).
 *
 * @module
 */
import type { PlotlyFigure, PlotlyObject } from "./figure.ts";
import { assertNonEmpty } from "./validate.ts";

/** One measurement: the metric of one model family on one noise type. */
export interface RobustnessRow {
  /** Model family, e.g. "BLT", "BPE", "byte LM". */
  readonly family: string;
  /** Noise type, e.g. "clean", "uppercase", "char drop". */
  readonly noise: string;
  /** The metric's value. */
  readonly value: number;
  /** Optional ± error (standard error, CI half-width) drawn as an error bar. */
  readonly error?: number;
}

/** Options of {@link robustnessChart}. */
export interface RobustnessChartOptions {
  /** Name of the metric for the y axis, e.g. "accuracy" or "bits per byte". */
  readonly metric?: string;
  /** Figure title. */
  readonly title?: string;
  /** Title of the x axis (the rows' `noise` field): "noise" unless the rows hold something else, e.g. "task". */
  readonly category?: string;
}

/**
 * Builds a grouped bar chart (plotly) with one trace per family; noises and families keep the
 * order in which they first appear in `rows`. A missing (family, noise) pair leaves a gap.
 *
 * @example
 * ```ts
 * import { robustnessChart } from "./robustness_chart.ts";
 * const fig = robustnessChart([
 *   { family: "BLT", noise: "clean", value: 0.61 },
 *   { family: "BPE", noise: "clean", value: 0.6 },
 *   { family: "BLT", noise: "uppercase", value: 0.52 },
 *   { family: "BPE", noise: "uppercase", value: 0.31 },
 * ], { metric: "accuracy" });
 * fig.data.length; // 2 traces: BLT, BPE
 * ```
 */
export function robustnessChart(
  rows: readonly RobustnessRow[],
  options: RobustnessChartOptions = {},
): PlotlyFigure {
  assertNonEmpty("rows", rows);
  const noises: string[] = [];
  const families: string[] = [];
  const cells = new Map<string, RobustnessRow>();
  rows.forEach((row, i) => {
    checkRow(row, i);
    if (!noises.includes(row.noise)) noises.push(row.noise);
    if (!families.includes(row.family)) families.push(row.family);
    const key = JSON.stringify([row.family, row.noise]);
    if (cells.has(key)) {
      throw new Error(
        `rows[${i}] repeats family "${row.family}" with noise "${row.noise}"; ` +
          `give one row per (family, noise) pair (average repeated runs first)`,
      );
    }
    cells.set(key, row);
  });
  const metric = options.metric ?? "value";
  const data: PlotlyObject[] = families.map((family) => {
    const cellsOf = noises.map((noise) => cells.get(JSON.stringify([family, noise])));
    const trace: Record<string, unknown> = {
      type: "bar",
      name: family,
      x: noises,
      y: cellsOf.map((c) => c?.value ?? null),
      hovertemplate: "%{fullData.name}<br>%{x}: %{y:.4g}<extra></extra>",
    };
    if (cellsOf.some((c) => c?.error !== undefined)) {
      trace.error_y = { type: "data", array: cellsOf.map((c) => c?.error ?? null), visible: true };
    }
    return trace;
  });
  return {
    data,
    layout: {
      title: { text: options.title ?? `${metric} by noise type` },
      barmode: "group",
      xaxis: { title: { text: options.category ?? "noise" } },
      // tozero: bars start at 0 even when every value is 0 (plotly's autorange gives −1…1).
      yaxis: { title: { text: metric }, rangemode: "tozero" },
      legend: { title: { text: "model" } },
    },
  };
}

function checkRow(row: RobustnessRow, i: number): void {
  for (const field of ["family", "noise"] as const) {
    if (typeof row[field] !== "string" || row[field].length === 0) {
      throw new Error(
        `rows[${i}].${field} must be a non-empty string, found ${JSON.stringify(row[field])}`,
      );
    }
  }
  if (typeof row.value !== "number" || !Number.isFinite(row.value)) {
    throw new Error(
      `rows[${i}].value must be a finite number, found ${String(row.value)} ` +
        `(family "${row.family}", noise "${row.noise}"); drop or fix the failed measurement`,
    );
  }
  if (row.error !== undefined && !(Number.isFinite(row.error) && row.error >= 0)) {
    throw new Error(
      `rows[${i}].error must be a finite number ≥ 0 when given, found ${String(row.error)}`,
    );
  }
}
