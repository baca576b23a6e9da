/**
 * MegaByte (Yu et al. 2023), the paper's static-patch baseline (§4, Table 1): bytes grouped into
 * fixed patches of P bytes; a global transformer over patch embeddings (the P byte embeddings of
 * a patch concatenated and projected to the global width), its input shifted by one patch so
 * patch k sees only patches < k; a local transformer inside each patch whose input at byte j is
 * the global output for the patch (projected to P byte slots) plus the embedding of byte j − 1.
 *
 * Causality holds by construction: byte kP + j is predicted from patches 0..k−1 (global) and
 * bytes kP..kP+j−1 (local). Logits follow the batch convention (position t predicts ids[t + 1]):
 * the window gets one padding byte appended, and padding only ever feeds later positions.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Gradients of gathers on the wasm backend need UnsortedSegmentSum.
import "../../wasm_kernels.ts";
import { BOE_ID, VOCAB_SIZE } from "../../bytes/codec.ts";
import type { TransformerConfig } from "../../config.ts";
import type { Batch, Json, LossResult, TrainableModel } from "../../train/types.ts";
import { causalBias } from "../layers/attention.ts";
import { block, initBlock } from "../layers/block.ts";
import { rmsNorm } from "../layers/rms_norm.ts";
import { ropeTables } from "../layers/rope.ts";
import { checkIds } from "../patch_geometry.ts";
import { nextByteLoss } from "../loss.ts";
import { linear, Params } from "../params.ts";

/**
 * MegaByte's config: patch size P, the global stack (over patches) and the local stack (over the
 * P bytes of a patch; its width is also the byte-embedding width).
 *
 * @example
 * ```ts
 * import type { MegaByteConfig } from "./megabyte.ts";
 * import { PRESETS } from "../../config.ts";
 * const c: MegaByteConfig = {
 *   kind: "megabyte",
 *   patchSize: 4,
 *   global: PRESETS.tiny.global,
 *   local: PRESETS.tiny.encoder,
 * };
 * ```
 */
export interface MegaByteConfig {
  readonly kind: "megabyte";
  /** P: bytes per patch. */
  readonly patchSize: number;
  readonly global: TransformerConfig;
  readonly local: TransformerConfig;
}

/**
 * Throws unless `patchSize` is an integer in 1..`window`.
 *
 * @example
 * ```ts
 * import { checkPatchSize } from "./megabyte.ts";
 * checkPatchSize(4, 64); // fine
 * try {
 *   checkPatchSize(0, 64);
 * } catch (e) {
 *   console.log((e as Error).message.startsWith("patchSize must be")); // true
 * }
 * ```
 */
export function checkPatchSize(patchSize: number, window: number): void {
  if (!Number.isInteger(patchSize) || patchSize < 1 || patchSize > window) {
    throw new Error(
      `patchSize must be an integer from 1 to the window (${window} bytes), found ${patchSize}; ` +
        "pick a smaller patch or a longer window",
    );
  }
}

/**
 * The MegaByte model (weights under `global.*`, `local.*`), trainable by `lib/train`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { MegaByte } from "./megabyte.ts";
 * await tf.ready(); // the wasm backend (registered on import) initialises asynchronously
 * import { resolveConfig } from "../../config.ts";
 * const small = resolveConfig("tiny", { "global.dim": 16, "global.heads": 2, "encoder.dim": 8, "encoder.heads": 2, "decoder.dim": 8 });
 * const m = new MegaByte({ kind: "megabyte", patchSize: 2, global: { ...small.global, layers: 1 }, local: { ...small.encoder, layers: 1 } });
 * const logits = m.logits([[1, 76, 105, 2]]);
 * console.log(logits.shape); // [1, 4, 260]
 * m.dispose();
 * ```
 */
export class MegaByte implements TrainableModel {
  /** Typed, and JSON for checkpoints (interfaces lack Json's index signature, hence `& Json`). */
  readonly config: MegaByteConfig & Json;
  readonly params: Params;

