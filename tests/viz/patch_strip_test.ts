import assert from "node:assert/strict";
import { DOMParser } from "linkedom";
import { encode, encodeBytes } from "../../lib/bytes/mod.ts";
import { patchStripSvg } from "../../lib/viz/patch_strip.ts";
import { assertWellFormedXml } from "./well_formed.ts";

function parse(svg: string) {
  assertWellFormedXml(svg);
  return new DOMParser().parseFromString(svg, "image/svg+xml");
}

/** Patch lengths cycling through `sizes` until `n` bytes are covered. */
function cut(n: number, sizes: number[]): number[] {
  const out: number[] = [];
  for (let i = 0, k = 0; i < n; k++) {
    const len = Math.min(sizes[k % sizes.length], n - i);
    out.push(len);
    i += len;
  }
  return out;
}

// deno-lint-ignore no-explicit-any
const texts = (g: any): string =>
  [...g.querySelectorAll("text")].map((t) => t.textContent).join("");

Deno.test("patchStripSvg: one group per patch, whole characters, specials escaped", () => {
  const ids = encode("Hello, 世界! 👨‍👩‍👧"); // BOS + 33 bytes + EOS
  const lengths = [1, 5, 2, 3, 3, 2, 18, 1];
  const doc = parse(patchStripSvg(ids, lengths));
  const groups = [...doc.querySelectorAll("g.patch")];
  assert.equal(groups.length, lengths.length);
  assert.deepEqual(groups.map((g) => g.getAttribute("data-patch")), lengths.map((_, i) => `${i}`));
  assert.equal(texts(groups[0]), "<bos>");
  assert.equal(texts(groups[1]), "Hello");
  assert.equal(texts(groups[2]), ",␣");
  assert.equal(texts(groups[3]), "世");
  assert.equal(texts(groups[6]), "👨‍👩‍👧"); // the ZWJ sequence stays one string
  assert.equal(texts(groups[7]), "<eos>");
  assert.match(groups[3].querySelector("title")?.textContent ?? "", /3 bytes.*\nE4 B8 96$/s);
  assert.match(
    doc.querySelector(".caption")?.textContent ?? "",
    /^8 patches · 35 bytes · mean 4\.38/,
  );
});

Deno.test("patchStripSvg shows cut characters and invalid UTF-8 as red hex bytes", () => {
  const ids = [...encodeBytes(new Uint8Array([0x61, 0xe4, 0xb8, 0xad, 0xff]), { eos: false })];
  // [<bos> a E4 | B8 AD | FF]: the patch boundary cuts "中" (E4 B8 AD)
  const doc = parse(patchStripSvg(ids, [3, 2, 1]));
  const groups = [...doc.querySelectorAll("g.patch")];
  assert.equal(texts(groups[0]), "<bos>axE4");
  assert.deepEqual(
    [...groups[1].querySelectorAll("tspan.byte")].map((t) => t.textContent),
    ["xB8", "\u2009xAD"],
  );
  assert.equal(groups[1].querySelector("tspan.byte")?.getAttribute("fill"), "#b91c1c");
  const whole = parse(patchStripSvg(ids, [2, 3, 1]));
  assert.equal(texts(whole.querySelectorAll("g.patch")[1]), "中");
  assert.equal(texts(groups[2]), "xFF");
});

Deno.test("patchStripSvg wraps long text into lines inside the width", () => {
  const ids = encode("The quick brown fox jumps over the lazy dog. ".repeat(6));
  const lengths = cut(ids.length, [4, 1, 7, 3]);
  const doc = parse(patchStripSvg(ids, lengths, { width: 300 }));
  const rects = [...doc.querySelectorAll("g.patch rect")];
  assert.ok(rects.length >= lengths.length);
  const ys = new Set(rects.map((r) => r.getAttribute("y")));
  assert.ok(ys.size > 5, `expected many lines, got ${ys.size}`);
  for (const r of rects) {
    const x = Number(r.getAttribute("x"));
    const w = Number(r.getAttribute("width"));
    assert.ok(x >= 0 && x + w <= 300, `rect ${x}+${w} outside 300px`);
  }
  const height = Number(doc.documentElement.getAttribute("height"));
  assert.ok(Math.max(...[...ys].map(Number)) < height);
});

Deno.test("patchStripSvg splits a patch longer than a line across lines, in one group", () => {
  const ids = encode("x".repeat(200), { bos: false, eos: false });
  const doc = parse(patchStripSvg(ids, [200], { width: 200 }));
  assert.equal(doc.querySelectorAll("g.patch").length, 1);
  assert.ok(doc.querySelectorAll("g.patch rect").length > 1);
  assert.equal(texts(doc.querySelector("g.patch")).length, 200);
});

Deno.test("patchStripSvg lays right-to-left text out from the right", () => {
  const ids = encode("שלום עולם", { bos: false, eos: false });
  const lengths = cut(ids.length, [2, 4]);
  const doc = parse(patchStripSvg(ids, lengths));
  const xs = [...doc.querySelectorAll("g.patch rect")].map((r) => Number(r.getAttribute("x")));
  assert.ok(xs[0] > xs[xs.length - 1], "first patch should be rightmost");
  assert.equal(doc.querySelector("g.patch text")?.getAttribute("direction"), "rtl");
  const ltr = parse(patchStripSvg(ids, lengths, { direction: "ltr" }));
  const xsLtr = [...ltr.querySelectorAll("g.patch rect")].map((r) => Number(r.getAttribute("x")));
  assert.ok(xsLtr[0] < xsLtr[xsLtr.length - 1]);
});

Deno.test("patchStripSvg validates its input", () => {
  const ids = encode("abc");
  assert.throws(
    () => patchStripSvg(ids, [2, 2]),
    /patchLengths must sum to the length of ids \(5\)/,
  );
  assert.throws(() => patchStripSvg(ids, [5], { width: 10 }), /options\.width must be ≥ 100/);
});
