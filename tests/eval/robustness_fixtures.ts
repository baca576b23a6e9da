/**
 * Shared fixtures of the robustness tests: tiny models of every family and a deterministic
 * "successor" scoring model whose greedy continuation is known in advance.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BOE_ID, BOS_ID, decodeBytes, encode, EOS_ID } from "../../lib/bytes/codec.ts";
import { setupBackend } from "../../lib/backend.ts";
import { type BltConfig, resolveConfig } from "../../lib/config.ts";
import type { ScoringModel } from "../../lib/eval/robustness_scoring.ts";
import { BpeLM } from "../../lib/model/baselines/bpe_lm.ts";
import { MegaByte } from "../../lib/model/baselines/megabyte.ts";
import { stackConfig } from "../../lib/model/baselines/scales.ts";
import { type Blt, createBlt } from "../../lib/model/blt.ts";
import { trainBpe } from "../../lib/tokenizers/mod.ts";
import type { BpeTokenizer } from "../../lib/tokenizers/mod.ts";

await setupBackend({ override: "wasm", log: () => {} });

export const TEXTS = [
  "The quick brown fox jumps over the lazy dog. It was a sunny day in the park.",
  "A stitch in time saves nine; look before you leap, and the early bird catches the worm.",
  "Bytes are the atoms of text: every script, emoji and symbol is a short run of them.",
  "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
];

/** A tiny BLT; `mode` entropy gets a random (frozen) entropy model and θ at 2.5 nats. */
export function tinyBlt(mode: "entropy" | "space", seed = 0): Blt {
  const cfg: BltConfig = resolveConfig("tiny", {
    encoder: { dim: 16, heads: 2, layers: 1, ffnDim: 32 },
    decoder: { dim: 16, heads: 2, layers: 1, ffnDim: 32 },
    global: { dim: 32, heads: 2, layers: 1, ffnDim: 64 },
    entropyModel: mode === "entropy" ? { dim: 16, heads: 2, layers: 1, ffnDim: 32 } : null,
    hash: { buckets: 31, sizes: [3, 4] },
    "patching.mode": mode,
    "patching.threshold": 5.5,
  });
  return createBlt(cfg, seed);
}

export function tinyTokenizer(): BpeTokenizer {
  return trainBpe(TEXTS, { vocabSize: 300 });
}

export function tinyBpe(tok: BpeTokenizer, seed = 0): BpeLM {
  return new BpeLM(tok, stackConfig(16, 1), seed);
}

export function tinyMegaByte(seed = 0): MegaByte {
  return new MegaByte({
    kind: "megabyte",
    patchSize: 4,
    global: stackConfig(32, 1),
    local: stackConfig(16, 1),
  }, seed);
}

/**
 * A byte "model" that deterministically predicts next = f(current id): logits 0 except 10 at
 * f(id). Its greedy continuation of any prompt is known.
 */
export function successorModel(next: (id: number) => number): ScoringModel {
  return {
    name: "successor",
    bos: BOS_ID,
    eos: EOS_ID,
    pad: BOE_ID,
    encode: (text) => encode(text, { bos: false, eos: false }),
    bytes: (ids) => decodeBytes(ids),
    model: {
      config: null,
      namedVariables: () => new Map(),
      loss: () => {
        throw new Error("successorModel has no loss");
      },
    },
    logits: (ids) => {
      const B = ids.length, T = ids[0].length;
      const data = new Float32Array(B * T * 260);
      ids.forEach((row, b) => row.forEach((id, t) => data[(b * T + t) * 260 + next(id)] = 10));
      return tf.tensor3d(data, [B, T, 260]);
    },
  };
}
