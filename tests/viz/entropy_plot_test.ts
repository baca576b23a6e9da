import assert from "node:assert/strict";
import { encode } from "../../lib/bytes/mod.ts";
import { entropyPlot, entropyPlotLabels, monotonicJumps } from "../../lib/viz/entropy_plot.ts";

const FIGURE = new URL("../../../shared/testdata/official/entropy_figure.json", import.meta.url);

interface Fig4 {
  text: string;
  threshold: number;
  frame: { token_ids: number[]; entropies: number[]; patch: number[]; start: number[] };
}

async function loadFig4(): Promise<Fig4> {
  let raw: string;
  try {
    raw = await Deno.readTextFile(FIGURE);
  } catch {
    throw new Error(`missing shared fixture ${FIGURE.pathname}: mount /work/shared/testdata`);
  }
  const json = JSON.parse(raw);
  const df = JSON.parse(json.dataframe_json);
  const col = (name: string) => Object.values(df[name]) as number[];
  return {
    text: json.text,
    threshold: json.threshold,
    frame: {
      token_ids: col("token_ids"),
      entropies: col("entropies"),
      patch: col("patch"),
      start: col("start"),
    },
  };
}

function lengthsFromPatchIndex(patch: number[]): number[] {
  const lengths: number[] = [];
  for (const p of patch) lengths[p] = (lengths[p] ?? 0) + 1;
  return lengths;
}

type Trace = Record<string, unknown> & { x: number[]; y: number[]; customdata: unknown[][] };

Deno.test("entropyPlot on the paper's Fig. 4: 23 patch starts, hover patch index, θ line", async () => {
  const { frame, threshold } = await loadFig4();
  const patchLengths = lengthsFromPatchIndex(frame.patch);
  assert.equal(patchLengths.length, 23);
  const fig = entropyPlot({
    ids: frame.token_ids,
    entropies: frame.entropies,
    patchLengths,
    threshold,
    mode: "global",
  });
  assert.equal(fig.data.length, 3);
  const [entropy, theta, starts] = fig.data as Trace[];
  assert.deepEqual(entropy.y, frame.entropies);
  assert.deepEqual(entropy.customdata.map((c) => c[1]), frame.patch);
  assert.deepEqual(theta.y, [threshold, threshold]);
  const expectedStarts = frame.start.flatMap((s, i) => (s === 1 ? [i] : []));
  assert.deepEqual(starts.x, expectedStarts);
  const shapes = fig.layout.shapes as { x0: number }[];
  assert.equal(shapes.length, 23);
  assert.deepEqual(shapes.map((s) => s.x0 + 0.5), expectedStarts);
  const xaxis = fig.layout.xaxis as { ticktext: string[]; tickvals: number[] };
  assert.equal(xaxis.ticktext[0], "<br><bos>", "specials sit on a second line, clear of bytes");
  assert.equal(xaxis.ticktext.at(-1), "<br><eos>");
  assert.equal(xaxis.ticktext[1], "D");
  assert.equal(xaxis.ticktext[9], "␣");
  assert.equal(xaxis.tickvals.length, frame.token_ids.length);
  JSON.parse(JSON.stringify(fig)); // plain data only
});

Deno.test("entropyPlotLabels shows a multi-byte character once, on its first byte", () => {
  const ids = encode("é中😀", { bos: true, eos: true });
  const labels = entropyPlotLabels(ids);
  assert.deepEqual(labels, ["<bos>", "é", "·", "中", "·", "·", "😀", "·", "·", "·", "<eos>"]);
  // A broken sequence (lone lead byte 0xE4) keeps a hex label.
  assert.deepEqual(entropyPlotLabels([1, 0xe4 + 4, 0x41 + 4]), ["<bos>", "xE4", "A"]);
});

Deno.test("entropyPlot monotonic mode marks H[i−1] − H[i−2] > θ_r", () => {
  const entropies = [0.1, 0.2, 2.0, 1.0, 0.5, 0.6, 2.4];
  assert.deepEqual(monotonicJumps(entropies, 1), [3]);
  assert.deepEqual(monotonicJumps(entropies, 0.05), [2, 3, 6]);
  const fig = entropyPlot({
    ids: encode("hello"),
    entropies,
    patchLengths: [1, 2, 4],
    threshold: 1,
    mode: "monotonic",
  });
  assert.equal(fig.data.length, 3);
  const markers = fig.data[1] as Trace;
  assert.deepEqual(markers.x, [3]);
  assert.deepEqual(markers.y, [1.0]);
  assert.equal((fig.layout.shapes as unknown[]).length, 3);
});

Deno.test("entropyPlot rejects inconsistent input with messages naming the argument", () => {
  const ids = encode("hi"); // 4 ids
  const base = { ids, entropies: [1, 2, 3, 4], patchLengths: [2, 2], threshold: 1 } as const;
  assert.throws(
    () => entropyPlot({ ...base, mode: "global", entropies: [1, 2, 3] }),
    /ids and entropies must have the same length.*4 and 3/,
  );
  assert.throws(
    () => entropyPlot({ ...base, mode: "global", entropies: [1, NaN, 3, 4] }),
    /entropies\[1\] must be a finite number/,
  );
  assert.throws(
    () => entropyPlot({ ...base, mode: "global", patchLengths: [2, 1] }),
    /patchLengths must sum to the length of ids \(4\), found sum 3/,
  );
  assert.throws(
    () => entropyPlot({ ...base, mode: "global", patchLengths: [4, 0] }),
    /patchLengths\[1\] must be a positive integer/,
  );
  assert.throws(() => entropyPlot({ ...base, mode: "global", threshold: Infinity }), /threshold/);
  assert.throws(
    () => entropyPlot({ ...base, mode: "static" as unknown as "global" }),
    /mode must be "global" or "monotonic"/,
  );
});
