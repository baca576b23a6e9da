/**
 * A plain byte-level transformer LM: BLT's entropy model (the patcher, paper §2.3) and the
 * byte-level baseline. Its next-byte entropies (nats, over all 260 ids) place patch boundaries
 * through `lib/patching`. Hugging Face names: `embed_tokens`, `layers.i`, `norm`, `lm_head`
 * (prefixed `model.patcher.` inside a BLT checkpoint).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { PatchingConfig, TransformerConfig } from "../config.ts";
import {
  entropies as entropiesOf,
  entropyRuleOf,
  isEntropyStart,
  patchLengths,
} from "../patching/mod.ts";
import type { Batch, LossResult, TrainableModel } from "../train/types.ts";
import { saveByteLm } from "./io/hf.ts";
import { causalBias } from "./layers/attention.ts";
import { block, initBlock } from "./layers/block.ts";
import { rmsNorm } from "./layers/rms_norm.ts";
import { ropeTables } from "./layers/rope.ts";
import { nextByteLoss } from "./loss.ts";
import { linear, Params } from "./params.ts";
import { checkIds, checkLength } from "./patch_geometry.ts";

/**
 * Registers a byte LM's weights under `prefix` ("" standalone, "model.patcher." inside BLT).
 *
 * @example
 * ```ts
 * import { Params } from "./params.ts";
 * import { initByteLm } from "./byte_lm.ts";
 * import { PRESETS } from "../config.ts";
 * const p = new Params(0);
 * initByteLm(p, PRESETS.tiny.entropyModel!, "");
 * console.log(p.get("lm_head.weight").shape); // [260, 64]
 * p.dispose();
 * ```
 */
export function initByteLm(p: Params, cfg: TransformerConfig, prefix: string): void {
  p.embedding(`${prefix}embed_tokens.weight`, 260, cfg.dim);
  for (let i = 0; i < cfg.layers; i++) initBlock(p, `${prefix}layers.${i}`, cfg);
  p.ones(`${prefix}norm.weight`, cfg.dim);
  p.linear(`${prefix}lm_head.weight`, 260, cfg.dim);
}

/**
 * The byte LM. Create with {@link createByteLm}; load/save in Hugging Face format with
 * `loadByteLm` / `saveByteLm` (lib/model/io/hf.ts).
 *
 * @example
 * ```ts
 * import { createByteLm } from "./byte_lm.ts";
 * import { PRESETS } from "../config.ts";
 * const lm = createByteLm(PRESETS.tiny.entropyModel!, 1);
 * const h = lm.entropies([[1, 72, 105]]); // [B][T] nats
 * console.log(h[0].length); // 3
 * lm.dispose();
 * ```
 */
export class ByteLm implements TrainableModel {
  constructor(
    readonly config: TransformerConfig,
    readonly params: Params,
    readonly prefix = "",
  ) {}

  /** Trainable weights by Hugging Face name (without this model's prefix when standalone). */
  namedVariables(): Map<string, tf.Variable> {
    return this.params.trainable ? this.params.variables() : new Map();
  }

  /** Next-byte logits `[B, T, 260]` for ids `[B, T]` (causal: row t depends on ids ≤ t). */
  logits(ids: readonly (readonly number[])[]): tf.Tensor3D {
    const { B, T } = checkIds(ids);
    checkLength(T, this.config.maxPositions, "ByteLm.logits");
    const c = this.config, w = (n: string) => this.params.get(`${this.prefix}${n}`);
    return tf.tidy(() => {
      const { cos, sin } = ropeTables(T, c.headDim, c.ropeTheta);
      const bias = causalBias(T, c.slidingWindow);
      let h = tf.gather(
        w("embed_tokens.weight"),
        tf.tensor2d(ids.flat(), [B, T], "int32"),
      ) as tf.Tensor3D;
      for (let i = 0; i < c.layers; i++) {
        h = block(this.params, `${this.prefix}layers.${i}`, c, h, cos, sin, bias);
      }
      return linear(rmsNorm(h, w("norm.weight"), c.normEps), w("lm_head.weight")) as tf.Tensor3D;
    });
  }

