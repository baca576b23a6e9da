import assert from "node:assert/strict";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const hasVenv = await Deno.stat(`${ROOT}.venv/share/jupyter/kernels/deno/kernel.json`)
  .then(() => true, () => false);

/** A notebook whose cells print lines around an awaited display, as notebooks here do. */
function stressNotebook(cells: number): object {
  return {
    cells: Array.from({ length: cells }, (_, i) => ({
      cell_type: "code",
      id: `s${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source: [
        `for (let j = 0; j < 4; j++) console.log("cell ${i} line " + j);\n`,
        `await Deno.jupyter.display({ "text/plain": "display ${i}" }, { raw: true });\n`,
        `console.log("end ${i}");`,
      ],
    })),
    metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

interface Output {
  output_type: string;
  text?: string | string[];
  data?: Record<string, string | string[]>;
}

Deno.test({
  name: "execute_notebook.py keeps every output, in order, in its own cell",
  ignore: !hasVenv,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const cells = 8;
      await Deno.writeTextFile(`${dir}/in.ipynb`, JSON.stringify(stressNotebook(cells)));
      const { code, stderr } = await new Deno.Command("bash", {
        args: [
          `${ROOT}scripts/jupyter.sh`,
          "python",
          `${ROOT}scripts/execute_notebook.py`,
          `${dir}/in.ipynb`,
          `${dir}/out.ipynb`,
          "--timeout=120",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      const nb = JSON.parse(await Deno.readTextFile(`${dir}/out.ipynb`));
      nb.cells.forEach((cell: { outputs: Output[] }, i: number) => {
        const seen = cell.outputs.flatMap((o) =>
          o.output_type === "stream"
            ? [o.text].flat().join("").split("\n").filter((l) => l !== "")
            : [[o.data?.["text/plain"]].flat().join("")]
        );
        const want = [0, 1, 2, 3].map((j) => `cell ${i} line ${j}`);
        assert.deepEqual(seen, [...want, `display ${i}`, `end ${i}`], `cell ${i}`);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
