/**
 * Runs the test suite (`deno task test`): `deno test` with the project's permissions and `--doc`,
 * passing any extra arguments. The output streams through unchanged; a summary goes to
 * `out/test-summary.txt` (CI prints it last, so the failures are the last thing in its log).
 *
 * Two exceptions, both loudly reported:
 * - Deno 2.9.6 has aborted at process exit, after its summary said every test passed
 *   ("corrupted size vs. prev_size in fastbins", a native teardown crash seen once in a CI try on
 *   2026-11-22 with WebGPU's software adapter and worker tests in the run). When the process dies
 *   by a signal AND its own summary reports `0 failed`, this prints a warning and exits 0; a crash
 *   before the summary still fails.
 * - A failed test's module is run once more on its own (set `BLT_TEST_RETRY=0` to turn that off).
 *   If every such module passes the second time, the run passes with a FLAKY warning naming each
 *   test that failed, in the output and in the summary; a test that fails twice fails the run.
 *
 * @module
 */
const PERMS = ["--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-sys"];
const SUMMARY = "out/test-summary.txt";
const ANSI = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g");

/** What a `deno test` run's text says: counts and the failures it lists. */
export interface TestRunSummary {
  readonly passed: number;
  readonly failed: number;
  /** "name => ./path:line:col" lines of the FAILURES section. */
  readonly failures: readonly string[];
  /** Modules (paths, doc-test suffixes removed) that hold the failures. */
  readonly modules: readonly string[];
}

/**
 * Parses the end of `deno test`'s output; null when it has no summary line (a crash). Pure.
 *
 * @example
 * ```ts
 * import { parseTestOutput } from "./test.ts";
 * const s = parseTestOutput(" FAILURES \n\nt => ./tests/a_test.ts:2:6\n\nFAILED | 3 passed | 1 failed (1s)\n");
 * console.log(s?.failed, s?.modules); // 1 [ "tests/a_test.ts" ]
 * ```
 */
export function parseTestOutput(text: string): TestRunSummary | null {
  const plain = text.replace(ANSI, "");
  const summary = /\|\s*(\d+) passed\s*\|\s*(\d+) failed/.exec(plain.slice(-4000));
  if (summary === null) return null;
  const at = plain.lastIndexOf(" FAILURES ");
  // "name => ./path:line:col" (or "../path" outside the working directory; doc tests add
  // "#from-to.ts" to the module's path).
  const where = / => (\S+?)(?:[#$]\d+-\d+\.\w+)?:\d+:\d+$/;
  const failures = at < 0 ? [] : plain.slice(at).split("\n").filter((l) => where.test(l));
  const modules = [
    ...new Set(failures.map((l) => where.exec(l)![1].replace(/^\.\//, ""))),
  ];
  return { passed: Number(summary[1]), failed: Number(summary[2]), failures, modules };
}

async function runDenoTest(args: string[]): Promise<{ status: Deno.CommandStatus; tail: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", ...PERMS, "--doc", ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-400_000);
  }
  return { status: await child.status, tail };
}

/** Writes the summary file; a failure to write it is a warning, never the run's result. */
async function writeSummary(lines: string[]): Promise<void> {
  try {
    await Deno.mkdir("out", { recursive: true });
    await Deno.writeTextFile(SUMMARY, lines.join("\n") + "\n");
  } catch (e) {
    console.error(
      `test: could not write ${SUMMARY} (${(e as Error).message}):\n${lines.join("\n")}`,
    );
  }
}

function retryEnabled(): boolean {
  try {
    return Deno.env.get("BLT_TEST_RETRY") !== "0";
  } catch {
    return true; // no env permission: the default
  }
}

if (import.meta.main) {
  const started = Date.now();
  const first = await runDenoTest(Deno.args);
  const summary = parseTestOutput(first.tail);
  const took = () => `${Math.round((Date.now() - started) / 1000)} s`;
  if (first.status.code === 0) {
    await writeSummary([`test: ${summary?.passed ?? "?"} passed, 0 failed (${took()})`]);
    Deno.exit(0);
  }
  if (summary === null) {
    await writeSummary([
      `test: deno test ended with code ${first.status.code}` +
      (first.status.signal === null ? "" : ` (signal ${first.status.signal})`) +
      ` before its summary (${took()}); the end of its output:`,
      ...first.tail.replace(ANSI, "").split("\n").slice(-30),
    ]);
    Deno.exit(first.status.code || 1);
  }
  if (summary.failed === 0 && first.status.signal !== null) {
    const line = `test: every test passed (${summary.passed}), then deno died by ` +
      `${first.status.signal} during teardown (a native crash in Deno, not a test failure); ` +
      "counting the run as passed.";
    console.error(line);
    await writeSummary([line]);
    Deno.exit(0);
  }
  const lines = [
    `test: ${summary.passed} passed, ${summary.failed} failed (${took()}):`,
    ...summary.failures.map((f) => `  ${f}`),
  ];
  const retry = retryEnabled() && summary.modules.length > 0 &&
    summary.modules.length <= 5;
  if (!retry) {
    await writeSummary(lines);
    Deno.exit(first.status.code || 1);
  }
  const flags = Deno.args.filter((a) => a.startsWith("-"));
  console.error(`\ntest: running the failed modules once more: ${summary.modules.join(" ")}`);
  const second = await runDenoTest([...flags, ...summary.modules]);
  const again = parseTestOutput(second.tail);
  if (second.status.code === 0 && again !== null && again.failed === 0) {
    const warning = [
      `test: FLAKY: ${summary.failed} test(s) failed, then passed when their modules ran again:`,
      ...summary.failures.map((f) => `  ${f}`),
      `test: counting the run as passed (${took()}); fix or loosen these tests.`,
    ];
    console.error(warning.join("\n"));
    await writeSummary([...lines, ...warning]);
    Deno.exit(0);
  }
  await writeSummary([
    ...lines,
    `test: they failed again when their modules ran on their own:`,
    ...(again?.failures ?? ["  (no summary: the second run crashed)"]).map((f) => `  ${f}`),
  ]);
  Deno.exit(second.status.code || 1);
}
