/**
 * The Byte Latent Transformer (paper §3): hash n-gram byte embeddings → local encoder with
 * cross-attention pooling into patches → latent global transformer over patches → local decoder
 * reading the patch states back → logits over 260 byte ids. Patches come from the caller or from
 * the model's own patcher (the entropy model, §2.3). The config's ablation switches change single
 * stages: `hash.sizes: []` (byte embeddings only), `encoder.crossAttn: false` (patches are the
 * projected max pools) and `decoder.crossAttn: false` (bytes add their patch's projected state);
 * see hash_embedding.ts, local_encoder.ts and local_decoder.ts.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { BltConfig } from "../config.ts";
import { patchLengths as patchLengthsOf } from "../patching/mod.ts";
import type { Batch, LossResult, TrainableModel } from "../train/types.ts";
import { ByteLm, entropyPatchLengths, initByteLm } from "./byte_lm.ts";
import { saveBlt } from "./io/hf.ts";
import { hashEmbeddings, initHashEmbedding, prepareHashIds } from "./hash_embedding.ts";
import { causalBias, MASKED } from "./layers/attention.ts";
import { ropeTables } from "./layers/rope.ts";
import { initLatentTransformer, latentTransformer } from "./latent_transformer.ts";
import { initLocalDecoder, localDecoder } from "./local_decoder.ts";
import { initLocalEncoder, localEncoder } from "./local_encoder.ts";
import { nextByteLoss } from "./loss.ts";
import { linear, Params } from "./params.ts";
import {
  byteDocIds,
  checkIds,
  checkLength,
  checkPatchLengths,
  decoderGather,
  encoderGather,
  patchDocIds,
} from "./patch_geometry.ts";

/** Hugging Face name of the LM head. */
const LM_HEAD = "lm_head.weight";

/**
 * Options of {@link Blt.forward}.
 *
 * @example
 * ```ts
 * import type { ForwardOptions } from "./blt.ts";
 * const o: ForwardOptions = { patchLengths: [[1, 2, 2]], intermediates: true };
 * ```
 */
export interface ForwardOptions {
  /** Patch lengths `[B][P]` (each row sums to T, first patch 1); absent = the model patches. */
  readonly patchLengths?: readonly (readonly number[])[];
  /** Also return every stage's tensors. */
  readonly intermediates?: boolean;
  /** Called after each stage (`hash`, `encoder`, `global`, `decoder`, `lm_head`): a hook for
   * measuring tools (bench/memory_bench.ts attributes bytes to stages with it). */
  readonly onStage?: (stage: ForwardStage) => void;
}

/**
 * The stages {@link ForwardOptions.onStage} reports, in order.
 *
 * @example
 * ```ts
 * import type { ForwardStage } from "./blt.ts";
 * const s: ForwardStage = "global";
 * ```
 */
export type ForwardStage = "hash" | "encoder" | "global" | "decoder" | "lm_head";

/**
 * What {@link Blt.forward} returns; the caller disposes the tensors.
 *
 * @example
 * ```ts
 * import type { ForwardResult } from "./blt.ts";
 * type Logits = ForwardResult["logits"]; // [B, T, 260]
 * ```
 */
export interface ForwardResult {
  /** `[B, T, 260]`: row t predicts byte t + 1. */
  readonly logits: tf.Tensor3D;
  /** Patch lengths used, `[B][P]` (rows padded with trailing zeros to one P). */
  readonly patchLengths: number[][];
  /** Entropy model's next-byte entropies `[B][T]` (nats), when it patched. */
  readonly entropies?: Float32Array[];
  /** With `intermediates`: hash n-gram byte embeddings `[B, T, hE]`. */
  readonly embeddings?: tf.Tensor3D;
  /** With `intermediates`: encoder byte states `[B, T, hE]`. */
  readonly encoderHidden?: tf.Tensor3D;
  /** With `intermediates`: encoder patch states `[B, P·k, hE]`. */
  readonly encoderPatches?: tf.Tensor3D;
  /** With `intermediates`: global transformer output `[B, P, hG]`. */
  readonly globalHidden?: tf.Tensor3D;
  /** With `intermediates`: decoder output after its final norm `[B, T, hD]`. */
  readonly decoderOutput?: tf.Tensor3D;
}

