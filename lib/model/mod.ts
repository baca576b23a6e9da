/**
 * The BLT model: create or load a Byte Latent Transformer, run it, train it through the
 * trainer's interface, save it in Hugging Face format; plus the byte LM (entropy model).
 *
 * @example
 * ```ts
 * import { createBlt } from "./mod.ts";
 * import { resolveConfig } from "../config.ts";
 * const blt = createBlt(resolveConfig("tiny", { "global.layers": 1, "hash.buckets": 64 }), 0);
 * const { logits, patchLengths } = blt.forward([[1, 76, 105, 36, 2]], { patchLengths: [[1, 2, 2]] });
 * console.log(logits.shape, patchLengths); // [1, 5, 260] [[1, 2, 2]]
 * logits.dispose();
 * blt.dispose();
 * ```
 *
 * @module
 */
export { Blt, createBlt, type ForwardOptions, type ForwardResult } from "./blt.ts";
export { ByteLm, createByteLm } from "./byte_lm.ts";
export { loadByteLm, loadPretrained, saveBlt, saveByteLm } from "./io/hf.ts";
export {
  fromHfConfig,
  patcherFromHfConfig,
  patcherToHfConfig,
  toHfConfig,
} from "./io/hf_config.ts";
export { checkIds, checkPatchLengths } from "./patch_geometry.ts";
export {
  type BltFlops,
  type BltFlopsConfig,
  bltFlopsPerByte,
  type StackDims,
  transformerFlopsPerByte,
  transformerForwardFlops,
} from "./flops.ts";
export { encoderPoolingWeights, type PoolingWeights } from "./pooling_attention.ts";
