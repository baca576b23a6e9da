/**
 * Incremental decoding of a byte LM (the entropy model, paper §2.3, or the byte-level baseline):
 * one byte in, next-byte logits out, with a KV cache per layer so each byte costs one position's
 * work (plus attention over the cached keys).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { VOCAB_SIZE } from "../../bytes/codec.ts";
import type { ByteLm } from "../byte_lm.ts";
import { rmsNorm } from "../layers/rms_norm.ts";
import { linear } from "../params.ts";
import { cachedBlock } from "./cached_block.ts";
import { KvCache, RopeRows } from "./kv_cache.ts";
import { readAsync, type Reads, readSync } from "./read_back.ts";

/**
 * A byte LM reading one byte at a time. Row t of `lm.logits([ids])` equals the t-th
 * {@link ByteLmCache.step} (up to float rounding of the shorter matmuls).
 *
 * @example
 * ```ts
 * import { createByteLm } from "../byte_lm.ts";
 * import { ByteLmCache } from "./byte_lm_cache.ts";
 * import { PRESETS } from "../../config.ts";
 * const lm = createByteLm(PRESETS.tiny.entropyModel!, 0);
 * const cache = new ByteLmCache(lm);
 * [1, 72, 105].forEach((id) => cache.step(id));
 * console.log(cache.length, cache.step(33).length); // 3 260
 * cache.dispose();
 * lm.dispose();
 * ```
 */
export class ByteLmCache {
  readonly #lm: ByteLm;
  readonly #kv: KvCache;
  readonly #rope: RopeRows;
  #t = 0;

  constructor(lm: ByteLm) {
    this.#lm = lm;
    this.#kv = new KvCache(lm.config.layers, lm.config.slidingWindow);
    this.#rope = new RopeRows(lm.config.headDim, lm.config.ropeTheta);
  }

  /** Bytes read so far. */
  get length(): number {
    return this.#t;
  }

  /** Reads byte id `id` at the next position; returns the next-byte logits `[260]` (wasm, cpu). */
  step(id: number): Float32Array {
    return readSync(this.stepReads(id));
  }

  /** {@link ByteLmCache.step} reading back with `await data()`: every backend, webgpu too. */
  stepAsync(id: number): Promise<Float32Array> {
    return readAsync(this.stepReads(id));
  }

  /** {@link ByteLmCache.step} as a computation that yields its one read-back (the logits row). */
  *stepReads(id: number): Reads<Float32Array> {
    return yield this.stepTensor(id);
  }

  /**
   * Reads byte id `id` at the next position; returns the next-byte logits `[1, 1, 260]` on the
   * device, for the caller to read and dispose.
   */
  stepTensor(id: number): tf.Tensor {
    checkId(id, this.#t);
    const c = this.#lm.config, prefix = this.#lm.prefix;
    const w = (n: string) => this.#lm.params.get(`${prefix}${n}`);
    const logits = tf.tidy(() => {
      const { cos, sin } = this.#rope.row(this.#t); // [1, d]
      let h = tf.reshape(
        tf.gather(w("embed_tokens.weight"), tf.tensor1d([id], "int32")),
        [1, 1, c.dim],
      ) as tf.Tensor3D; // [1, 1, h]
      for (let i = 0; i < c.layers; i++) {
        h = cachedBlock(this.#lm.params, `${prefix}layers.${i}`, c, h, cos, sin, this.#kv, i);
      }
      return linear(rmsNorm(h, w("norm.weight"), c.normEps), w("lm_head.weight")); // [1, 1, 260]
    });
    this.#t++;
    return logits;
  }

  /** Frees the caches (the model's weights stay). */
  dispose(): void {
    this.#kv.dispose();
    this.#rope.dispose();
  }
}

/**
 * Throws unless `id` is a byte id (an integer in 0..259); `position` names it in the message.
 *
 * @example
 * ```ts
 * import { checkId } from "./byte_lm_cache.ts";
 * checkId(72, 0); // fine
 * ```
 */
export function checkId(id: number, position: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
    throw new Error(
      `byte id at position ${position} is ${id}; expected an integer in 0..${VOCAB_SIZE - 1}`,
    );
  }
}
