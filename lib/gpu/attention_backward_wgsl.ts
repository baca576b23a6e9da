/**
 * WGSL for the fused attention backward (FlashAttention-2 recomputation: P from Q, K and the
 * forward's log-sum-exp; no [T, T] matrix in memory): one kernel for dQ (thread per query row),
 * one for dK and dV (thread per key row), so no atomics are needed. With `unrolled` the per-thread
 * register arrays (q, dO, dq; k, v, dk, dv) become named registers and every loop over the head's
 * D4 lanes is emitted lane by lane; the loop over the staged rows stays a loop (it indexes only
 * workgroup memory).
 *
 * @module
 */
import { regForm, type Row } from "./attention_regs.ts";
import {
  assertOneRow,
  attentionPrelude,
  ATTN_ROWS,
  type AttnVariant,
  regsOf,
} from "./attention_wgsl.ts";

const lines = (text: string): string[] => text.split("\n");

// The staged-row loop stays a loop in both forms: it indexes only workgroup memory, and unrolling
// it as well took the dQ kernel at headDim 32 from 14.5 s to 187 s to compile on the software
// adapter (cold shader cache, load ~4 on 2 cores).
function rowLoop(indent: string, body: (w: Row) => readonly string[], name = "jj"): string {
  return regForm(1, 1, false).eachRow(indent, body, name);
}

/**
 * Backward for dQ: thread per query row; dQ_i = scale·Σ_j P_ij (dO_i·V_j − Δ_i) K_j.
 * Inputs Q, K, V, DO [B, H, T, D], STATS [B, H, T, 2] = (lse, Δ) (+ DOC): one
 * binding for both keeps dK/dV within WebGPU's default 8 storage buffers per stage; output DQ [B, H, T, D].
 *
 * @example
 * ```ts
 * import { attentionBackwardDqWgsl } from "./attention_backward_wgsl.ts";
 * console.log(attentionBackwardDqWgsl({ headDim: 32, hasDoc: true }).includes("DQ")); // true
 * ```
 */
export function attentionBackwardDqWgsl(v: AttnVariant): string {
  assertOneRow(v, "dQ");
  const inputs = ["Q", "K", "V", "DO", "STATS", ...(v.hasDoc ? ["DOC"] : [])];
  const r = regsOf(v);
  return attentionPrelude(v, inputs, ["DQ"]) + /* wgsl */ `
@compute @workgroup_size(${ATTN_ROWS}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let bh = wid.y;
  let b = bh / u.H;
  let first = wid.x * ROWS;
  let last = min(u.T, first + ROWS) - 1u;
  let i = first + lid.x;
  let ic = min(i, u.T - 1u);
  let base = bh * u.T * D4;
  if (lid.x == 0u) {
    var lo = 0u; var hi = u.T;
    if (u.causal != 0u) {
      hi = last + 1u;
      if (u.window != 0u && first + 1u > u.window) { lo = first + 1u - u.window; }
    }
    if (HAS_DOC) {
      lo = max(lo, lowerBound(b, docAt(b, first)));
      hi = min(hi, upperBound(b, docAt(b, last)));
    }
    lo_hi[0] = lo; lo_hi[1] = hi;
  }
  let lo = workgroupUniformLoad(&lo_hi[0]);
  let hi = workgroupUniformLoad(&lo_hi[1]);
  let myDoc = docAt(b, ic);
${r.decl("  ", ["q", "dO", "dq"])}
${
    r.eachD("  ", (x) => [
      `${x.reg("q")} = Q[base + ic * D4 + ${x.d}] * u.scale;`,
      `${x.reg("dO")} = DO[base + ic * D4 + ${x.d}];`,
    ])
  }
  let lse = STATS[bh * u.T + ic].x;
  let delta = STATS[bh * u.T + ic].y;
  for (var j0 = lo; j0 < hi; j0 += BLK) {
    for (var e = lid.x; e < BLK * D4; e += ROWS) {
      let j = min(j0 + e / D4, u.T - 1u);
      sA[e] = K[base + j * D4 + e % D4];
      sB[e] = V[base + j * D4 + e % D4];
    }
    if (lid.x < BLK) { sDoc[lid.x] = docAt(b, min(j0 + lid.x, u.T - 1u)); }
    workgroupBarrier();
${
    rowLoop("    ", (w) => [
      `let j = j0 + ${w.at};`,
      `if (j < hi && allowed(ic, j, myDoc, sDoc[${w.at}])) {`,
      `  var sv = vec4<f32>(0.0);`,
      `  var dpv = vec4<f32>(0.0);`,
      ...lines(r.eachD("  ", (x) => [
        `sv = fma(${x.reg("q")}, sA[${x.tile(w.jj)}], sv);`,
        `dpv = fma(${x.reg("dO")}, sB[${x.tile(w.jj)}], dpv);`,
      ])),
      `  let p = exp(sv.x + sv.y + sv.z + sv.w - lse);`,
      `  let ds = p * (dpv.x + dpv.y + dpv.z + dpv.w - delta);`,
      ...lines(r.eachD("  ", (x) => [
        `${x.reg("dq")} = fma(vec4<f32>(ds), sA[${x.tile(w.jj)}], ${x.reg("dq")});`,
      ])),
      `}`,
    ])
  }
    workgroupBarrier();
  }
  if (i < u.T) {
${r.eachD("    ", (x) => [`DQ[base + i * D4 + ${x.d}] = ${x.reg("dq")} * u.scale;`])}
  }
}
`;
}

