/**
 * WGSL generators for memory-bound kernels (issue #8: ≥ 1.5 TB/s on an H100): the last-axis row
 * sum (lib/gpu/row_sum.ts) and the vec4 unary ops (lib/gpu/unary.ts), each in several named
 * forms that bench/elementwise_sweep.ts times. Pure functions of their parameters, no tfjs, so
 * the sweep bundles without it and the winning form is the one lib/ runs.
 *
 * Bindings (lib/gpu/dispatch.ts convention): input at 0, output at 1, one uniform struct at 2.
 *
 * @module
 */

/**
 * One form of the row sum Y[r] = Σ_j X[r, j] over rows of `rowLength` floats (a multiple of 4),
 * read as vec4.
 */
export interface RowSumForm {
  /**
   * Threads per row (1, 2, 4, …, 64). Lane l reads vec4s l, l + lanes, l + 2·lanes, … of its
   * row, so the lanes of a row read consecutive vec4s together (coalesced).
   */
  readonly lanes: number;
  /** Threads per workgroup (64, 128 or 256; a multiple of `lanes`); rows per workgroup = workgroup / lanes. */
  readonly workgroup: number;
  /**
   * How a row's lane partials are added: "serial" (workgroup memory, one barrier, lane 0 adds
   * the `lanes` partials), "tree" (workgroup memory, log2(lanes) halving steps), "shuffle"
   * (subgroupShuffleXor butterfly; needs the `subgroups` feature and subgroups of ≥ lanes
   * invocations), "subgroupAdd" (needs subgroups of exactly `lanes` invocations).
   */
  readonly combine: "serial" | "tree" | "shuffle" | "subgroupAdd";
  /**
   * 0: one workgroup per block of rows (2-D grid when > 65535). G > 0: exactly G workgroups that
   * loop over the blocks (grid-stride), e.g. a multiple of the H100's 132 SMs.
   */
  readonly gridStride: number;
}

/**
 * Short name of a row-sum form, e.g. "l8-wg256-serial" or "l16-wg256-shuffle-gs1056".
 *
 * @example
 * ```ts
 * import { rowSumFormName } from "./elementwise_wgsl.ts";
 * console.log(rowSumFormName({ lanes: 8, workgroup: 256, combine: "serial", gridStride: 0 }));
 * // "l8-wg256-serial"
 * ```
 */
export function rowSumFormName(f: RowSumForm): string {
  return `l${f.lanes}-wg${f.workgroup}-${f.combine}${f.gridStride > 0 ? `-gs${f.gridStride}` : ""}`;
}

/**
 * Throws a clear error when a form's parameters cannot make a kernel.
 *
 * @example
 * ```ts
 * import { checkRowSumForm } from "./elementwise_wgsl.ts";
 * checkRowSumForm({ lanes: 8, workgroup: 256, combine: "tree", gridStride: 0 }); // fine
 * ```
 */
export function checkRowSumForm(f: RowSumForm): void {
  const pow2 = (x: number) => Number.isInteger(x) && x >= 1 && (x & (x - 1)) === 0;
  if (!pow2(f.lanes) || f.lanes > 64) {
    throw new Error(`row sum form: lanes must be a power of two in 1..64, found ${f.lanes}`);
  }
  if (![64, 128, 256].includes(f.workgroup) || f.workgroup % f.lanes !== 0) {
    throw new Error(
      `row sum form: workgroup must be 64, 128 or 256 and a multiple of lanes (${f.lanes}), ` +
        `found ${f.workgroup}`,
    );
  }
  if (!["serial", "tree", "shuffle", "subgroupAdd"].includes(f.combine)) {
    throw new Error(`row sum form: unknown combine '${f.combine}'`);
  }
  if (!Number.isInteger(f.gridStride) || f.gridStride < 0 || f.gridStride > 65535) {
    throw new Error(
      `row sum form: gridStride must be an integer in 0..65535, found ${f.gridStride}`,
    );
  }
}

/** Whether a form uses subgroup builtins (the device needs the `subgroups` feature). */
export function rowSumNeedsSubgroups(f: RowSumForm): boolean {
  return f.combine === "shuffle" || f.combine === "subgroupAdd";
}

