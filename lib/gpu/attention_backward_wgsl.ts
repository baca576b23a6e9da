/**
 * WGSL for the fused attention backward (FlashAttention-2 recomputation: P from Q, K and the
 * forward's log-sum-exp; no [T, T] matrix in memory): one kernel for dQ (thread per query row),
 * one for dK and dV (thread per key row), so no atomics are needed.
 *
 * @module
 */
import { attentionPrelude, ATTN_ROWS, type AttnVariant } from "./attention_wgsl.ts";

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
  const inputs = ["Q", "K", "V", "DO", "STATS", ...(v.hasDoc ? ["DOC"] : [])];
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
  var q: array<vec4<f32>, D4>;
  var dO: array<vec4<f32>, D4>;
  var dq: array<vec4<f32>, D4>;
  for (var d = 0u; d < D4; d++) {
    q[d] = Q[base + ic * D4 + d] * u.scale;
    dO[d] = DO[base + ic * D4 + d];
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
    for (var jj = 0u; jj < BLK; jj++) {
      let j = j0 + jj;
      if (j < hi && allowed(ic, j, myDoc, sDoc[jj])) {
        var sv = vec4<f32>(0.0);
        var dpv = vec4<f32>(0.0);
        for (var d = 0u; d < D4; d++) {
          sv = fma(q[d], sA[jj * D4 + d], sv);
          dpv = fma(dO[d], sB[jj * D4 + d], dpv);
        }
        let p = exp(sv.x + sv.y + sv.z + sv.w - lse);
        let ds = p * (dpv.x + dpv.y + dpv.z + dpv.w - delta);
        for (var d = 0u; d < D4; d++) { dq[d] = fma(vec4<f32>(ds), sA[jj * D4 + d], dq[d]); }
      }
    }
    workgroupBarrier();
  }
  if (i < u.T) {
    for (var d = 0u; d < D4; d++) { DQ[base + i * D4 + d] = dq[d] * u.scale; }
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
  const inputs = ["Q", "K", "V", "DO", "STATS", ...(v.hasDoc ? ["DOC"] : [])];
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
  var k: array<vec4<f32>, D4>;
  var v: array<vec4<f32>, D4>;
  var dk: array<vec4<f32>, D4>;
  var dv: array<vec4<f32>, D4>;
  for (var d = 0u; d < D4; d++) {
    k[d] = K[base + jc * D4 + d] * u.scale;
    v[d] = V[base + jc * D4 + d];
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
    for (var ii = 0u; ii < BLK; ii++) {
      let i = i0 + ii;
      if (i < hi && allowed(i, jc, sDoc[ii], myDoc)) {
        var sv = vec4<f32>(0.0);
        var dpv = vec4<f32>(0.0);
        for (var d = 0u; d < D4; d++) {
          sv = fma(sA[ii * D4 + d], k[d], sv);
          dpv = fma(sB[ii * D4 + d], v[d], dpv);
        }
        let p = exp(sv.x + sv.y + sv.z + sv.w - sLse[ii]);
        let ds = p * (dpv.x + dpv.y + dpv.z + dpv.w - sDelta[ii]);
        for (var d = 0u; d < D4; d++) {
          dv[d] = fma(vec4<f32>(p), sB[ii * D4 + d], dv[d]);
          dk[d] = fma(vec4<f32>(ds), sA[ii * D4 + d], dk[d]);
        }
      }
    }
    workgroupBarrier();
  }
  if (j < u.T) {
    for (var d = 0u; d < D4; d++) {
      DK[base + j * D4 + d] = dk[d] * u.scale;
      DV[base + j * D4 + d] = dv[d];
    }
  }
}
`;
}
