/**
 * Data for BLT training: corpora (the embedded Brown Corpus subset and npm-packaged corpora),
 * their JSONL format, byte windows that never cross a document, and a seeded random number
 * generator with a resumable state.
 *
 * @example
 * ```ts
 * import {
 *   brownToText, type Corpus, CORPUS_NAMES, type DocumentRecord, encodeDocuments,
 *   formatDocuments, loadCorpus, parseDocuments, Rng, type RngState, sampleBatches,
 *   type SampledBatches, sequentialBatches, type SequentialBatches, type WindowBatch,
 *   type WindowOptions,
 * } from "./mod.ts";
 * // The embedded default corpus, made from the tagged Brown Corpus by `deno task data`.
 * const corpus: Corpus = await loadCorpus(CORPUS_NAMES[0]);
 * console.log(brownToText("\tHello/uh ./.\n")); // "Hello."
 * const jsonl = formatDocuments([{ id: "x", text: "Hi" }]);
 * const records: DocumentRecord[] = parseDocuments(jsonl, "x");
 * // Encode once; sample training windows and sweep validation windows.
 * const options: WindowOptions = { window: 64, batchSize: 4 };
 * const seed = new Rng(0).fork("data").int(2 ** 31);
 * const train: SampledBatches = sampleBatches(encodeDocuments(corpus.train), { ...options, seed });
 * const valid: SequentialBatches = sequentialBatches(encodeDocuments(corpus.validation), options);
 * const batch: WindowBatch = train.batchAt(0); // ids [4, 64], targetMask [4, 64]
 * const state: RngState = new Rng(seed).state(); // JSON, for checkpoints
 * console.log(records.length, batch.targets, valid.targets); // 1 252 169919
 * console.log(state.algorithm); // "sfc32"
 * ```
 * @module
 */
export {
  encodeDocuments,
  sampleBatches,
  type SampledBatches,
  type SequentialBatches,
  sequentialBatches,
  type WindowBatch,
  type WindowOptions,
} from "./batching.ts";
export { brownToText } from "./brown.ts";
export { type Corpus, CORPUS_NAMES, loadCorpus } from "./corpus.ts";
export { type DocumentRecord, formatDocuments, parseDocuments } from "./documents.ts";
export { Rng, type RngState } from "./rng.ts";
