import assert from "node:assert/strict";
import { attentionHeatmap } from "../../lib/viz/attention_heatmap.ts";

type Heatmap = { type: string; z: number[][]; x: number[]; y: string[]; customdata: string[][] };

Deno.test("attentionHeatmap: rows are (head, query) pairs, columns are bytes by index", () => {
  // [heads=2, k=2, bytes=3]; repeated labels must stay separate columns.
  const weights = [
    [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]],
    [[1, 0, 0], [0.1, 0.1, 0.8]],
  ];
  const fig = attentionHeatmap(weights, ["l", "l", "o"], { patchIndex: 7 });
  assert.equal(fig.data.length, 1);
  const h = fig.data[0] as Heatmap;
  assert.equal(h.type, "heatmap");
  assert.deepEqual(h.z, [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [1, 0, 0], [0.1, 0.1, 0.8]]);
  assert.deepEqual(h.y, [
    "head 0 · query 0",
    "head 0 · query 1",
    "head 1 · query 0",
    "head 1 · query 1",
  ]);
  assert.deepEqual(h.x, [0, 1, 2]);
  assert.deepEqual(h.customdata[3], ["l", "l", "o"]);
  assert.deepEqual((fig.layout.xaxis as { ticktext: string[] }).ticktext, ["l", "l", "o"]);
  assert.equal((fig.layout.shapes as unknown[]).length, 1); // one separator between two heads
  assert.match((fig.layout.title as { text: string }).text, /patch 7/);
});

Deno.test("attentionHeatmap rejects shape mismatches and non-probabilities", () => {
  assert.throws(() => attentionHeatmap([], ["a"]), /weights must not be empty/);
  assert.throws(
    () => attentionHeatmap([[[0.5, 0.5]], [[0.5, 0.5], [1, 0]]], ["a", "b"]),
    /same k ≥ 1 for every head; weights\[0\] has k=1, weights\[1\] has 2/,
  );
  assert.throws(
    () => attentionHeatmap([[[0.5, 0.5]]], ["a", "b", "c"]),
    /weights\[0\]\[0\] and byteLabels must have the same length/,
  );
  assert.throws(() => attentionHeatmap([[[0.5, Infinity]]], ["a", "b"]), /weights\[0\]\[0\]\[1\]/);
  assert.throws(() => attentionHeatmap([[[-2, 1]]], ["a", "b"]), /softmax probabilities/);
});
