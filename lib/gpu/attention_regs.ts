/**
 * Per-thread register files of the attention kernels, written in one of two WGSL forms:
 *
 * - loop form: `var q: array<vec4<f32>, D4>;` indexed by `for (var d = 0u; d < D4; d++)` loops
 *   (and `var s: array<f32, BLK>;` by `for (var jj ...)` loops);
 * - unrolled form: named registers `q0 … q{D4-1}` (and `s0 … s{BLK-1}`), every loop over them
 *   emitted D4 (or BLK) times by this generator with literal indices.
 *
 * Why: on an H100 (Deno WebGPU → wgpu/naga → Vulkan) the driver keeps loop-indexed private
 * arrays in local memory; every matmul variant that indexed them ran 12–20× slower than its
 * unrolled twin (bench/matmul_sweep.ts). Loops over workgroup memory are not affected and stay.
 *
 * @module
 */

/** One step `d` (0 ≤ d < D4) of a loop over a head's vec4 lanes. */
export interface Lane {
  /** Lane d of register file `name`: `q[d]` (loop form) or `q3` (unrolled). */
  reg(name: string): string;
  /** The lane index as a WGSL u32 expression: `d` or `3u`. */
  readonly d: string;
  /**
   * Index of lane d of `row` in a staged [BLK, D4] workgroup tile: `jj * D4 + d`, or in the
   * unrolled form `jj * D4 + 3u` (row an expression) / `67u` (row a literal number).
   */
  tile(row: string | number): string;
}

/** One step `jj` (0 ≤ jj < BLK) of a loop over the staged rows. */
export interface Row {
  /** The row index: the WGSL loop variable (`jj`), or its literal value in the unrolled form. */
  readonly jj: string | number;
  /** Row jj of a per-row register file `name`: `s[jj]` or `s5`. */
  reg(name: string): string;
  /** The row as a WGSL u32 expression: `jj` or `5u`. */
  readonly at: string;
}

/** Emits declarations and loops of per-thread registers in one WGSL form. */
export interface RegForm {
  /** Whether loops over registers are unrolled into named registers. */
  readonly unrolled: boolean;
  /** Declares D4-lane vec4 register files (zero-initialised), one line per file. */
  decl(indent: string, names: readonly string[]): string;
  /** Declares a BLK-row (or `rowsConst`-row) f32 register file. */
  declRows(indent: string, name: string): string;
  /**
   * A loop over d < D4 whose body is `body`'s statements: one line for one statement, a block
   * for several (loop form); each statement emitted once per lane (unrolled form).
   */
  eachD(indent: string, body: (x: Lane) => readonly string[]): string;
  /**
   * A loop over rows < BLK (or `rowsConst`) with loop variable `name` (default `jj`; loop form) or BLK `{ … }`
   * blocks with literal rows (unrolled).
   */
  eachRow(indent: string, body: (w: Row) => readonly string[], name?: string): string;
}

function eightPerLine(indent: string, items: readonly string[]): string {
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += 8) lines.push(indent + items.slice(i, i + 8).join(" "));
  return lines.join("\n");
}

/**
 * The register form of a kernel with `d4` vec4 lanes per head row and `blk` staged rows; the
 * loop form names the row count by the WGSL constant `rowsConst` (default `BLK`, which must then
 * equal `blk`).
 *
 * @example
 * ```ts
 * import { regForm } from "./attention_regs.ts";
 * const r = regForm(2, 4, true);
 * console.log(r.eachD("", (x) => [`${x.reg("o")} = ${x.reg("o")} * c;`])); // o0 = o0 * c;\no1 = o1 * c;
 * ```
 */
export function regForm(
  d4: number,
  blk: number,
  unrolled: boolean,
  rowsConst = "BLK",
): RegForm {
  if (!Number.isInteger(d4) || d4 < 1 || !Number.isInteger(blk) || blk < 1) {
    throw new Error(`regForm: lanes (${d4}) and rows (${blk}) must be positive integers`);
  }
  const lanes = [...Array(d4).keys()];
  const rows = [...Array(blk).keys()];
  if (!unrolled) {
    const lane: Lane = {
      reg: (name) => `${name}[d]`,
      d: "d",
      tile: (row) => `${typeof row === "number" ? `${row}u` : row} * D4 + d`,
    };
    return {
      unrolled,
      decl: (indent, names) =>
        names.map((n) => `${indent}var ${n}: array<vec4<f32>, D4>;`).join("\n"),
      declRows: (indent, name) => `${indent}var ${name}: array<f32, ${rowsConst}>;`,
      eachD: (indent, body) => {
        const s = body(lane);
        const head = `${indent}for (var d = 0u; d < D4; d++) {`;
        return s.length === 1
          ? `${head} ${s[0]} }`
          : [head, ...s.map((t) => `${indent}  ${t}`), `${indent}}`].join("\n");
      },
      eachRow: (indent, body, name = "jj") =>
        [
          `${indent}for (var ${name} = 0u; ${name} < ${rowsConst}; ${name}++) {`,
          ...body({ jj: name, reg: (file) => `${file}[${name}]`, at: name }).map((t) =>
            `${indent}  ${t}`
          ),
          `${indent}}`,
        ].join("\n"),
    };
  }
  const laneOf = (d: number): Lane => ({
    reg: (name) => `${name}${d}`,
    d: `${d}u`,
    tile: (row) => typeof row === "number" ? `${row * d4 + d}u` : `${row} * D4 + ${d}u`,
  });
  const rowOf = (jj: number): Row => ({ jj, reg: (name) => `${name}${jj}`, at: `${jj}u` });
  return {
    unrolled,
    decl: (indent, names) =>
      names.map((n) => eightPerLine(indent, lanes.map((d) => `var ${n}${d} = vec4<f32>(0.0);`)))
        .join("\n"),
    declRows: (indent, name) => eightPerLine(indent, rows.map((jj) => `var ${name}${jj} = 0.0;`)),
    eachD: (indent, body) =>
      lanes.flatMap((d) => body(laneOf(d)).map((t) => indent + t)).join("\n"),
    eachRow: (indent, body) =>
      rows.map((jj) =>
        [`${indent}{`, ...body(rowOf(jj)).map((t) => `${indent}  ${t}`), `${indent}}`].join("\n")
      ).join("\n"),
  };
}
