/**
 * Register-blocked fused attention: each thread owns R rows (R = `AttnVariant.rows`, 2 or 4), so
 * every K/V (forward, dQ) or Q/dO (dK/dV) value read from workgroup memory feeds R rows' fused
 * multiply-adds from registers instead of one. A workgroup is ATTN_ROWS (64) threads covering
 * 64·R rows; thread t owns rows first + t + r·64 (r < R: coalesced global loads and stores per r).
 * Masks, bindings, uniforms, the staged tiles and the log-sum-exp are those of the one-row kernels
 * (attention_wgsl.ts, attention_backward_wgsl.ts), which these generators return for R = 1.
 *
 * Differences from R = 1: the R dot products of one staged row are computed unconditionally
 * (within the workgroup's [lo, hi) range) and masked afterwards with `select`, since one shared
 * load serves rows that may disagree on the mask. The forward scores a staged block in chunks of
 * CH keys (`attnScoreChunk`) so its R·CH score registers stay few; in the unrolled form the chunk
 * loop is a loop over workgroup-memory offsets and everything in it is emitted key by key.
 *
 * Register budget (f32 per thread, besides temporaries): forward 2·R·headDim + R·CH, dQ
 * 3·R·headDim, dK/dV 4·R·headDim: at headDim 32, R = 4 the forward needs ~290 and dK/dV 512,
 * above the 255 an NVIDIA thread has, so expect spills there; measure before choosing R.
 *
 * @module
 */
import { type Lane, type RegForm, regForm, type Row } from "./attention_regs.ts";
import {
  attentionForwardWgsl,
  attentionPrelude,
  attnBlock,
  attnThreads,
  type AttnVariant,
  regsOf,
  usesRowsGenerator,
} from "./attention_wgsl.ts";
import { attentionBackwardDkvWgsl, attentionBackwardDqWgsl } from "./attention_backward_wgsl.ts";

/**
 * Keys per score chunk of the R-row forward: the largest divisor of the staged block
 * attnBlock(headDim) that is at most 512 / (R · headDim) (measured on an H100).
 *
 * @example
 * ```ts
 * import { attnScoreChunk } from "./attention_rows_wgsl.ts";
 * console.log(attnScoreChunk({ headDim: 32, hasDoc: false, rows: 2 })); // 8
 * ```
 */
export function attnScoreChunk(v: AttnVariant): number {
  const blk = attnBlock(v.headDim);
  if (v.scoreChunk !== undefined) {
    if (!Number.isInteger(v.scoreChunk) || v.scoreChunk < 1 || blk % v.scoreChunk !== 0) {
      throw new Error(
        `attention: score chunk ${v.scoreChunk} must be a whole divisor of the staged block ${blk}.`,
      );
    }
    return v.scoreChunk;
  }
  // R·CH·headDim ≈ 512: on the H100 (14:5x UTC, bench/gpu_kernels.ts --chunks) R = 2 ran best
  // with 8 keys at head size 32 (small local forward 14.4 → 9.4 ms vs 16 keys) and 4 at 64
  // (medium global 8.1 → 4.9 ms; small global within 4%).
  let ch = Math.max(1, Math.min(blk, Math.floor(512 / ((v.rows ?? 1) * v.headDim))));
  while (blk % ch !== 0) ch--;
  return ch;
}

const rowsOf = (v: AttnVariant): number[] => [...Array(v.rows ?? 1).keys()];

/**
 * The kernel text for the variant's layout: unchanged for [B, H, T, D]; for [B, T, H, D] every
 * row address `base + t * D4` becomes `((b·T + t)·H + h) * D4` and every per-row statistic
 * `bh * u.T + t` becomes `(b·T + t)·H + h`. Pure.
 *
 * @example
 * ```ts
 * import { inLayout } from "./attention_rows_wgsl.ts";
 * console.log(inLayout({ headDim: 8, hasDoc: false, layout: "bthd" }, "X[base + i0 * D4 + d]"));
 * // X[((b * u.T + i0) * u.H + hh) * D4 + d]
 * ```
 */
