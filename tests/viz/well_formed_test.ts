import assert from "node:assert/strict";
import { assertWellFormedXml } from "./well_formed.ts";

Deno.test("assertWellFormedXml accepts escaped SVG and rejects what linkedom would repair", () => {
  assertWellFormedXml(
    '<svg xmlns="http://www.w3.org/2000/svg"><text x="1">&lt;bos&gt; &amp; 😀</text><g/></svg>',
  );
  for (
    const bad of [
      "<svg><g></svg>",
      "<svg>a < b</svg>",
      "<svg>a & b</svg>",
      '<svg x="1" x="2"/>',
      "<svg/><svg/>",
    ]
  ) {
    assert.throws(() => assertWellFormedXml(bad), { name: "AssertionError" }, bad);
  }
});