// Sum of vec4s lane, lane + L, … of one row into `acc`: a constant-trip part (unrolled up to 32
// loads, so they are all in flight before the adds) and, when R4 % L ≠ 0, one guarded tail load.
function partialBody(r4: number, lanes: number): string {
  const full = Math.floor(r4 / lanes), tail = r4 % lanes;
  const lines: string[] = [];
  if (full <= 32) {
    for (let j = 0; j < full; j++) lines.push(`    let v${j} = X[base + ${j * lanes}u];`);
    // Pairwise adds of the loaded vec4s.
    let terms = Array.from({ length: full }, (_, j) => `v${j}`);
    while (terms.length > 1) {
      const next: string[] = [];
      for (let j = 0; j + 1 < terms.length; j += 2) next.push(`(${terms[j]} + ${terms[j + 1]})`);
      if (terms.length % 2 === 1) next.push(terms[terms.length - 1]);
      terms = next;
    }
    if (full > 0) lines.push(`    acc = ${terms[0]};`);
  } else {
    lines.push(`    for (var j = 0u; j < ${full}u; j++) { acc += X[base + j * ${lanes}u]; }`);
  }
  if (tail > 0) {
    lines.push(`    if (lane < ${tail}u) { acc += X[base + ${full * lanes}u]; }`);
  }
  return lines.join("\n");
}

function combineBody(f: RowSumForm): string {
  const L = f.lanes;
  const store = `if (lane == 0u && row < u.rows) { Y[row] = t; }`;
  if (L === 1) return `  let t = s;\n  ${store}`;
  switch (f.combine) {
    case "serial": {
      const adds = Array.from({ length: L - 1 }, (_, j) => `part[lid + ${j + 1}u]`);
      return [
        `  part[lid] = s;`,
        `  workgroupBarrier();`,
        `  if (lane == 0u && row < u.rows) { Y[row] = s + ${adds.join(" + ")}; }`,
      ].join("\n");
    }
    case "tree": {
      const lines = [`  part[lid] = s;`, `  workgroupBarrier();`];
      for (let off = L / 2; off >= 1; off /= 2) {
        lines.push(`  if (lane < ${off}u) { part[lid] += part[lid + ${off}u]; }`);
        lines.push(`  workgroupBarrier();`);
      }
      lines.push(`  let t = part[lid];`, `  ${store}`);
      return lines.join("\n");
    }
    case "shuffle": {
      const lines = [`  var t = s;`];
      for (let off = L / 2; off >= 1; off /= 2) {
        lines.push(`  t += subgroupShuffleXor(t, ${off}u);`);
      }
      lines.push(`  ${store}`);
      return lines.join("\n");
    }
    case "subgroupAdd":
      return `  let t = subgroupAdd(s);\n  ${store}`;
  }
}

/**
 * WGSL of the row sum in form `f` for rows of `rowLength` floats (a multiple of 4). Bindings:
 * X: array<vec4<f32>> (rows × rowLength / 4), Y: array<f32> (rows), uniform { rows: u32 }.
 * Grid: {@link rowSumGrid}. Summation order: each lane adds its vec4s pairwise, then the four
 * components, then the lanes; so results differ from a sequential sum by rounding only.
 *
 * @example
 * ```ts
 * import { rowSumWgsl } from "./elementwise_wgsl.ts";
 * const code = rowSumWgsl({ lanes: 8, workgroup: 256, combine: "serial", gridStride: 0 }, 256);
 * console.log(code.includes("workgroupBarrier")); // true
 * ```
 */
