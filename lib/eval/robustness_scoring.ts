/**
 * One adapter over every model family of the comparison (BLT, byte LM, MegaByte, BPE LM), so the
 * robustness probes never ask which family they score: a {@link ScoringModel} turns text into the
 * family's ids, gives next-id logits, and says how many bytes each id covers. Byte families use
 * the codec's byte ids (BOS … EOS, +4 offset); the BPE baseline uses its tokens, and a token's
 * log-likelihood is charged to the bytes it covers, so per-byte scores compare across families.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BOE_ID, BOS_ID, decodeBytes, encode, EOS_ID } from "../bytes/codec.ts";
import { BPE_BOS, BPE_EOS, BpeLM } from "../model/baselines/bpe_lm.ts";
import { MegaByte } from "../model/baselines/megabyte.ts";
import { Blt } from "../model/blt.ts";
import { ByteLm } from "../model/byte_lm.ts";
import type { BpeTokenizer } from "../tokenizers/mod.ts";
import type { TrainableModel } from "../train/types.ts";

/**
 * What the probes need of a model: its ids, logits, and bytes per id.
 *
 * @example
 * ```ts
 * import type { ScoringModel } from "./robustness_scoring.ts";
 * const idsPerByte = (m: ScoringModel, text: string) =>
 *   m.encode(text).length / new TextEncoder().encode(text).length;
 * ```
 */
export interface ScoringModel {
  /** Label in tables and figures, e.g. "BLT" or "BPE". */
  readonly name: string;
  /** The model the trainer fine-tunes (its `loss` honours `Batch.targetMask`). */
  readonly model: TrainableModel;
  /** Ids that start (BOS) and end (EOS) a document, and pad rows (never scored). */
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  /** Ids of `text` without BOS/EOS (UTF-8 bytes or BPE tokens; lone surrogates become U+FFFD). */
  encode(text: string): number[];
  /** Raw bytes of ids (specials dropped). */
  bytes(ids: readonly number[]): Uint8Array;
  /** Next-id logits `[B, T, V]` of ids `[B, T]`: position t scores ids[t + 1]. */
  logits(ids: readonly (readonly number[])[]): tf.Tensor3D;
}

const byteIds = (text: string) => encode(text, { bos: false, eos: false });

function checkName(name: string): string {
  if (typeof name !== "string" || name.trim() === "") {
    throw new Error(`scoring model: 'name' must be a non-empty string, found '${String(name)}'`);
  }
  return name;
}

/** MegaByte needs ≥ one patch of ids: shorter rows are padded (causal) and the logits cut back. */
function megabyteLogits(model: MegaByte, ids: readonly (readonly number[])[]): tf.Tensor3D {
  const T = ids[0]?.length ?? 0, P = model.config.patchSize;
  if (T >= P) return model.logits(ids);
  return tf.tidy(() => {
    const logits = model.logits(padRows(ids, BOE_ID, P - T)); // [B, P, V]
    return tf.slice(logits, [0, 0, 0], [ids.length, T, logits.shape[2]]);
  });
}

/**
 * Adapter for byte-level families: BLT (patching itself, entropy patches from its own entropy
 * model), the byte LM, MegaByte.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const m = byteScoring("byte LM", lm);
 * console.log(m.encode("hi")); // [108, 109]
 * lm.dispose();
 * ```
 */
export function byteScoring(name: string, model: Blt | ByteLm | MegaByte): ScoringModel {
  type Ids = readonly (readonly number[])[];
  const logits = model instanceof MegaByte
    ? (ids: Ids) => megabyteLogits(model, ids)
    : "forward" in model
    ? (ids: Ids) => model.forward(ids).logits
    : (ids: Ids) => model.logits(ids);
  return {
    name: checkName(name),
    model,
    bos: BOS_ID,
    eos: EOS_ID,
    pad: BOE_ID,
    encode: byteIds,
    bytes: (ids) => decodeBytes(ids),
    logits,
  };
}

/**
 * Adapter for the BPE baseline: ids are the tokenizer's tokens between its BOS/EOS specials.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { bpeScoring } from "./robustness_scoring.ts";
 * import { BpeLM } from "../model/baselines/bpe_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * import { trainBpe } from "../tokenizers/mod.ts";
 * await tf.ready();
 * const tok = trainBpe(["the cat the cat"], { vocabSize: 262 });
 * const lm = new BpeLM(tok, stackConfig(16, 1), 0);
 * const m = bpeScoring("BPE", lm, tok);
 * console.log(new TextDecoder().decode(m.bytes(m.encode("the cat")))); // "the cat"
 * lm.dispose();
 * ```
 */
export function bpeScoring(name: string, model: BpeLM, tokenizer: BpeTokenizer): ScoringModel {
  if (tokenizer.vocabSize !== model.config.vocabSize) {
    throw new Error(
      `bpeScoring: tokenizer has ${tokenizer.vocabSize} ids but the model's vocabSize is ` +
        `${model.config.vocabSize}; pass the tokenizer the model was built with`,
    );
  }
  const eos = tokenizer.specialId(BPE_EOS);
  return {
    name: checkName(name),
    model,
    bos: tokenizer.specialId(BPE_BOS),
    eos,
    pad: eos,
    encode: (text) => tokenizer.encode(text.toWellFormed()),
    bytes: (ids) => {
      const parts = ids.filter((id) => id >= tokenizer.specials.length)
        .map((id) => tokenizer.tokenBytes(id));
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    },
    logits: (ids) => model.logits(ids),
  };
}

/**
 * Right-pads rows to one length with `pad` (causal models: padding after a row never changes
 * the logits of its real positions), adding `extra` pads after the longest row.
 *
 * @example
 * ```ts
 * import { padRows } from "./robustness_scoring.ts";
 * console.log(padRows([[1, 5], [1]], 0)); // [[1, 5], [1, 0]]
 * ```
 */
export function padRows(rows: readonly (readonly number[])[], pad: number, extra = 0): number[][] {
  const T = Math.max(...rows.map((r) => r.length)) + extra;
  return rows.map((r) => [...r, ...new Array<number>(T - r.length).fill(pad)]);
}

/**
 * The adapter for any trained family: {@link bpeScoring} for a `BpeLM` (which needs its
 * tokenizer), {@link byteScoring} for BLT, byte LM and MegaByte.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { scoringModel } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * console.log(scoringModel("byte LM", lm).pad); // 0 (BOE)
 * lm.dispose();
 * ```
 */
export function scoringModel(
  name: string,
  model: TrainableModel,
  tokenizer?: BpeTokenizer,
): ScoringModel {
  if (model instanceof BpeLM) {
    if (tokenizer === undefined) {
      throw new Error(`scoringModel '${name}': a BPE model needs its tokenizer as 'tokenizer'`);
    }
    return bpeScoring(name, model, tokenizer);
  }
  if (model instanceof Blt || model instanceof ByteLm || model instanceof MegaByte) {
    return byteScoring(name, model);
  }
  throw new Error(
    `scoringModel '${name}': unknown model family (config ${JSON.stringify(model.config)}); ` +
      "expected Blt, ByteLm, MegaByte or BpeLM, or write a ScoringModel for it",
  );
}
