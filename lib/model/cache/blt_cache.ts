/**
 * Incremental BLT decoding (paper §3) that patches as it goes: per byte, the entropy model
 * (cached) gives the byte's next-byte entropy and the patch stream decides whether the next byte
 * opens a patch; the local encoder (cached) reads the byte; when the patch closes, its bytes are
 * pooled and the latent global transformer (cached) takes one step over patches; the local
 * decoder (cached) reads the byte with the latest closed patch's state and gives the logits.
 * Every byte costs one position in each byte stack (attention over the cached keys, within a
 * sliding window where configured) and a closing patch one position in the global stack.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { EOS_ID } from "../../bytes/codec.ts";
import { needsGlobalProjection } from "../../config.ts";
import { entropies as entropiesOf } from "../../patching/mod.ts";
import type { Blt } from "../blt.ts";
import { hashEmbeddings } from "../hash_embedding.ts";
import { crossAttention } from "../layers/cross_attention.ts";
import { rmsNorm } from "../layers/rms_norm.ts";
import { linear } from "../params.ts";
import { ByteLmCache, checkId } from "./byte_lm_cache.ts";
import { cachedBlock } from "./cached_block.ts";
import { KvCache, RopeRows } from "./kv_cache.ts";
import { PatchStream } from "./patch_stream.ts";
import { readAsync, type Reads, readSync } from "./read_back.ts";

const ENC = "model.local_encoder", GLOBAL = "model.global_transformer";
const DEC = "model.local_decoder", LM_HEAD = "lm_head.weight";

/** Longest hash n-gram the embedding may look back over (sizes are small; 8 in the paper). */
function longestNgram(sizes: readonly number[]): number {
  return Math.max(1, ...sizes);
}

/**
 * What one {@link BltCache.step} gives.
 *
 * @example
 * ```ts
 * import type { BltStep } from "./blt_cache.ts";
 * const s: BltStep = { logits: null, entropy: 2.1, opensPatch: true };
 * ```
 */
export interface BltStep {
  /** Next-byte logits `[260]`, when asked for. */
  readonly logits: Float32Array | null;
  /** The entropy model's next-byte entropy (nats) in entropy mode, else null. */
  readonly entropy: number | null;
  /** Whether the next byte opens a patch (so this byte closed one). */
  readonly opensPatch: boolean;
}

/**
 * A BLT reading one byte at a time with KV caches in all four stacks.
 *
 * @example
 * ```ts
 * import { createBlt } from "../blt.ts";
 * import { BltCache } from "./blt_cache.ts";
 * import { resolveConfig } from "../../config.ts";
 * const blt = createBlt(resolveConfig("tiny", { "global.layers": 1, "hash.buckets": 64 }), 0);
 * const cache = new BltCache(blt);
 * [1, 72].forEach((id) => cache.step(id, false));
 * const { logits } = cache.step(105, true); // predicts the 4th byte
 * console.log(logits!.length, cache.patchLengths(3)); // 260 [1, 1, 1]
 * cache.dispose();
 * blt.dispose();
 * ```
 */
export class BltCache {
  readonly #blt: Blt;
  readonly #entropyModel: ByteLmCache | null;
  readonly #patches: PatchStream;
  readonly #enc: KvCache;
  readonly #global: KvCache;
  readonly #dec: KvCache;
  readonly #encRope: RopeRows;
  readonly #globalRope: RopeRows;
  readonly #decRope: RopeRows;
  readonly #ids: number[] = [];
  /** Encoder states `[1, 1, hE]` of the open patch's bytes (pooled when it closes). */
  #open: tf.Tensor3D[] = [];
  /** Decoder cross-attention source `[1, k, hD]`: the latest closed patch's slots. */
  #slots: tf.Tensor3D | null = null;
  #closedPatches = 0;
  #doc = 0; // document of the current byte (bumped after an EOS)
  #openPatchDoc = 0; // document of the open patch's first byte
  #globalDoc = 0; // document of the patches in the global cache
  #nextOpens = true; // whether the next byte starts a patch (byte 0 always does)

