/**
 * The live training dashboard: a progress bar with throughput (bytes/s) and ETA, and loss and
 * bits-per-byte curves for train and validation. It is a pure function of a metrics history, so
 * the display layer can re-render it after every step and replace the previous output in place
 * (Jupyter `display_id`), and tests can check it without a notebook.
 *
 * A dashboard can show several runs one after the other (the quickstart trains the entropy
 * model, then the BLT): `withPhase` starts a named phase; each phase's curves are drawn apart
 * (no line joins the end of one run to the start of the next) behind a labelled divider.
 *
 * @module
 */
import type { EvalMetrics, StepMetrics } from "../train/loop.ts";
import { d3 } from "./d3.ts";
import { createSvg, svgString } from "./svg.ts";
import { assertFinite } from "./validate.ts";

/** One logged point of a curve. */
export interface MetricPoint {
  /** Optimizer step the point was measured at. */
  readonly step: number;
  /** Mean cross-entropy in nats. */
  readonly loss: number;
  /** Bits per byte (loss over bytes, in bits; § 4.1 of the paper). */
  readonly bpb: number;
  /** Name of the phase (run) the point belongs to; see `withPhase`. */
  readonly phase?: string;
}

/** Where a phase (one run on a shared dashboard) begins. */
export interface PhaseStart {
  /** Shown at the divider, e.g. "entropy model" or "BLT". */
  readonly name: string;
  /** The dashboard step the phase begins after. */
  readonly step: number;
}

/** Everything the dashboard shows: where training is, and the curves so far. */
export interface MetricsHistory {
  /** Steps done so far. */
  readonly step: number;
  /** Steps the run will take. */
  readonly totalSteps: number;
  /** Training bytes processed so far. */
  readonly bytesSeen: number;
  /** Wall-clock seconds since training started. */
  readonly elapsedSeconds: number;
  /** Training curve, in step order. */
  readonly train: readonly MetricPoint[];
  /** Validation curve, in step order (may be empty). */
  readonly validation: readonly MetricPoint[];
  /** Optional heading, e.g. the run's name. */
  readonly title?: string;
  /** Phases in order (absent: one unnamed run); new points belong to the last one. */
  readonly phases?: readonly PhaseStart[];
}

/** Numbers derived from a history: what the progress line says. */
export interface DashboardStats {
  /** Fraction of steps done, in [0, 1]. */
  readonly fraction: number;
  /** Training throughput; 0 before any time has passed. */
  readonly bytesPerSecond: number;
  /** Estimated seconds left at the mean pace so far; `null` before the first step. */
  readonly etaSeconds: number | null;
}

/**
 * Computes progress, throughput and ETA from a history (validated).
 *
 * @example
 * ```ts
 * import { dashboardStats } from "./dashboard.ts";
 * const s = dashboardStats({
 *   step: 25, totalSteps: 100, bytesSeen: 50_000, elapsedSeconds: 10, train: [], validation: [],
 * });
 * s.bytesPerSecond; // 5000
 * s.etaSeconds; // 30
 * ```
 */
export function dashboardStats(history: MetricsHistory): DashboardStats {
  checkHistory(history);
  const { step, totalSteps, bytesSeen, elapsedSeconds } = history;
  return {
    fraction: totalSteps === 0 ? 1 : step / totalSteps,
    bytesPerSecond: elapsedSeconds > 0 ? bytesSeen / elapsedSeconds : 0,
    etaSeconds: step > 0 ? (elapsedSeconds / step) * (totalSteps - step) : null,
  };
}

/**
 * Renders the dashboard as one HTML string: a heading, a progress bar with step, bytes/s and
 * ETA, and an inline SVG with two panels (loss and BPB; train solid, validation dashed).
 *
 * @example
 * ```ts
 * import { dashboardHtml } from "./dashboard.ts";
 * const html = dashboardHtml({
 *   step: 2, totalSteps: 10, bytesSeen: 8192, elapsedSeconds: 4,
 *   train: [{ step: 1, loss: 5.5, bpb: 7.9 }, { step: 2, loss: 5.1, bpb: 7.4 }],
 *   validation: [{ step: 2, loss: 5.2, bpb: 7.5 }],
 * });
 * html.includes("<svg");
 * ```
 */
export function dashboardHtml(history: MetricsHistory): string {
  const stats = dashboardStats(history);
  const percent = (100 * stats.fraction).toFixed(1);
  const eta = stats.etaSeconds === null ? "–" : formatDuration(stats.etaSeconds);
  const line = `step ${history.step}/${history.totalSteps} · ${formatRate(stats.bytesPerSecond)}` +
    ` · elapsed ${formatDuration(history.elapsedSeconds)} · ETA ${eta}`;
  const heading = history.title === undefined
    ? ""
    : `<div style="font-weight:600;margin-bottom:4px">${escapeHtml(history.title)}</div>`;
  return `<div class="blt-dashboard" style="font-family:system-ui,sans-serif;font-size:13px">` +
    heading +
    `<div style="display:flex;align-items:center;gap:8px">` +
    `<div role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${percent}" ` +
    `style="flex:0 0 320px;height:12px;background:#e5e7eb;border-radius:6px;overflow:hidden">` +
    `<div style="width:${percent}%;height:100%;background:#2563eb"></div></div>` +
    `<span>${percent}% · ${escapeHtml(line)}</span></div>` +
    curvesSvg(history) +
    `</div>`;
}

