import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import {
  displayPlotly,
  type DisplaySink,
  inJupyter,
  LiveDisplay,
  loadPlotlyJs,
  resetPlotlyLoader,
} from "../../lib/viz/display.ts";
import { type MimeBundle, plotlyMimeBundle, svgMimeBundle } from "../../lib/viz/mime.ts";
import { checkPages } from "../../scripts/check_html.ts";

const FIG = {
  data: [{ type: "scatter", y: [3, 1, 2], name: "</script><b>x" }],
  layout: { title: { text: "entropy" }, height: 300 },
};
const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

/** A sink that records what would have gone to the kernel. */
function recorder(): { sink: DisplaySink; sent: [MimeBundle, string | undefined, boolean][] } {
  const sent: [MimeBundle, string | undefined, boolean][] = [];
  const sink: DisplaySink = (bundle, o) => {
    sent.push([bundle, o.display_id, o.update === true]);
    return Promise.resolve();
  };
  return { sink, sent };
}

Deno.test("LiveDisplay: first show displays, later shows update the same display_id", async () => {
  const { sink, sent } = recorder();
  const live = new LiveDisplay("progress", sink);
  await live.show({ "text/plain": "step 1" });
  await live.show({ "text/plain": "step 2" });
  assert.deepEqual(sent, [
    [{ "text/plain": "step 1" }, "progress", false],
    [{ "text/plain": "step 2" }, "progress", true],
  ]);
  assert.equal(inJupyter(), false);
});

Deno.test("displayPlotly: plotly.js is inlined once, and kept by the live display carrying it", async () => {
  resetPlotlyLoader();
  const { sink, sent } = recorder();
  const live = new LiveDisplay("dash", sink);
  await displayPlotly(FIG, { live });
  await displayPlotly(FIG, { sink });
  await displayPlotly(FIG, { live });
  const loaders = sent.map(([b]) => (b["text/html"] as string).includes("if (!window.Plotly)"));
  assert.deepEqual(loaders, [true, false, true]);
  assert.deepEqual(sent.map(([, id, update]) => [id, update]), [
    ["dash", false],
    [undefined, false],
    ["dash", true],
  ]);
  assert.ok((sent[0][0]["text/html"] as string).includes((await loadPlotlyJs()).slice(0, 200)));
});

/** A page like nbconvert's: require.js's AMD `define` present, figures in document order. */
async function writePage(dir: string, bundles: MimeBundle[], svg: MimeBundle): Promise<string> {
  const b64 = btoa(svg["image/svg+xml"] as string);
  const html = `<!doctype html><html><head><script>
    window.amdCalls = 0;
    window.define = function () { window.amdCalls++; };
    window.define.amd = {};
  </script></head><body>
  ${bundles.map((b) => `<div class="jp-OutputArea-output">${b["text/html"]}</div>`).join("\n")}
  <div class="jp-RenderedSVG jp-OutputArea-output"><img src="data:image/svg+xml;base64,${b64}"></div>
  </body></html>`;
  const path = `${dir}/page.html`;
  await Deno.writeTextFile(path, html);
  return path;
}

Deno.test({
  name:
    "HTML fallback renders next to require.js; the browser check passes it and fails a broken one",
  ignore: !hasChromium,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const plotlyJs = await loadPlotlyJs();
      const square = svgMimeBundle('<svg width="8" height="8"><rect width="8" height="8"/></svg>');
      const good = await writePage(dir, [
        plotlyMimeBundle(FIG, { divId: "a", plotlyJs }),
        plotlyMimeBundle(FIG, { divId: "b" }),
      ], square);
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      });
      try {
        const page = await browser.newPage();
        await page.goto(`file://${good}`);
        assert.equal(await page.locator(".js-plotly-plot .main-svg").count() >= 2, true);
        assert.equal(await page.evaluate(() => (globalThis as { amdCalls?: number }).amdCalls), 0);
      } finally {
        await browser.close();
      }
      const [ok] = await checkPages([good], { executablePath: CHROMIUM });
      assert.deepEqual([ok.plotlyExpected, ok.plotlyRendered, ok.svgDrawings], [2, 2, 1]);
      assert.deepEqual(ok.problems, []);

      const empty = svgMimeBundle("<svg></svg>");
      const broken = await writePage(dir, [plotlyMimeBundle(FIG, { divId: "c" })], empty);
      const [bad] = await checkPages([broken], { executablePath: CHROMIUM, timeoutMs: 2000 });
      assert.equal(bad.plotlyRendered, 0);
      assert.deepEqual(bad.problems, [
        "plotly: 0 of 1 figures rendered",
        "plotly figure c: plotly.js missing",
        "svg image #1 is empty or failed to load",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
