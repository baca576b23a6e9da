/**
 * A strict XML well-formedness check for the SVG the viz builders produce (linkedom's
 * DOMParser is lenient: it repairs unbalanced tags and raw "<" in text). Test helper only.
 *
 * @module
 */
import assert from "node:assert/strict";

const NAME = /^[A-Za-z_][\w.:-]*$/;
const ENTITY = /^&(?:[A-Za-z]+|#\d+|#x[\da-fA-F]+);/;

/** Throws (assert) unless `xml` is one well-formed element with balanced, properly quoted tags. */
export function assertWellFormedXml(xml: string): void {
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    checkText(xml.slice(i, lt < 0 ? xml.length : lt), stack.length, i);
    if (lt < 0) break;
    const gt = findTagEnd(xml, lt);
    const tag = xml.slice(lt + 1, gt);
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      assert.equal(stack.pop(), name, `closing </${name}> at ${lt} does not match`);
    } else {
      const selfClosing = tag.endsWith("/");
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const name = body.split(/\s/, 1)[0];
      assert.match(name, NAME, `bad element name "${name}" at ${lt}`);
      checkAttributes(body.slice(name.length), lt);
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(name);
    }
    i = gt + 1;
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.equal(roots, 1, "expected exactly one root element");
}

function findTagEnd(xml: string, lt: number): number {
  let quote = "";
  for (let j = lt + 1; j < xml.length; j++) {
    const c = xml[j];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "<") assert.fail(`raw "<" inside tag at ${j}`);
    else if (c === ">") return j;
  }
  return assert.fail(`unterminated tag at ${lt}`);
}

function checkAttributes(rest: string, at: number): void {
  const attr = /\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/y;
  const seen = new Set<string>();
  let pos = 0;
  while (pos < rest.trimEnd().length) {
    attr.lastIndex = pos;
    const m = attr.exec(rest);
    assert.ok(m, `malformed attributes near ${at}: ${rest.slice(pos, pos + 40)}`);
    assert.ok(!seen.has(m[1]), `duplicate attribute ${m[1]} at ${at}`);
    seen.add(m[1]);
    checkText(m[3] ?? m[4], 1, at);
    pos = attr.lastIndex;
  }
}

function checkText(text: string, depth: number, at: number): void {
  if (depth === 0) assert.equal(text.trim(), "", `text outside the root element at ${at}`);
  for (let j = text.indexOf("&"); j >= 0; j = text.indexOf("&", j + 1)) {
    assert.match(text.slice(j, j + 12), ENTITY, `unescaped "&" near ${at + j}`);
  }
}