  constructor(blt: Blt) {
    const cfg = blt.config;
    if (cfg.patching.mode === "entropy" && blt.patcher === null) {
      throw new Error(
        "BltCache: this BLT patches by entropy but has no entropy model (config.entropyModel is " +
          "null): load one, or set config.patching.mode to 'space', 'static' or 'byte'",
      );
    }
    this.#blt = blt;
    this.#entropyModel = cfg.patching.mode === "entropy" ? new ByteLmCache(blt.patcher!) : null;
    this.#patches = new PatchStream(cfg.patching);
    this.#enc = new KvCache(cfg.encoder.layers, cfg.encoder.slidingWindow);
    this.#global = new KvCache(cfg.global.layers, cfg.global.slidingWindow);
    this.#dec = new KvCache(cfg.decoder.layers, cfg.decoder.slidingWindow);
    this.#encRope = new RopeRows(cfg.encoder.headDim, cfg.encoder.ropeTheta);
    this.#globalRope = new RopeRows(cfg.global.headDim, cfg.global.ropeTheta);
    this.#decRope = new RopeRows(cfg.decoder.headDim, cfg.decoder.ropeTheta);
  }

  /** Bytes read so far. */
  get length(): number {
    return this.#ids.length;
  }

  /** Patch lengths over the first `span` bytes (at most bytes read + 1). */
  patchLengths(span: number): number[] {
    return this.#patches.patchLengths(span);
  }

  /** Reads byte id `id`; computes the next-byte logits only when `wantLogits` (wasm, cpu). */
  step(id: number, wantLogits: boolean): BltStep {
    return readSync(this.stepReads(id, wantLogits));
  }

  /** {@link BltCache.step} reading back with `await data()`: every backend, webgpu too. */
  stepAsync(id: number, wantLogits: boolean): Promise<BltStep> {
    return readAsync(this.stepReads(id, wantLogits));
  }

