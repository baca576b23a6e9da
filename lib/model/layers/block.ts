/**
 * Pre-norm transformer layer: x + attn(norm(x)), then + mlp(norm(·)); Hugging Face names
 * `{prefix}.input_layernorm`, `self_attn`, `post_attention_layernorm`, `mlp`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TransformerConfig } from "../../config.ts";
import type { Params } from "../params.ts";
import { initAttention, selfAttention } from "./attention.ts";
import { initMlp, mlp } from "./mlp.ts";
import { rmsNorm } from "./rms_norm.ts";

/**
 * Registers one layer's weights.
 *
 * @example
 * ```ts
 * import { Params } from "../params.ts";
 * import { initBlock } from "./block.ts";
 * import { PRESETS } from "../../config.ts";
 * const p = new Params(0);
 * initBlock(p, "layers.0", PRESETS.tiny.entropyModel!);
 * console.log(p.names().length); // 9
 * p.dispose();
 * ```
 */
export function initBlock(p: Params, prefix: string, cfg: TransformerConfig): void {
  p.ones(`${prefix}.input_layernorm.weight`, cfg.dim);
  initAttention(p, `${prefix}.self_attn`, cfg.dim);
  p.ones(`${prefix}.post_attention_layernorm.weight`, cfg.dim);
  initMlp(p, `${prefix}.mlp`, cfg.dim, cfg.ffnDim);
}

/**
 * Runs one layer on `x` `[B, T, h]` given RoPE tables and the attention bias.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { Params } from "../params.ts";
 * import { block, initBlock } from "./block.ts";
 * import { causalBias } from "./attention.ts";
 * import { ropeTables } from "./rope.ts";
 * import { PRESETS } from "../../config.ts";
 * const cfg = PRESETS.tiny.entropyModel!;
 * const p = new Params(0);
 * initBlock(p, "l", cfg);
 * const { cos, sin } = ropeTables(4, cfg.headDim, cfg.ropeTheta);
 * console.log(block(p, "l", cfg, tf.ones([1, 4, cfg.dim]), cos, sin, causalBias(4)).shape); // [1, 4, 64]
 * ```
 */
export function block(
  p: Params,
  prefix: string,
  cfg: TransformerConfig,
  x: tf.Tensor3D,
  cos: tf.Tensor,
  sin: tf.Tensor,
  bias: tf.Tensor,
): tf.Tensor3D {
  return tf.tidy(() => {
    const normed = rmsNorm(
      x,
      p.get(`${prefix}.input_layernorm.weight`),
      cfg.normEps,
    ) as tf.Tensor3D;
    const h = tf.add(x, selfAttention(p, `${prefix}.self_attn`, cfg, normed, cos, sin, bias));
    const normed2 = rmsNorm(h, p.get(`${prefix}.post_attention_layernorm.weight`), cfg.normEps);
    return tf.add(h, mlp(p, `${prefix}.mlp`, normed2)) as tf.Tensor3D;
  });
}
