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
import { readAsync, type Reads, readSync } from "./read_back.ts";

/**
 * A model reading a growing byte sequence. `push` only records a byte; `logits` does the work
 * the pushed bytes need and returns the prediction of the byte after the last one. Each reading
 * method comes three ways: sync (`dataSync`: wasm, cpu), `…Async` (`await data()`: every
 * backend, webgpu too) and `…Reads` (the computation itself, for composing; lib/eval/generate.ts
 * drives it either way). All three give the same values.
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
  /** {@link NextByteStepper.logits} with `await data()`. */
  logitsAsync(): Promise<Float32Array>;
  /** {@link NextByteStepper.logits} as a computation yielding its read-backs (one row each). */
  logitsReads(): Reads<Float32Array>;
  /**
   * Next-byte entropies (nats) of all pushed bytes but the last, `[length − 1]`: the entropy
   * model's for a BLT in entropy mode (empty in other modes), the model's own for a byte LM.
   */
  entropies(): Float32Array;
  /** {@link NextByteStepper.entropies} with `await data()`. */
  entropiesAsync(): Promise<Float32Array>;
  /** {@link NextByteStepper.entropies} as a computation yielding its read-backs. */
  entropiesReads(): Reads<Float32Array>;
  /** Patch lengths covering the pushed bytes (BLT), or null (byte LM). */
  patchLengths(): number[] | null;
  /** {@link NextByteStepper.patchLengths} with `await data()`. */
  patchLengthsAsync(): Promise<number[] | null>;
  /** {@link NextByteStepper.patchLengths} as a computation yielding its read-backs. */
  patchLengthsReads(): Reads<number[] | null>;
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

/** The sync and async readers over the `…Reads` computations; shared by every stepper. */
abstract class Readers {
  abstract logitsReads(): Reads<Float32Array>;
  abstract entropiesReads(): Reads<Float32Array>;
  abstract patchLengthsReads(): Reads<number[] | null>;

  logits(): Float32Array {
    return readSync(this.logitsReads());
  }

  logitsAsync(): Promise<Float32Array> {
    return readAsync(this.logitsReads());
  }

  entropies(): Float32Array {
    return readSync(this.entropiesReads());
  }

  entropiesAsync(): Promise<Float32Array> {
    return readAsync(this.entropiesReads());
  }

  patchLengths(): number[] | null {
    return readSync(this.patchLengthsReads());
  }

  patchLengthsAsync(): Promise<number[] | null> {
    return readAsync(this.patchLengthsReads());
  }
}

/** Bytes pushed and not yet read by a cached model; shared bookkeeping of the cached steppers. */
abstract class Pending extends Readers {
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
  protected *readUpTo(end: number, wantLastLogits: boolean): Reads<Float32Array | null> {
    let logits: Float32Array | null = null;
    while (this.read < end) {
      const last = this.read === end - 1;
      logits = yield* this.readOne(this.ids[this.read], last && wantLastLogits);
      this.read++;
    }
    return logits;
  }

  protected abstract readOne(id: number, wantLogits: boolean): Reads<Float32Array | null>;

  *logitsReads(): Reads<Float32Array> {
    if (this.ids.length === 0) throw new Error("logits(): push at least one byte (BOS) first");
    if (this.read === this.ids.length) {
      throw new Error("logits(): already computed for these bytes; push the next byte first");
    }
    return (yield* this.readUpTo(this.ids.length, true))!;
  }
}

class CachedBlt extends Pending implements NextByteStepper {
  readonly #cache: BltCache;
  readonly #entropies: number[] = [];

  constructor(blt: Blt) {
    super();
    this.#cache = new BltCache(blt);
  }

  protected *readOne(id: number, wantLogits: boolean): Reads<Float32Array | null> {
    const step = yield* this.#cache.stepReads(id, wantLogits);
    if (step.entropy !== null) this.#entropies.push(step.entropy);
    return step.logits;
  }

