/**
 * Rotary position embeddings (Su et al. 2021) with interleaved pairs: dimensions (2i, 2i+1) of
 * each head rotate together by angle p · θ^(−2i/d), as in the official BLT code (Llama-style
 * RoPE rotates halves instead; BLT checkpoints need the interleaved form).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedKernelsActive } from "../../gpu/active.ts";
import { ropeFits, ropeGpu } from "../../gpu/rope.ts";
import { ropeWasm } from "../../wasm_elementwise.ts";

/**
 * cos and sin tables `[T, d]` for positions 0..T−1, each frequency repeated for its pair. The
 * angle is rounded to float32 as the reference computes it, so long sequences match too.
 *
 * @example
 * ```ts
 * import { ropeTables } from "./rope.ts";
 * const { cos, sin } = ropeTables(3, 4, 10000); // [3, 4] each
 * console.log(cos.shape, sin.arraySync()[0]); // [3, 4] [0, 0, 0, 0]
 * cos.dispose();
 * sin.dispose();
 * ```
 */
export function ropeTables(
  T: number,
  headDim: number,
  theta: number,
): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const { cos, sin } = ropeValues(T, headDim, theta);
  // Copies: the cpu backend keeps the array it is given, and a caller could write into it. (On
  // webgpu the upload is one queue.writeBuffer, lib/gpu/host_cache.ts; a device-resident cache of
  // the tables, tried first, showed up as tensors in every leak check.)
  return {
    cos: tf.tensor2d(cos.slice(), [T, headDim]),
    sin: tf.tensor2d(sin.slice(), [T, headDim]),
  };
}

// The tables' values by (T, headDim, theta): computing them (2·T·d/2 cos/sin) took ~15 ms of
// host time per small-preset step (T = 4096, three tables) while the GPU waited. Tensors are
// still made fresh per call (callers own and dispose them); only the host arrays are reused.
const ROPE_CACHE_MAX = 16;
const ropeCache = new Map<string, { cos: Float32Array; sin: Float32Array }>();

function ropeValues(
  T: number,
  headDim: number,
  theta: number,
): { cos: Float32Array; sin: Float32Array } {
  const key = `${T}/${headDim}/${theta}`;
  const hit = ropeCache.get(key);
  if (hit !== undefined) return hit;
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    invFreq[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
  }
  const cos = new Float32Array(T * headDim), sin = new Float32Array(T * headDim);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(t * invFreq[i]);
      const c = Math.cos(angle), s = Math.sin(angle);
      const o = t * headDim + 2 * i;
      cos[o] = cos[o + 1] = c;
      sin[o] = sin[o + 1] = s;
    }
  }
  if (ropeCache.size >= ROPE_CACHE_MAX) ropeCache.delete(ropeCache.keys().next().value!);
  const values = { cos, sin };
  ropeCache.set(key, values);
  return values;
}

/**
 * Rotates queries or keys `[B, H, T, d]` by their positions: x·cos + rot(x)·sin with
 * rot(x)[2i] = −x[2i+1], rot(x)[2i+1] = x[2i]. On webgpu with lib/gpu's kernels enabled and
 * tables `[T, d]` this is one fused dispatch (and one for the gradient); on wasm one SIMD pass each
 * way (lib/wasm_elementwise.ts); elsewhere tf ops.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { applyRope, ropeTables } from "./rope.ts";
 * const { cos, sin } = ropeTables(2, 2, 10000);
 * const y = applyRope(tf.tensor4d([1, 0, 1, 0], [1, 1, 2, 2]), cos, sin); // position 1 turns by 1 rad
 * console.log((y.arraySync() as number[][][][])[0][0][1]); // ≈ [0.5403, 0.8415]
 * ```
 */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  if (fusedKernelsActive() && ropeFits(x.shape, cos.shape, sin.shape, x.dtype)) {
    return ropeGpu(x, cos, sin);
  }
  // wasm: one SIMD pass each way, bit for bit the tf ops below (lib/wasm_elementwise.ts)
  const fused = ropeWasm(x, cos, sin);
  if (fused !== null) return fused;
  return tf.tidy(() => {
    const shape = x.shape;
    const d = shape[shape.length - 1];
    const pairs = tf.reshape(x, [...shape.slice(0, -1), d / 2, 2]); // [..., d/2, 2]
    const [even, odd] = tf.split(pairs, 2, -1);
    const rotated = tf.reshape(tf.concat([tf.neg(odd), even], -1), shape); // [..., d]
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  });
}
