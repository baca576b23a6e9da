/**
 * A notebook cell that throws (synchronously, by rejecting, or through the library's own
 * validation) shows the error in that cell, and the Deno kernel survives: later cells run and
 * still see earlier cells' variables. Executed headless with nbclient from the project venv
 * (.venv, made by scripts/setup.sh); skipped with a message when the venv is missing.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const PYTHON = `${ROOT}/.venv/bin/python`;

/** Runs `cells` in one Deno kernel (errors allowed) and returns each cell's outputs. */
const RUNNER = `
import json, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook()
nb.metadata.kernelspec = {"name": "deno", "display_name": "Deno", "language": "typescript"}
nb.cells = [nbformat.v4.new_code_cell(src) for src in json.loads(sys.argv[1])]
NotebookClient(nb, kernel_name="deno", allow_errors=True, timeout=180,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
print(json.dumps([cell.outputs for cell in nb.cells]))
`;

interface Output {
  readonly output_type: string;
  readonly ename?: string;
  readonly evalue?: string;
  readonly text?: string;
  readonly data?: Readonly<Record<string, string>>;
}

function hasVenv(): boolean {
  try {
    Deno.statSync(PYTHON);
    return true;
  } catch {
    console.warn(`notebook_test: ${PYTHON} not found; run bash scripts/setup.sh to enable it`);
    return false;
  }
}

async function execute(cells: readonly string[]): Promise<Output[][]> {
  const out = await new Deno.Command(PYTHON, {
    args: ["-c", RUNNER, JSON.stringify(cells), ROOT],
    cwd: ROOT,
    env: {
      // As scripts/jupyter.sh: the project's kernelspec and dirs, never the user's.
      JUPYTER_CONFIG_DIR: `${ROOT}/.jupyter/config`,
      JUPYTER_DATA_DIR: `${ROOT}/.jupyter/data`,
      JUPYTER_RUNTIME_DIR: `${ROOT}/.jupyter/runtime`,
      JUPYTER_PLATFORM_DIRS: "1",
      PATH: `${ROOT}/.tools/node_modules/.bin:${ROOT}/.venv/bin:${Deno.env.get("PATH")}`,
    },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `nbclient failed: ${stderr.slice(-2000)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** A cell's result as text ("" when the kernel's message came after nbclient moved on). */
const result = (outputs: Output[]) =>
  outputs.filter((o) => o.output_type === "execute_result").map((o) => o.data?.["text/plain"])
    .join("");
const errorOf = (outputs: Output[]) => outputs.find((o) => o.output_type === "error");

Deno.test({
  name: "notebook: a throwing cell shows its error and the kernel runs the next cells",
  ignore: !hasVenv(),
  fn: async () => {
    const log = await Deno.makeTempFile({ prefix: "blt-notebook-" });
    // Cells after a fault append to a file: proof that they ran, in the same kernel, with the
    // earlier cells' state (results are checked too, but the kernel sometimes drops one).
    const after = (what: string, value: string) =>
      `await Deno.writeTextFile(${
        JSON.stringify(log)
      }, \`${what} \${${value}}\\n\`, { append: true });\n` +
      `\`${what} \${${value}}\`;`;
    try {
      const outputs = await execute([
        "const answer = 41;",
        'throw new Error("injected fault in cell 2");',
        after("after sync throw", "answer + 1"),
        'await Promise.reject(new Error("injected async fault"));',
        after("after rejection", "answer + 1"),
        'import { resolveConfig } from "./lib/config.ts";\nresolveConfig("tiny", { dimGlobl: 3 });',
        after("after library error", "resolveConfig('tiny').global.dim"),
      ]);
      assert.equal(outputs.length, 7);
      const all = JSON.stringify(outputs);
      assert.match(errorOf(outputs[1])?.evalue ?? "", /injected fault in cell 2/, all);
      assert.match(errorOf(outputs[3])?.evalue ?? "", /injected async fault/, all);
      assert.match(
        errorOf(outputs[5])?.evalue ?? "",
        /Unknown config key 'dimGlobl' \(did you mean 'global\.dim'\?\)/,
        all,
      );
      assert.equal(
        await Deno.readTextFile(log),
        "after sync throw 42\nafter rejection 42\nafter library error 256\n",
      );
      for (const i of [2, 4, 6]) {
        assert.equal(errorOf(outputs[i]), undefined, `cell ${i + 1}: ${all}`);
        const text = result(outputs[i]);
        if (text !== "") assert.match(text, /after .* (42|256)/);
      }
    } finally {
      await Deno.remove(log);
    }
  },
});
