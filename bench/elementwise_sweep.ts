/**
 * Memory-bandwidth sweep of the elementwise kernels' WGSL forms (issue #8: ≥ 1.5 TB/s on an
 * H100), on raw `navigator.gpu` (no tfjs): (a) the last-axis row sum Y[r] = Σ_j X[r, j] over rows
 * of 64, 256, 512 and 1024 floats (`rowSumWgsl` in lib/gpu/elementwise_wgsl.ts: lanes per row,
 * workgroup size, how partials are added, grid-stride) and (b) the unary neg Y = −X (`unaryWgsl`:
 * vec4s per thread, workgroup size, grid), at n = 1M, 16M and 64M floats. Each (form, n, row
 * length) is checked against a CPU reference (neg exactly; sums within 1e-5·R, inputs in
 * [-1, 1)), then timed by the GPU's timestamp queries: one compute pass per call, 2 warm-up calls,
 * median (and min) of --runs calls. TB/s counts bytes moved: 4n for a row sum (the reads, as
 * bench/gpu_kernels.ts counts tf.sum), 8n for neg. The calls repeat on the same buffers, so at 1M
 * (4 MB) the input stays in the H100's 50 MB L2 between calls; 16M and 64M measure DRAM.
 *
 * Subgroup forms ("shuffle", "subgroupAdd") run only where the adapter has the `subgroups`
 * feature (Deno exposes it as `adapter.features.has("subgroups")`; WGSL needs no `enable`, naga
 * rejects `enable subgroups;`), and are marked "skipped" elsewhere.
 *
 *   deno run -A bench/elementwise_sweep.ts --quick          # software adapter smoke run
 *   deno bundle --platform deno -o .gpu/es.js bench/elementwise_sweep.ts
 *   deno run -A .gpu/es.js --json out/elementwise_sweep.json  # H100
 *   deno run -A bench/elementwise_sweep.ts --list           # the forms, no GPU work
 *   deno run -A bench/elementwise_sweep.ts --dump l8-wg256-serial --row 256   # a form's WGSL
 *
 * Other options: --runs N (7; --quick 5), --sizes 1M,16M,64M, --rows 64,256,512,1024,
 * --forms REGEX (form names), --only rowsum|neg.
 *
 * @module
 */
import {
  type RowSumForm,
  rowSumFormName,
  rowSumGrid,
  rowSumNeedsSubgroups,
  rowSumWgsl,
  UNARY_DEFAULT_FORM,
  type UnaryForm,
  unaryFormName,
  unaryGrid,
  unaryWgsl,
} from "../lib/gpu/elementwise_wgsl.ts";
import { compilePipeline, readFloats, seededFloats } from "./webgpu_pipeline.ts";

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly quick: boolean;
  readonly json?: string;
  readonly runs: number;
  readonly sizes: number[];
  readonly rows: number[];
  readonly forms?: RegExp;
  readonly only?: "rowsum" | "neg";
  readonly list: boolean;
  readonly dump?: string;
  readonly row: number;
}

function parseSize(s: string): number {
  const m = /^(\d+)([KM]?)$/i.exec(s.trim());
  if (m === null) throw new Error(`elementwise_sweep: bad size '${s}' (e.g. 1M, 65536, 256K)`);
  return Number(m[1]) * (m[2].toUpperCase() === "M" ? 1 << 20 : m[2] ? 1 << 10 : 1);
}

