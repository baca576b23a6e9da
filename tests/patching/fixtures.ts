/**
 * Loading of the shared oracle fixtures for the patching tests (../shared/testdata): the paper's
 * Fig. 4 entropies and the HF tiny model's patcher intermediates.
 *
 * @module
 */

import { parseSafetensorsMixed } from "../../lib/model/io/safetensors.ts";

const SHARED = new URL("../../../shared/testdata/", import.meta.url);

function readShared(path: string): Uint8Array {
  const url = new URL(path, SHARED);
  try {
    return Deno.readFileSync(url);
  } catch {
    throw new Error(
      `missing fixture ${url.pathname}: the shared test data (../shared) must sit beside the checkout`,
    );
  }
}

/** Fig. 4 of the paper: tokens BOS … EOS, their entropies, θ and the figure's start flags. */
export interface EntropyFigure {
  readonly text: string;
  readonly threshold: number;
  readonly tokenIds: number[];
  readonly entropies: number[];
  readonly start: number[];
  readonly patch: number[];
}

/** Reads `official/entropy_figure.json` (a pandas frame serialized inside the JSON). */
export function loadEntropyFigure(): EntropyFigure {
  const raw = JSON.parse(new TextDecoder().decode(readShared("official/entropy_figure.json")));
  const frame = JSON.parse(raw.dataframe_json) as Record<string, Record<string, number>>;
  const column = (name: string) =>
    Object.keys(frame[name]).sort((a, b) => Number(a) - Number(b)).map((k) => frame[name][k]);
  return {
    text: raw.text,
    threshold: raw.threshold,
    tokenIds: column("token_ids"),
    entropies: column("entropies"),
    start: column("start"),
    patch: column("patch"),
  };
}

/** One case of the HF tiny fixture: input ids, patcher logits/entropies, patch lengths. */
export interface HfPatcherCase {
  readonly text: string;
  readonly inputIds: number[];
  readonly patcherLogits: Float32Array; // [T, 260]
  readonly entropies: Float32Array; // [T]
  readonly patchLengths: number[]; // a trailing 0 would be padding
  readonly summaryPatchLengths: number[];
}

/** Reads `hf-blt-tiny/summary.json` and `intermediates.safetensors`: θ and both cases. */
export function loadHfPatcherCases(): { threshold: number; cases: HfPatcherCase[] } {
  const summary = JSON.parse(new TextDecoder().decode(readShared("hf-blt-tiny/summary.json")));
  const tensors = parseSafetensorsMixed(
    readShared("hf-blt-tiny/intermediates.safetensors"),
    "intermediates.safetensors",
  );
  const get = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`intermediates.safetensors has no tensor '${name}'`);
    return t.data;
  };
  const cases = summary.cases.map((c: { text: string; patch_lengths: number[] }, i: number) => ({
    text: c.text,
    inputIds: Array.from(get(`case${i}.input_ids`)),
    patcherLogits: get(`case${i}.patcher_logits`) as Float32Array,
    entropies: get(`case${i}.entropies`) as Float32Array,
    patchLengths: Array.from(get(`case${i}.patch_lengths`)),
    summaryPatchLengths: c.patch_lengths,
  }));
  return { threshold: summary.threshold, cases };
}

/** Drops trailing zeros: the fixture's padding convention. */
export function withoutPadding(lengths: readonly number[]): number[] {
  let n = lengths.length;
  while (n > 0 && lengths[n - 1] === 0) n--;
  return lengths.slice(0, n);
}
