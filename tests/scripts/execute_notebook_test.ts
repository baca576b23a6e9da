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
      // Deno's kernel now and then publishes a message whose HMAC does not match (seen once in
      // CI); the executor drops it and records that in the metadata. Such a run cannot show that
      // outputs are kept, so it is repeated (at most three runs).
      let nb: { cells: { outputs: Output[] }[]; metadata: Record<string, unknown> } | undefined;
      for (let run = 0; run < 3; run++) {
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
        nb = JSON.parse(await Deno.readTextFile(`${dir}/out.ipynb`));
        if (nb!.metadata.blt_executor === undefined) break;
        console.warn(`run ${run}: the kernel sent messages that failed their signature check`);
      }
      assert.equal(nb!.metadata.blt_executor, undefined, "every run lost kernel messages");
      // Deno's kernel parents a message to the execute request that is current when it sends
      // it, so a cell's last console.log can arrive filed under the next cell (seen in CI), and
      // once (CI, 2026-11-22) a display did too; the executor now waits for a quiet spell on
      // IOPub (`--settle`) before sending the next cell. So: nothing lost, everything in order,
      // every display in its own cell, and a cell's lines never land in an earlier cell.
      const seen = nb!.cells.map((cell) =>
        cell.outputs.flatMap((o) =>
          o.output_type === "stream"
            ? [o.text].flat().join("").split("\n").filter((l) => l !== "")
            : [[o.data?.["text/plain"]].flat().join("")]
        )
      );
      const want = nb!.cells.map((_, i) => [
        ...[0, 1, 2, 3].map((j) => `cell ${i} line ${j}`),
        `display ${i}`,
        `end ${i}`,
      ]);
      assert.deepEqual(seen.flat(), want.flat(), "every output, in order");
      seen.forEach((outputs, i) => {
        assert.ok(outputs.includes(`display ${i}`), `display ${i} in cell ${i}`);
        for (const line of outputs) {
          const from = Number(/^\w+ (\d+)/.exec(line)![1]);
          assert.ok(from === i || from === i - 1, `cell ${i} holds '${line}'`);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
