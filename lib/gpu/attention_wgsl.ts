/**
 * WGSL for fused attention (FlashAttention-2 style, one thread per row, K/V or Q/dO blocks staged
 * in workgroup memory). Masks: causal, sliding window (i - j < window) and block-causal document
 * masking (same document id), as used by BLT's local encoder/decoder and latent transformer.
 * Document ids must be nondecreasing along T (packed documents): loop bounds use a binary search.
 *
 * Two forms of the same kernels (`AttnVariant.unrolled`): per-thread register arrays indexed in
 * loops, or named registers with those loops unrolled by the generator (attention_regs.ts); the
 * forward's unrolled form also unrolls its BLK score registers. The unrolled forward compiles
 * slowly on the software adapter (cold cache, load ~4: 31 s vs 2 s for loops at headDim 16,
 * 168 s vs 15 s at 32, 221 s vs 170 s at 64).
 *
 * @module
 */
import { type RegForm, regForm } from "./attention_regs.ts";

/** Rows (threads) per workgroup. */
export const ATTN_ROWS = 64;

/** Static shape of one attention shader variant. */
export interface AttnVariant {
  /** Head dimension (multiple of 4, ≤ 256). */
  readonly headDim: number;
  /** Whether a document-id input is bound. */
  readonly hasDoc: boolean;
  /**
   * Emit the per-thread register arrays as named registers with every loop over them unrolled
   * by the generator (see attention_regs.ts); false or absent: the loop form. Same bindings,
   * uniforms, workgroup tiles and dispatch grid either way.
   */
  readonly unrolled?: boolean;
}

/**
 * Rows of the staged block: two [block, D] f32 tiles fit in 16 KiB.
 *
 * @example
 * ```ts
 * import { attnBlock } from "./attention_wgsl.ts";
 * console.log(attnBlock(64)); // 32
 * ```
 */
export function attnBlock(headDim: number): number {
  return Math.max(4, Math.min(64, Math.floor(2048 / headDim)));
}

/**
 * The register form of a variant: D4 = headDim / 4 lanes, attnBlock(headDim) rows.
 *
 * @example
 * ```ts
 * import { regsOf } from "./attention_wgsl.ts";
 * console.log(regsOf({ headDim: 16, hasDoc: false, unrolled: true }).decl("", ["q"]));
 * ```
 */
export function regsOf(v: AttnVariant): RegForm {
  return regForm(v.headDim / 4, attnBlock(v.headDim), v.unrolled === true);
}

/**
 * Shared WGSL of the attention kernels: bindings (inputs read, outputs read_write, uniforms
 * last), workgroup tiles, document-id binary searches and the mask predicate.
 *
 * @example
 * ```ts
 * import { attentionPrelude } from "./attention_wgsl.ts";
 * console.log(attentionPrelude({ headDim: 8, hasDoc: false }, ["Q"], ["O"]).includes("fn allowed")); // true
 * ```
 */
export function attentionPrelude(v: AttnVariant, inputs: string[], outputs: string[]): string {
  const bind = [
    ...inputs.map((n, i) =>
      `@group(0) @binding(${i}) var<storage, read> ${n}: array<${
        n === "DOC" ? "i32" : n === "STATS" ? "vec2<f32>" : "vec4<f32>"
      }>;`
    ),
    ...outputs.map((n, i) =>
      `@group(0) @binding(${inputs.length + i}) var<storage, read_write> ${n}: array<${
        n === "LSE" ? "f32" : "vec4<f32>"
      }>;`
    ),
    `@group(0) @binding(${inputs.length + outputs.length}) var<uniform> u: Uniforms;`,
  ].join("\n");
  return /* wgsl */ `
struct Uniforms { T: u32, H: u32, window: u32, causal: u32, scale: f32 };
${bind}
const D4 = ${v.headDim / 4}u;
const BLK = ${attnBlock(v.headDim)}u;
const ROWS = ${ATTN_ROWS}u;
const HAS_DOC = ${v.hasDoc};
const NEG = -3.0e38;
var<workgroup> lo_hi: array<u32, 2>;
var<workgroup> sA: array<vec4<f32>, ${attnBlock(v.headDim) * v.headDim / 4}>;
var<workgroup> sB: array<vec4<f32>, ${attnBlock(v.headDim) * v.headDim / 4}>;
var<workgroup> sDoc: array<i32, ${attnBlock(v.headDim)}>;

fn docAt(b: u32, t: u32) -> i32 {
  ${v.hasDoc ? "return DOC[b * u.T + t];" : "return 0;"}
}
// First t in row b with doc >= id (ids nondecreasing along t).
fn lowerBound(b: u32, id: i32) -> u32 {
  var lo = 0u; var hi = u.T;
  while (lo < hi) { let mid = (lo + hi) / 2u; if (docAt(b, mid) < id) { lo = mid + 1u; } else { hi = mid; } }
  return lo;
}
// First t in row b with doc > id.
fn upperBound(b: u32, id: i32) -> u32 {
  var lo = 0u; var hi = u.T;
  while (lo < hi) { let mid = (lo + hi) / 2u; if (docAt(b, mid) <= id) { lo = mid + 1u; } else { hi = mid; } }
  return lo;
}
fn allowed(i: u32, j: u32, di: i32, dj: i32) -> bool {
  if (u.causal != 0u) {
    if (j > i) { return false; }
    if (u.window != 0u && i - j >= u.window) { return false; }
  }
  return !HAS_DOC || di == dj;
}
`;
}