export function rowSumWgsl(f: RowSumForm, rowLength: number): string {
  checkRowSumForm(f);
  if (!Number.isInteger(rowLength) || rowLength < 4 || rowLength % 4 !== 0) {
    throw new Error(`rowSumWgsl: rowLength must be a positive multiple of 4, found ${rowLength}`);
  }
  const r4 = rowLength / 4, rpw = f.workgroup / f.lanes;
  const shared = f.lanes > 1 && (f.combine === "serial" || f.combine === "tree");
  const row = (blk: string) =>
    [
      `  let row = ${blk} * ${rpw}u + r;`,
      `  var acc = vec4<f32>(0.0);`,
      `  if (row < u.rows) {`,
      `    let base = row * ${r4}u + lane;`,
      partialBody(r4, f.lanes),
      `  }`,
      `  let s = (acc.x + acc.y) + (acc.z + acc.w);`,
      combineBody(f),
    ].join("\n");
  const body = f.gridStride > 0
    ? [
      `  let blocks = (u.rows + ${rpw - 1}u) / ${rpw}u;`,
      `  for (var blk = wid.x; blk < blocks; blk += nwg.x) {`,
      row("blk").replace(/^/gm, "  "),
      // The next block overwrites part[]: every lane must have read it first.
      shared ? `    workgroupBarrier();` : "",
      `  }`,
    ].join("\n")
    : row("(wid.y * nwg.x + wid.x)");
  return /* wgsl */ `// row sum ${rowSumFormName(f)}, rows of ${rowLength}
@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
struct Uniforms { rows: u32 };
@group(0) @binding(2) var<uniform> u: Uniforms;
${shared ? `var<workgroup> part: array<f32, ${f.workgroup}>;` : ""}
@compute @workgroup_size(${f.workgroup}, 1, 1)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let lane = lid % ${f.lanes}u;
  let r = lid / ${f.lanes}u;
${body}
}
`;
}

/**
 * A 2-D grid of `groups` workgroups split evenly over y (each dimension ≤ 65535), so at most
 * y − 1 workgroups are idle (as dispatch.ts's flatGrid does now; the "flat" unary grid keeps the
 * x-first split flatGrid had before, up to 65534 idle workgroups, for comparison).
 * Shaders recover the flat group as `wid.y * nwg.x + wid.x`.
 *
 * @example
 * ```ts
 * import { balancedGrid } from "./elementwise_wgsl.ts";
 * console.log(balancedGrid(65536)); // [32768, 2, 1]
 * ```
 */