  *entropiesReads(): Reads<Float32Array> {
    yield* this.readUpTo(this.ids.length - 1, false);
    return Float32Array.from(this.#entropies.slice(0, Math.max(0, this.ids.length - 1)));
  }

  *patchLengthsReads(): Reads<number[]> {
    yield* this.readUpTo(this.ids.length - 1, false);
    return this.#cache.patchLengths(this.ids.length);
  }

  override patchLengths(): number[] {
    return readSync(this.patchLengthsReads());
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

  protected *readOne(id: number): Reads<Float32Array> {
    const logits = yield* this.#cache.stepReads(id);
    this.#entropies.push(entropiesOf(logits, 1)[0]);
    return logits;
  }

  *entropiesReads(): Reads<Float32Array> {
    yield* this.readUpTo(this.ids.length - 1, false);
    return Float32Array.from(this.#entropies.slice(0, Math.max(0, this.ids.length - 1)));
  }

  // deno-lint-ignore require-yield
  *patchLengthsReads(): Reads<null> {
    return null;
  }

  dispose(): void {
    this.#cache.dispose();
  }
}

/** Re-runs the whole model on the whole prefix; remembers the last run's entropies. */
abstract class Rerun extends Readers {
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

  *entropiesReads(): Reads<Float32Array> {
    const n = Math.max(0, this.ids.length - 1);
    if (this.scored !== n) yield* this.score(n);
    return this.lastEntropies.slice(0, n);
  }

  /** Entropies over the first n bytes, without logits. */
  protected abstract score(n: number): Reads<void>;

  dispose(): void {}
}

/** Next-byte entropies `[T]` of a byte LM over `ids` `[T]` (reads its logits `[T, 260]` back). */
function* lmEntropies(lm: ByteLm, ids: readonly number[]): Reads<Float32Array> {
  if (ids.length === 0) return new Float32Array(0);
  return entropiesOf(yield lm.logits([ids]), ids.length);
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
  protected *score(n: number): Reads<void> {
    const ids = this.ids.slice(0, n), cfg = this.#blt.config.patching;
    this.lastEntropies = cfg.mode === "entropy"
      ? yield* lmEntropies(this.#blt.patcher!, ids)
      : new Float32Array(0);
    this.#lastLengths = n > 0
      ? nextBytePatchLengths(cfg, ids, cfg.mode === "entropy" ? this.lastEntropies : null)
      : [1];
    this.scored = n;
  }

  *logitsReads(): Reads<Float32Array> {
    const T = this.ids.length;
    if (T === 0) throw new Error("logits(): push at least one byte (BOS) first");
    yield* this.score(T);
    // One placeholder byte fills the next byte's slot so that the last byte reads the patch it
    // closes; causality keeps it out of the logits at T − 1.
    const out = this.#blt.forward([[...this.ids, BOE_ID]], { patchLengths: [this.#lastLengths] });
    const row = tf.tidy(() => tf.slice(out.logits, [0, T - 1, 0], [1, 1, -1])); // [1, 1, 260]
    out.logits.dispose();
    return yield row;
  }

  *patchLengthsReads(): Reads<number[]> {
    const n = this.ids.length - 1;
    if (this.scored !== n) yield* this.score(n);
    return this.#lastLengths.slice();
  }

  override patchLengths(): number[] {
    return readSync(this.patchLengthsReads());
  }
}

class RerunByteLm extends Rerun implements NextByteStepper {
  readonly #lm: ByteLm;

  constructor(lm: ByteLm) {
    super();
    this.#lm = lm;
  }

  protected *score(n: number): Reads<void> {
    this.lastEntropies = yield* lmEntropies(this.#lm, this.ids.slice(0, n));
    this.scored = n;
  }

  *logitsReads(): Reads<Float32Array> {
    const T = this.ids.length;
    if (T === 0) throw new Error("logits(): push at least one byte (BOS) first");
    const row = tf.tidy(() => {
      const all = this.#lm.logits([this.ids]); // [1, T, 260]
      return tf.slice(all, [0, T - 1, 0], [1, 1, -1]); // [1, 1, 260]: only the last row is read
    });
    return yield row;
  }

  // deno-lint-ignore require-yield
  *patchLengthsReads(): Reads<null> {
    return null;
  }

  override patchLengths(): null {
    return null;
  }
}
