/**
 * Next-byte steppers: one interface over the four ways to get a model's next-byte logits while
 * a sequence grows: BLT or plain byte LM, with KV caches (each byte costs one position) or by
 * re-running the whole model on the whole prefix at every byte (the reference's generation
 * without cache). Generation (lib/eval/generate.ts) drives any of them; the uncached ones are the
 * oracle the cached ones are tested against.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BOE_ID } from "../../bytes/codec.ts";
import { entropies as entropiesOf } from "../../patching/mod.ts";
import { Blt } from "../blt.ts";
import type { ByteLm } from "../byte_lm.ts";
import { BltCache } from "./blt_cache.ts";
import { ByteLmCache, checkId } from "./byte_lm_cache.ts";
import { nextBytePatchLengths } from "./patch_stream.ts";

/**
 * A model reading a growing byte sequence. `push` only records a byte; `logits` does the work
 * the pushed bytes need and returns the prediction of the byte after the last one.
 *
 * @example
 * ```ts
 * import { createByteLm } from "../byte_lm.ts";
 * import { stepper } from "./steppers.ts";
 * import { PRESETS } from "../../config.ts";
 * const lm = createByteLm(PRESETS.tiny.entropyModel!, 0);
 * const s = stepper(lm, { useCache: true });
 * [1, 72, 105].forEach((id) => s.push(id));
 * console.log(s.logits().length, s.entropies().length); // 260 2
 * s.dispose();
 * lm.dispose();
 * ```
 */
export interface NextByteStepper {
  /** Bytes pushed so far. */
  readonly length: number;
  /** Appends byte id `id` (an integer in 0..259). */
  push(id: number): void;
  /** Next-byte logits `[260]` after the bytes pushed (at least one). */
  logits(): Float32Array;
  /**
   * Next-byte entropies (nats) of all pushed bytes but the last, `[length − 1]`: the entropy
   * model's for a BLT in entropy mode (empty in other modes), the model's own for a byte LM.
   */
  entropies(): Float32Array;
  /** Patch lengths covering the pushed bytes (BLT), or null (byte LM). */
  patchLengths(): number[] | null;
  /** Frees caches (never the model). */
  dispose(): void;
}

/**
 * Options of {@link stepper}.
 *
 * @example
 * ```ts
 * import type { StepperOptions } from "./steppers.ts";
 * const o: StepperOptions = { useCache: false };
 * ```
 */
export interface StepperOptions {
  /** KV caches (true) or the full model over the whole prefix per byte (false). */
  readonly useCache: boolean;
}

/**
 * A stepper for a BLT or a byte LM, cached or not.
 *
 * @example
 * ```ts
 * import { createBlt } from "../blt.ts";
 * import { stepper } from "./steppers.ts";
 * import { resolveConfig } from "../../config.ts";
 * const blt = createBlt(resolveConfig("tiny", { "global.layers": 1, "hash.buckets": 64 }), 0);
 * const s = stepper(blt, { useCache: false });
 * [1, 72, 105].forEach((id) => s.push(id));
 * s.logits();
 * console.log(s.patchLengths()); // [1, 1, 1]
 * s.dispose();
 * blt.dispose();
 * ```
 */
export function stepper(model: Blt | ByteLm, options: StepperOptions): NextByteStepper {
  if (model instanceof Blt) {
    return options.useCache ? new CachedBlt(model) : new RerunBlt(model);
  }
  return options.useCache ? new CachedByteLm(model) : new RerunByteLm(model);
}

/** Bytes pushed and not yet read by a cached model; shared bookkeeping of the cached steppers. */
abstract class Pending {
  protected readonly ids: number[] = [];
  protected read = 0;

  get length(): number {
    return this.ids.length;
  }

  push(id: number): void {
    checkId(id, this.ids.length);
    this.ids.push(id);
  }

  /** Reads pending bytes up to (excluding) `end`; the last one read returns logits if asked. */
  protected readUpTo(end: number, wantLastLogits: boolean): Float32Array | null {
    let logits: Float32Array | null = null;
    while (this.read < end) {
      const last = this.read === end - 1;
      logits = this.readOne(this.ids[this.read], last && wantLastLogits);
      this.read++;
    }
    return logits;
  }

  protected abstract readOne(id: number, wantLogits: boolean): Float32Array | null;

  logits(): Float32Array {
    if (this.ids.length === 0) throw new Error("logits(): push at least one byte (BOS) first");
    if (this.read === this.ids.length) {
      throw new Error("logits(): already computed for these bytes; push the next byte first");
    }
    return this.readUpTo(this.ids.length, true)!;
  }
}

class CachedBlt extends Pending implements NextByteStepper {
  readonly #cache: BltCache;
  readonly #entropies: number[] = [];

  constructor(blt: Blt) {
    super();
    this.#cache = new BltCache(blt);
  }