export function balancedGrid(groups: number): [number, number, number] {
  if (groups <= 0) return [0, 1, 1];
  const y = Math.ceil(groups / 65535);
  if (y > 65535) throw new Error(`balancedGrid: ${groups} workgroups exceed 65535².`);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * The workgroup grid of the row sum in form `f` over `rows` rows.
 *
 * @example
 * ```ts
 * import { rowSumGrid } from "./elementwise_wgsl.ts";
 * console.log(rowSumGrid({ lanes: 8, workgroup: 256, combine: "serial", gridStride: 0 }, 1000));
 * // [32, 1, 1]
 * ```
 */
export function rowSumGrid(f: RowSumForm, rows: number): [number, number, number] {
  const blocks = Math.ceil(rows / (f.workgroup / f.lanes));
  if (f.gridStride > 0) return [Math.min(f.gridStride, Math.max(blocks, 1)), 1, 1];
  return balancedGrid(blocks);
}

/** One form of an elementwise unary kernel over vec4. */
export interface UnaryForm {
  /** vec4s per thread per step (1, 2 or 4), `workgroup` apart so each load is coalesced. */
  readonly perThread: number;
  /** Threads per workgroup (64, 128 or 256). */
  readonly workgroup: number;
  /** 0: one workgroup per workgroup·perThread vec4s; G > 0: G workgroups in a grid-stride loop. */
  readonly gridStride: number;
  /** Without grid-stride: "flat" (x first, up to 65534 idle workgroups) or "balanced" (balancedGrid). */
  readonly grid: "flat" | "balanced";
}

/**
 * lib/gpu/unary.ts's default: one vec4 per thread, 256 threads, the balanced grid. On the H100
 * (bench/elementwise_sweep.ts, 2026-11-22 sixth session) neg moved 1.64 TB/s at 64M elements in
 * this form against 1.24 with the x-first ("flat") grid it was written with; equal at 1M and 16M
 * (the same WGSL, only the grid differs).
 */
export const UNARY_DEFAULT_FORM: UnaryForm = Object.freeze({
  perThread: 1,
  workgroup: 256,
  gridStride: 0,
  grid: "balanced",
});

/**
 * Short name of a unary form, e.g. "v1-wg256-flat" or "v2-wg256-gs1056".
 *
 * @example
 * ```ts
 * import { UNARY_DEFAULT_FORM, unaryFormName } from "./elementwise_wgsl.ts";
 * console.log(unaryFormName(UNARY_DEFAULT_FORM)); // "v1-wg256-balanced"
 * ```
 */
export function unaryFormName(f: UnaryForm): string {
  return `v${f.perThread}-wg${f.workgroup}-${f.gridStride > 0 ? `gs${f.gridStride}` : f.grid}`;
}

/**
 * Throws a clear error when a unary form's parameters cannot make a kernel.
 *
 * @example
 * ```ts
 * import { checkUnaryForm, UNARY_DEFAULT_FORM } from "./elementwise_wgsl.ts";
 * checkUnaryForm(UNARY_DEFAULT_FORM); // fine
 * ```
 */
export function checkUnaryForm(f: UnaryForm): void {
  if (![1, 2, 4].includes(f.perThread)) {
    throw new Error(`unary form: perThread must be 1, 2 or 4, found ${f.perThread}`);
  }
  if (![64, 128, 256].includes(f.workgroup)) {
    throw new Error(`unary form: workgroup must be 64, 128 or 256, found ${f.workgroup}`);
  }
  if (!Number.isInteger(f.gridStride) || f.gridStride < 0 || f.gridStride > 65535) {
    throw new Error(`unary form: gridStride must be an integer in 0..65535, found ${f.gridStride}`);
  }
  if (f.grid !== "flat" && f.grid !== "balanced") {
    throw new Error(`unary form: grid must be 'flat' or 'balanced', found '${f.grid}'`);
  }
}

/**
 * WGSL of Y = expr(X) elementwise in form `f`, where `expr` is a WGSL expression of
 * `a: vec4<f32>` (e.g. "-a"). Bindings: X, Y: array<vec4<f32>>, uniform { n4: u32 } (vec4
 * count). The default form gives exactly the WGSL lib/gpu/unary.ts was written with.
 *
 * @example
 * ```ts
 * import { UNARY_DEFAULT_FORM, unaryWgsl } from "./elementwise_wgsl.ts";
 * console.log(unaryWgsl("-a", UNARY_DEFAULT_FORM).includes("Y[i] = -a;")); // true
 * ```
 */
export function unaryWgsl(expr: string, f: UnaryForm): string {
  checkUnaryForm(f);
  const WG = f.workgroup, P = f.perThread;
  const head = /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> Y: array<vec4<f32>>;
struct Uniforms { n4: u32 };
@group(0) @binding(2) var<uniform> u: Uniforms;
@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
`;
  if (P === 1 && f.gridStride === 0) {
    return `${head}  let i = (wid.y * nwg.x + wid.x) * ${WG}u + lid.x;
  if (i >= u.n4) { return; }
  let a = X[i];
  Y[i] = ${expr};
}
`;
  }
  // P vec4s `WG` apart from `b`: all loads, then all stores when the block is whole; else guarded.
  const js = Array.from({ length: P }, (_, j) => j);
  const step = (b: string) =>
    [
      `  if (${b} + ${(P - 1) * WG}u < u.n4) {`,
      ...js.map((j) => `    let a${j} = X[${b} + ${j * WG}u];`),
      ...js.map((j) => `    { let a = a${j}; Y[${b} + ${j * WG}u] = ${expr}; }`),
      `  } else {`,
      ...js.map((j) =>
        `    if (${b} + ${j * WG}u < u.n4) { let a = X[${b} + ${j * WG}u]; Y[${b} + ${
          j * WG
        }u] = ${expr}; }`
      ),
      `  }`,
    ].join("\n");
  if (f.gridStride === 0) {
    return `${head}  let b = (wid.y * nwg.x + wid.x) * ${WG * P}u + lid.x;
${step("b")}
}
`;
  }
  return `${head}  for (var b = wid.x * ${WG * P}u + lid.x; b < u.n4; b += nwg.x * ${WG * P}u) {
${step("b").replace(/^/gm, "  ")}
  }
}
`;
}

/**
 * The workgroup grid of the unary kernel in form `f` over `n4` vec4s.
 *
 * @example
 * ```ts
 * import { UNARY_DEFAULT_FORM, unaryGrid } from "./elementwise_wgsl.ts";
 * console.log(unaryGrid(UNARY_DEFAULT_FORM, 1 << 20)); // [4096, 1, 1]
 * ```
 */
export function unaryGrid(f: UnaryForm, n4: number): [number, number, number] {
  const groups = Math.ceil(n4 / (f.workgroup * f.perThread));
  if (f.gridStride > 0) return [Math.min(f.gridStride, Math.max(groups, 1)), 1, 1];
  if (f.grid === "balanced") return balancedGrid(groups);
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}
