/**
 * The unigram byte baseline: predict every byte from the training split's byte frequencies,
 * ignoring all context. Its bits per byte is the bar any byte-level model must clear (it is the
 * zeroth-order entropy of the text, about 4.5 bits for English), so notebooks show it next to
 * a trained model's validation BPB.
 *
 * @module
 */
import { VOCAB_SIZE } from "../bytes/codec.ts";
import type { BpbResult } from "./bpb.ts";

/**
 * Options of {@link unigramBitsPerByte}.
 *
 * @example
 * ```ts
 * import type { UnigramOptions } from "./unigram.ts";
 * const o: UnigramOptions = { smoothing: 0.5 };
 * ```
 */
export interface UnigramOptions {
  /** Add-α smoothing per id, so unseen bytes keep a finite cost; default 1 (Laplace). */
  readonly smoothing?: number;
}

/**
 * Bits per byte of the add-α unigram model fitted on `train` and scored on `evaluate`. Both are
 * lists of id sequences (`BOS … EOS`); as in the model loss, every id after a sequence's first
 * is a target and counts as one byte.
 *
 * @example
 * ```ts
 * import { unigramBitsPerByte } from "./unigram.ts";
 * const r = unigramBitsPerByte([[1, 5, 5, 2]], [[1, 5, 2]]);
 * console.log(r.bytes, r.bitsPerByte.toFixed(3)); // 2 "6.746"
 * ```
 */
export function unigramBitsPerByte(
  train: readonly ArrayLike<number>[],
  evaluate: readonly ArrayLike<number>[],
  options: UnigramOptions = {},
): BpbResult {
  const alpha = options.smoothing ?? 1;
  if (!Number.isFinite(alpha) || alpha <= 0) {
    throw new Error(`smoothing must be a finite number > 0 (add-α per id), found ${alpha}`);
  }
  const counts = new Float64Array(VOCAB_SIZE).fill(alpha);
  let total = alpha * VOCAB_SIZE;
  forEachTarget(train, "train", (id) => {
    counts[id] += 1;
    total += 1;
  });
  let sumNats = 0, bytes = 0;
  forEachTarget(evaluate, "evaluate", (id) => {
    sumNats -= Math.log(counts[id] / total);
    bytes += 1;
  });
  if (bytes === 0) {
    throw new Error("evaluate holds no targets (each sequence needs ≥ 2 ids); pass validation ids");
  }
  return {
    bitsPerByte: sumNats / (Math.LN2 * bytes),
    lossNats: sumNats / bytes,
    sumNats,
    predictions: bytes,
    bytes,
  };
}

/** Calls `f` with every target id (positions ≥ 1), checking ids are in [0, 260). */
function forEachTarget(
  docs: readonly ArrayLike<number>[],
  name: string,
  f: (id: number) => void,
): void {
  docs.forEach((doc, d) => {
    for (let t = 1; t < doc.length; t++) {
      const id = doc[t];
      if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
        throw new Error(
          `${name}[${d}][${t}] is ${id}, expected a byte id in [0, ${VOCAB_SIZE}); encode text first`,
        );
      }
      f(id);
    }
  });
}