function parseArgs(args: readonly string[]): Options {
  const flags = new Set(["--quick", "--list"]);
  const known = ["--json", "--runs", "--sizes", "--rows", "--forms", "--only", "--dump", "--row"];
  const seen = new Set<string>(), values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const [key, inline] = args[i].split(/=(.*)/s, 2);
    if (flags.has(key)) seen.add(key);
    else if (known.includes(key)) {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`elementwise_sweep: ${key} needs a value.`);
      values.set(key, v);
    } else {
      throw new Error(
        `elementwise_sweep: unknown argument '${args[i]}'; known: --quick --list ${
          known.join(" ")
        }`,
      );
    }
  }
  const quick = seen.has("--quick");
  const runs = Number(values.get("--runs") ?? (quick ? 5 : 7));
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`elementwise_sweep: --runs takes a whole number ≥ 1, found '${runs}'`);
  }
  const sizes = (values.get("--sizes") ?? (quick ? "64K,256K" : "1M,16M,64M")).split(",")
    .map(parseSize);
  const rows = (values.get("--rows") ?? (quick ? "64,256" : "64,256,512,1024")).split(",")
    .map(Number);
  for (const r of rows) {
    if (!Number.isInteger(r) || r < 4 || r % 4 !== 0) {
      throw new Error(`elementwise_sweep: --rows takes multiples of 4, found '${r}'`);
    }
  }
  const only = values.get("--only");
  if (only !== undefined && only !== "rowsum" && only !== "neg") {
    throw new Error(`elementwise_sweep: --only takes 'rowsum' or 'neg', found '${only}'`);
  }
  const forms = values.has("--forms") ? new RegExp(values.get("--forms")!) : undefined;
  return {
    quick,
    json: values.get("--json"),
    runs,
    sizes,
    rows,
    forms: forms ?? (quick ? QUICK_FORMS : undefined),
    only,
    list: seen.has("--list"),
    dump: values.get("--dump"),
    row: Number(values.get("--row") ?? 256),
  };
}

// ---------------------------------------------------------------------------------------------
// Forms

/** H100 SXM: 132 SMs; 256-thread workgroups, 8 resident per SM → 1056 fill it once. */
const SMS = 132;

function rowSumForms(): RowSumForm[] {
  const f = (lanes: number, workgroup: number, combine: RowSumForm["combine"], gridStride = 0) => ({
    lanes,
    workgroup,
    combine,
    gridStride,
  });
  const out: RowSumForm[] = [];
  for (const lanes of [8, 16, 4, 32]) {
    for (const combine of ["serial", "tree"] as const) out.push(f(lanes, 256, combine));
  }
  for (const lanes of [8, 16]) for (const wg of [64, 128]) out.push(f(lanes, wg, "serial"));
  out.push(f(1, 256, "serial"), f(2, 256, "serial"), f(64, 256, "tree"));
  for (const lanes of [8, 16]) {
    for (const g of [8, 16]) out.push(f(lanes, 256, "serial", SMS * g));
  }
  for (const lanes of [4, 8, 16, 32]) out.push(f(lanes, 256, "shuffle"));
  out.push(f(32, 256, "subgroupAdd"), f(8, 256, "shuffle", SMS * 8));
  return out;
}

function unaryForms(): UnaryForm[] {
  const f = (perThread: number, workgroup: number, gridStride: number, grid = "balanced") => ({
    perThread,
    workgroup,
    gridStride,
    grid: grid as UnaryForm["grid"],
  });
  return [
    UNARY_DEFAULT_FORM,
    f(1, 256, 0),
    f(1, 128, 0, "flat"),
    f(1, 64, 0, "flat"),
    f(2, 256, 0),
    f(4, 256, 0),
    f(2, 128, 0),
    f(4, 128, 0),
    f(1, 256, SMS * 4),
    f(1, 256, SMS * 8),
    f(1, 256, SMS * 16),
    f(1, 256, SMS * 32),
    f(2, 256, SMS * 8),
    f(2, 256, SMS * 16),
    f(4, 256, SMS * 8),
  ];
}

/** --quick's forms: each axis once (the software adapter compiles every shader on first use). */
const QUICK_FORMS =
  /^(l8-wg256-serial|l4-wg256-tree|l16-wg256-serial-gs2112|l32-wg256-shuffle|v1-wg256-flat|v2-wg256-balanced|v4-wg256-gs1056)$/;

// ---------------------------------------------------------------------------------------------
// WebGPU plumbing

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
/** The input repeats this many seeded floats (writing and checking 64M distinct ones is slow). */
const CHUNK = 1 << 20;

class Gpu {
  private readonly pipes = new Map<string, Promise<GPUComputePipeline>>();
  readonly timestamps: boolean;
  constructor(readonly device: GPUDevice) {
    this.timestamps = device.features.has("timestamp-query");
  }

  buffer(bytes: number, usage = STORAGE): GPUBuffer {
    return this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  }