/**
 * Forward: O = softmax(scale·QKᵀ + mask)·V and LSE (log-sum-exp per row, natural log).
 * Inputs Q, K, V [B, H, T, D] (+ DOC [B, T]); outputs O [B, H, T, D], LSE [B, H, T].
 *
 * @example
 * ```ts
 * import { attentionForwardWgsl } from "./attention_wgsl.ts";
 * console.log(attentionForwardWgsl({ headDim: 32, hasDoc: false }).includes("LSE")); // true
 * ```
 */
export function attentionForwardWgsl(v: AttnVariant): string {
  const inputs = ["Q", "K", "V", ...(v.hasDoc ? ["DOC"] : [])];
  const r = regsOf(v);
  return attentionPrelude(v, inputs, ["O", "LSE"]) + /* wgsl */ `
@compute @workgroup_size(${ATTN_ROWS}, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let bh = wid.y;
  let b = bh / u.H;
  let first = wid.x * ROWS;
  let last = min(u.T, first + ROWS) - 1u;
  let i = first + lid.x;
  let valid = i < u.T;
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
${r.decl("  ", ["q", "o"])}
${r.eachD("  ", (x) => [`${x.reg("q")} = Q[base + ic * D4 + ${x.d}] * u.scale;`])}
  var m = NEG;
  var l = 0.0;
  for (var j0 = lo; j0 < hi; j0 += BLK) {
    for (var e = lid.x; e < BLK * D4; e += ROWS) {
      let j = min(j0 + e / D4, u.T - 1u);
      sA[e] = K[base + j * D4 + e % D4];
      sB[e] = V[base + j * D4 + e % D4];
    }
    if (lid.x < BLK) { sDoc[lid.x] = docAt(b, min(j0 + lid.x, u.T - 1u)); }
    workgroupBarrier();
${r.declRows("    ", "s")}
    var mb = m;
${
    r.eachRow("    ", (w) => [
      `let j = j0 + ${w.at};`,
      `${w.reg("s")} = NEG;`,
      `if (j < hi && allowed(ic, j, myDoc, sDoc[${w.at}])) {`,
      `  var acc = vec4<f32>(0.0);`,
      ...r.eachD("  ", (x) => [`acc = fma(${x.reg("q")}, sA[${x.tile(w.jj)}], acc);`]).split("\n"),
      `  let x = acc.x + acc.y + acc.z + acc.w;`,
      `  ${w.reg("s")} = x;`,
      `  mb = max(mb, x);`,
      `}`,
    ])
  }
    let corr = exp(m - mb);
    m = mb;
    l = l * corr;
${r.eachD("    ", (x) => [`${x.reg("o")} = ${x.reg("o")} * corr;`])}
${
    r.eachRow("    ", (w) => [
      `if (${w.reg("s")} > NEG) {`,
      `  let p = exp(${w.reg("s")} - m);`,
      `  l += p;`,
      ...r.eachD("  ", (x) => [
        `${x.reg("o")} = fma(vec4<f32>(p), sB[${x.tile(w.jj)}], ${x.reg("o")});`,
      ]).split("\n"),
      `}`,
    ])
  }
    workgroupBarrier();
  }
  if (valid) {
${r.eachD("    ", (x) => [`O[base + i * D4 + ${x.d}] = ${x.reg("o")} / l;`])}
    LSE[bh * u.T + i] = m + log(l);
  }
}
`;
}
