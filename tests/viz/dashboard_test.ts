import assert from "node:assert/strict";
import { DOMParser } from "linkedom";
import {
  dashboardHtml,
  dashboardStats,
  emptyHistory,
  type MetricsHistory,
  withEval,
  withPhase,
  withStep,
} from "../../lib/viz/dashboard.ts";
import { assertWellFormedXml } from "./well_formed.ts";

const history: MetricsHistory = {
  step: 40,
  totalSteps: 100,
  bytesSeen: 40 * 8 * 1024,
  elapsedSeconds: 20,
  title: "tiny <run>",
  train: [1, 10, 20, 30, 40].map((s) => ({
    step: s,
    loss: 5 / s + 1,
    bpb: (5 / s + 1) / Math.LN2,
  })),
  validation: [20, 40].map((s) => ({ step: s, loss: 5 / s + 1.1, bpb: (5 / s + 1.1) / Math.LN2 })),
};

Deno.test("dashboardStats: fraction, bytes/s and ETA from the history", () => {
  const s = dashboardStats(history);
  assert.equal(s.fraction, 0.4);
  assert.equal(s.bytesPerSecond, 40 * 8 * 1024 / 20);
  assert.equal(s.etaSeconds, 30); // 0.5 s per step, 60 steps left
  const start = dashboardStats({ ...history, step: 0, bytesSeen: 0, elapsedSeconds: 0 });
  assert.equal(start.etaSeconds, null);
  assert.equal(start.bytesPerSecond, 0);
});

Deno.test("dashboardHtml: progress bar, escaped title, well-formed SVG with both curves per panel", () => {
  const html = dashboardHtml(history);
  const doc = new DOMParser().parseFromString(`<html><body>${html}</body></html>`, "text/html");
  const bar = doc.querySelector("[role=progressbar]");
  assert.equal(bar?.getAttribute("aria-valuenow"), "40.0");
  assert.ok(html.includes("tiny &lt;run&gt;"));
  assert.match(html, /16\.4 kB\/s/);
  assert.match(html, /ETA 30s/);
  const svgText = html.slice(html.indexOf("<svg"), html.indexOf("</svg>") + 6);
  assertWellFormedXml(svgText);
  const svg = new DOMParser().parseFromString(svgText, "image/svg+xml");
  assert.equal(svg.documentElement.tagName, "svg");
  for (const panel of ["loss", "bpb"]) {
    const g = svg.querySelector(`.panel-${panel}`);
    assert.ok(g, `panel ${panel}`);
    assert.equal(g.querySelectorAll(".curve-train").length, 1);
    assert.equal(g.querySelectorAll(".curve-validation").length, 1);
    // d path: one M and (points - 1) L commands
    const d = g.querySelector(".curve-train").getAttribute("d") as string;
    assert.equal((d.match(/L/g) ?? []).length, history.train.length - 1);
  }
  assert.equal(svg.querySelector(".last-validation")?.textContent, "validation 1.225");
});

Deno.test("dashboardHtml: last-value labels sit above every curve, never on it", () => {
  const html = dashboardHtml(history);
  const svgText = html.slice(html.indexOf("<svg"), html.indexOf("</svg>") + 6);
  const svg = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const labelBaselines = [...svg.querySelectorAll(".last-train, .last-validation")]
    .map((t) => Number(t.getAttribute("y")));
  const curveYs = [...svg.querySelectorAll(".curve-train, .curve-validation")]
    .flatMap((p) => [...(p.getAttribute("d") as string).matchAll(/[ML][^,]+,([-\d.]+)/g)])
    .map((m) => Number(m[1]));
  assert.equal(labelBaselines.length, 4);
  assert.ok(curveYs.length > 0);
  // A label's glyphs end at its baseline (+ descenders, ~3 px); the curves start lower.
  assert.ok(Math.min(...curveYs) > Math.max(...labelBaselines) + 3, `${Math.min(...curveYs)}`);
});

Deno.test("dashboardHtml before the first step says it is waiting", () => {
  const html = dashboardHtml({ ...history, step: 0, train: [], validation: [] });
  assert.match(html, /waiting for the first step/);
  assert.match(html, /ETA –/);
});

