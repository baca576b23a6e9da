/**
 * The paper's token baseline (§4): a decoder-only transformer over byte-level BPE tokens, built
 * from the same layers as every BLT stack (RMSNorm, RoPE attention, SwiGLU). Its loss is per
 * token, but it also reports how many bytes the scored tokens cover, so bits per byte
 * (Σ nats / (ln 2 · Σ bytes)) compares with the byte-level models exactly.
 *
 * A predicted EOS counts as one byte, as the byte models count their EOS id, so on the same
 * documents both families divide by the same number of bytes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
// Gradients of gathers on the wasm backend need UnsortedSegmentSum.
import "../../wasm_kernels.ts";
import type { TransformerConfig } from "../../config.ts";
import type { BpeTokenizer } from "../../tokenizers/mod.ts";
import type { Batch, Json, LossResult, TrainableModel } from "../../train/types.ts";
import { causalBias } from "../layers/attention.ts";
import { block, initBlock } from "../layers/block.ts";
import { rmsNorm } from "../layers/rms_norm.ts";
import { ropeTables } from "../layers/rope.ts";
import { nextByteLoss } from "../loss.ts";
import { linear, Params } from "../params.ts";

/** The specials a BPE baseline needs: documents are `BOS tokens… EOS`. */
export const BPE_BOS = "<|bos|>";
/** See {@link BPE_BOS}. */
export const BPE_EOS = "<|eos|>";

/**
 * The BPE baseline's config (JSON, stored as the checkpoint's `config.json`).
 *
 * @example
 * ```ts
 * import type { BpeLmConfig } from "./bpe_lm.ts";
 * import { PRESETS } from "../../config.ts";
 * const c: BpeLmConfig = { kind: "bpe-lm", vocabSize: 512, specials: 2, model: PRESETS.tiny.entropyModel! };
 * ```
 */
export interface BpeLmConfig {
  readonly kind: "bpe-lm";
  /** Token vocabulary V (specials + 256 byte tokens + merges). */
  readonly vocabSize: number;
  /** How many specials lead the vocabulary. */
  readonly specials: number;
  readonly model: TransformerConfig;
}

/**
 * Bytes each token id covers when predicted: its UTF-8 bytes, 1 for EOS, 0 for other specials.
 *
 * @example
 * ```ts
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * import { tokenByteCounts } from "./bpe_lm.ts";
 * const tok = trainBpe(["aa aa aa"], { vocabSize: 259 }); // one merge: "aa"
 * console.log(tokenByteCounts(tok).slice(0, 3), tokenByteCounts(tok)[258]); // [0, 1, 1] 2
 * ```
 */
export function tokenByteCounts(tokenizer: BpeTokenizer): number[] {
  checkBpeVocab(tokenizer);
  const eos = tokenizer.specialId(BPE_EOS);
  return tokenizer.tokens.map((_, id) => (id === eos ? 1 : tokenizer.tokenBytes(id).length));
}

/**
 * Throws unless the tokenizer has BOS/EOS specials and at least 256 + specials ids.
 *
 * @example
 * ```ts
 * import { BpeTokenizer } from "../../tokenizers/mod.ts";
 * import { checkBpeVocab } from "./bpe_lm.ts";
 * checkBpeVocab(new BpeTokenizer(["<|bos|>", "<|eos|>"], [])); // 258 ids: fine
 * ```
 */
export function checkBpeVocab(tokenizer: BpeTokenizer): void {
  const floor = 256 + tokenizer.specials.length;
  if (tokenizer.vocabSize < floor) {
    throw new Error(
      `BPE vocabulary has ${tokenizer.vocabSize} ids; it needs at least 256 bytes + ` +
        `${tokenizer.specials.length} specials = ${floor}. Train it with a larger vocabSize`,
    );
  }
  for (const name of [BPE_BOS, BPE_EOS]) {
    if (!tokenizer.specials.includes(name)) {
      throw new Error(
        `BPE tokenizer lacks the special '${name}' (has ${tokenizer.specials.join(", ")}); ` +
          "train it with the default specials",
      );
    }
  }
}