  uniform(value: number): GPUBuffer {
    const buf = this.buffer(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.device.queue.writeBuffer(buf, 0, new Uint32Array([value, 0, 0, 0]));
    return buf;
  }

  /** Compiles (once per source); rejects with the validation message. */
  pipeline(code: string): Promise<GPUComputePipeline> {
    let p = this.pipes.get(code);
    if (p === undefined) {
      p = compilePipeline(this.device, code);
      this.pipes.set(code, p);
    }
    return p;
  }

  read(buf: GPUBuffer, count: number): Promise<Float32Array> {
    return readFloats(this.device, buf, count);
  }
}

/** One kernel call: pipeline, bindings and grid. */
interface Call {
  readonly pipe: GPUComputePipeline;
  readonly group: GPUBindGroup;
  readonly grid: readonly [number, number, number];
}

/** Runs `call` once (after zeroing `out`), reporting dispatch errors. */
async function runOnce(gpu: Gpu, call: Call, out: GPUBuffer, outBytes: number): Promise<void> {
  gpu.device.pushErrorScope("validation");
  const enc = gpu.device.createCommandEncoder();
  enc.clearBuffer(out, 0, Math.ceil(outBytes / 16) * 16);
  const pass = enc.beginComputePass();
  pass.setPipeline(call.pipe);
  pass.setBindGroup(0, call.group);
  pass.dispatchWorkgroups(...call.grid);
  pass.end();
  gpu.device.queue.submit([enc.finish()]);
  const err = await gpu.device.popErrorScope();
  if (err !== null) throw new Error(`dispatch error: ${err.message}`);
}

/** GPU µs of `runs` calls, one pass each (timestamps; wall clock per call without them). */
async function timeCall(gpu: Gpu, call: Call, runs: number): Promise<number[]> {
  const d = gpu.device;
  const record = (enc: GPUCommandEncoder, writes?: GPUComputePassTimestampWrites) => {
    const pass = enc.beginComputePass(writes ? { timestampWrites: writes } : {});
    pass.setPipeline(call.pipe);
    pass.setBindGroup(0, call.group);
    pass.dispatchWorkgroups(...call.grid);
    pass.end();
  };
  const warm = d.createCommandEncoder();
  record(warm);
  record(warm);
  d.queue.submit([warm.finish()]);
  await d.queue.onSubmittedWorkDone();
  if (!gpu.timestamps) {
    const out: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const enc = d.createCommandEncoder();
      record(enc);
      d.queue.submit([enc.finish()]);
      await d.queue.onSubmittedWorkDone();
      out.push((performance.now() - t0) * 1e3);
    }
    return out;
  }
  const querySet = d.createQuerySet({ type: "timestamp", count: 2 * runs });
  const resolve = gpu.buffer(16 * runs, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
  const staging = gpu.buffer(16 * runs, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const enc = d.createCommandEncoder();
  for (let i = 0; i < runs; i++) {
    record(enc, { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 });
  }
  enc.resolveQuerySet(querySet, 0, 2 * runs, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, staging, 0, 16 * runs);
  d.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const ns = new BigInt64Array(staging.getMappedRange().slice(0));
  staging.unmap();
  for (const x of [staging, resolve]) x.destroy();
  querySet.destroy();
  return Array.from({ length: runs }, (_, i) => Number(ns[2 * i + 1] - ns[2 * i]) / 1e3);
}

// ---------------------------------------------------------------------------------------------
// The sweep

/** One measured (kernel, form, n, row length). */
interface Result {
  readonly kernel: "rowsum" | "neg";
  readonly form: string;
  readonly n: number;
  /** Row length (row sum only). */
  readonly row?: number;
  readonly medianUs?: number;
  readonly minUs?: number;
  readonly tbps?: number;
  readonly maxErr?: number;
  /** "ok", "wrong", "skipped: …" or "error: …". */
  readonly status: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtN = (n: number) => n % (1 << 20) === 0 ? `${n >> 20}M` : `${n >> 10}K`;

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  const sumForms = rowSumForms().filter((f) => !opts.forms || opts.forms.test(rowSumFormName(f)));
  const negForms = unaryForms().filter((f) => !opts.forms || opts.forms.test(unaryFormName(f)));
  if (opts.list) {
    for (const f of rowSumForms()) console.log(`rowsum ${rowSumFormName(f)}`);
    for (const f of unaryForms()) console.log(`neg    ${unaryFormName(f)}`);
    return;
  }
  if (opts.dump !== undefined) {
    const s = rowSumForms().find((f) => rowSumFormName(f) === opts.dump);
    const u = unaryForms().find((f) => unaryFormName(f) === opts.dump);
    if (s === undefined && u === undefined) {
      throw new Error(`elementwise_sweep: no form '${opts.dump}' (see --list).`);
    }
    console.log(s ? rowSumWgsl(s, opts.row) : unaryWgsl("-a", u!));
    return;
  }
  if (!("gpu" in navigator)) throw new Error("elementwise_sweep: navigator.gpu missing.");
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) throw new Error("elementwise_sweep: no WebGPU adapter.");
  const features = [...adapter.features].sort();
  const wanted = ["timestamp-query", "subgroups"].filter((f) =>
    adapter.features.has(f as GPUFeatureName)
  );
  const info = adapter.info as GPUAdapterInfo & {
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  const adapterInfo = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    subgroupMinSize: info.subgroupMinSize,
    subgroupMaxSize: info.subgroupMaxSize,
    features,
  };
  console.log(`adapter: ${JSON.stringify(adapterInfo)}`);
  const L = adapter.limits;
  const maxN = Math.max(...opts.sizes);
  if (maxN * 4 > L.maxStorageBufferBindingSize) {
    throw new Error(
      `elementwise_sweep: ${fmtN(maxN)} floats exceed maxStorageBufferBindingSize ` +
        `${L.maxStorageBufferBindingSize} B; pass smaller --sizes.`,
    );
  }
  const device = await adapter.requestDevice({
    requiredFeatures: wanted as GPUFeatureName[],
    requiredLimits: {
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxBufferSize: L.maxBufferSize,
    },
  });
  device.addEventListener("uncapturederror", (e) => {
    console.error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  const gpu = new Gpu(device);
  const subgroups = device.features.has("subgroups");
  console.log(
    `timer: ${gpu.timestamps ? "GPU timestamps" : "wall clock (no timestamp-query)"}; ` +
      `${opts.runs} runs, 2 warm-up; subgroups: ${subgroups}; ` +
      `${sumForms.length} row-sum forms × rows ${opts.rows.join(",")}, ${negForms.length} neg ` +
      `forms; sizes ${opts.sizes.map(fmtN).join(", ")}\n`,
  );
  const start = performance.now();

  const chunk = seededFloats(Math.min(CHUNK, maxN), 12345);
  const x = gpu.buffer(maxN * 4), y = gpu.buffer(maxN * 4);
  for (let off = 0; off < maxN; off += chunk.length) {
    device.queue.writeBuffer(x, off * 4, chunk, 0, Math.min(chunk.length, maxN - off));
  }
  const results: Result[] = [];
  console.log("| kernel | n | rows × R | form | median µs | min µs | TB/s | max err | status |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  const print = (r: Result) => {
    const shape = r.row ? `${r.n / r.row} × ${r.row}` : "";
    const num = (v: number | undefined, d: number) => v === undefined ? "" : v.toFixed(d);
    console.log(
      `| ${r.kernel} | ${fmtN(r.n)} | ${shape} | ${r.form} | ${num(r.medianUs, 1)} | ${
        num(r.minUs, 1)
      } | ${num(r.tbps, 3)} | ${
        r.maxErr === undefined ? "" : r.maxErr.toExponential(1)
      } | ${r.status} |`,
    );
  };

  async function measure(
    base: Pick<Result, "kernel" | "form" | "n" | "row">,
    code: () => string,
    grid: readonly [number, number, number],
    uniform: number,
    outCount: number,
    check: (out: Float32Array) => number,
    tol: number,
    bytes: number,
  ): Promise<void> {
    let r: Result;
    const uni = gpu.uniform(uniform);
    try {
      const pipe = await gpu.pipeline(code());
      const group = device.createBindGroup({
        layout: pipe.getBindGroupLayout(0),
        entries: [x, y, uni].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const call = { pipe, group, grid };
      await runOnce(gpu, call, y, outCount * 4);
      const maxErr = check(await gpu.read(y, outCount));
      if (!(maxErr <= tol)) r = { ...base, maxErr, status: "wrong" };
      else {
        const us = await timeCall(gpu, call, opts.runs);
        const med = median(us);
        r = {
          ...base,
          medianUs: med,
          minUs: Math.min(...us),
          tbps: bytes / (med * 1e6),
          maxErr,
          status: "ok",
        };
      }
    } catch (e) {
      r = { ...base, status: `error: ${(e as Error).message.split("\n").slice(0, 2).join(" ")}` };
    }
    uni.destroy();
    results.push(r);
    print(r);
  }

  for (const n of opts.sizes) {
    if (opts.only !== "rowsum") {
      for (const f of negForms) {
        const n4 = n / 4;
        await measure(
          { kernel: "neg", form: unaryFormName(f), n },
          () => unaryWgsl("-a", f),
          unaryGrid(f, n4),
          n4,
          n,
          (out) => {
            let bad = 0;
            for (let i = 0; i < n; i++) if (out[i] !== -chunk[i % chunk.length]) bad++;
            return bad === 0 ? 0 : Infinity;
          },
          0,
          8 * n,
        );
      }
    }
    if (opts.only === "neg") continue;
    for (const row of opts.rows) {
      const rows = Math.floor(n / row);
      // CPU reference in f64.
      const ref = new Float64Array(rows);
      for (let r = 0, i = 0; r < rows; r++) {
        let s = 0;
        for (let j = 0; j < row; j++, i++) s += chunk[i % chunk.length];
        ref[r] = s;
      }
      for (const f of sumForms) {
        const base = { kernel: "rowsum" as const, form: rowSumFormName(f), n: rows * row, row };
        const why = row < 4 * f.lanes
          ? `skipped: R < 4·lanes`
          : rowSumNeedsSubgroups(f) && !subgroups
          ? "skipped: no subgroups feature"
          : undefined;
        if (why !== undefined) {
          results.push({ ...base, status: why });
          continue;
        }
        await measure(
          base,
          () => rowSumWgsl(f, row),
          rowSumGrid(f, rows),
          rows,
          rows,
          (out) => {
            let m = 0;
            for (let r = 0; r < rows; r++) m = Math.max(m, Math.abs(out[r] - ref[r]));
            return m;
          },
          1e-5 * row,
          4 * rows * row,
        );
      }
    }
  }

  // Fastest correct form per (kernel, n, row length).
  const best: Record<string, { form: string; tbps: number }> = {};
  for (const r of results) {
    if (r.status !== "ok" || r.tbps === undefined) continue;
    const key = `${r.kernel}@${fmtN(r.n)}${r.row ? `/R${r.row}` : ""}`;
    if (!(best[key]?.tbps >= r.tbps)) best[key] = { form: r.form, tbps: r.tbps };
  }
  console.log("\nfastest correct form per kernel, n and row length:");
  for (const [k, v] of Object.entries(best)) {
    console.log(`  ${k}: ${v.form} ${v.tbps.toFixed(3)} TB/s`);
  }
  const skipped = results.filter((r) => r.status.startsWith("skipped")).length;
  const failed = results.filter((r) => r.status !== "ok" && !r.status.startsWith("skipped"));
  console.log(
    `${results.length} cases, ${skipped} skipped, ${failed.length} wrong/failed; ` +
      `${((performance.now() - start) / 1000).toFixed(1)} s`,
  );
  if (opts.json !== undefined) {
    const dir = opts.json.replace(/[/\\][^/\\]*$/, "");
    if (dir !== opts.json) Deno.mkdirSync(dir, { recursive: true });
    Deno.writeTextFileSync(
      opts.json,
      JSON.stringify(
        { date: new Date().toISOString(), adapter: adapterInfo, runs: opts.runs, best, results },
        null,
        1,
      ),
    );
    console.log(`wrote ${opts.json}`);
  }
  device.destroy();
}

await main();
