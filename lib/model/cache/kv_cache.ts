/**
 * Key/value caches for decoding one position at a time: every transformer stack keeps, per
 * layer, the RoPE-rotated keys and the values of the positions it has read, so a new position
 * costs one query against them instead of re-running the prefix. A sliding window keeps only the
 * last `window` positions, exactly the keys the window's causal mask lets a query see.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { ropeTables } from "../layers/rope.ts";

/**
 * Per-layer keys and values `[1, H, S, d]` of one stack (batch 1: generation is one sequence).
 * The cache owns its tensors; {@link KvCache.append} may be called inside `tf.tidy`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { KvCache } from "./kv_cache.ts";
 * const cache = new KvCache(1, 2); // one layer, window of 2 positions
 * for (let t = 0; t < 3; t++) {
 *   tf.tidy(() => {
 *     cache.append(0, tf.fill([1, 4, 1, 8], t), tf.fill([1, 4, 1, 8], t));
 *   });
 * }
 * console.log(cache.length, cache.keys(0).shape); // 2 [1, 4, 2, 8]
 * cache.dispose();
 * ```
 */
export class KvCache {
  #k: (tf.Tensor4D | null)[];
  #v: (tf.Tensor4D | null)[];

  /**
   * @param layers number of layers of the stack
   * @param window keep only the last `window` positions (the stack's `slidingWindow`); null = all
   */
  constructor(readonly layers: number, readonly window: number | null = null) {
    if (!Number.isInteger(layers) || layers < 1) {
      throw new Error(`KvCache: 'layers' must be an integer ≥ 1, found ${layers}`);
    }
    if (window !== null && (!Number.isInteger(window) || window < 1)) {
      throw new Error(`KvCache: 'window' must be an integer ≥ 1 or null, found ${window}`);
    }
    this.#k = new Array(layers).fill(null);
    this.#v = new Array(layers).fill(null);
  }

  /** Positions held by layer 0 (all layers hold the same number once a step has finished). */
  get length(): number {
    return this.#k[0]?.shape[2] ?? 0;
  }

  /** Cached keys `[1, H, S, d]` of `layer` (throws before its first append). */
  keys(layer: number): tf.Tensor4D {
    return this.#get(this.#k, layer);
  }

  /** Cached values `[1, H, S, d]` of `layer` (throws before its first append). */
  values(layer: number): tf.Tensor4D {
    return this.#get(this.#v, layer);
  }

  /**
   * Appends one position's keys and values `[1, H, 1, d]` to `layer`, dropping positions that
   * fall out of the window; returns the cached `{ keys, values }` `[1, H, S, d]`.
   */
  append(layer: number, keys: tf.Tensor4D, values: tf.Tensor4D): {
    keys: tf.Tensor4D;
    values: tf.Tensor4D;
  } {
    this.#checkLayer(layer);
    this.#k[layer] = this.#grow(this.#k[layer], keys);
    this.#v[layer] = this.#grow(this.#v[layer], values);
    return { keys: this.#k[layer]!, values: this.#v[layer]! };
  }

  /** Forgets every position (a new document begins under block-causal attention). */
  clear(): void {
    for (const t of [...this.#k, ...this.#v]) t?.dispose();
    this.#k.fill(null);
    this.#v.fill(null);
  }

  /** Frees the cached tensors. */
  dispose(): void {
    this.clear();
  }

  #grow(old: tf.Tensor4D | null, next: tf.Tensor4D): tf.Tensor4D {
    let grown = old === null ? tf.clone(next) : tf.concat([old, next], 2); // [1, H, S, d]
    const S = grown.shape[2];
    if (this.window !== null && S > this.window) {
      const [, H, , d] = grown.shape;
      const kept = tf.slice(grown, [0, 0, S - this.window, 0], [1, H, this.window, d]);
      grown.dispose();
      grown = kept;
    }
    old?.dispose();
    return tf.keep(grown);
  }

  #get(list: (tf.Tensor4D | null)[], layer: number): tf.Tensor4D {
    this.#checkLayer(layer);
    const t = list[layer];
    if (t === null) throw new Error(`KvCache: layer ${layer} holds no positions yet; append first`);
    return t;
  }

  #checkLayer(layer: number): void {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.layers) {
      throw new Error(
        `KvCache: 'layer' must be an integer in 0..${this.layers - 1}, found ${layer}`,
      );
    }
  }
}

/**
 * RoPE rows `[1, d]` by position, from tables that grow by doubling, so each step reads one row
 * without knowing the final length. Rows equal those of `ropeTables(T, …)` for any T.
 *
 * @example
 * ```ts
 * import { RopeRows } from "./kv_cache.ts";
 * const rope = new RopeRows(4, 10000);
 * const { cos } = rope.row(5); // [1, 4]
 * console.log(cos.shape); // [1, 4]
 * rope.dispose();
 * ```
 */
export class RopeRows {
  #cos: tf.Tensor2D | null = null;
  #sin: tf.Tensor2D | null = null;
  #rows = 0;

  constructor(readonly headDim: number, readonly theta: number) {}

  /** cos and sin rows `[1, d]` of position `t` (new tensors: dispose them or call in a tidy). */
  row(t: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    if (t >= this.#rows) this.#growTo(Math.max(64, 2 * (t + 1)));
    const d = this.headDim;
    return {
      cos: tf.slice(this.#cos!, [t, 0], [1, d]),
      sin: tf.slice(this.#sin!, [t, 0], [1, d]),
    };
  }

  /** Frees the tables. */
  dispose(): void {
    this.#cos?.dispose();
    this.#sin?.dispose();
    this.#cos = this.#sin = null;
    this.#rows = 0;
  }

  #growTo(rows: number): void {
    this.dispose();
    const { cos, sin } = ropeTables(rows, this.headDim, this.theta);
    this.#cos = tf.keep(cos);
    this.#sin = tf.keep(sin);
    this.#rows = rows;
  }
}