export function inLayout(v: AttnVariant, wgsl: string): string {
  if (v.layout !== "bthd") return wgsl;
  return wgsl
    .replace("let base = bh * u.T * D4;", "let hh = bh - b * u.H;")
    .replace(/base \+ (\w+) \* D4/g, "((b * u.T + $1) * u.H + hh) * D4")
    .replace(/bh \* u\.T \+ (\w+)/g, "(b * u.T + $1) * u.H + hh");
}
const lines = (text: string): string[] => text === "" ? [] : text.split("\n");
/** Vec4 register file of row r: `q0_` → `q0_[d]` (loops) or `q0_3` (unrolled). */
const file = (name: string, r: number): string => `${name}${r}_`;
const hsum = (x: string): string => `${x}.x + ${x}.y + ${x}.z + ${x}.w`;

/** One lane's statements as a single block (its `let`s then do not clash when unrolled). */
function laneBlock(x: Lane, loads: [string, string][], body: readonly string[]): string {
  return `{ ${loads.map(([n, e]) => `let ${n} = ${e};`).join(" ")} ${body.join(" ")} }`.replace(
    /REG\((\w+)\)/g,
    (_, n: string) => x.reg(n),
  );
}

function checkRows(v: AttnVariant, kernel: string): void {
  if (![1, 2, 4].includes(v.rows ?? 1)) {
    throw new Error(`attention ${kernel}: rows per thread must be 1, 2 or 4, found ${v.rows}`);
  }
}

/** The workgroup's [lo, hi) range of staged rows, as the one-row kernels compute it. */
function rangeHeader(causalRange: string): string {
  return `  if (lid.x == 0u) {
    var lo = 0u; var hi = u.T;
    if (u.causal != 0u) {
${causalRange}
    }
    if (HAS_DOC) {
      lo = max(lo, lowerBound(b, docAt(b, first)));
      hi = min(hi, upperBound(b, docAt(b, last)));
    }
    lo_hi[0] = lo; lo_hi[1] = hi;
  }
  let lo = workgroupUniformLoad(&lo_hi[0]);
  let hi = workgroupUniformLoad(&lo_hi[1]);`;
}

const QUERY_RANGE = `      hi = last + 1u;
      if (u.window != 0u && first + 1u > u.window) { lo = first + 1u - u.window; }`;
const KEY_RANGE = `      lo = first;
      if (u.window != 0u) { hi = min(u.T, last + u.window); }`;

/**
 * Whether every query row [first, last] of the workgroup sees every key of the staged block
 * [j0, j0 + BLK) (forward, dQ): inside [lo, hi), on or below the causal diagonal, inside the
 * window, no document ids. Workgroup-uniform.
 */
const QUERY_FULL = "j0 + BLK <= hi && !HAS_DOC && (u.causal == 0u || " +
  "(j0 + BLK <= first + 1u && (u.window == 0u || last < j0 + u.window)))";
/** As QUERY_FULL for key rows [first, last] and the staged query block [i0, i0 + BLK) (dK/dV). */
const KEY_FULL = "i0 + BLK <= hi && !HAS_DOC && (u.causal == 0u || " +
  "(i0 >= last && (u.window == 0u || i0 + BLK < first + u.window + 1u)))";

/**
 * The staged block's work: `body(true)` (masked) unless the variant splits blocks, then
 * `body(false)` for blocks where `full` holds and `body(true)` for the rest.
 */
function splitBlocks(v: AttnVariant, full: string, body: (masked: boolean) => string): string {
  if (v.split !== true) return body(true);
  return `    if (${full}) {\n${body(false)}\n    } else {\n${body(true)}\n    }`;
}