/**
 * Decoder-only transformer over BPE tokens: `model.embed_tokens` → `model.layers.i` →
 * `model.norm` → `lm_head` (Llama names), trainable by `lib/train`.
 *
 * @example
 * ```ts
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * import * as tf from "@tensorflow/tfjs";
 * import { BpeLM } from "./bpe_lm.ts";
 * await tf.ready(); // the wasm backend (registered on import) initialises asynchronously
 * import { resolveConfig } from "../../config.ts";
 * const tok = trainBpe(["the cat sat on the mat"], { vocabSize: 264 });
 * const stack = { ...resolveConfig("tiny", { "global.dim": 16, "global.heads": 2 }).global, layers: 1, ffnDim: 32 };
 * const lm = new BpeLM(tok, stack, 0);
 * const ids = [0, ...tok.encode("the mat"), 1];
 * const r = lm.loss({ ids: [ids] });
 * console.log(r.predictions, r.bytes); // 4 8 ("the mat" is 7 bytes, then EOS)
 * lm.dispose();
 * ```
 */
export class BpeLM implements TrainableModel {
  /** Typed, and JSON for checkpoints (interfaces lack Json's index signature, hence `& Json`). */
  readonly config: BpeLmConfig & Json;
  readonly params: Params;
  /** Bytes covered by each predicted token id (see {@link tokenByteCounts}). */
  readonly byteCounts: readonly number[];

  constructor(tokenizer: BpeTokenizer, model: TransformerConfig, seed = 0) {
    this.byteCounts = tokenByteCounts(tokenizer);
    this.config = Object.freeze({
      kind: "bpe-lm",
      vocabSize: tokenizer.vocabSize,
      specials: tokenizer.specials.length,
      model,
    }) as BpeLmConfig & Json;
    const V = tokenizer.vocabSize, h = model.dim;
    const p = new Params(seed);
    p.embedding("model.embed_tokens.weight", V, h);
    for (let l = 0; l < model.layers; l++) initBlock(p, `model.layers.${l}`, model);
    p.ones("model.norm.weight", h);
    p.linear("lm_head.weight", V, h);
    this.params = p;
  }

  namedVariables(): Map<string, tf.Variable> {
    return this.params.variables();
  }

  /** Next-token logits `[B, T, V]` of token ids `[B, T]`. */
  logits(ids: readonly (readonly number[])[]): tf.Tensor3D {
    const { model, vocabSize } = this.config;
    const B = ids.length, T = ids[0]?.length ?? 0;
    ids.forEach((row, b) => {
      if (row.length !== T || T === 0) {
        throw new Error(`ids[${b}] has ${row.length} tokens, ids[0] has ${T}; pad rows to one T`);
      }
      const bad = row.findIndex((x) => !Number.isInteger(x) || x < 0 || x >= vocabSize);
      if (bad >= 0) {
        throw new Error(
          `ids[${b}][${bad}] = ${row[bad]}; expected a token id in 0..${vocabSize - 1}`,
        );
      }
    });
    return tf.tidy(() => {
      const p = this.params;
      const { cos, sin } = ropeTables(T, model.headDim, model.ropeTheta);
      const bias = causalBias(T, model.slidingWindow);
      let x = tf.gather(
        p.get("model.embed_tokens.weight"),
        tf.tensor2d(ids as number[][], [B, T], "int32"),
      ) as tf.Tensor3D; // [B, T, h]
      for (let l = 0; l < model.layers; l++) {
        x = block(p, `model.layers.${l}`, model, x, cos, sin, bias);
      }
      const normed = rmsNorm(x, p.get("model.norm.weight"), model.normEps); // [B, T, h]
      return linear(normed, p.get("lm_head.weight")) as tf.Tensor3D; // [B, T, V]
    });
  }

  /** Mean next-token cross-entropy (nats) with the bytes the counted targets cover. */
  loss(batch: Batch): LossResult {
    let bytes = 0;
    batch.ids.forEach((row, b) => {
      for (let t = 1; t < row.length; t++) {
        if (batch.targetMask?.[b][t] ?? 1) bytes += this.byteCounts[row[t]];
      }
    });
    const r = nextByteLoss(() => this.logits(batch.ids), batch);
    return { ...r, bytes };
  }

  /** Frees the weights. */
  dispose(): void {
    this.params.dispose();
  }
}
