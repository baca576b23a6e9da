/**
 * Visualisation: plotly figure specs and d3 SVG drawings of BLT's internals (entropy per byte
 * and patches, attention, robustness, the training dashboard), and the Jupyter display layer
 * that shows them in the Deno kernel and in exported HTML.
 *
 * @example
 * ```ts
 * import { plotlyMimeBundle, robustnessChart } from "./mod.ts";
 * const fig = robustnessChart([{ family: "BLT", noise: "clean", value: 0.61 }]);
 * console.log(Object.keys(plotlyMimeBundle(fig, { divId: "f" })).length); // 3
 * ```
 * @module
 */
export { architectureSvg } from "./architecture.ts";
export { attentionHeatmap, type AttentionHeatmapOptions } from "./attention_heatmap.ts";
export {
  dashboardHtml,
  type DashboardStats,
  dashboardStats,
  emptyHistory,
  type MetricPoint,
  type MetricsHistory,
  type PhaseStart,
  withEval,
  withPhase,
  withStep,
} from "./dashboard.ts";
export {
  defaultSink,
  displayHtml,
  type DisplayOptions,
  displayPlotly,
  type DisplaySink,
  displaySvg,
  inJupyter,
  LiveDisplay,
  loadPlotlyJs,
  resetPlotlyLoader,
} from "./display.ts";
export {
  entropyPlot,
  type EntropyPlotInput,
  entropyPlotLabels,
  type EntropyPlotMode,
  monotonicJumps,
} from "./entropy_plot.ts";
export type { PlotlyFigure, PlotlyObject } from "./figure.ts";
export {
  htmlMimeBundle,
  type MimeBundle,
  type PlotlyBundleOptions,
  plotlyMimeBundle,
  svgMimeBundle,
} from "./mime.ts";
export {
  type BltParameterCounts,
  bltParameterCounts,
  crossAttentionParameters,
  type LocalStackCounts,
  transformerLayerParameters,
} from "./parameter_counts.ts";
export { type PatchStripOptions, patchStripSvg } from "./patch_strip.ts";
export {
  robustnessChart,
  type RobustnessChartOptions,
  type RobustnessRow,
} from "./robustness_chart.ts";
export { createSvg, type SvgRoot, svgString } from "./svg.ts";
