import assert from "node:assert/strict";
import { DOMParser } from "linkedom";
import { PRESETS, resolveConfig } from "../../lib/config.ts";
import { architectureSvg } from "../../lib/viz/architecture.ts";
import { bltParameterCounts } from "../../lib/viz/parameter_counts.ts";
import { assertWellFormedXml } from "./well_formed.ts";

function parse(svg: string) {
  assertWellFormedXml(svg);
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
  assert.equal(doc.documentElement.tagName, "svg");
  return doc;
}

Deno.test("architectureSvg: well-formed, one block per part, arrows for the data flow", () => {
  const doc = parse(architectureSvg(PRESETS.tiny));
  const blocks = [...doc.querySelectorAll("g.block")].map((g) =>
    (g.getAttribute("class") as string).replace("block ", "")
  );
  assert.deepEqual(blocks.sort(), [
    "block-decoder",
    "block-encoder",
    "block-entropy",
    "block-global",
    "block-hash",
    "block-input",
    "block-output",
  ]);
  for (const name of ["pooling", "cross-attention", "hash", "patches", "byte-states", "logits"]) {
    assert.equal(doc.querySelectorAll(`g.arrow-${name} path`).length, 1, name);
  }
  const text = (sel: string) => doc.querySelector(sel)?.textContent ?? "";
  assert.match(text("g.block-encoder"), /h_E=128 · 1 layer · 4 heads · FFN 512/);
  assert.match(text("g.block-global"), /h_G=256 · 4 layers · 4 heads/);
  assert.match(text("g.block-decoder"), /cross-attn in every layer/);
  assert.match(text("g.block-hash"), /n = 3, 4, 5, 6, 7, 8/);
  assert.match(text("g.arrow-pooling"), /2 queries\/patch → 2·h_E = 256$/); // no projection
});

Deno.test("architectureSvg states exact parameter counts from the config", () => {
  const cfg = resolveConfig("tiny", { crossAttnK: 4 });
  const counts = bltParameterCounts(cfg);
  const doc = parse(architectureSvg(cfg));
  const caption = doc.querySelector(".caption")?.textContent ?? "";
  assert.ok(caption.includes(counts.total.toLocaleString("en-US")), caption);
  assert.ok(caption.includes(counts.entropyModel.toLocaleString("en-US")), caption);
  const tooltip = doc.querySelector("g.block-global title")?.textContent ?? "";
  assert.ok(tooltip.includes(`input projection ${(4 * 128 * 256).toLocaleString("en-US")}`));
  assert.match(doc.querySelector("g.arrow-pooling")?.textContent ?? "", /→ h_G=256/);
});

Deno.test("architectureSvg without an entropy model draws the rule-based patcher", () => {
  const cfg = resolveConfig("tiny", { entropyModel: null, "patching.mode": "space" });
  const doc = parse(architectureSvg(cfg));
  const patcher = doc.querySelector("g.block-entropy")?.textContent ?? "";
  assert.match(patcher, /no entropy model/);
  assert.match(patcher, /space patching/);
  assert.doesNotMatch(doc.querySelector(".caption")?.textContent ?? "", /entropy model/);
});
