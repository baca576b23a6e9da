/**
 * Shared pieces of the reliability suite: a tiny BLT / byte LM (seconds on the wasm backend),
 * a deterministic data source, and an assertion that an error names both the problem and the fix.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { type BltConfig, resolveConfig, type TransformerConfig } from "../../lib/config.ts";
import { encodeDocuments, sampleBatches } from "../../lib/data/mod.ts";
import type { BatchSource } from "../../lib/train/types.ts";

/** Switches tfjs to the wasm backend (≈10× the cpu backend here, single-threaded, deterministic). */
export async function useWasm(): Promise<void> {
  if (tf.getBackend() !== "wasm") await tf.setBackend("wasm");
  await tf.ready();
}

/** A BLT small enough to train 1,000 steps in seconds: h_E = 16, h_G = 32 (k·h_E = h_G). */
export function tinyBltConfig(): BltConfig {
  const local = { dim: 16, heads: 2, layers: 1, ffnDim: 32, maxPositions: 64 };
  return resolveConfig("tiny", {
    encoder: local,
    decoder: local,
    global: { dim: 32, heads: 2, layers: 1, ffnDim: 64, maxPositions: 64 },
    entropyModel: null,
    hash: { sizes: [3, 4], buckets: 64 },
    patching: { mode: "static", patchSize: 4 },
    maxPositions: 64,
  });
}

/** A byte LM of the same scale. */
export const TINY_LM: TransformerConfig = Object.freeze({
  dim: 16,
  layers: 1,
  heads: 2,
  headDim: 8,
  ffnDim: 32,
  normEps: 1e-5,
  ropeTheta: 10000,
  slidingWindow: null,
  maxPositions: 64,
});

/** Seeded training windows (T = 16, B = 2) over a few short documents. */
export function tinyData(seed = 4): BatchSource {
  const docs = encodeDocuments([
    "The quick brown fox jumps over the lazy dog.",
    "Patches scale better than tokens do.",
    "Bytes in, bytes out: no tokenizer needed.",
    "Entropy decides where a new patch starts.",
  ]);
  return sampleBatches(docs, { window: 16, batchSize: 2, seed });
}

/**
 * Asserts that `fn` throws (or rejects with) an Error whose message matches every pattern:
 * callers pass one pattern for the problem and one for the fix.
 */
export async function assertClearError(
  fn: () => unknown,
  patterns: readonly RegExp[],
): Promise<string> {
  let error: unknown = null;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  for (const p of patterns) {
    assert.match(error.message, p, `error message lacks ${p}: ${error.message}`);
  }
  return error.message;
}

/** Runs `fn` with a fresh temporary directory that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "blt-reliability-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A model that maps byte ids `[B, T]` to next-byte logits `[B, T, 260]` (BLT or byte LM). */
export interface LogitsModel {
  logits(ids: readonly (readonly number[])[]): tf.Tensor3D;
}

/**
 * Greedy generation of `n` bytes after `prompt` (ids starting with BOS), re-running the model on
 * BOS + the last `context − 1` ids at every byte (no cache: what a cache must reproduce).
 */
export function generateGreedy(
  model: LogitsModel,
  prompt: readonly number[],
  n: number,
  context = 48,
): number[] {
  const ids = [...prompt];
  for (let i = 0; i < n; i++) {
    const window = [prompt[0], ...ids.slice(1).slice(-(context - 1))];
    const next = tf.tidy(() => {
      const logits = model.logits([window]); // [1, T, 260]
      const last = tf.slice(logits, [0, window.length - 1, 0], [1, 1, 260]);
      return tf.argMax(tf.reshape(last, [260])).dataSync()[0];
    });
    ids.push(next);
  }
  return ids;
}