/** Per-row indices: `${idx}${r}` (unclamped), `${idx}c${r}` (clamped) and `myDoc${r}`. */
function rowIndices(v: AttnVariant, idx: string): string {
  return rowsOf(v).map((r) =>
    `  let ${idx}${r} = first + ${r}u * THREADS + lid.x;\n` +
    `  let ${idx}c${r} = min(${idx}${r}, u.T - 1u);\n` +
    `  let myDoc${r} = docAt(b, ${idx}c${r});`
  ).join("\n");
}

function header(v: AttnVariant, causalRange: string, idx: string): string {
  return `@compute @workgroup_size(${attnThreads(v)}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let bh = wid.y;
  let b = bh / u.H;
  let first = wid.x * ROWS;
  let last = min(u.T, first + ROWS) - 1u;
  let base = bh * u.T * D4;
${rangeHeader(causalRange)}
${rowIndices(v, idx)}`;
}

/** Stages rows `at0 + e / D4` of X → sA and Y → sB (64 threads, THREADS-strided). */
function stage(at0: string, x: string, y: string): string {
  return `    for (var e = lid.x; e < BLK * D4; e += THREADS) {
      let t = min(${at0} + e / D4, u.T - 1u);
      sA[e] = ${x}[base + t * D4 + e % D4];
      sB[e] = ${y}[base + t * D4 + e % D4];
    }`;
}

function declAll(r: RegForm, v: AttnVariant, names: readonly string[]): string {
  return rowsOf(v).map((row) => r.decl("  ", names.map((n) => file(n, row)))).join("\n");
}

/**
 * Forward with R query rows per thread (R = 1: `attentionForwardWgsl`). Same inputs, outputs,
 * uniforms and results; dispatch ⌈T / (64·R)⌉ × B·H workgroups.
 *
 * @example
 * ```ts
 * import { attentionForwardRowsWgsl } from "./attention_rows_wgsl.ts";
 * console.log(attentionForwardRowsWgsl({ headDim: 16, hasDoc: false, rows: 2 }).includes("o1_")); // true
 * ```
 */
