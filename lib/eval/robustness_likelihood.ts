/**
 * Log-likelihoods, bits-per-byte batches and greedy completions through a {@link ScoringModel}:
 * the family-agnostic primitives the robustness probes are built from.
 *
 * A continuation is scored as in lm-evaluation-harness: the context and the continuation are
 * encoded separately and concatenated, so a BPE model never merges a token across the boundary
 * and the continuation's tokens cover exactly its bytes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../data/batching.ts";
import type { Batch } from "../train/types.ts";
import { padRows, type ScoringModel } from "./robustness_scoring.ts";

/**
 * Natural-log likelihood of a continuation and the bytes it covers.
 *
 * @example
 * ```ts
 * import type { ContinuationScore } from "./robustness_likelihood.ts";
 * const s: ContinuationScore = { logProb: -6.9, bytes: 3 };
 * console.log((s.logProb / s.bytes).toFixed(2)); // "-2.30" nats per byte
 * ```
 */
export interface ContinuationScore {
  readonly logProb: number;
  readonly bytes: number;
}

function checkBatchSize(batchSize: number, where: string): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`${where}: batchSize must be an integer ≥ 1, found ${batchSize}`);
  }
}

/**
 * Σ log p(continuation | BOS, context) for each pair, batched `batchSize` rows per forward pass;
 * an empty continuation scores `{ logProb: 0, bytes: 0 }`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { continuationLogProbs } from "./robustness_likelihood.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const [s] = await continuationLogProbs(byteScoring("byte", lm), [{ context: "a", continuation: "bc" }]);
 * console.log(s.bytes, s.logProb < 0); // 2 true
 * lm.dispose();
 * ```
 */
export async function continuationLogProbs(
  model: ScoringModel,
  pairs: readonly { readonly context: string; readonly continuation: string }[],
  { batchSize = 8 }: { readonly batchSize?: number } = {},
): Promise<ContinuationScore[]> {
  checkBatchSize(batchSize, "continuationLogProbs");
  const out: ContinuationScore[] = [];
  for (let at = 0; at < pairs.length; at += batchSize) {
    const chunk = pairs.slice(at, at + batchSize).map(({ context, continuation }, i) => {
      if (typeof context !== "string" || typeof continuation !== "string") {
        throw new Error(
          `continuationLogProbs: pairs[${at + i}] needs string context and continuation`,
        );
      }
      const ctx = [model.bos, ...model.encode(context)];
      const cont = model.encode(continuation);
      return { ids: [...ctx, ...cont], start: ctx.length, bytes: model.bytes(cont).length };
    });
    const rows = padRows(chunk.map((c) => c.ids), model.pad);
    const T = rows[0].length;
    // Flat indices into logp [B·T, V]: row b, position t − 1 predicts ids[b][t].
    const positions: number[] = [], targets: number[] = [], owner: number[] = [];
    chunk.forEach((c, b) => {
      for (let t = c.start; t < c.ids.length; t++) {
        positions.push(b * T + t - 1);
        targets.push(c.ids[t]);
        owner.push(b);
      }
    });
    const sums = new Array<number>(chunk.length).fill(0);
    if (positions.length > 0) {
      const picked = tf.tidy(() => {
        const logits = model.logits(rows); // [B, T, V]
        const V = logits.shape[2];
        const logp = tf.logSoftmax(tf.gather(tf.reshape(logits, [-1, V]), positions)); // [N, V]
        return tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, "int32"), V)), 1); // [N]
      });
      const values = await picked.data();
      picked.dispose();
      values.forEach((v, i) => sums[owner[i]] += v);
    }
    chunk.forEach((c, b) => out.push({ logProb: sums[b], bytes: c.bytes }));
  }
  return out;
}