  constructor(config: MegaByteConfig, seed = 0) {
    checkPatchSize(config.patchSize, Infinity);
    this.config = Object.freeze({ ...config }) as MegaByteConfig & Json;
    const { patchSize: P, global: g, local: l } = config;
    const p = new Params(seed);
    p.embedding("global.embed_tokens.weight", VOCAB_SIZE, l.dim);
    p.linear("global.patch_proj.weight", g.dim, P * l.dim);
    p.embedding("global.start.weight", 1, g.dim);
    for (let i = 0; i < g.layers; i++) initBlock(p, `global.layers.${i}`, g);
    p.ones("global.norm.weight", g.dim);
    p.linear("global.to_local.weight", P * l.dim, g.dim);
    p.embedding("local.embed_tokens.weight", VOCAB_SIZE, l.dim);
    p.embedding("local.start.weight", 1, l.dim);
    for (let i = 0; i < l.layers; i++) initBlock(p, `local.layers.${i}`, l);
    p.ones("local.norm.weight", l.dim);
    p.linear("lm_head.weight", VOCAB_SIZE, l.dim);
    this.params = p;
  }

  namedVariables(): Map<string, tf.Variable> {
    return this.params.variables();
  }

  /** Next-byte logits `[B, T, 260]` of byte ids `[B, T]` (position t predicts ids[t + 1]). */
  logits(ids: readonly (readonly number[])[]): tf.Tensor3D {
    const { B, T } = checkIds(ids);
    const { patchSize: P, global: g, local: l } = this.config;
    checkPatchSize(P, T);
    const K = Math.ceil((T + 1) / P); // patches, covering the T ids and one slot past them
    const L = K * P;
    const padded = ids.map((row) => [...row, ...new Array<number>(L - T).fill(BOE_ID)]);
    return tf.tidy(() => {
      const p = this.params;
      const w = (name: string) => p.get(name);
      const idT = tf.tensor2d(padded, [B, L], "int32");
      // Global model over patches; input k is patch k − 1, a learned start vector for k = 0.
      const bytesG = tf.reshape(tf.gather(w("global.embed_tokens.weight"), idT), [B, K, P * l.dim]);
      const patches = linear(bytesG, w("global.patch_proj.weight")); // [B, K, hG]
      const start = tf.broadcastTo(tf.reshape(w("global.start.weight"), [1, 1, g.dim]), [
        B,
        1,
        g.dim,
      ]);
      let x = tf.concat([start, tf.slice(patches, [0, 0, 0], [B, K - 1, g.dim])], 1) as tf.Tensor3D; // [B, K, hG]
      const gr = ropeTables(K, g.headDim, g.ropeTheta);
      const gBias = causalBias(K, g.slidingWindow);
      for (let i = 0; i < g.layers; i++) {
        x = block(p, `global.layers.${i}`, g, x, gr.cos, gr.sin, gBias);
      }
      const gOut = rmsNorm(x, w("global.norm.weight"), g.normEps); // [B, K, hG]
      const toLocal = tf.reshape(linear(gOut, w("global.to_local.weight")), [B, K, P, l.dim]);
      // Local model inside each patch; input j adds the embedding of byte j − 1 (start for j = 0).
      const bytesL = tf.reshape(tf.gather(w("local.embed_tokens.weight"), idT), [B, K, P, l.dim]);
      const lStart = tf.broadcastTo(tf.reshape(w("local.start.weight"), [1, 1, 1, l.dim]), [
        B,
        K,
        1,
        l.dim,
      ]);
      const shifted = tf.concat([lStart, tf.slice(bytesL, [0, 0, 0, 0], [B, K, P - 1, l.dim])], 2); // [B, K, P, hL]
      let y = tf.reshape(tf.add(toLocal, shifted), [B * K, P, l.dim]) as tf.Tensor3D; // [B·K, P, hL]
      const lr = ropeTables(P, l.headDim, l.ropeTheta);
      const lBias = causalBias(P, l.slidingWindow);
      for (let i = 0; i < l.layers; i++) {
        y = block(p, `local.layers.${i}`, l, y, lr.cos, lr.sin, lBias);
      }
      const logits = linear(rmsNorm(y, w("local.norm.weight"), l.normEps), w("lm_head.weight")); // [B·K, P, V]
      // Output i predicts byte i; the batch convention wants position t to predict ids[t + 1].
      return tf.slice(tf.reshape(logits, [B, L, VOCAB_SIZE]), [0, 1, 0], [
        B,
        T,
        VOCAB_SIZE,
      ]) as tf.Tensor3D;
    });
  }

  /** Mean next-byte cross-entropy (nats) over the batch's counted targets. */
  loss(batch: Batch): LossResult {
    return nextByteLoss(() => this.logits(batch.ids), batch);
  }

  /** Frees the weights. */
  dispose(): void {
    this.params.dispose();
  }
}