Deno.test("dashboardStats rejects inconsistent histories", () => {
  assert.throws(() => dashboardStats({ ...history, step: 101 }), /history\.step \(101\) exceeds/);
  assert.throws(() => dashboardStats({ ...history, totalSteps: -1 }), /history\.totalSteps/);
  assert.throws(() => dashboardStats({ ...history, elapsedSeconds: NaN }), /elapsedSeconds/);
  assert.throws(
    () => dashboardStats({ ...history, train: [{ step: 1, loss: Infinity, bpb: 1 }] }),
    /history\.train\[\]\.loss\[0\] must be a finite number/,
  );
  assert.throws(
    () =>
      dashboardStats({
        ...history,
        validation: [{ step: 5, loss: 1, bpb: 1 }, { step: 2, loss: 1, bpb: 1 }],
      }),
    /history\.validation must be in step order/,
  );
});

Deno.test("withStep/withEval fold the training loop's callbacks into a history", () => {
  let h = emptyHistory(4, "run");
  for (let step = 1; step <= 2; step++) {
    h = withStep(h, {
      step,
      loss: 5 - step,
      bitsPerByte: (5 - step) / Math.LN2,
      lr: 1e-3,
      gradNorm: 1,
      bytes: 1000,
      seconds: 0.5,
      bytesPerSecond: 2000,
      tflops: null,
    });
  }
  h = withEval(h, { step: 2, bitsPerByte: 4.5, lossNats: 3.1, bytes: 500 });
  assert.equal(h.step, 2);
  assert.equal(h.bytesSeen, 2000);
  assert.equal(h.elapsedSeconds, 1);
  assert.deepEqual(h.train.map((p) => p.loss), [4, 3]);
  assert.deepEqual(h.validation, [{ step: 2, loss: 3.1, bpb: 4.5 }]);
  const s = dashboardStats(h);
  assert.equal(s.bytesPerSecond, 2000);
  assert.equal(s.etaSeconds, 1);
  assert.throws(() => emptyHistory(-1), /history\.totalSteps must be an integer ≥ 0/);
});

Deno.test("withPhase: two runs on one dashboard are drawn apart, behind a labelled divider", () => {
  const step = (n: number, loss: number) => ({
    step: n,
    loss,
    bitsPerByte: loss / Math.LN2,
    lr: 1e-3,
    gradNorm: 1,
    bytes: 100,
    seconds: 1,
    bytesPerSecond: 100,
    tflops: null,
  });
  let h = withPhase(emptyHistory(6, "entropy model, then BLT"), "entropy model");
  for (const n of [1, 2, 3]) h = withStep(h, step(n, 6 - n));
  h = withEval(h, { step: 3, bitsPerByte: 4, lossNats: 2.8, bytes: 50 });
  h = withPhase(h, "BLT");
  for (const n of [4, 5, 6]) h = withStep(h, step(n, 9 - n));
  assert.deepEqual(h.phases, [{ name: "entropy model", step: 0 }, { name: "BLT", step: 3 }]);
  assert.deepEqual(h.train.map((p) => p.phase), [
    "entropy model",
    "entropy model",
    "entropy model",
    "BLT",
    "BLT",
    "BLT",
  ]);
  const html = dashboardHtml(h);
  const svgText = html.slice(html.indexOf("<svg"), html.indexOf("</svg>") + 6);
  assertWellFormedXml(svgText);
  const svg = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const g = svg.querySelector(".panel-loss");
  // Two train paths of three points each: no segment joins step 3 (low) to step 4 (high).
  const paths = [...g.querySelectorAll(".curve-train")].map((p) => p.getAttribute("d") as string);
  assert.equal(paths.length, 2);
  for (const d of paths) assert.equal((d.match(/L/g) ?? []).length, 2);
  assert.equal(g.querySelectorAll(".phase-divider").length, 1);
  assert.deepEqual([...g.querySelectorAll(".phase-label")].map((t) => t.textContent), [
    "entropy model",
    "BLT",
  ]);
  assert.throws(() => withPhase(h, "BLT"), /phase named 'BLT' already exists/);
  assert.throws(() => withPhase(h, " "), /non-empty name/);
});