export function attentionForwardRowsWgsl(v: AttnVariant): string {
  checkRows(v, "forward");
  if (!usesRowsGenerator(v)) return attentionForwardWgsl(v);
  const inputs = ["Q", "K", "V", ...(v.hasDoc ? ["DOC"] : [])];
  const r = regsOf(v);
  const rows = rowsOf(v);
  const ch = regForm(v.headDim / 4, attnScoreChunk(v), v.unrolled === true, "CH");
  const each = (f: (row: number) => string) => rows.map(f);
  const score = (masked: boolean) => (w: Row): string[] => [
    `let jj = c0 + ${w.at};`,
    `let j = j0 + jj;`,
    ...each((x) => `var a${x} = vec4<f32>(0.0);`),
    ...lines(r.eachD("", (x) => [
      laneBlock(
        x,
        [["kk", `sA[${x.tile("jj")}]`]],
        each((y) => `a${y} = fma(REG(${file("q", y)}), kk, a${y});`),
      ),
    ])),
    ...each((y) =>
      masked
        ? `${w.reg(file("s", y))} = select(NEG, ${
          hsum(`a${y}`)
        }, j < hi && allowed(ic${y}, j, myDoc${y}, sDoc[jj]));`
        : `${w.reg(file("s", y))} = ${hsum(`a${y}`)};`
    ),
    ...each((y) => `mb${y} = max(mb${y}, ${w.reg(file("s", y))});`),
  ];
  const accumulate = (masked: boolean) => (w: Row): string[] => [
    `let jj = c0 + ${w.at};`,
    ...each((y) => {
      const s = w.reg(file("s", y));
      return masked
        ? `let p${y} = select(0.0, exp(${s} - m${y}), ${s} > NEG); l${y} += p${y};`
        : `let p${y} = exp(${s} - m${y}); l${y} += p${y};`;
    }),
    ...lines(r.eachD("", (x) => [
      laneBlock(
        x,
        [["vv", `sB[${x.tile("jj")}]`]],
        each((y) => `REG(${file("o", y)}) = fma(vec4<f32>(p${y}), vv, REG(${file("o", y)}));`),
      ),
    ])),
  ];
  const chunkLoop = (masked: boolean): string =>
    `    for (var c0 = 0u; c0 < BLK; c0 += CH) {
${each((y) => ch.declRows("      ", file("s", y))).join("\n")}
${each((y) => `      var mb${y} = m${y};`).join("\n")}
${ch.eachRow("      ", score(masked), "cc")}
${
      each((y) =>
        `      let corr${y} = exp(m${y} - mb${y});\n      m${y} = mb${y};\n      l${y} = l${y} * corr${y};\n` +
        r.eachD("      ", (x) => [`${x.reg(file("o", y))} = ${x.reg(file("o", y))} * corr${y};`])
      ).join("\n")
    }
${ch.eachRow("      ", accumulate(masked), "cc")}
    }`;
  return inLayout(
    v,
    attentionPrelude(v, inputs, ["O", "LSE"]) + /* wgsl */ `const CH = ${attnScoreChunk(v)}u;

${header(v, QUERY_RANGE, "i")}
${declAll(r, v, ["q", "o"])}
${
      rows.map((y) =>
        r.eachD("  ", (x) => [`${x.reg(file("q", y))} = Q[base + ic${y} * D4 + ${x.d}] * u.scale;`])
      ).join("\n")
    }
${each((y) => `  var m${y} = NEG;\n  var l${y} = 0.0;`).join("\n")}
  for (var j0 = lo; j0 < hi; j0 += BLK) {
${stage("j0", "K", "V")}
    for (var e = lid.x; e < BLK; e += THREADS) { sDoc[e] = docAt(b, min(j0 + e, u.T - 1u)); }
    workgroupBarrier();
${splitBlocks(v, QUERY_FULL, chunkLoop)}
    workgroupBarrier();
  }
${
      each((y) =>
        `  if (i${y} < u.T) {\n` +
        r.eachD("    ", (x) => [
          `O[base + i${y} * D4 + ${x.d}] = ${x.reg(file("o", y))} / l${y};`,
        ]) +
        `\n    LSE[bh * u.T + i${y}] = m${y} + log(l${y});\n  }`
      ).join("\n")
    }
}
`,
  );
}

/**
 * dQ with R query rows per thread (R = 1: `attentionBackwardDqWgsl`); inputs and outputs as
 * there.
 *
 * @example
 * ```ts
 * import { attentionBackwardDqRowsWgsl } from "./attention_rows_wgsl.ts";
 * console.log(attentionBackwardDqRowsWgsl({ headDim: 16, hasDoc: true, rows: 4 }).includes("dq3_")); // true
 * ```
 */
