/**
 * A terminal progress bar for training: step, bytes/s, loss, bits per byte and ETA, as one line
 * redrawn in place on a terminal and as plain lines otherwise (logs, CI, pipes). It plugs into the
 * trainer as `onStep` / `onEval` callbacks.
 *
 * @module
 */
import type { EvalMetrics, StepMetrics } from "./loop.ts";

/**
 * What one progress line shows.
 *
 * @example
 * ```ts
 * import type { ProgressState } from "./progress.ts";
 * const s: ProgressState = { step: 5, steps: 10, bytesPerSecond: 2048, loss: 2.3, bitsPerByte: 3.3 };
 * ```
 */
export interface ProgressState {
  readonly step: number;
  readonly steps: number;
  readonly bytesPerSecond: number;
  readonly loss: number;
  readonly bitsPerByte: number;
  /** Latest validation bits per byte, when there is one. */
  readonly validationBpb?: number;
  /** Seconds left, when known. */
  readonly etaSeconds?: number;
}

/**
 * Seconds as `1h02m`, `3m05s` or `42s`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * console.log(formatDuration(185), formatDuration(3725)); // "3m05s" "1h02m"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s >= 3600) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${s}s`;
}

/**
 * Bytes per second with a binary prefix, e.g. `12.3 KiB/s`.
 *
 * @example
 * ```ts
 * import { formatRate } from "./progress.ts";
 * console.log(formatRate(12595)); // "12.3 KiB/s"
 * ```
 */
export function formatRate(bytesPerSecond: number): string {
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let v = bytesPerSecond, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/**
 * One progress line; `width` > 0 adds a bar of that many cells.
 *
 * @example
 * ```ts
 * import { formatProgress } from "./progress.ts";
 * const line = formatProgress(
 *   { step: 5, steps: 10, bytesPerSecond: 2048, loss: 2.3, bitsPerByte: 3.32, etaSeconds: 65 },
 *   10,
 * );
 * console.log(line); // "[█████     ] step 5/10  2.0 KiB/s  loss 2.300  bpb 3.320  eta 1m05s"
 * ```
 */
export function formatProgress(state: ProgressState, width = 0): string {
  const parts: string[] = [];
  if (width > 0) {
    const filled = Math.round((Math.min(state.step, state.steps) / state.steps) * width);
    parts.push(`[${"█".repeat(filled)}${" ".repeat(width - filled)}]`);
  }
  parts.push(`step ${state.step}/${state.steps}`);
  parts.push(formatRate(state.bytesPerSecond));
  parts.push(`loss ${state.loss.toFixed(3)}`);
  parts.push(`bpb ${state.bitsPerByte.toFixed(3)}`);
  if (state.validationBpb !== undefined) parts.push(`val bpb ${state.validationBpb.toFixed(3)}`);
  if (state.etaSeconds !== undefined) parts.push(`eta ${formatDuration(state.etaSeconds)}`);
  return parts.join("  ");
}

/**
 * Options of {@link ProgressBar}.
 *
 * @example
 * ```ts
 * import type { ProgressOptions } from "./progress.ts";
 * const o: ProgressOptions = { steps: 100, write: (s) => console.log(s), tty: false };
 * ```
 */
export interface ProgressOptions {
  /** Total optimizer steps of the run. */
  readonly steps: number;
  /** Wall-clock budget in seconds (the ETA never exceeds what is left of it). */
  readonly budgetSeconds?: number;
  /** Where text goes (default: stdout). */
  readonly write?: (text: string) => void;
  /** Redraw one line in place (default: whether stdout is a terminal). */
  readonly tty?: boolean;
  /** Plain mode prints every `every` steps (default 10) and at validations. */
  readonly every?: number;
  /** Label in front of every line, e.g. "entropy" or "blt". */
  readonly label?: string;
}

/**
 * Progress display for a training run: pass `bar.onStep` / `bar.onEval` as trainer callbacks and
 * call `finish()` at the end. ETA = mean seconds per step × steps left (capped by the budget).
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * const lines: string[] = [];
 * const bar = new ProgressBar({ steps: 2, tty: false, every: 1, write: (s) => lines.push(s) });
 * const m = { step: 1, loss: 2, bitsPerByte: 2.9, lr: 1e-3, gradNorm: 1, bytes: 512, seconds: 0.5,
 *   bytesPerSecond: 1024, tflops: null };
 * bar.onStep(m);
 * bar.finish();
 * console.log(lines[0].startsWith("step 1/2  1.0 KiB/s  loss 2.000")); // true
 * ```
 */
export class ProgressBar {
  readonly #o: ProgressOptions;
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #started = performance.now();
  #stepSeconds = 0;
  #stepsSeen = 0;
  #last: ProgressState | null = null;
  #drawn = false;

  constructor(options: ProgressOptions) {
    this.#o = options;
    const encoder = new TextEncoder();
    this.#write = options.write ??
      ((text: string) => void Deno.stdout.writeSync(encoder.encode(text)));
    this.#tty = options.tty ?? Deno.stdout.isTerminal();
  }

  /** Trainer callback after each step. */
  readonly onStep = (m: StepMetrics): void => {
    this.#stepSeconds += m.seconds;
    this.#stepsSeen++;
    const left = this.#o.steps - m.step;
    let eta = (this.#stepSeconds / this.#stepsSeen) * left;
    if (this.#o.budgetSeconds !== undefined) {
      const elapsed = (performance.now() - this.#started) / 1000;
      eta = Math.min(eta, Math.max(0, this.#o.budgetSeconds - elapsed));
    }
    this.#last = {
      step: m.step,
      steps: this.#o.steps,
      bytesPerSecond: m.bytesPerSecond,
      loss: m.loss,
      bitsPerByte: m.bitsPerByte,
      validationBpb: this.#last?.validationBpb,
      etaSeconds: eta,
    };
    if (this.#tty || m.step % (this.#o.every ?? 10) === 0 || m.step === 1) this.#draw();
  };

  /** Trainer callback after each validation. */
  readonly onEval = (e: EvalMetrics): void => {
    if (this.#last === null) return;
    this.#last = { ...this.#last, validationBpb: e.bitsPerByte };
    this.#draw();
  };

  /** Ends the in-place line (a newline on a terminal). */
  finish(): void {
    if (this.#tty && this.#drawn) this.#write("\n");
    this.#drawn = false;
  }

  #draw(): void {
    const label = this.#o.label === undefined ? "" : `${this.#o.label} `;
    const line = label + formatProgress(this.#last!, this.#tty ? 20 : 0);
    // "\r" + erase-line redraws in place; plain output gets one line per report.
    this.#write(this.#tty ? `\r\x1b[2K${line}` : `${line}\n`);
    this.#drawn = true;
  }
}
