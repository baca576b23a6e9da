/**
 * BLT's patch ↔ byte cross-attention (paper §3.2.2, §3.3): RMSNorm on queries and on keys/values,
 * no RoPE, and the output already carrying the query residual (`o_proj(attn) + queries`), to
 * which the caller adds its own residual again, exactly as Hugging Face's `BltCrossAttention`.
 *
 * Each query group attends only to its own small set of key rows, gathered by index (a patch's
 * bytes in the encoder, a byte's patch slots in the decoder), instead of a dense
 * `[queries, keys]` score matrix with a mask.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedKernelsActive } from "../../gpu/active.ts";
import { linear, type Params } from "../params.ts";
import { rmsNorm } from "./rms_norm.ts";

/**
 * Registers a cross-attention layer's weights (`q_norm`, `k_norm`, `q/k/v/o_proj`).
 *
 * @example
 * ```ts
 * import { Params } from "../params.ts";
 * import { initCrossAttention } from "./cross_attention.ts";
 * const p = new Params(0);
 * initCrossAttention(p, "x", 8);
 * console.log(p.names().length); // 6
 * p.dispose();
 * ```
 */
export function initCrossAttention(p: Params, prefix: string, dim: number): void {
  p.ones(`${prefix}.q_norm.weight`, dim);
  p.ones(`${prefix}.k_norm.weight`, dim);
  for (const name of ["q_proj", "k_proj", "v_proj", "o_proj"]) {
    p.linear(`${prefix}.${name}.weight`, dim, dim, dim);
  }
}

/**
 * Rows of each sequence: `x` `[B, N, h]`, `index` `[B, M]` int32 into N → `[B, M, h]`. A flat
 * gather with per-sequence offsets (tfjs-backend-wasm 4.22's batched gather mixes up sequences
 * when B > 1).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { gatherRows } from "./cross_attention.ts";
 * const x = tf.tensor3d([1, 2, 3, 4], [2, 2, 1]); // [B=2, N=2, h=1]
 * console.log(gatherRows(x, tf.tensor2d([1, 1, 0, 1], [2, 2], "int32")).dataSync()); // [2, 2, 3, 4]
 * ```
 */
export function gatherRows(x: tf.Tensor, index: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, N, h] = x.shape;
    const M = index.shape[1]!;
    const offsets = tf.mul(tf.reshape(tf.range(0, B, 1, "int32"), [B, 1]), tf.scalar(N, "int32"));
    const flat = tf.reshape(tf.add(index, offsets), [B * M]);
    return tf.reshape(tf.gather(tf.reshape(x, [B * N, h]), flat), [B, M, h]) as tf.Tensor3D;
  });
}

/**
 * Which key rows each query group sees.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { KeyGather } from "./cross_attention.ts";
 * const g: KeyGather = { index: tf.tensor3d([[[0, 1]]], [1, 1, 2], "int32"), bias: null, empty: null };
 * ```
 */
export interface KeyGather {
  /** `[B, G, S]` int32 rows of the key source for group g (padding entries point anywhere). */
  readonly index: tf.Tensor3D;
  /** `[B, G, S]` additive bias (0 or MASKED) for padding entries; null when all are real. */
  readonly bias: tf.Tensor3D | null;
  /** `[B, G]` bool: groups with no real key. Hugging Face gives them a uniform softmax over
   * the whole key source (its mask is constant on that row), i.e. the mean value. */
  readonly empty: tf.Tensor2D | null;
}

/** Above this many keys per group the products go through matMul (see smallBatchedMatMul). */
const ELEMENTWISE_MAX_KEYS = 16;

// x [N, Q, d] · yᵀ [N, S, d] → [N, Q, S] as broadcast multiply + sum (the [N, Q, S, d] products
// exist only inside the op).
function productsT(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(tf.expandDims(x, 2), tf.expandDims(y, 1)), 3);
}

// x [N, Q, S] · y [N, S, d] → [N, Q, d] likewise.
function products(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(tf.expandDims(x, 3), tf.expandDims(y, 1)), 2);
}

// Σ_q a[n, q, s] · b[n, q, d] → [N, S, d]: the gradient of either product for its right operand.
function productsOverQ(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(tf.expandDims(a, 3), tf.expandDims(b, 2)), 1);
}

// The two products with their gradients written out, so that the backward pass keeps only x and
// y (tf.sum's own gradient would keep the [N, Q, S, d] products alive until backward: 4× the
// attention's [B, T, h] activations per decoder cross-attention layer).
type CustomGradBody = (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
};

const elementwiseT = tf.customGrad(
  ((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, y]);
    return {
      value: productsT(x, y), // [N, Q, S]
      // dx[n,q,d] = Σ_s dz[n,q,s] y[n,s,d]; dy[n,s,d] = Σ_q dz[n,q,s] x[n,q,d]
      gradFunc: (dz: tf.Tensor, [sx, sy]: tf.Tensor[]) => [products(dz, sy), productsOverQ(dz, sx)],
    };
  }) as unknown as CustomGradBody,
);
const elementwise = tf.customGrad(
  ((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x, y]);
    return {
      value: products(x, y), // [N, Q, d]
      // dx[n,q,s] = Σ_d dz[n,q,d] y[n,s,d]; dy[n,s,d] = Σ_q x[n,q,s] dz[n,q,d]
      gradFunc: (
        dz: tf.Tensor,
        [sx, sy]: tf.Tensor[],
      ) => [productsT(dz, sy), productsOverQ(sx, dz)],
    };
  }) as unknown as CustomGradBody,
);

