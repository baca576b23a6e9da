/**
 * Last-axis row sum for tf.Sum: `tf.sum(x, -1)` over float32 rows of length R (a multiple of 4,
 * 4·lanes ≤ R ≤ maxRow), with `lanes` threads per row reading consecutive vec4s of the row and
 * their partials added in workgroup memory (or subgroup shuffles). tfjs-webgpu's reduce runs one
 * 256-thread workgroup per row; on an H100 it moved 0.35 TB/s at 16M and 64M elements in rows of
 * 256 (bench/README.md), against the 1.5 TB/s. Other axes, dtypes and row lengths take
 * the stock kernel. Registered by `enableGpuKernels()`; `setRowSumEnabled(false)` sends every
 * call to the stock kernel, `setRowSumForm` picks the WGSL form (bench/elementwise_sweep.ts times
 * them).
 *
 * Values differ from the stock kernel's by rounding only: the order of the additions differs
 * (each lane adds its vec4s pairwise, then the components, then the lanes are added), so expect
 * |ours − stock| of a few float32 ulps of the row's partial sums, not bitwise equality.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { dispatch } from "./dispatch.ts";
import {
  checkRowSumForm,
  type RowSumForm,
  rowSumFormName,
  rowSumGrid,
  rowSumNeedsSubgroups,
  rowSumWgsl,
} from "./elementwise_wgsl.ts";

/** Our form plus the row lengths it takes (others go to the stock kernel). */
export interface RowSumSettings extends RowSumForm {
  /** Longest row taken (floats); longer rows (few rows, long loops per lane) go to the stock kernel. */
  readonly maxRow: number;
}

/**
 * The default: 8 lanes per row, 256 threads (32 rows) per workgroup, partials added by lane 0
 * after one barrier, one workgroup per 32 rows; rows of 32 to 4096 floats. A guess until the H100
 * sweep (bench/elementwise_sweep.ts) picks the winner.
 */
export const ROW_SUM_DEFAULT: RowSumSettings = Object.freeze({
  lanes: 8,
  workgroup: 256,
  combine: "serial",
  gridStride: 0,
  maxRow: 4096,
});

let settings: RowSumSettings = ROW_SUM_DEFAULT;
let enabled = true;

/**
 * Chooses the row-sum form for later calls ("default": {@link ROW_SUM_DEFAULT}); omitted fields
 * keep their default. Subgroup forms ("shuffle", "subgroupAdd") need a device created with the
 * `subgroups` feature, which tfjs does not request: keep them for raw-WebGPU use.
 *
 * @example
 * ```ts
 * import { rowSumSettings, setRowSumForm } from "./row_sum.ts";
 * setRowSumForm({ lanes: 16, combine: "tree" });
 * console.log(rowSumSettings().lanes); // 16
 * setRowSumForm("default");
 * ```
 */
export function setRowSumForm(f: Partial<RowSumSettings> | "default"): void {
  if (f === "default") {
    settings = ROW_SUM_DEFAULT;
    return;
  }
  const next = { ...ROW_SUM_DEFAULT, ...f };
  checkRowSumForm(next);
  if (!Number.isInteger(next.maxRow) || next.maxRow < 4) {
    throw new Error(`setRowSumForm: maxRow must be an integer ≥ 4, found ${next.maxRow}`);
  }
  settings = Object.freeze(next);
}

/**
 * The current row-sum form and row-length limit (see `setRowSumForm`).
 *
 * @example
 * ```ts
 * import { rowSumSettings } from "./row_sum.ts";
 * console.log(rowSumSettings().maxRow); // 4096
 * ```
 */
export function rowSumSettings(): RowSumSettings {
  return settings;
}

/**
 * Turns our row sum on (default) or off; off, tf.Sum always runs the stock kernel.
 *
 * @example
 * ```ts
 * import { rowSumEnabled, setRowSumEnabled } from "./row_sum.ts";
 * setRowSumEnabled(false);
 * console.log(rowSumEnabled()); // false
 * setRowSumEnabled(true);
 * ```
 */
export function setRowSumEnabled(on: boolean): void {
  if (typeof on !== "boolean") {
    throw new Error(`setRowSumEnabled: 'on' must be a boolean, found ${typeof on}`);
  }
  enabled = on;
}

/**
 * Whether tf.Sum over the last axis takes our kernel (when the shape fits).
 *
 * @example
 * ```ts
 * import { rowSumEnabled } from "./row_sum.ts";
 * console.log(rowSumEnabled()); // true
 * ```
 */
export function rowSumEnabled(): boolean {
  return enabled;
}

/**
 * The row length our kernel would sum for a Sum of `shape` over `axis` with the current settings,
 * or undefined when the call belongs to the stock kernel (not the last axis alone, not float32,
 * empty, R not a multiple of 4, R < 4·lanes, R > maxRow, or turned off).
 *
 * @example
 * ```ts
 * import { rowSumFits } from "./row_sum.ts";
 * console.log(rowSumFits([64, 256], "float32", -1)); // 256
 * console.log(rowSumFits([64, 256], "float32", 0)); // undefined
 * console.log(rowSumFits([64, 30], "float32", 1)); // undefined
 * ```
 */
export function rowSumFits(
  shape: readonly number[],
  dtype: tf.DataType,
  axis: number | number[] | null | undefined,
): number | undefined {
  const s = settings;
  if (!enabled || dtype !== "float32" || shape.length === 0) return undefined;
  if (rowSumNeedsSubgroups(s)) return undefined; // tfjs's device has no `subgroups` feature
  const rank = shape.length;
  const axes = axis == null ? [...Array(rank).keys()] : [axis].flat();
  if (axes.length !== 1 || (axes[0] < 0 ? axes[0] + rank : axes[0]) !== rank - 1) return undefined;
  const r = shape[rank - 1];
  if (shape.some((d) => d === 0) || r % 4 !== 0 || r < 4 * s.lanes || r > s.maxRow) {
    return undefined;
  }
  return r;
}

/**
 * The KernelConfig of tf.Sum: our row sum where {@link rowSumFits}, else `stock` (tfjs's config).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { rowSumKernelConfig } from "./row_sum.ts";
 * const stock = { kernelName: tf.Sum, backendName: "webgpu", kernelFunc: () => ({}) } as unknown as tf.KernelConfig;
 * console.log(rowSumKernelConfig(stock).kernelName); // "Sum"
 * ```
 */
export function rowSumKernelConfig(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    ...stock,
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
      const r = rowSumFits(x.shape, x.dtype, axis);
      if (r === undefined) return stock.kernelFunc(args);
      const f = settings;
      const rows = x.shape.reduce((p, d) => p * d, 1) / r;
      const outShape = keepDims ? [...x.shape.slice(0, -1), 1] : x.shape.slice(0, -1);
      return dispatch(
        args.backend as unknown as WebGPUBackend,
        {
          key: `blt_row_sum_${rowSumFormName(f)}_r${r}`,
          wgsl: () => rowSumWgsl(f, r),
          workgroups: rowSumGrid(f, rows),
        },
        [x],
        [{ shape: outShape, dtype: "float32" }],
        [{ type: "uint32", value: rows }],
      )[0];
    },
  };
}