/**
 * A BLT with its weights (and, when the config has one, its frozen entropy model). Create with
 * {@link createBlt}, or load Hugging Face weights with `loadPretrained` (lib/model/io/hf.ts).
 *
 * @example
 * ```ts
 * import { createBlt } from "./blt.ts";
 * import { resolveConfig } from "../config.ts";
 * const blt = createBlt(resolveConfig("tiny", { "global.layers": 1, "hash.buckets": 64 }), 0);
 * const out = blt.forward([[1, 72, 105, 36]], { patchLengths: [[1, 3]] });
 * console.log(out.logits.shape); // [1, 4, 260]
 * out.logits.dispose();
 * blt.dispose();
 * ```
 */
export class Blt implements TrainableModel {
  constructor(
    readonly config: BltConfig,
    readonly params: Params,
    readonly patcher: ByteLm | null,
  ) {}

  /** Trainable weights by Hugging Face name (the frozen patcher's are not among them). */
  namedVariables(): Map<string, tf.Variable> {
    return this.params.variables();
  }

  /** Every weight by Hugging Face name, patcher included (what a checkpoint holds). */
  allVariables(): Map<string, tf.Variable> {
    return new Map([...this.params.variables(), ...(this.patcher?.params.variables() ?? [])]);
  }

  /** Patch lengths `[B][P]` for ids under the config's patching mode (entropies in entropy mode). */
  patch(
    ids: readonly (readonly number[])[],
  ): { patchLengths: number[][]; entropies?: Float32Array[] } {
    checkIds(ids);
    const patching = this.config.patching;
    if (patching.mode === "entropy") {
      if (this.patcher === null) {
        throw new Error(
          "this BLT has no entropy model (config.entropyModel is null): pass patchLengths, or set " +
            "config.patching.mode to 'space', 'static' or 'byte'",
        );
      }
      const entropies = this.patcher.entropies(ids);
      return { patchLengths: entropies.map((h) => entropyPatchLengths(h, patching)), entropies };
    }
    // Static patches start after the BOS patch so that the first patch is BOS alone.
    const lengths = patching.mode === "static"
      ? ids.map((row) => [1, ...(row.length > 1 ? patchLengthsOf(row.slice(1), patching) : [])])
      : ids.map((row) => patchLengthsOf(row, patching));
    return { patchLengths: lengths };
  }

  /**
   * Runs the model on byte ids `[B, T]`. Causal: logits at t depend only on ids ≤ t (given the
   * patch lengths).
   */
  forward(ids: readonly (readonly number[])[], options: ForwardOptions = {}): ForwardResult {
    const { B, T } = checkIds(ids);
    checkLength(T, maxBytePositions(this.config), "Blt.forward");
    const patched = options.patchLengths === undefined ? this.patch(ids) : null;
    const lengths = checkPatchLengths(options.patchLengths ?? patched!.patchLengths, T, B);
    const cfg = this.config, k = cfg.crossAttnK;
    const pool = encoderGather(lengths, T);
    const P = pool.P;
    const slots = decoderGather(lengths, T, k);
    const docs = cfg.resetAtEos ? byteDocIds(ids) : null;
    const mark = options.onStage ?? (() => {});
    const stages = tf.tidy(() => {
      // Masks and positions shared by the stages.
      const byteDocs = docs && tf.tensor2d(docs, [B, T], "int32");
      const patchDocs = docs && tf.tensor2d(patchDocIds(docs, lengths, T), [B, P], "int32");
      const encRope = ropeTables(T, cfg.encoder.headDim, cfg.encoder.ropeTheta);
      const decRope = ropeTables(T, cfg.decoder.headDim, cfg.decoder.ropeTheta);
      const globalRope = ropeTables(P, cfg.global.headDim, cfg.global.ropeTheta);

      // 1. Hash n-gram embeddings (§3.2.1).
      const embeddings = hashEmbeddings(this.params, cfg, ids); // [B, T, hE]
      mark("hash");

      // 2. Local encoder + cross-attention pooling into k states per patch (§3.2.2).
      const valid = tf.tensor3d(pool.valid, [B, P, pool.L], "bool");
      const { hidden: encoderHidden, patches: encoderPatches } = localEncoder(
        this.params,
        cfg,
        embeddings,
        {
          index: tf.tensor3d(pool.index, [B, P, pool.L], "int32"),
          bias: tf.where(valid, tf.zeros(valid.shape), tf.fill(valid.shape, MASKED)) as tf.Tensor3D,
          empty: tf.tensor2d(pool.empty, [B, P], "bool"),
        },
        encRope.cos,
        encRope.sin,
        causalBias(T, cfg.encoder.slidingWindow, byteDocs),
      ); // [B, T, hE], [B, P·k, hE]
      mark("encoder");

      // 3. Latent global transformer over patches (§3.1).
      const globalHidden = latentTransformer(
        this.params,
        cfg,
        tf.reshape(encoderPatches, [B, P, k * cfg.encoder.dim]),
        globalRope.cos,
        globalRope.sin,
        causalBias(P, cfg.global.slidingWindow, patchDocs),
      ); // [B, P, hG]
      mark("global");

      // 4. Local decoder reading the previous patch's global state (§3.3).
      const decoderOutput = localDecoder(
        this.params,
        cfg,
        encoderHidden,
        globalHidden,
        tf.tensor3d(slots, [B, T, k], "int32"),
        decRope.cos,
        decRope.sin,
        causalBias(T, cfg.decoder.slidingWindow, byteDocs),
      ); // [B, T, hD]
      mark("decoder");

      // 5. LM head over the 260 byte ids.
      const logits = linear(decoderOutput, this.params.get(LM_HEAD)) as tf.Tensor3D; // [B, T, 260]
      mark("lm_head");
      return options.intermediates
        ? { logits, embeddings, encoderHidden, encoderPatches, globalHidden, decoderOutput }
        : { logits };
    });
    return {
      ...stages,
      patchLengths: lengths,
      ...(patched?.entropies ? { entropies: patched.entropies } : {}),
    };
  }