/**
 * x [N, Q, d] · yᵀ [N, S, d] (transposeY) or x [N, Q, S] · y [N, S, d], where N is huge (one
 * matrix per byte or patch and head) and Q, S are tiny (k slots, a patch's bytes). As broadcast
 * multiply + sum this is a few large elementwise ops instead of N tiny matrix products, which the
 * wasm backend runs one by one and WebGPU cannot even dispatch past 65,535 groups. The products
 * `[N, Q, S, d]` are temporaries of the op, forward and backward: only x and y are kept.
 * On webgpu with lib/gpu's kernels enabled this is plain `tf.matMul`: our BatchMatMul runs such
 * products one thread per output element (lib/gpu/small_matmul.ts), products never materialised.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { smallBatchedMatMul } from "./cross_attention.ts";
 * const x = tf.ones([3, 1, 4]), y = tf.ones([3, 2, 4]); // [N, Q, d], [N, S, d]
 * console.log(smallBatchedMatMul(x, y, true).shape); // [3, 1, 2]
 * ```
 */
export function smallBatchedMatMul(x: tf.Tensor, y: tf.Tensor, transposeY: boolean): tf.Tensor3D {
  const keys = (transposeY ? y.shape[1] : x.shape[2]) ?? 0;
  if (keys > ELEMENTWISE_MAX_KEYS || fusedKernelsActive()) {
    return tf.matMul(x, y, false, transposeY) as tf.Tensor3D;
  }
  return (transposeY ? elementwiseT(x, y) : elementwise(x, y)) as tf.Tensor3D;
}

/**
 * Cross-attention of query groups `[B, G, Q, h]` to gathered rows of `source` `[B, N, h]`;
 * returns `[B, G, Q, h]` = o_proj(attention) + queries.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "../params.ts";
 * import { crossAttention, initCrossAttention } from "./cross_attention.ts";
 * const p = new Params(0);
 * initCrossAttention(p, "x", 8);
 * const index = tf.tensor3d([[[0, 1], [2, 2]]], [1, 2, 2], "int32"); // group 0: rows 0,1; group 1: row 2
 * const y = crossAttention(p, "x", 2, 1e-5, tf.ones([1, 2, 3, 8]), tf.ones([1, 3, 8]), {
 *   index,
 *   bias: null,
 *   empty: null,
 * });
 * console.log(y.shape); // [1, 2, 3, 8]
 * ```
 */
export function crossAttention(
  p: Params,
  prefix: string,
  heads: number,
  eps: number,
  queries: tf.Tensor4D,
  source: tf.Tensor3D,
  gather: KeyGather,
): tf.Tensor4D {
  return tf.tidy(() => {
    const w = (name: string) => p.get(`${prefix}.${name}.weight`);
    const [B, G, Q, h] = queries.shape;
    const S = gather.index.shape[2];
    const d = h / heads;
    const q = linear(rmsNorm(queries, w("q_norm"), eps), w("q_proj")); // [B, G, Q, h]
    const kvIn = rmsNorm(source, w("k_norm"), eps); // [B, N, h]
    const k = linear(kvIn, w("k_proj")); // [B, N, h]
    const v = linear(kvIn, w("v_proj")); // [B, N, h]
    const flatIndex = tf.reshape(gather.index, [B, G * S]);
    const perGroup = (x: tf.Tensor) =>
      tf.reshape(
        tf.transpose(tf.reshape(gatherRows(x, flatIndex), [B, G, S, heads, d]), [
          0,
          1,
          3,
          2,
          4,
        ]),
        [B * G * heads, S, d],
      ); // [B·G·H, S, d]
    const qh = tf.reshape(
      tf.transpose(tf.reshape(q, [B, G, Q, heads, d]), [0, 1, 3, 2, 4]),
      [B * G * heads, Q, d],
    ); // [B·G·H, Q, d]
    let scores = tf.mul(smallBatchedMatMul(qh, perGroup(k), true), d ** -0.5); // [B·G·H, Q, S]
    if (gather.bias !== null) {
      const bias = tf.reshape(
        tf.tile(tf.reshape(gather.bias, [B * G, 1, S]), [1, heads, 1]), // rank ≤ 4: webgpu tiles rank 5 on the CPU
        [B * G * heads, 1, S],
      );
      scores = tf.add(scores, bias);
    }
    let attn = tf.reshape(
      tf.transpose(
        tf.reshape(smallBatchedMatMul(tf.softmax(scores), perGroup(v), false), [B, G, heads, Q, d]),
        [
          0,
          1,
          3,
          2,
          4,
        ],
      ),
      [B, G, Q, h],
    ); // [B, G, Q, h]
    if (gather.empty !== null) {
      const meanV = tf.reshape(tf.mean(v, 1), [B, 1, 1, h]); // [B, 1, 1, h]
      const empty = tf.reshape(gather.empty, [B, G, 1, 1]);
      attn = tf.where(tf.broadcastTo(empty, attn.shape), tf.broadcastTo(meanV, attn.shape), attn);
    }
    return tf.add(linear(attn, w("o_proj")), queries) as tf.Tensor4D;
  });
}
