import assert from "node:assert/strict";
import { brownToText } from "../../lib/data/brown.ts";

Deno.test("tags are stripped and punctuation, quotes and dashes re-attached", () => {
  const tagged = [
    "",
    "",
    "\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc (/( oddly/rb )/) ./.",
    "Mayor/nn-tl Allen/np Jr./np ./.",
    "",
    "",
    "\tTeachers/nns --/-- men/nns --/-- came/vbd ;/. was/bedz it/pps ``/`` fine/jj ?/. ''/''",
    "",
  ].join("\n");
  assert.equal(
    brownToText(tagged, "t"),
    'The jury said "no evidence", and (oddly). Mayor Allen Jr.\n' +
      'Teachers--men--came; was it "fine?"',
  );
});

Deno.test("single quotes alternate open and close; slashes inside words survive", () => {
  const tagged =
    "\tMore/ap '/' pro/jj '/' letters/nns and/cc 1-1/2/cd cups/nns of/in '/' it/pps '/' !/.";
  assert.equal(brownToText(tagged), "More 'pro' letters and 1-1/2 cups of 'it'!");
});

Deno.test("headlines get their own line; paragraphs split on blank lines", () => {
  const tagged = [
    "\tFirst/od paragraph/nn ./.",
    "",
    "",
    "",
    "Merger/nn-hl proposed/vbn-hl ",
    "However/wrb ,/, no/at ./.",
    "Still/rb same/ap paragraph/nn ./.",
  ].join("\n");
  assert.equal(
    brownToText(tagged),
    "First paragraph.\nMerger proposed\nHowever, no. Still same paragraph.",
  );
});

Deno.test("a token without a tag is an error naming the file and the token", () => {
  assert.throws(() => brownToText("\tgood/jj bad ./.", "ca99"), /'bad' in ca99.*word\/tag/);
  assert.throws(() => brownToText("\tx/", "cb01"), /'x\/' in cb01/);
});