/**
 * Evaluation batches of `texts` in the model's ids (`BOS ids… EOS` per text, windows of `window`
 * ids, padding masked), for `bitsPerByteAsync`. Empty texts still predict their EOS.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { textBatches } from "./robustness_likelihood.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const batches = textBatches(byteScoring("byte", lm), ["abc", ""], { window: 8, batchSize: 2 });
 * console.log(batches.length, batches[0].ids.length); // 1 2
 * lm.dispose();
 * ```
 */
export function textBatches(
  model: ScoringModel,
  texts: readonly string[],
  options: { readonly window: number; readonly batchSize: number },
): Batch[] {
  if (texts.length === 0) throw new Error("textBatches: 'texts' is empty; pass ≥ 1 text");
  texts.forEach((t, i) => {
    if (typeof t !== "string") {
      throw new Error(`textBatches: texts[${i}] must be a string, found ${typeof t}`);
    }
  });
  const docs = texts.map((t) => [model.bos, ...model.encode(t), model.eos]);
  return [...sequentialBatches(docs, options).batches()].map(({ batch }) => batch);
}

/**
 * Greedy completions of `prompts`, each stopping at a newline (not returned), EOS, or after
 * `maxBytes` bytes; rows are batched and the whole prefix is re-run per step (no caches), which
 * works the same for every family. Returned text decodes invalid UTF-8 as U+FFFD.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { greedyComplete } from "./robustness_likelihood.ts";
 * import { byteScoring } from "./robustness_scoring.ts";
 * import { createByteLm } from "../model/byte_lm.ts";
 * import { stackConfig } from "../model/baselines/scales.ts";
 * await tf.ready();
 * const lm = createByteLm(stackConfig(16, 1), 0);
 * const [text] = await greedyComplete(byteScoring("byte", lm), ["Hi"], { maxBytes: 3 });
 * console.log(new TextEncoder().encode(text).length <= 9); // true (3 bytes, maybe as U+FFFD)
 * lm.dispose();
 * ```
 */
export async function greedyComplete(
  model: ScoringModel,
  prompts: readonly string[],
  { maxBytes, batchSize = 16 }: { readonly maxBytes: number; readonly batchSize?: number },
): Promise<string[]> {
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new Error(`greedyComplete: maxBytes must be an integer ≥ 1, found ${maxBytes}`);
  }
  checkBatchSize(batchSize, "greedyComplete");
  const decoder = new TextDecoder();
  const out: string[] = [];
  for (let at = 0; at < prompts.length; at += batchSize) {
    const rows = prompts.slice(at, at + batchSize).map((p) => [model.bos, ...model.encode(p)]);
    const generated = rows.map(() => [] as number[]);
    const active = new Set(rows.keys());
    while (active.size > 0) {
      const live = [...active];
      // One pad after the longest row, so every row's last real position sees the same context.
      const padded = padRows(live.map((r) => rows[r]), model.pad, 1);
      const T = padded[0].length;
      const next = tf.tidy(() => {
        const logits = model.logits(padded); // [B, T, V]
        const V = logits.shape[2];
        const last = live.map((r, b) => b * T + rows[r].length - 1);
        return tf.argMax(tf.gather(tf.reshape(logits, [-1, V]), last), 1); // [B]
      });
      const ids = await next.data();
      next.dispose();
      live.forEach((r, b) => {
        const id = ids[b];
        rows[r].push(id);
        if (id === model.eos) return void active.delete(r);
        const g = generated[r];
        g.push(id);
        const bytes = model.bytes(g);
        // Zero-byte specials count as steps too, so a model emitting them cannot loop forever.
        const done = bytes.includes(10) || bytes.length >= maxBytes || g.length >= maxBytes;
        if (done) active.delete(r);
      });
    }
    for (const g of generated) {
      const bytes = model.bytes(g);
      const nl = bytes.indexOf(10);
      out.push(decoder.decode(nl >= 0 ? bytes.subarray(0, nl) : bytes.subarray(0, maxBytes)));
    }
  }
  return out;
}