/**
 * A history before the first step, to fold the training loop's metrics into.
 *
 * @example
 * ```ts
 * import { emptyHistory } from "./dashboard.ts";
 * emptyHistory(1000, "tiny BLT").train.length; // 0
 * ```
 */
export function emptyHistory(totalSteps: number, title?: string): MetricsHistory {
  const history = {
    step: 0,
    totalSteps,
    bytesSeen: 0,
    elapsedSeconds: 0,
    train: [],
    validation: [],
  };
  checkHistory(history);
  return title === undefined ? history : { ...history, title };
}

/**
 * Folds one training step (the loop's `onStep` metrics) into a new history. Elapsed time is the
 * sum of step times, so throughput and ETA describe training steps (validation excluded).
 *
 * @example
 * ```ts
 * import { emptyHistory, withStep } from "./dashboard.ts";
 * const h = withStep(emptyHistory(10), {
 *   step: 1, loss: 5.5, bitsPerByte: 7.9, lr: 1e-3, gradNorm: 1, bytes: 4096, seconds: 2,
 *   bytesPerSecond: 2048, tflops: null,
 * });
 * h.bytesSeen; // 4096
 * ```
 */
export function withStep(history: MetricsHistory, m: StepMetrics): MetricsHistory {
  return {
    ...history,
    step: m.step,
    bytesSeen: history.bytesSeen + m.bytes,
    elapsedSeconds: history.elapsedSeconds + m.seconds,
    train: [...history.train, tagged(history, { step: m.step, loss: m.loss, bpb: m.bitsPerByte })],
  };
}

/**
 * Starts a named phase at the history's current step: later points belong to it and its curves
 * are drawn separately from the previous phase's, behind a divider labelled with its name.
 *
 * @example
 * ```ts
 * import { emptyHistory, withPhase } from "./dashboard.ts";
 * const h = withPhase(emptyHistory(100, "entropy model, then BLT"), "entropy model");
 * h.phases; // [{ name: "entropy model", step: 0 }]
 * ```
 */
export function withPhase(history: MetricsHistory, name: string): MetricsHistory {
  if (typeof name !== "string" || name.trim() === "") {
    throw new Error(`withPhase: the phase needs a non-empty name, found ${JSON.stringify(name)}`);
  }
  const phases = history.phases ?? [];
  if (phases.some((p) => p.name === name)) {
    throw new Error(`withPhase: a phase named '${name}' already exists; names must be unique`);
  }
  return { ...history, phases: [...phases, { name, step: history.step }] };
}

/** A point tagged with the history's current phase (if any). */
function tagged(history: MetricsHistory, point: MetricPoint): MetricPoint {
  const phase = history.phases?.at(-1)?.name;
  return phase === undefined ? point : { ...point, phase };
}

/** Splits a series into runs of consecutive points of the same phase. */
function byPhase(series: readonly MetricPoint[]): MetricPoint[][] {
  const runs: MetricPoint[][] = [];
  for (const p of series) {
    const last = runs.at(-1);
    if (last !== undefined && last[0].phase === p.phase) last.push(p);
    else runs.push([p]);
  }
  return runs;
}

/**
 * Folds one validation result (the loop's `onEval` metrics) into a new history.
 *
 * @example
 * ```ts
 * import { emptyHistory, withEval } from "./dashboard.ts";
 * const h = withEval(emptyHistory(10), { step: 0, bitsPerByte: 8, lossNats: 5.5, bytes: 512 });
 * h.validation[0].bpb; // 8
 * ```
 */
export function withEval(history: MetricsHistory, m: EvalMetrics): MetricsHistory {
  return {
    ...history,
    validation: [
      ...history.validation,
      tagged(history, { step: m.step, loss: m.lossNats, bpb: m.bitsPerByte }),
    ],
  };
}

// top: room above the plot area for the two last-value labels (y 30, 44), which overlapped
// curves that end high on the right (a resumed run).
const PANEL = { width: 340, height: 246, left: 48, right: 12, top: 50, bottom: 36 } as const;
const COLORS = { train: "#2563eb", validation: "#dc2626" } as const;

