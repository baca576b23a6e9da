import assert from "node:assert/strict";
import { robustnessChart } from "../../lib/viz/robustness_chart.ts";

type Bar = { type: string; name: string; x: string[]; y: (number | null)[]; error_y?: unknown };

Deno.test("robustnessChart: one bar trace per family, noises in first-seen order, gaps as null", () => {
  const fig = robustnessChart([
    { family: "BLT", noise: "clean", value: 0.61 },
    { family: "BPE", noise: "clean", value: 0.6 },
    { family: "BLT", noise: "uppercase", value: 0.52 },
    { family: "byte LM", noise: "uppercase", value: 0.5 },
    { family: "BPE", noise: "uppercase", value: 0.31 },
  ], { metric: "accuracy" });
  const data = fig.data as Bar[];
  assert.deepEqual(data.map((t) => t.name), ["BLT", "BPE", "byte LM"]);
  assert.ok(data.every((t) => t.type === "bar"));
  assert.deepEqual(data[0].x, ["clean", "uppercase"]);
  assert.deepEqual(data[1].y, [0.6, 0.31]);
  assert.deepEqual(data[2].y, [null, 0.5]);
  assert.equal(fig.layout.barmode, "group");
  assert.deepEqual(fig.layout.yaxis, { title: { text: "accuracy" }, rangemode: "tozero" });
  assert.deepEqual(fig.layout.xaxis, { title: { text: "noise" } });
  const tasks = robustnessChart([{ family: "BLT", noise: "spelling", value: 0.5 }], {
    category: "task",
  });
  assert.deepEqual(tasks.layout.xaxis, { title: { text: "task" } });
  assert.ok(data.every((t) => t.error_y === undefined));
});

Deno.test("robustnessChart draws error bars when rows carry errors", () => {
  const fig = robustnessChart([
    { family: "BLT", noise: "clean", value: 1.1, error: 0.02 },
    { family: "BLT", noise: "swap", value: 1.4 },
  ]);
  const bar = fig.data[0] as Bar;
  assert.deepEqual(bar.error_y, { type: "data", array: [0.02, null], visible: true });
});

Deno.test("robustnessChart rejects bad rows", () => {
  assert.throws(() => robustnessChart([]), /rows must not be empty/);
  assert.throws(
    () => robustnessChart([{ family: "BLT", noise: "clean", value: NaN }]),
    /rows\[0\]\.value must be a finite number/,
  );
  assert.throws(
    () => robustnessChart([{ family: "", noise: "clean", value: 1 }]),
    /rows\[0\]\.family must be a non-empty string/,
  );
  assert.throws(
    () =>
      robustnessChart([
        { family: "BLT", noise: "clean", value: 1 },
        { family: "BLT", noise: "clean", value: 2 },
      ]),
    /rows\[1\] repeats family "BLT" with noise "clean"/,
  );
  assert.throws(
    () => robustnessChart([{ family: "BLT", noise: "clean", value: 1, error: -1 }]),
    /rows\[0\]\.error/,
  );
});