export function attentionBackwardDqRowsWgsl(v: AttnVariant): string {
  checkRows(v, "dQ");
  if (!usesRowsGenerator(v)) return attentionBackwardDqWgsl(v);
  const inputs = ["Q", "K", "V", "DO", "STATS", ...(v.hasDoc ? ["DOC"] : [])];
  const r = regsOf(v);
  const rows = rowsOf(v);
  const each = (f: (row: number) => string) => rows.map(f);
  // The staged-row loop stays a loop in both forms (it indexes only workgroup memory), as in
  // attention_backward_wgsl.ts.
  const loop = (masked: boolean) =>
    regForm(1, 1, false).eachRow("    ", (w) => [
      `let j = j0 + ${w.at};`,
      masked ? `if (j < hi) {` : `{`,
      ...each((y) => `  var sv${y} = vec4<f32>(0.0); var dpv${y} = vec4<f32>(0.0);`),
      ...lines(r.eachD("  ", (x) => [
        laneBlock(x, [["kk", `sA[${x.tile(w.jj)}]`], ["vv", `sB[${x.tile(w.jj)}]`]], [
          ...each((y) => `sv${y} = fma(REG(${file("q", y)}), kk, sv${y});`),
          ...each((y) => `dpv${y} = fma(REG(${file("dO", y)}), vv, dpv${y});`),
        ]),
      ])),
      ...each((y) =>
        (masked
          ? `  let p${y} = select(0.0, exp(${hsum(`sv${y}`)} - lse${y}), ` +
            `allowed(ic${y}, j, myDoc${y}, sDoc[${w.at}]));\n`
          : `  let p${y} = exp(${hsum(`sv${y}`)} - lse${y});\n`) +
        `  let ds${y} = p${y} * (${hsum(`dpv${y}`)} - delta${y});`
      ).flatMap(lines),
      ...lines(r.eachD("  ", (x) => [
        laneBlock(
          x,
          [["kk", `sA[${x.tile(w.jj)}]`]],
          each((y) => `REG(${file("dq", y)}) = fma(vec4<f32>(ds${y}), kk, REG(${file("dq", y)}));`),
        ),
      ])),
      `}`,
    ]);
  return inLayout(
    v,
    attentionPrelude(v, inputs, ["DQ"]) + /* wgsl */ `
${header(v, QUERY_RANGE, "i")}
${declAll(r, v, ["q", "dO", "dq"])}
${
      each((y) =>
        r.eachD("  ", (x) => [
          `${x.reg(file("q", y))} = Q[base + ic${y} * D4 + ${x.d}] * u.scale;`,
          `${x.reg(file("dO", y))} = DO[base + ic${y} * D4 + ${x.d}];`,
        ]) +
        `\n  let lse${y} = STATS[bh * u.T + ic${y}].x;\n  let delta${y} = STATS[bh * u.T + ic${y}].y;`
      ).join("\n")
    }
  for (var j0 = lo; j0 < hi; j0 += BLK) {
${stage("j0", "K", "V")}
    for (var e = lid.x; e < BLK; e += THREADS) { sDoc[e] = docAt(b, min(j0 + e, u.T - 1u)); }
    workgroupBarrier();
${splitBlocks(v, QUERY_FULL, loop)}
    workgroupBarrier();
  }
${
      each((y) =>
        `  if (i${y} < u.T) {\n` +
        r.eachD(
          "    ",
          (x) => [`DQ[base + i${y} * D4 + ${x.d}] = ${x.reg(file("dq", y))} * u.scale;`],
        ) +
        `\n  }`
      ).join("\n")
    }
}
`,
  );
}

/**
 * dK, dV with R key rows per thread (R = 1: `attentionBackwardDkvWgsl`); inputs and outputs as
 * there.
 *
 * @example
 * ```ts
 * import { attentionBackwardDkvRowsWgsl } from "./attention_rows_wgsl.ts";
 * console.log(attentionBackwardDkvRowsWgsl({ headDim: 16, hasDoc: false, rows: 2 }).includes("dv1_")); // true
 * ```
 */