  /** Next-byte entropy in nats per position, `[B][T]` (reads back synchronously: wasm/cpu). */
  entropies(ids: readonly (readonly number[])[]): Float32Array[] {
    const logits = this.logits(ids);
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    return splitEntropies(data, logits.shape);
  }

  /** {@link ByteLm.entropies} with an asynchronous read-back: works on every backend, WebGPU too. */
  async entropiesAsync(ids: readonly (readonly number[])[]): Promise<Float32Array[]> {
    const logits = this.logits(ids);
    const data = (await logits.data()) as Float32Array;
    logits.dispose();
    return splitEntropies(data, logits.shape);
  }

  /** Patch lengths `[B][P]` of each row under `patching` (entropy mode uses this model). */
  patchLengths(ids: readonly (readonly number[])[], patching: PatchingConfig): number[][] {
    checkIds(ids);
    if (patching.mode !== "entropy") return ids.map((row) => patchLengths(row, patching));
    return this.entropies(ids).map((h) => entropyPatchLengths(h, patching));
  }

  /** Mean next-byte cross-entropy (nats) over the batch's counted targets. */
  loss(batch: Batch): LossResult {
    checkIds(batch.ids);
    return nextByteLoss(() => this.logits(batch.ids), batch);
  }

  /** Saves as a standalone Hugging Face `BltPatcher` (see lib/model/io/hf.ts). */
  save(dir: string): Promise<void> {
    return saveByteLm(this, dir);
  }

  /** Frees the weights. */
  dispose(): void {
    this.params.dispose();
  }
}

/**
 * Entropy patch lengths of one sequence as Hugging Face's patcher returns them: the lengths from
 * `lib/patching`, plus a trailing empty patch when the rule also starts a patch at T (the byte
 * after the input). That marks the last patch as complete, so the decoder may read it; without
 * it the last position's logits would differ from the reference.
 *
 * @example
 * ```ts
 * import { entropyPatchLengths } from "./byte_lm.ts";
 * import { PRESETS } from "../config.ts";
 * const p = { ...PRESETS.tiny.patching, threshold: 1 };
 * console.log(entropyPatchLengths([3, 0.1, 2, 0.2], p), entropyPatchLengths([3, 0.1, 2, 2], p));
 * // [1, 2, 1] [1, 2, 1, 0]
 * ```
 */
export function entropyPatchLengths(h: ArrayLike<number>, patching: PatchingConfig): number[] {
  const lengths = patchLengths(h, patching);
  const T = h.length;
  return isEntropyStart(entropyRuleOf(patching), T, h[T - 1], h[T - 2]) ? [...lengths, 0] : lengths;
}

/**
 * A freshly initialised byte LM (truncated normal, std fan_in^-0.5, seeded).
 *
 * @example
 * ```ts
 * import { createByteLm } from "./byte_lm.ts";
 * import { PRESETS } from "../config.ts";
 * const lm = createByteLm(PRESETS.tiny.entropyModel!, 0);
 * const { loss, predictions } = lm.loss({ ids: [[1, 72, 105, 2]] });
 * console.log(predictions, loss.dataSync()[0] > 0); // 3 true
 * lm.dispose();
 * ```
 */
export function createByteLm(config: TransformerConfig, seed: number): ByteLm {
  const params = new Params(seed);
  initByteLm(params, config, "");
  return new ByteLm(config, params, "");
}

/** Per-row entropies of flat logits `[B, T, V]`. */
function splitEntropies(data: Float32Array, [B, T, V]: number[]): Float32Array[] {
  return Array.from(
    { length: B },
    (_, b) => entropiesOf(data.subarray(b * T * V, (b + 1) * T * V), T, V),
  );
}
