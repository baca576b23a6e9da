import assert from "node:assert/strict";
import { htmlMimeBundle, plotlyMimeBundle, svgMimeBundle } from "../../lib/viz/mime.ts";

const FIG = {
  data: [{ type: "scatter", y: [3, 1, 2], name: "</script><b>x" }],
  layout: { title: { text: "entropy" }, height: 300 },
};

Deno.test("plotlyMimeBundle: plotly JSON for JupyterLab, HTML fallback, one-line text", () => {
  const b = plotlyMimeBundle(FIG, { divId: "fig-1" });
  assert.deepEqual(Object.keys(b), ["application/vnd.plotly.v1+json", "text/html", "text/plain"]);
  assert.deepEqual(b["application/vnd.plotly.v1+json"], {
    data: FIG.data,
    layout: FIG.layout,
    config: { responsive: true },
  });
  assert.equal(b["text/plain"], 'Plotly figure "entropy": 1 trace (scatter)');
  const html = b["text/html"] as string;
  assert.match(html, /<div id="fig-1" class="blt-plotly" data-blt-plotly="1" [^>]*height:300px/);
  // The trace name's "</script>" must not end the render script early.
  assert.equal(html.match(/<\/script>/g)?.length, 1);
  assert.ok(!html.includes("if (!window.Plotly)"), "no plotly.js unless asked for");
  assert.deepEqual(plotlyMimeBundle(FIG, { divId: "fig-1" }), b, "pure");
});

Deno.test("plotlyMimeBundle: bad figures throw naming the function", () => {
  assert.throws(
    () => plotlyMimeBundle({ traces: [] } as never),
    /plotlyMimeBundle: expected a figure \{ data: \[\.\.\.traces\]/,
  );
});

Deno.test("svgMimeBundle: adds the SVG namespace that data-URL images need", () => {
  const b = svgMimeBundle('<svg width="4" height="4"><rect width="4" height="4"/></svg>', "sq");
  assert.equal(
    b["image/svg+xml"],
    '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>',
  );
  assert.equal(b["text/plain"], "sq");
  const ns = '<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>';
  assert.equal(svgMimeBundle(ns)["image/svg+xml"], ns);
  assert.throws(() => svgMimeBundle("<div></div>"), /svgMimeBundle: expected svg markup/);
  assert.deepEqual(htmlMimeBundle("<i>x</i>", "x"), { "text/html": "<i>x</i>", "text/plain": "x" });
});
