import assert from "node:assert/strict";
import { parseTestOutput } from "../../scripts/test.ts";

const FAILED_RUN = `
file:///w/lib/x.ts$3-6.ts => ./lib/x.ts$3-6.ts:2:6
error: Error: doc boom

 FAILURES 

fails once => ./tests/a_test.ts:2:6
second => ./tests/a_test.ts:9:6
file:///w/lib/x.ts#3-6.ts => ./lib/x.ts#3-6.ts:2:6

FAILED | 10 passed | 3 failed (2s)

error: Test failed
`;

Deno.test("parseTestOutput: counts, FAILURES lines and their modules (doc tests too)", () => {
  const s = parseTestOutput(FAILED_RUN)!;
  assert.equal(s.passed, 10);
  assert.equal(s.failed, 3);
  assert.deepEqual(s.failures, [
    "fails once => ./tests/a_test.ts:2:6",
    "second => ./tests/a_test.ts:9:6",
    "file:///w/lib/x.ts#3-6.ts => ./lib/x.ts#3-6.ts:2:6",
  ]);
  assert.deepEqual(s.modules, ["tests/a_test.ts", "lib/x.ts"]);
});

Deno.test("parseTestOutput: a passing run, colours, and a crash without a summary", () => {
  const esc = String.fromCharCode(27);
  const ok = parseTestOutput(`${esc}[32mok${esc}[0m | 987 passed | 0 failed | 1 ignored (5m41s)\n`);
  assert.deepEqual(ok, { passed: 987, failed: 0, failures: [], modules: [] });
  assert.equal(parseTestOutput("running 3 tests from ./tests/a_test.ts\nSegmentation fault"), null);
});

Deno.test("parseTestOutput: modules outside the working directory keep their relative path", () => {
  const s = parseTestOutput(
    " FAILURES \n\nflaky => ../../tmp/ft/c_test.ts:1:6\n\nFAILED | 0 passed | 1 failed (9ms)\n",
  )!;
  assert.deepEqual(s.modules, ["../../tmp/ft/c_test.ts"]);
});