  /** Mean next-byte cross-entropy (nats); patches from `batch.patchLengths` or the patcher. */
  loss(batch: Batch): LossResult {
    checkIds(batch.ids);
    const lengths = batch.patchLengths ?? this.patch(batch.ids).patchLengths;
    return nextByteLoss(() => this.forward(batch.ids, { patchLengths: lengths }).logits, batch);
  }

  /** Host work for a batch ahead of `loss` (the hash ids); see `TrainableModel.prepare`. */
  prepare(batch: Batch): void {
    prepareHashIds(batch.ids, this.config);
  }

  /** Saves config.json + model.safetensors in Hugging Face format (see lib/model/io/hf.ts). */
  save(dir: string): Promise<void> {
    return saveBlt(this, dir);
  }

  /** Frees all weights. */
  dispose(): void {
    this.params.dispose();
    this.patcher?.dispose();
  }
}

/**
 * A freshly initialised BLT (truncated normal, std fan_in^-0.5 as the reference, seeded); its
 * entropy model, when configured, is initialised too but frozen (load a trained one for entropy
 * patching to mean anything).
 *
 * @example
 * ```ts
 * import { createBlt } from "./blt.ts";
 * import { resolveConfig } from "../config.ts";
 * const blt = createBlt(resolveConfig("tiny", { "hash.buckets": 64 }), 42);
 * console.log(blt.namedVariables().has("model.local_encoder.embed_tokens.weight")); // true
 * blt.dispose();
 * ```
 */
export function createBlt(config: BltConfig, seed: number): Blt {
  return createBltWith(config, new Params(seed), new Params(seed, false));
}

/**
 * Builds a BLT's weights into given registries (`frozen` takes the entropy model's); loaders
 * pass registries that start from zeros.
 *
 * @example
 * ```ts
 * import { createBltWith } from "./blt.ts";
 * import { Params } from "./params.ts";
 * import { resolveConfig } from "../config.ts";
 * const cfg = resolveConfig("tiny", { "hash.buckets": 16, entropyModel: null });
 * const blt = createBltWith(cfg, new Params(0, true, false), new Params(0, false, false));
 * console.log(blt.patcher); // null
 * blt.dispose();
 * ```
 */
export function createBltWith(config: BltConfig, params: Params, frozen: Params): Blt {
  initHashEmbedding(params, config);
  initLocalEncoder(params, config);
  initLatentTransformer(params, config);
  initLocalDecoder(params, config);
  params.linear(LM_HEAD, config.vocabSize, config.decoder.dim);
  let patcher: ByteLm | null = null;
  if (config.entropyModel !== null) {
    initByteLm(frozen, config.entropyModel, PATCHER_PREFIX);
    patcher = new ByteLm(config.entropyModel, frozen, PATCHER_PREFIX);
  }
  return new Blt(config, params, patcher);
}

/** Prefix of the entropy model's weights inside a BLT checkpoint. */
export const PATCHER_PREFIX = "model.patcher.";

/** The longest byte sequence a BLT takes: its local stacks' (and entropy model's) limit. */
export function maxBytePositions(config: BltConfig): number {
  return Math.min(
    config.encoder.maxPositions,
    config.decoder.maxPositions,
    config.entropyModel?.maxPositions ?? Infinity,
  );
}