export function attentionBackwardDkvRowsWgsl(v: AttnVariant): string {
  checkRows(v, "dK/dV");
  if (!usesRowsGenerator(v)) return attentionBackwardDkvWgsl(v);
  const inputs = ["Q", "K", "V", "DO", "STATS", ...(v.hasDoc ? ["DOC"] : [])];
  // part "dv": dV = Σ_i p_ij dO_i needs only k (for p); part "dk": dK = Σ_i ds_ij q_i needs k and
  // v (for ds); both (default): one pass, four row registers.
  const wantDk = v.part !== "dv", wantDv = v.part !== "dk";
  const r = regsOf(v);
  const rows = rowsOf(v);
  const each = (f: (row: number) => string) => rows.map(f);
  const loop = (masked: boolean) =>
    regForm(1, 1, false).eachRow("    ", (w) => [
      `let i = i0 + ${w.at};`,
      masked ? `if (i < hi) {` : `{`,
      ...each((y) =>
        `  var sv${y} = vec4<f32>(0.0);${wantDk ? ` var dpv${y} = vec4<f32>(0.0);` : ""}`
      ),
      ...lines(r.eachD("  ", (x) => [
        laneBlock(x, [["qq", `sA[${x.tile(w.jj)}]`], ["gg", `sB[${x.tile(w.jj)}]`]], [
          ...each((y) => `sv${y} = fma(qq, REG(${file("k", y)}), sv${y});`),
          ...(wantDk ? each((y) => `dpv${y} = fma(gg, REG(${file("v", y)}), dpv${y});`) : []),
        ]),
      ])),
      `  let lse = sLse[${w.at}]; let delta = sDelta[${w.at}]; let di = sDoc[${w.at}];`,
      ...each((y) =>
        (masked
          ? `  let p${y} = select(0.0, exp(${hsum(`sv${y}`)} - lse), ` +
            `allowed(i, jc${y}, di, myDoc${y}));`
          : `  let p${y} = exp(${hsum(`sv${y}`)} - lse);`) +
        (wantDk
          ? `
  let ds${y} = p${y} * (${hsum(`dpv${y}`)} - delta);`
          : "")
      ).flatMap(lines),
      ...lines(r.eachD("  ", (x) => [
        laneBlock(x, [["qq", `sA[${x.tile(w.jj)}]`], ["gg", `sB[${x.tile(w.jj)}]`]], [
          ...(wantDv
            ? each((y) =>
              `REG(${file("dv", y)}) = fma(vec4<f32>(p${y}), gg, REG(${file("dv", y)}));`
            )
            : []),
          ...(wantDk
            ? each((y) =>
              `REG(${file("dk", y)}) = fma(vec4<f32>(ds${y}), qq, REG(${file("dk", y)}));`
            )
            : []),
        ]),
      ])),
      `}`,
    ], "ii");
  const regs = ["k", ...(wantDk ? ["v", "dk"] : []), ...(wantDv ? ["dv"] : [])];
  // One output per part, bound as the first output ("DK" for "dk", "DV" for "dv").
  const outputs = v.part === "dk" ? ["DK"] : v.part === "dv" ? ["DV"] : ["DK", "DV"];
  return inLayout(
    v,
    attentionPrelude(v, inputs, outputs) + /* wgsl */ `
var<workgroup> sLse: array<f32, BLK>;
var<workgroup> sDelta: array<f32, BLK>;

${header(v, KEY_RANGE, "j")}
${declAll(r, v, regs)}${
      // Every input must stay statically used: the pipeline's automatic layout drops unused
      // bindings, and the bind group names them all.
      wantDk ? "" : "\n  _ = arrayLength(&V);"}
${
      each((y) =>
        r.eachD("  ", (x) => [
          `${x.reg(file("k", y))} = K[base + jc${y} * D4 + ${x.d}] * u.scale;`,
          ...(wantDk ? [`${x.reg(file("v", y))} = V[base + jc${y} * D4 + ${x.d}];`] : []),
        ])
      ).join("\n")
    }
  for (var i0 = lo; i0 < hi; i0 += BLK) {
${stage("i0", "Q", "DO")}
    for (var e = lid.x; e < BLK; e += THREADS) {
      let i = min(i0 + e, u.T - 1u);
      sDoc[e] = docAt(b, i);
      sLse[e] = STATS[bh * u.T + i].x;
      sDelta[e] = STATS[bh * u.T + i].y;
    }
    workgroupBarrier();
${splitBlocks(v, KEY_FULL, loop)}
    workgroupBarrier();
  }
${
      each((y) =>
        `  if (j${y} < u.T) {\n` +
        r.eachD("    ", (x) => [
          ...(wantDk
            ? [`DK[base + j${y} * D4 + ${x.d}] = ${x.reg(file("dk", y))} * u.scale;`]
            : []),
          ...(wantDv ? [`DV[base + j${y} * D4 + ${x.d}] = ${x.reg(file("dv", y))};`] : []),
        ]) +
        `\n  }`
      ).join("\n")
    }
}
`,
  );
}
