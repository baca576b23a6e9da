/**
 * The latent global transformer (paper §3.1): a causal transformer over patch representations,
 * where most of the compute goes. Its input is the encoder's k patch states per patch,
 * concatenated (k·hE) and projected to hG when the widths differ. Hugging Face prefix
 * `model.global_transformer` (no final norm).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type BltConfig, needsGlobalProjection } from "../config.ts";
import { block, initBlock } from "./layers/block.ts";
import { linear, type Params } from "./params.ts";

const PREFIX = "model.global_transformer";

/**
 * Registers the global layers and, when k·hE ≠ hG, the input projection `[hG, k·hE]`.
 *
 * @example
 * ```ts
 * import { Params } from "./params.ts";
 * import { initLatentTransformer } from "./latent_transformer.ts";
 * import { PRESETS } from "../config.ts";
 * const p = new Params(0);
 * initLatentTransformer(p, PRESETS.tiny);
 * console.log(p.names().length); // 36 (4 layers × 9)
 * p.dispose();
 * ```
 */
export function initLatentTransformer(p: Params, cfg: BltConfig): void {
  if (needsGlobalProjection(cfg)) {
    p.linear(
      `${PREFIX}.token_embedding_projection.weight`,
      cfg.global.dim,
      cfg.crossAttnK * cfg.encoder.dim,
    );
  }
  for (let i = 0; i < cfg.global.layers; i++) initBlock(p, `${PREFIX}.layers.${i}`, cfg.global);
}

/**
 * Runs the global transformer on patch states `[B, P, k·hE]` → `[B, P, hG]`, with RoPE over
 * patch positions and a causal bias `[B or 1, 1, P, P]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "./params.ts";
 * import { initLatentTransformer, latentTransformer } from "./latent_transformer.ts";
 * import { causalBias } from "./layers/attention.ts";
 * import { ropeTables } from "./layers/rope.ts";
 * import { resolveConfig } from "../config.ts";
 * const cfg = resolveConfig("tiny", { "global.layers": 1 });
 * const p = new Params(0);
 * initLatentTransformer(p, cfg);
 * const { cos, sin } = ropeTables(2, cfg.global.headDim, cfg.global.ropeTheta);
 * console.log(latentTransformer(p, cfg, tf.ones([1, 2, 256]), cos, sin, causalBias(2)).shape); // [1, 2, 256]
 * ```
 */
export function latentTransformer(
  p: Params,
  cfg: BltConfig,
  patches: tf.Tensor3D,
  cos: tf.Tensor,
  sin: tf.Tensor,
  bias: tf.Tensor,
): tf.Tensor3D {
  return tf.tidy(() => {
    let h = needsGlobalProjection(cfg)
      ? linear(patches, p.get(`${PREFIX}.token_embedding_projection.weight`)) as tf.Tensor3D
      : patches;
    for (let i = 0; i < cfg.global.layers; i++) {
      h = block(p, `${PREFIX}.layers.${i}`, cfg.global, h, cos, sin, bias);
    }
    return h;
  });
}
