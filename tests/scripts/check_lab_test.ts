import assert from "node:assert/strict";
import { executionFacts, type LabFacts, labProblems } from "../../scripts/check_lab.ts";
import { labSettings } from "../../scripts/lab_session.ts";

const passing: LabFacts = {
  codeCells: 3,
  unexecuted: [],
  plotlyRendered: 2,
  svgOutputs: 1,
  emptySvgs: [],
  dialogs: [],
};

Deno.test("labProblems: a complete run passes", () => {
  assert.deepEqual(labProblems(passing, { plotlyFigures: 2, errors: [] }), []);
});

Deno.test("labProblems: names each missing piece", () => {
  const facts: LabFacts = {
    ...passing,
    unexecuted: [2],
    plotlyRendered: 1,
    emptySvgs: ["svg image #1"],
    dialogs: ["Kernel not found"],
  };
  assert.deepEqual(labProblems(facts, { plotlyFigures: 2, errors: ["cell 4: TypeError: x"] }), [
    "code cell 2 has no execution count (did not run)",
    "cell 4: TypeError: x",
    "plotly: 1 of 2 figures rendered",
    "svg image #1 is empty or failed to load",
    "dialog left open: Kernel not found",
  ]);
});

Deno.test("labProblems: a page without code cells fails", () => {
  const problems = labProblems({ ...passing, codeCells: 0 }, { plotlyFigures: 0, errors: [] });
  assert.deepEqual(problems, ["no code cells found in the notebook page"]);
});

Deno.test("executionFacts: empty cells are not expected to run; numbering is per code cell", () => {
  const facts = executionFacts([
    { source: true, count: 1 },
    { source: false, count: null },
    { source: true, count: null },
    { source: true, count: 2 },
  ]);
  assert.deepEqual(facts, { codeCells: 3, unexecuted: [3] });
});

Deno.test("labSettings: autosave off, every cell in the DOM, no network", async () => {
  const settings = labSettings();
  const docmanager = settings["@jupyterlab/docmanager-extension/plugin.jupyterlab-settings"];
  assert.equal(docmanager.autosave, false);
  const tracker = settings["@jupyterlab/notebook-extension/tracker.jupyterlab-settings"];
  assert.equal(tracker.windowingMode, "none");
  // Each key must name a real plugin schema and each value a real property of it, or Lab
  // ignores the file silently; check against the installed schemas when .venv exists.
  const schemas = new URL("../../.venv/share/jupyter/lab/schemas/", import.meta.url);
  try {
    await Deno.stat(schemas);
  } catch {
    return; // no .venv (scripts/setup.sh not run): the keys are checked where it exists
  }
  for (const [path, values] of Object.entries(settings)) {
    const schemaPath = path.replace(/\.jupyterlab-settings$/, ".json");
    const schema = JSON.parse(await Deno.readTextFile(new URL(schemaPath, schemas)));
    for (const key of Object.keys(values)) {
      assert.ok(key in schema.properties, `${schemaPath} has no property '${key}'`);
    }
  }
});