  protected readOne(id: number, wantLogits: boolean): Float32Array | null {
    const step = this.#cache.step(id, wantLogits);
    if (step.entropy !== null) this.#entropies.push(step.entropy);
    return step.logits;
  }

  entropies(): Float32Array {
    this.readUpTo(this.ids.length - 1, false);
    return Float32Array.from(this.#entropies.slice(0, Math.max(0, this.ids.length - 1)));
  }

  patchLengths(): number[] {
    this.readUpTo(this.ids.length - 1, false);
    return this.#cache.patchLengths(this.ids.length);
  }

  dispose(): void {
    this.#cache.dispose();
  }
}

class CachedByteLm extends Pending implements NextByteStepper {
  readonly #cache: ByteLmCache;
  readonly #entropies: number[] = [];

  constructor(lm: ByteLm) {
    super();
    this.#cache = new ByteLmCache(lm);
  }

  protected readOne(id: number): Float32Array {
    const logits = this.#cache.step(id);
    this.#entropies.push(entropiesOf(logits, 1)[0]);
    return logits;
  }

  entropies(): Float32Array {
    this.readUpTo(this.ids.length - 1, false);
    return Float32Array.from(this.#entropies.slice(0, Math.max(0, this.ids.length - 1)));
  }

  patchLengths(): null {
    return null;
  }

  dispose(): void {
    this.#cache.dispose();
  }
}

/** Re-runs the whole model on the whole prefix; remembers the last run's entropies. */
abstract class Rerun {
  protected readonly ids: number[] = [];
  /** Entropies `[n]` of the last run over the first n bytes (n = `scored`). */
  protected lastEntropies: Float32Array = new Float32Array(0);
  protected scored = -1;

  get length(): number {
    return this.ids.length;
  }

  push(id: number): void {
    checkId(id, this.ids.length);
    this.ids.push(id);
  }

  entropies(): Float32Array {
    const n = Math.max(0, this.ids.length - 1);
    if (this.scored !== n) this.score(n);
    return this.lastEntropies.slice(0, n);
  }

  /** Entropies over the first n bytes, without logits. */
  protected abstract score(n: number): void;

  dispose(): void {}
}

class RerunBlt extends Rerun implements NextByteStepper {
  readonly #blt: Blt;
  #lastLengths: number[] = [];

  constructor(blt: Blt) {
    super();
    if (blt.config.patching.mode === "entropy" && blt.patcher === null) {
      throw new Error(
        "this BLT patches by entropy but has no entropy model (config.entropyModel is null): " +
          "load one, or set config.patching.mode to 'space', 'static' or 'byte'",
      );
    }
    this.#blt = blt;
  }

  /** Entropies and patch lengths of `ids[0..n)` plus the next byte's slot. */
  protected score(n: number): void {
    const ids = this.ids.slice(0, n), cfg = this.#blt.config.patching;
    this.lastEntropies = n > 0 && cfg.mode === "entropy"
      ? this.#blt.patcher!.entropies([ids])[0]
      : new Float32Array(0);
    this.#lastLengths = n > 0
      ? nextBytePatchLengths(cfg, ids, cfg.mode === "entropy" ? this.lastEntropies : null)
      : [1];
    this.scored = n;
  }

  logits(): Float32Array {
    const T = this.ids.length;
    if (T === 0) throw new Error("logits(): push at least one byte (BOS) first");
    this.score(T);
    // One placeholder byte fills the next byte's slot so that the last byte reads the patch it
    // closes; causality keeps it out of the logits at T − 1.
    const out = this.#blt.forward([[...this.ids, BOE_ID]], { patchLengths: [this.#lastLengths] });
    const row = tf.tidy(() => tf.slice(out.logits, [0, T - 1, 0], [1, 1, -1]));
    out.logits.dispose();
    const data = row.dataSync() as Float32Array;
    row.dispose();
    return data;
  }

  patchLengths(): number[] {
    const n = this.ids.length - 1;
    if (this.scored !== n) this.score(n);
    return this.#lastLengths.slice();
  }
}

class RerunByteLm extends Rerun implements NextByteStepper {
  readonly #lm: ByteLm;

  constructor(lm: ByteLm) {
    super();
    this.#lm = lm;
  }

  protected score(n: number): void {
    this.lastEntropies = n > 0
      ? this.#lm.entropies([this.ids.slice(0, n)])[0]
      : new Float32Array(0);
    this.scored = n;
  }

  logits(): Float32Array {
    const T = this.ids.length;
    if (T === 0) throw new Error("logits(): push at least one byte (BOS) first");
    const all = this.#lm.logits([this.ids]); // [1, T, 260]
    const data = all.dataSync() as Float32Array;
    all.dispose();
    this.lastEntropies = entropiesOf(data, T);
    this.scored = T;
    return data.slice((T - 1) * 260, T * 260);
  }

  patchLengths(): null {
    return null;
  }
}