/**
 * Backward for dK, dV: thread per key row j; dV_j = Σ_i P_ij dO_i, dK_j = scale·Σ_i dS_ij Q_i.
 * Inputs as for dQ; outputs DK, DV [B, H, T, D].
 *
 * @example
 * ```ts
 * import { attentionBackwardDkvWgsl } from "./attention_backward_wgsl.ts";
 * console.log(attentionBackwardDkvWgsl({ headDim: 32, hasDoc: false }).includes("DV")); // true
 * ```
 */
export function attentionBackwardDkvWgsl(v: AttnVariant): string {
  assertOneRow(v, "dK/dV");
  const inputs = ["Q", "K", "V", "DO", "STATS", ...(v.hasDoc ? ["DOC"] : [])];
  const r = regsOf(v);
  return attentionPrelude(v, inputs, ["DK", "DV"]) + /* wgsl */ `
var<workgroup> sLse: array<f32, BLK>;
var<workgroup> sDelta: array<f32, BLK>;

@compute @workgroup_size(${ATTN_ROWS}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let bh = wid.y;
  let b = bh / u.H;
  let first = wid.x * ROWS;
  let last = min(u.T, first + ROWS) - 1u;
  let j = first + lid.x;
  let jc = min(j, u.T - 1u);
  let base = bh * u.T * D4;
  if (lid.x == 0u) {
    var lo = 0u; var hi = u.T;
    if (u.causal != 0u) {
      lo = first;
      if (u.window != 0u) { hi = min(u.T, last + u.window); }
    }
    if (HAS_DOC) {
      lo = max(lo, lowerBound(b, docAt(b, first)));
      hi = min(hi, upperBound(b, docAt(b, last)));
    }
    lo_hi[0] = lo; lo_hi[1] = hi;
  }
  let lo = workgroupUniformLoad(&lo_hi[0]);
  let hi = workgroupUniformLoad(&lo_hi[1]);
  let myDoc = docAt(b, jc);
${r.decl("  ", ["k", "v", "dk", "dv"])}
${
    r.eachD("  ", (x) => [
      `${x.reg("k")} = K[base + jc * D4 + ${x.d}] * u.scale;`,
      `${x.reg("v")} = V[base + jc * D4 + ${x.d}];`,
    ])
  }
  for (var i0 = lo; i0 < hi; i0 += BLK) {
    for (var e = lid.x; e < BLK * D4; e += ROWS) {
      let i = min(i0 + e / D4, u.T - 1u);
      sA[e] = Q[base + i * D4 + e % D4];
      sB[e] = DO[base + i * D4 + e % D4];
    }
    if (lid.x < BLK) {
      let i = min(i0 + lid.x, u.T - 1u);
      sDoc[lid.x] = docAt(b, i);
      sLse[lid.x] = STATS[bh * u.T + i].x;
      sDelta[lid.x] = STATS[bh * u.T + i].y;
    }
    workgroupBarrier();
${
    rowLoop("    ", (w) => [
      `let i = i0 + ${w.at};`,
      `if (i < hi && allowed(i, jc, sDoc[${w.at}], myDoc)) {`,
      `  var sv = vec4<f32>(0.0);`,
      `  var dpv = vec4<f32>(0.0);`,
      ...lines(r.eachD("  ", (x) => [
        `sv = fma(sA[${x.tile(w.jj)}], ${x.reg("k")}, sv);`,
        `dpv = fma(sB[${x.tile(w.jj)}], ${x.reg("v")}, dpv);`,
      ])),
      `  let p = exp(sv.x + sv.y + sv.z + sv.w - sLse[${w.at}]);`,
      `  let ds = p * (dpv.x + dpv.y + dpv.z + dpv.w - sDelta[${w.at}]);`,
      ...lines(r.eachD("  ", (x) => [
        `${x.reg("dv")} = fma(vec4<f32>(p), sB[${x.tile(w.jj)}], ${x.reg("dv")});`,
        `${x.reg("dk")} = fma(vec4<f32>(ds), sA[${x.tile(w.jj)}], ${x.reg("dk")});`,
      ])),
      `}`,
    ], "ii")
  }
    workgroupBarrier();
  }
  if (j < u.T) {
${
    r.eachD("    ", (x) => [
      `DK[base + j * D4 + ${x.d}] = ${x.reg("dk")} * u.scale;`,
      `DV[base + j * D4 + ${x.d}] = ${x.reg("dv")};`,
    ])
  }
  }
}
`;
}