  /**
   * {@link BltCache.step} as a computation that yields its read-backs: the entropy model's row
   * (entropy mode: the boundary after this byte steers the global and decoder steps, so it is
   * read before them) and the logits row (when wanted).
   */
  *stepReads(id: number, wantLogits: boolean): Reads<BltStep> {
    const t = this.#ids.length, cfg = this.#blt.config;
    checkId(id, t);
    this.#ids.push(id);
    // The entropy model's step and the encoder's do not depend on the boundary: both go to the
    // device before the entropy row is read back, so it computes them while we wait.
    const entropyRow = this.#entropyModel?.stepTensor(id) ?? null; // [1, 1, 260]
    let hidden: tf.Tensor3D;
    try {
      if (cfg.resetAtEos && t > 0 && this.#ids[t - 1] === EOS_ID) {
        // Block-causal attention: a byte after an EOS sees nothing before it.
        this.#doc++;
        this.#enc.clear();
        this.#dec.clear();
      }
      if (this.#nextOpens) this.#openPatchDoc = this.#doc;
      hidden = this.#encode(t); // [1, 1, hE]
      this.#open.push(hidden);
    } catch (e) {
      entropyRow?.dispose();
      throw e;
    }
    const entropy = entropyRow === null ? null : entropiesOf(yield entropyRow, 1)[0];
    const opensPatch = this.#patches.push(id, entropy);
    this.#nextOpens = opensPatch;

    const closed = opensPatch ? this.#closePatch() : [];
    const logits = this.#decode(hidden, t, wantLogits); // [1, 1, 260] or null
    for (const h of closed) h.dispose(); // after the decoder has read this byte's state
    return { logits: logits === null ? null : yield logits, entropy, opensPatch };
  }

  /** Frees caches and kept states (the model's weights stay). */
  dispose(): void {
    this.#entropyModel?.dispose();
    for (const c of [this.#enc, this.#global, this.#dec]) c.dispose();
    for (const r of [this.#encRope, this.#globalRope, this.#decRope]) r.dispose();
    for (const h of this.#open) h.dispose();
    this.#open = [];
    this.#slots?.dispose();
    this.#slots = null;
  }

  /** Hash n-gram embedding and encoder layers for byte t → its state `[1, 1, hE]` (kept). */
  #encode(t: number): tf.Tensor3D {
    const cfg = this.#blt.config, p = this.#blt.params, e = cfg.encoder;
    return tf.tidy(() => {
      // The n-grams ending at t need only the last few bytes.
      const window = this.#ids.slice(Math.max(0, t + 1 - longestNgram(cfg.hash.sizes)));
      const all = hashEmbeddings(p, cfg, [window]); // [1, W, hE]
      let h = tf.slice(all, [0, window.length - 1, 0], [1, 1, e.dim]) as tf.Tensor3D; // [1, 1, hE]
      const { cos, sin } = this.#encRope.row(t);
      for (let i = 0; i < e.layers; i++) {
        h = cachedBlock(p, `${ENC}.layers.${i}`, e, h, cos, sin, this.#enc, i);
      }
      return tf.keep(h);
    });
  }

  /**
   * Pools the open patch's bytes (§3.2.2) and runs one global step (§3.1) on it; returns the
   * pooled byte states for the caller to free.
   */
  #closePatch(): tf.Tensor3D[] {
    const cfg = this.#blt.config, p = this.#blt.params, e = cfg.encoder, k = cfg.crossAttnK;
    const m = this.#closedPatches;
    if (cfg.resetAtEos && this.#openPatchDoc !== this.#globalDoc) {
      this.#global.clear();
      this.#globalDoc = this.#openPatchDoc;
    }
    const slots = tf.tidy(() => {
      const bytes = tf.concat(this.#open, 1) as tf.Tensor3D; // [1, L, hE]
      const L = bytes.shape[1];
      const init = linear(tf.max(bytes, 1), p.get(`${ENC}.patch_embedding_projection.weight`));
      const queries = tf.reshape(init, [1, 1, k, e.dim]) as tf.Tensor4D; // [1, 1, k, hE]
      // Only the last layer's pooling reaches the global transformer (see localEncoder).
      const layer = e.crossAttnAllLayers ? e.layers - 1 : 0;
      const attended = crossAttention(
        p,
        `${ENC}.cross_attn_layers.${layer}`,
        e.heads,
        e.normEps,
        queries,
        bytes,
        {
          index: tf.tensor3d(Array.from({ length: L }, (_, j) => j), [1, 1, L], "int32"),
          bias: null,
          empty: null,
        },
      );
      let g = tf.reshape(tf.add(queries, attended), [1, 1, k * e.dim]) as tf.Tensor3D; // [1, 1, k·hE]
      if (needsGlobalProjection(cfg)) {
        g = linear(g, p.get(`${GLOBAL}.token_embedding_projection.weight`)) as tf.Tensor3D;
      }
      const { cos, sin } = this.#globalRope.row(m);
      for (let i = 0; i < cfg.global.layers; i++) {
        g = cachedBlock(p, `${GLOBAL}.layers.${i}`, cfg.global, g, cos, sin, this.#global, i);
      } // [1, 1, hG]
      const projected = linear(g, p.get(`${DEC}.patch_embedding_projection.weight`)); // [1, 1, k·hD]
      return tf.keep(tf.reshape(projected, [1, k, cfg.decoder.dim]) as tf.Tensor3D); // [1, k, hD]
    });
    const closed = this.#open;
    this.#open = [];
    this.#slots?.dispose();
    this.#slots = slots;
    this.#closedPatches++;
    return closed;
  }

  /** Decoder layers for byte t reading the latest closed patch (§3.3); logits `[1, 1, 260]`. */
  #decode(hidden: tf.Tensor3D, t: number, wantLogits: boolean): tf.Tensor | null {
    const cfg = this.#blt.config, p = this.#blt.params, d = cfg.decoder, k = cfg.crossAttnK;
    const slots = this.#slots!; // patch 0 (BOS) always closes at byte 0
    const logits = tf.tidy((): tf.Tensor | void => {
      const index = tf.tensor3d(Array.from({ length: k }, (_, j) => j), [1, 1, k], "int32");
      const { cos, sin } = this.#decRope.row(t);
      let h = hidden; // [1, 1, hD]
      for (let i = 0; i < d.layers; i++) {
        if (i === 0 || d.crossAttnAllLayers) {
          const queries = tf.reshape(h, [1, 1, 1, d.dim]) as tf.Tensor4D;
          const attended = crossAttention(
            p,
            `${DEC}.cross_attn_layers.${i}`,
            d.heads,
            d.normEps,
            queries,
            slots,
            {
              index,
              bias: null,
              empty: null,
            },
          );
          h = tf.add(h, tf.reshape(attended, [1, 1, d.dim])) as tf.Tensor3D;
        }
        h = cachedBlock(p, `${DEC}.layers.${i}`, d, h, cos, sin, this.#dec, i);
      }
      if (!wantLogits) return;
      const out = rmsNorm(h, p.get(`${DEC}.norm.weight`), d.normEps); // [1, 1, hD]
      return linear(out, p.get(LM_HEAD)); // [1, 1, 260]
    });
    return logits ? logits : null;
  }
}