/** Two side-by-side panels, loss and BPB, each with a train and a validation curve. */
function curvesSvg(history: MetricsHistory): string {
  const svg = createSvg(2 * PANEL.width, PANEL.height);
  (["loss", "bpb"] as const).forEach((metric, panelIndex) => {
    const g = svg.append("g")
      .attr("class", `panel-${metric}`)
      .attr("transform", `translate(${panelIndex * PANEL.width},0)`);
    g.append("text")
      .attr("x", PANEL.left).attr("y", 16).attr("font-size", 13).attr("font-weight", 600)
      .text(metric === "loss" ? "loss (nats)" : "bits per byte");
    const points = [...history.train, ...history.validation];
    if (points.length === 0) {
      g.append("text").attr("x", PANEL.width / 2).attr("y", PANEL.height / 2)
        .attr("text-anchor", "middle").attr("fill", "#6b7280").text("waiting for the first step");
      return;
    }
    const x = d3.scaleLinear()
      .domain([0, Math.max(1, history.totalSteps, ...points.map((p) => p.step))])
      .range([PANEL.left, PANEL.width - PANEL.right]);
    const values = points.map((p) => p[metric]);
    // Fit the data, not zero: late-training improvements are small next to the first loss.
    const [lo, hi] = [Math.min(...values), Math.max(...values)];
    const y = d3.scaleLinear()
      .domain(lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi]).nice()
      .range([PANEL.height - PANEL.bottom, PANEL.top]);
    g.append("g").attr("transform", `translate(0,${PANEL.height - PANEL.bottom})`)
      .call(d3.axisBottom(x).ticks(5));
    g.append("g").attr("transform", `translate(${PANEL.left},0)`).call(d3.axisLeft(y).ticks(5));
    g.append("text").attr("x", PANEL.width - PANEL.right).attr("y", PANEL.height - 4)
      .attr("text-anchor", "end").attr("font-size", 11).text("step");
    const path = d3.line<MetricPoint>().x((p) => x(p.step)).y((p) => y(p[metric]));
    for (const phase of (history.phases ?? []).filter((p) => p.step > 0)) {
      g.append("line").attr("class", "phase-divider")
        .attr("x1", x(phase.step)).attr("x2", x(phase.step))
        .attr("y1", PANEL.top).attr("y2", PANEL.height - PANEL.bottom)
        .attr("stroke", "#9ca3af").attr("stroke-dasharray", "2,2");
    }
    for (const phase of history.phases ?? []) {
      g.append("text").attr("class", "phase-label")
        .attr("x", x(phase.step) + 3).attr("y", PANEL.top - 2)
        .attr("font-size", 10).attr("fill", "#6b7280").text(phase.name);
    }
    for (const split of ["train", "validation"] as const) {
      const series = history[split];
      if (series.length === 0) continue;
      for (const run of byPhase(series)) {
        g.append("path")
          .attr("class", `curve-${split}`)
          .attr("d", path(run) ?? "")
          .attr("fill", "none")
          .attr("stroke", COLORS[split])
          .attr("stroke-width", 1.5)
          .attr("stroke-dasharray", split === "validation" ? "5,3" : null);
      }
      const last = series[series.length - 1];
      g.append("text")
        .attr("class", `last-${split}`)
        .attr("x", PANEL.width - PANEL.right).attr("y", split === "train" ? 30 : 44)
        .attr("text-anchor", "end").attr("font-size", 11).attr("fill", COLORS[split])
        .text(`${split} ${last[metric].toFixed(3)}`);
    }
  });
  return svgString(svg);
}

function checkHistory(h: MetricsHistory): void {
  const counts = { step: h.step, totalSteps: h.totalSteps } as const;
  for (const [name, v] of Object.entries(counts)) {
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`history.${name} must be an integer ≥ 0, found ${String(v)}`);
    }
  }
  for (
    const [name, v] of Object.entries({ bytesSeen: h.bytesSeen, elapsedSeconds: h.elapsedSeconds })
  ) {
    if (!Number.isFinite(v) || v < 0) {
      throw new Error(`history.${name} must be a finite number ≥ 0, found ${String(v)}`);
    }
  }
  if (h.step > h.totalSteps) {
    throw new Error(
      `history.step (${h.step}) exceeds history.totalSteps (${h.totalSteps}); ` +
        `pass the run's planned total number of steps`,
    );
  }
  (h.phases ?? []).forEach((p, i, all) => {
    if (!Number.isInteger(p.step) || p.step < 0 || (i > 0 && p.step < all[i - 1].step)) {
      throw new Error(
        `history.phases[${i}].step must be an integer ≥ the previous phase's, found ${p.step}`,
      );
    }
  });
  for (const split of ["train", "validation"] as const) {
    const series = h[split];
    if (!Array.isArray(series)) {
      throw new Error(
        `history.${split} must be an array of {step, loss, bpb}, found ${typeof series}`,
      );
    }
    assertFinite(`history.${split}[].step`, series.map((p) => p.step));
    assertFinite(`history.${split}[].loss`, series.map((p) => p.loss));
    assertFinite(`history.${split}[].bpb`, series.map((p) => p.bpb));
    for (let i = 1; i < series.length; i++) {
      if (series[i].step < series[i - 1].step) {
        throw new Error(
          `history.${split} must be in step order; point ${i} (step ${series[i].step}) ` +
            `comes after step ${series[i - 1].step}`,
        );
      }
    }
  }
}

/** "12.3 kB/s": decimal units, as throughput is usually quoted. */
function formatRate(bytesPerSecond: number): string {
  const units = ["B/s", "kB/s", "MB/s", "GB/s"];
  let v = bytesPerSecond;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(v < 10 && u > 0 ? 2 : 1)} ${units[u]}`;
}

/** "1h 02m", "3m 07s", "42s". */
function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s % 60)}s`;
  return `${s}s`;
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}
