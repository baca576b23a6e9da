/**
 * Attention options, their validation, and the plain-tfjs formulation with the same masks
 * (causal, sliding window, same-document), used as the oracle for the fused kernels and as the
 * path for backends other than webgpu.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Masking and scaling of one attention call. */
export interface AttentionOptions {
  /** Key j is visible to query i only if j ≤ i (default true). */
  readonly causal?: boolean;
  /** With causal: also require i − j < window (sliding window, BLT's local models). */
  readonly window?: number;
  /** [B, T] int32 document ids, nondecreasing along T: attend only within a document. */
  readonly docIds?: tf.Tensor;
  /** Score scale (default 1/√headDim). */
  readonly scale?: number;
  /**
   * Layout of q, k, v and the result: "bhtd" (default) [B, heads, T, headDim], or "bthd"
   * [B, T, heads, headDim] as the projections produce them (the fused kernels then need no head
   * transposes).
   */
  readonly layout?: "bhtd" | "bthd";
}

/** Options with defaults applied. */
export interface ResolvedAttention {
  readonly causal: boolean;
  readonly window: number;
  readonly scale: number;
  readonly layout: "bhtd" | "bthd";
}

/**
 * Validates q, k, v ([B, heads, T, headDim] float32) and options; applies defaults.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { resolveAttention } from "./attention_reference.ts";
 * const q = tf.zeros([1, 1, 4, 16]);
 * console.log(resolveAttention(q, q, q, {}).scale); // 0.25
 * ```
 */
export function resolveAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: AttentionOptions,
): ResolvedAttention {
  const layout = opts.layout ?? "bhtd";
  if (layout !== "bhtd" && layout !== "bthd") {
    throw new Error(`attention: layout must be "bhtd" or "bthd", found '${layout}'.`);
  }
  const dims = layout === "bhtd" ? "[B, heads, T, headDim]" : "[B, T, heads, headDim]";
  if (q.rank !== 4) {
    throw new Error(`attention: q must be ${dims}, found shape [${q.shape}].`);
  }
  for (const [name, t] of [["k", k], ["v", v]] as const) {
    if (t.shape.join() !== q.shape.join()) {
      throw new Error(`attention: ${name} shape [${t.shape}] must equal q shape [${q.shape}].`);
    }
  }
  for (const [name, x] of [["q", q], ["k", k], ["v", v]] as const) {
    if (x.dtype !== "float32") {
      throw new Error(`attention: ${name} must be float32, found ${x.dtype}.`);
    }
  }
  const [b, , , d] = q.shape;
  const t = q.shape[layout === "bhtd" ? 2 : 1] as number;
  if (t < 1) throw new Error(`attention: T must be ≥ 1, found ${t}.`);
  if (d % 4 !== 0 || d > 256) {
    throw new Error(`attention: headDim must be a multiple of 4 and ≤ 256, found ${d}.`);
  }
  const causal = opts.causal ?? true;
  const window = opts.window ?? 0;
  if (opts.window !== undefined && (!causal || !Number.isInteger(window) || window < 1)) {
    throw new Error(`attention: window must be an integer ≥ 1 with causal=true, found ${window}.`);
  }
  if (opts.docIds !== undefined && opts.docIds.shape.join() !== [b, t].join()) {
    throw new Error(
      `attention: docIds must be [B, T] = [${b}, ${t}], found [${opts.docIds.shape}].`,
    );
  }
  return { causal, window, scale: opts.scale ?? 1 / Math.sqrt(d), layout };
}

/**
 * Plain-tfjs attention with the same masks (materialises the [B, heads, T, T] scores).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { referenceAttention } from "./attention_reference.ts";
 * const q = tf.ones([1, 2, 5, 8]);
 * console.log(referenceAttention(q, q, q, { window: 2 }).shape); // [1, 2, 5, 8]
 * ```
 */
export function referenceAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  opts: AttentionOptions = {},
): tf.Tensor {
  const r = resolveAttention(q, k, v, opts);
  if (r.layout === "bthd") {
    // [B, T, H, D] ↔ [B, H, T, D] around the same computation.
    const heads = (x: tf.Tensor) => tf.transpose(x, [0, 2, 1, 3]);
    return tf.tidy(() =>
      heads(referenceAttention(heads(q), heads(k), heads(v), { ...opts, layout: "bhtd" }))
    );
  }
  const t = q.shape[2] as number;
  return tf.tidy(() => {
    const i = tf.range(0, t, 1, "int32").reshape([t, 1]);
    const j = tf.range(0, t, 1, "int32").reshape([1, t]);
    let allowed: tf.Tensor = tf.onesLike(tf.add(i, j)).cast("bool"); // [T, T]
    if (r.causal) allowed = tf.logicalAnd(allowed, tf.lessEqual(j, i));
    if (r.window > 0) allowed = tf.logicalAnd(allowed, tf.less(tf.sub(i, j), r.window));
    allowed = allowed.reshape([1, 1, t, t]);
    if (opts.docIds !== undefined) {
      const doc = opts.docIds.cast("int32");
      const same = tf.equal(doc.reshape([-1, 1, t, 1]), doc.reshape([-1, 1, 1, t]));
      allowed = tf.logicalAnd(allowed, same); // [B, 1, T, T]
    }
    // An additive bias (not tf.where) so gradients broadcast cleanly over B and heads.
    const bias = tf.mul(tf.sub(1, allowed.cast("float32")), -1e9);
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), r.scale), bias); // [B, H, T, T]
    return tf.matMul(tf.softmax(scores), v); // [B, H, T, D]
  });
}
