/**
 * Matmul variant sweep: generates many WGSL f32 matmul variants (`matmulVariantWgsl` in
 * lib/gpu/matmul_wgsl.ts: tile, per-thread block, BK, unrolled or not, register prefetch, shared
 * layout of A) plus the kernel exactly as `matmulWgsl()` emits it ("lib"), checks each against a
 * CPU reference on a small ragged case (wrong ones are marked and excluded), and times them on raw
 * `navigator.gpu` (no tfjs): one command encoder with N dispatches after 3 warm-up calls, wall
 * clock to `onSubmittedWorkDone`, median of 3 repeats. N adapts so a repeat takes ≈ --target-ms
 * (3..20 dispatches).
 *
 * Variant names: u|l (unrolled | loops), tile BMxBN, kBK, per-thread TMxTN, pf|np (register
 * prefetch or not), Akm|Akv (A in shared memory k-major | vec4 along K). u128x128k16-8x8-pf-Akm
 * is exactly `matmulWgsl(…, unrolled = true)`; "lib" is `matmulWgsl(…)`, the current default.
 *
 * Phase 1 screens every variant on one shape (default the medium preset's [65536,512]×[512,1536]),
 * most promising first; phase 2 times "lib" and the --top best on the other shapes. The sweep stops
 * before --budget-s and prints (and writes --json) whatever it has.
 *
 *   deno run -A bench/matmul_sweep.ts --quick     # software adapter: small shapes, 6 variants, 90 s
 *   deno bundle --platform deno -o .gpu/matmul_sweep.js bench/matmul_sweep.ts
 *   deno run -A .gpu/matmul_sweep.js --budget-s 240 --json out/matmul_sweep.json
 *   deno run -A bench/matmul_sweep.ts --list                   # variant names, no GPU work
 *   deno run -A bench/matmul_sweep.ts --dump u128x128k16-8x8-pf-Akm   # a variant's WGSL
 *
 * Other options (defaults): --top K (10), --variants REGEX (all), --shapes REGEX (all),
 * --screen REGEX (the first shape), --warmup 3, --repeats 3, --min-iters 3, --max-iters 20,
 * --target-ms 150.
 *
 * @module
 */
import {
  MATMUL_TUNED_VARIANT,
  matmulFitsUnchecked,
  type MatmulOperands,
  type MatmulVariant,
  matmulVariantSharedBytes,
  matmulVariantWgsl,
  matmulWgsl,
  splitKReduceWgsl,
  wholeSplits,
} from "../lib/gpu/matmul_wgsl.ts";
import { compilePipeline, readFloats, seededFloats } from "./webgpu_pipeline.ts";

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly quick: boolean;
  readonly json?: string;
  readonly budgetS: number;
  readonly top: number;
  readonly variants?: RegExp;
  readonly shapes?: RegExp;
  readonly screen?: RegExp;
  readonly warmup: number;
  readonly repeats: number;
  readonly minIters: number;
  readonly maxIters: number;
  readonly targetMs: number;
  readonly list: boolean;
  readonly dump?: string;
}

function parseArgs(args: readonly string[]): Options {
  const flags = new Set(["--quick", "--list"]);
  const values = new Map<string, string>();
  const known = [
    "--json",
    "--budget-s",
    "--top",
    "--variants",
    "--shapes",
    "--screen",
    "--warmup",
    "--repeats",
    "--min-iters",
    "--max-iters",
    "--target-ms",
    "--dump",
  ];
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const [key, inline] = args[i].split(/=(.*)/s, 2);
    if (flags.has(key)) seen.add(key);
    else if (known.includes(key)) {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`matmul_sweep: ${key} needs a value.`);
      values.set(key, v);
    } else {
      throw new Error(
        `matmul_sweep: unknown argument '${args[i]}'; known: --quick --list ${known.join(" ")}.`,
      );
    }
  }
  const num = (key: string, def: number, min: number) => {
    const raw = values.get(key);
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) {
      throw new Error(`matmul_sweep: ${key} must be a number ≥ ${min}, found '${raw}'.`);
    }
    return n;
  };
  const re = (key: string) => values.has(key) ? new RegExp(values.get(key)!) : undefined;
  const quick = seen.has("--quick");
  return {
    quick,
    json: values.get("--json"),
    budgetS: num("--budget-s", quick ? 90 : 240, 1),
    top: num("--top", quick ? 2 : 10, 0),
    variants: re("--variants") ?? (quick ? QUICK_VARIANTS : undefined),
    shapes: re("--shapes"),
    screen: re("--screen"),
    warmup: num("--warmup", quick ? 1 : 3, 1),
    repeats: num("--repeats", quick ? 1 : 3, 1),
    minIters: num("--min-iters", quick ? 1 : 3, 1),
    maxIters: num("--max-iters", quick ? 2 : 20, 1),
    targetMs: num("--target-ms", 150, 1),
    list: seen.has("--list"),
    dump: values.get("--dump"),
  };
}

// ---------------------------------------------------------------------------------------------
// Variants and shapes

/**
 * --quick's default variants: every axis of the grid at least once (tiles, BK, unrolled or not,
 * prefetch or not, A layout). The software adapter compiles each shader at its first dispatch,
 * which takes from 0.1 to 60 s under load, so the full grid does not fit its 2 minutes.
 */
const QUICK_VARIANTS = new RegExp(
  "^(lib|u128x128k16-8x8-pf-Akm|l128x128k16-8x8-pf-Akm|u128x64k8-8x4-np-Akv|" +
    "l64x128k32-4x8-pf-Akv|u64x64k32-4x4-np-Akm)$",
);

/** One kernel of the sweep: its tile (for the grid and split-K) and its WGSL per operand set. */
interface SweepVariant {
  readonly name: string;
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  /** Generator parameters (undefined for "lib", the exact `matmulWgsl()` source). */
  readonly params?: MatmulVariant;
  readonly wgsl: (ops: MatmulOperands) => string;
  /** Prior guess of how promising it is (run order). */
  readonly priority: number;
}

function variantName(v: MatmulVariant): string {
  return `${v.unroll ? "u" : "l"}${v.bm}x${v.bn}k${v.bk}-${v.tm}x${v.tn}-${
    v.prefetch ? "pf" : "np"
  }-${v.aTile === "kMajor" ? "Akm" : "Akv"}${v.doubleBuffer ? "-db" : ""}${
    v.warpTile ? "-wt" : ""
  }${v.unchecked ? (v.clampEdges ? "-ucc" : "-uc") : ""}${v.tile2d ? "-2d" : ""}${
    v.hoistOffsets ? "-ho" : ""
  }${v.tailChecked ? "-tc" : ""}`;
}

function priority(v: MatmulVariant): number {
  const tile = v.bm * v.bn === 128 * 128 ? 3 : v.bm * v.bn === 128 * 64 ? 2 : 0;
  const bk = v.bk === 16 ? 2 : v.bk === 32 ? 1.5 : 0;
  return (v.unroll ? 8 : 0) + tile + bk + (v.prefetch ? 1 : 0) + (v.aTile === "kMajor" ? 0.5 : 0);
}

/** "lib" first, then the generated grid, most promising first. */
function allVariants(): SweepVariant[] {
  const lib: SweepVariant = {
    name: "lib",
    bm: 128,
    bn: 128,
    bk: 16,
    wgsl: (o) => matmulWgsl(o.transposeA, o.transposeB, o.vec4A, o.vec4B, o.vec4C),
    priority: Infinity,
  };
  const grid: SweepVariant[] = [];
  // The last two: 128 accumulators per thread (8×16, 16×8), tried 2026-11-22 20:2x UTC.
  const tiles = [
    [128, 128, 8, 8],
    [128, 64, 8, 4],
    [64, 128, 4, 8],
    [64, 64, 4, 4],
    [128, 256, 8, 16],
    [256, 128, 16, 8],
  ];
  for (const [bm, bn, tm, tn] of tiles) {
    for (const bk of [8, 16, 32]) {
      for (const unroll of [true, false]) {
        for (const prefetch of [true, false]) {
          for (const aTile of ["kMajor", "kVec4"] as const) {
            const params: MatmulVariant = { bm, bn, bk, tm, tn, unroll, prefetch, aTile };
            grid.push({
              name: variantName(params),
              bm,
              bn,
              bk,
              params,
              wgsl: (o) => matmulVariantWgsl(params, o),
              priority: priority(params),
            });
          }
        }
      }
    }
  }
  const add = (params: MatmulVariant, extra: number) =>
    grid.push({
      name: variantName(params),
      bm: params.bm,
      bn: params.bn,
      bk: params.bk,
      params,
      wgsl: (o) => matmulVariantWgsl(params, o),
      priority: priority(params) + extra,
    });
  const base = { bm: 128, bn: 128, tm: 8, tn: 8, unroll: true, prefetch: true } as const;
  // Double-buffered shared tiles, warp-tiled thread mapping and unchecked loads (whole tiles
  // only), on the unrolled 128×128 8×8 forms with prefetch; added 2026-11-22 (sixth session).
  for (const bk of [8, 16, 32]) {
    for (const aTile of ["kMajor", "kVec4"] as const) {
      for (let bits = 1; bits < 8; bits++) {
        add({
          ...base,
          bk,
          aTile,
          doubleBuffer: (bits & 1) !== 0,
          warpTile: (bits & 2) !== 0,
          unchecked: (bits & 4) !== 0,
        }, 2 + bits / 8);
      }
      // Nested shared arrays (tile2d) on the forms that led above: [doubleBuffer, warpTile,
      // unchecked].
      for (
        const [db, wt, uc] of [
          [false, false, true],
          [false, true, true],
          [true, false, true],
          [false, false, false],
          [false, true, false],
        ]
      ) {
        add({ ...base, bk, aTile, doubleBuffer: db, warpTile: wt, unchecked: uc, tile2d: true }, 4);
      }
    }
  }
  // Clamped edges (unchecked loads on partial tiles), hoisted load offsets and the checked k
  // tail, on the tuned form: [bk, clampEdges, hoistOffsets, tailChecked].
  for (
    const [bk, clampEdges, hoistOffsets, tailChecked] of [
      [16, true, false, false],
      [32, true, false, false],
      [16, true, true, false],
      [16, false, true, false],
      [32, false, true, false],
      [16, true, true, true],
    ] as const
  ) {
    add({ ...MATMUL_TUNED_VARIANT, bk, unchecked: true, clampEdges, hoistOffsets, tailChecked }, 5);
  }
  grid.sort((a, b) => b.priority - a.priority);
  return [lib, ...grid];
}

/** A matmul problem: C[m,n] = op(A)·op(B) (A stored [k,m] when transposeA, B [n,k] when transposeB). */
interface Shape {
  readonly name: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

const FULL_SHAPES: readonly Shape[] = [
  {
    name: "fwd [65536,512]x[512,1536]",
    m: 65536,
    n: 1536,
    k: 512,
    transposeA: false,
    transposeB: false,
  },
  {
    name: "dW [512,65536]T.[65536,1536]",
    m: 512,
    n: 1536,
    k: 65536,
    transposeA: true,
    transposeB: false,
  },
  {
    name: "dX [65536,1536].[512,1536]T",
    m: 65536,
    n: 512,
    k: 1536,
    transposeA: false,
    transposeB: true,
  },
  {
    name: "fwd [65536,1536]x[1536,512]",
    m: 65536,
    n: 512,
    k: 1536,
    transposeA: false,
    transposeB: false,
  },
  {
    name: "fwd [65536,256]x[256,768]",
    m: 65536,
    n: 768,
    k: 256,
    transposeA: false,
    transposeB: false,
  },
  { name: "4096^3", m: 4096, n: 4096, k: 4096, transposeA: false, transposeB: false },
  // Medium's global layers: 8 × 1025 patches (partial tiles at the M edge).
  {
    name: "fwd [8200,1024]x[1024,1024]",
    m: 8200,
    n: 1024,
    k: 1024,
    transposeA: false,
    transposeB: false,
  },
  {
    name: "dW [1024,8200]T.[8200,1024]",
    m: 1024,
    n: 1024,
    k: 8200,
    transposeA: true,
    transposeB: false,
  },
  {
    name: "dW [1024,32768]T.[32768,512]",
    m: 1024,
    n: 512,
    k: 32768,
    transposeA: true,
    transposeB: false,
  },
];

const QUICK_SHAPES: readonly Shape[] = [
  {
    name: "quick fwd [512,128]x[128,384]",
    m: 512,
    n: 384,
    k: 128,
    transposeA: false,
    transposeB: false,
  },
  {
    name: "quick dW [128,2048]T.[2048,96]",
    m: 128,
    n: 96,
    k: 2048,
    transposeA: true,
    transposeB: false,
  },
  {
    name: "quick dX [512,384].[128,384]T",
    m: 512,
    n: 128,
    k: 384,
    transposeA: false,
    transposeB: true,
  },
];

function operandsFor(
  s: Pick<Shape, "m" | "n" | "k" | "transposeA" | "transposeB">,
): MatmulOperands {
  return {
    transposeA: s.transposeA,
    transposeB: s.transposeB,
    vec4A: (s.transposeA ? s.m : s.k) % 4 === 0,
    vec4B: (s.transposeB ? s.k : s.n) % 4 === 0,
    vec4C: s.n % 4 === 0,
  };
}

const opsKey = (o: MatmulOperands) =>
  `${o.transposeA ? "T" : "N"}${o.transposeB ? "T" : "N"}${o.vec4A ? 4 : 1}${o.vec4B ? 4 : 1}${
    o.vec4C ? 4 : 1
  }`;

/** Split-K as lib/gpu/matmul.ts plans it (≈ 264 workgroups, k chunks ≥ 256), for any tile. */
function planSplits(m: number, n: number, k: number, batches: number, v: SweepVariant) {
  const tiles = Math.ceil(m / v.bm) * Math.ceil(n / v.bn) * batches;
  let splits = 1;
  if (tiles < 264 && k >= 512) splits = Math.min(Math.ceil(264 / tiles), Math.floor(k / 256));
  splits = wholeSplits(k, splits, v.bk);
  const kChunk = Math.ceil(Math.ceil(k / splits) / v.bk) * v.bk;
  return { splits: Math.max(1, Math.ceil(k / kChunk)), kChunk };
}

// ---------------------------------------------------------------------------------------------
// WebGPU plumbing

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

class Gpu {
  private reducePipe?: GPUComputePipeline;
  constructor(readonly device: GPUDevice) {}

  buffer(bytes: number, usage = STORAGE): GPUBuffer {
    return this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  }

  uniforms(values: readonly number[]): GPUBuffer {
    const buf = this.buffer(values.length * 4, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.device.queue.writeBuffer(buf, 0, new Uint32Array(values));
    return buf;
  }

  /** Fills `buf` with `count` floats: `data` if given, else a repeated seeded pattern in [-1, 1). */
  fill(buf: GPUBuffer, count: number, data?: Float32Array<ArrayBuffer>): void {
    if (data !== undefined) {
      this.device.queue.writeBuffer(buf, 0, data);
      return;
    }
    const chunk = seededFloats(1 << 20, 12345);
    for (let off = 0; off < count; off += chunk.length) {
      const n = Math.min(chunk.length, count - off);
      this.device.queue.writeBuffer(buf, off * 4, chunk, 0, n);
    }
  }

  /** Compiles a compute shader; rejects with the validation message on failure. */
  pipeline(code: string): Promise<GPUComputePipeline> {
    return compilePipeline(this.device, code);
  }

  async reduce(): Promise<GPUComputePipeline> {
    this.reducePipe ??= await this.pipeline(splitKReduceWgsl());
    return this.reducePipe;
  }

  bind(pipe: GPUComputePipeline, buffers: readonly GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: pipe.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  read(buf: GPUBuffer, count: number): Promise<Float32Array> {
    return readFloats(this.device, buf, count);
  }
}

/** Everything one matmul call dispatches: the variant's kernel and, with split-K, the reduce. */
interface Launch {
  readonly pipe: GPUComputePipeline;
  readonly group: GPUBindGroup;
  readonly grid: readonly [number, number, number];
  readonly reduce?: { pipe: GPUComputePipeline; group: GPUBindGroup; grid: [number, number] };
  readonly splits: number;
  readonly temps: GPUBuffer[];
}

async function makeLaunch(
  gpu: Gpu,
  v: SweepVariant,
  pipe: GPUComputePipeline,
  dims: { m: number; n: number; k: number; batches: number; aStride: number; bStride: number },
  a: GPUBuffer,
  b: GPUBuffer,
  c: GPUBuffer,
): Promise<Launch> {
  const { m, n, k, batches } = dims;
  const { splits, kChunk } = planSplits(m, n, k, batches, v);
  const uni = gpu.uniforms([m, n, k, batches, dims.aStride, dims.bStride, kChunk, 0]);
  const grid = [Math.ceil(n / v.bn), Math.ceil(m / v.bm), batches * splits] as const;
  if (splits === 1) {
    return { pipe, group: gpu.bind(pipe, [a, b, c, uni]), grid, splits, temps: [uni] };
  }
  const size = batches * m * n;
  const partial = gpu.buffer(splits * size * 4);
  const rUni = gpu.uniforms([size, splits, 0, 0]);
  const rPipe = await gpu.reduce();
  const groups = Math.ceil(size / 256), gx = Math.min(groups, 65535);
  return {
    pipe,
    group: gpu.bind(pipe, [a, b, partial, uni]),
    grid,
    reduce: {
      pipe: rPipe,
      group: gpu.bind(rPipe, [partial, c, rUni]),
      grid: [gx, Math.ceil(groups / gx)],
    },
    splits,
    temps: [uni, partial, rUni],
  };
}

/** Runs `calls` matmul calls in one command encoder; resolves when the queue is done (ms). */
async function run(gpu: Gpu, l: Launch, calls: number): Promise<number> {
  const t0 = performance.now();
  const enc = gpu.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let i = 0; i < calls; i++) {
    pass.setPipeline(l.pipe);
    pass.setBindGroup(0, l.group);
    pass.dispatchWorkgroups(...l.grid);
    if (l.reduce !== undefined) {
      pass.setPipeline(l.reduce.pipe);
      pass.setBindGroup(0, l.reduce.group);
      pass.dispatchWorkgroups(l.reduce.grid[0], l.reduce.grid[1], 1);
    }
  }
  pass.end();
  gpu.device.queue.submit([enc.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------------------------
// Correctness: a small ragged case (m, n not multiples of any tile, k not of any BK), batched
// with B broadcast and split-K, then unbatched without split; CPU reference in f64.

const CHECK = { m: 140, n: 132, k: 200 };

async function checkKernel(
  gpu: Gpu,
  v: SweepVariant,
  pipe: GPUComputePipeline,
  ops: MatmulOperands,
): Promise<number> {
  // Unchecked loads need whole tiles: two tiles each way, 12 k steps (6 per split).
  const { m, n, k } = !v.params?.unchecked || v.params.tailChecked
    ? CHECK
    : v.params.clampEdges
    ? { m: CHECK.m, n: CHECK.n, k: 12 * v.bk } // ragged edges, whole k steps
    : { m: 2 * v.bm, n: 2 * v.bn, k: 12 * v.bk };
  let worst = 0;
  for (const batches of [2, 1]) {
    const a = seededFloats(batches * m * k, 7 + batches), b = seededFloats(k * n, 11);
    const ab = gpu.buffer(a.length * 4), bb = gpu.buffer(b.length * 4);
    const cb = gpu.buffer(batches * m * n * 4);
    gpu.fill(ab, a.length, a);
    gpu.fill(bb, b.length, b);
    // batches 2 forces split-K (k chunks ≥ 256 need k ≥ 512: use a kChunk of ≈ k/2 instead).
    const base = { m, n, k, batches, aStride: m * k, bStride: 0 };
    const l = batches === 2
      ? await makeLaunchWithChunk(gpu, v, pipe, base, ab, bb, cb)
      : await makeLaunch(gpu, v, pipe, base, ab, bb, cb);
    gpu.device.pushErrorScope("validation");
    await run(gpu, l, 1);
    const err = await gpu.device.popErrorScope();
    if (err !== null) throw new Error(`dispatch error: ${err.message}`);
    const c = await gpu.read(cb, batches * m * n);
    for (let z = 0; z < batches; z++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) {
            const av = ops.transposeA ? a[z * m * k + p * m + i] : a[z * m * k + i * k + p];
            const bv = ops.transposeB ? b[j * k + p] : b[p * n + j];
            s += av * bv;
          }
          const d = Math.abs(c[z * m * n + i * n + j] - s);
          worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
        }
      }
    }
    for (const t of [ab, bb, cb, ...l.temps]) t.destroy();
  }
  return worst;
}

// Like makeLaunch but with 2 splits (kChunk ≈ k/2 rounded to BK), to test split-K on a small k.
async function makeLaunchWithChunk(
  gpu: Gpu,
  v: SweepVariant,
  pipe: GPUComputePipeline,
  dims: { m: number; n: number; k: number; batches: number; aStride: number; bStride: number },
  a: GPUBuffer,
  b: GPUBuffer,
  c: GPUBuffer,
): Promise<Launch> {
  const { m, n, k, batches } = dims;
  const kChunk = Math.ceil(k / 2 / v.bk) * v.bk, splits = Math.ceil(k / kChunk);
  const uni = gpu.uniforms([m, n, k, batches, dims.aStride, dims.bStride, kChunk, 0]);
  const size = batches * m * n;
  const partial = gpu.buffer(splits * size * 4);
  const rUni = gpu.uniforms([size, splits, 0, 0]);
  const rPipe = await gpu.reduce();
  return {
    pipe,
    group: gpu.bind(pipe, [a, b, partial, uni]),
    grid: [Math.ceil(n / v.bn), Math.ceil(m / v.bm), batches * splits],
    reduce: {
      pipe: rPipe,
      group: gpu.bind(rPipe, [partial, c, rUni]),
      grid: [Math.ceil(size / 256), 1],
    },
    splits,
    temps: [uni, partial, rUni],
  };
}

// ---------------------------------------------------------------------------------------------
// The sweep

/** A compiled and checked (variant, operand set). */
interface Kernel {
  readonly pipe?: GPUComputePipeline;
  readonly compileMs: number;
  /** Milliseconds of the correctness check (includes any compile the driver defers to first use). */
  readonly checkMs: number;
  readonly maxErr: number;
  /** "ok", or why it is excluded: "wrong", "error: …", "skipped: …". */
  readonly status: string;
}

interface Result {
  readonly variant: string;
  readonly params?: MatmulVariant;
  readonly shape: string;
  readonly ms?: number;
  readonly msRepeats?: number[];
  readonly tflops?: number;
  readonly iters?: number;
  readonly splits?: number;
  readonly compileMs: number;
  readonly checkMs: number;
  readonly maxErr: number;
  readonly status: string;
}

const TOLERANCE = 1e-3;

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  const variants = allVariants().filter((v) => !opts.variants || opts.variants.test(v.name));
  if (opts.list) {
    for (const v of variants) console.log(v.name);
    return;
  }
  if (opts.dump !== undefined) {
    const v = allVariants().find((x) => x.name === opts.dump);
    if (v === undefined) throw new Error(`matmul_sweep: no variant '${opts.dump}' (see --list).`);
    console.log(v.wgsl(operandsFor(FULL_SHAPES[0])));
    return;
  }
  const start = performance.now();
  const deadline = start + opts.budgetS * 1000;
  const shapes = (opts.quick ? QUICK_SHAPES : FULL_SHAPES).filter((s) =>
    !opts.shapes || opts.shapes.test(s.name)
  );
  if (shapes.length === 0 || variants.length === 0) {
    throw new Error("matmul_sweep: --shapes/--variants matched nothing (see --list).");
  }
  const screen = shapes.find((s) => opts.screen?.test(s.name)) ?? shapes[0];

  if (!("gpu" in navigator)) throw new Error("matmul_sweep: navigator.gpu missing (needs WebGPU).");
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) throw new Error("matmul_sweep: no WebGPU adapter.");
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    limits[key] = (adapter.limits as unknown as Record<string, number>)[key];
  }
  const info = adapter.info;
  const adapterInfo = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    features: [...adapter.features].sort(),
  };
  console.log(`adapter: ${JSON.stringify(adapterInfo)}`);
  console.log(`limits: ${JSON.stringify(limits)}`);
  const L = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxBufferSize: L.maxBufferSize,
      maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: L.maxComputeWorkgroupSizeY,
    },
  });
  device.addEventListener("uncapturederror", (e) => {
    console.error(`uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  });
  const gpu = new Gpu(device);
  console.log(
    `${variants.length} variants, ${shapes.length} shapes; screen on '${screen.name}', then ` +
      `lib + top ${opts.top}; budget ${opts.budgetS} s; warm-up ${opts.warmup}, ` +
      `${opts.minIters}..${opts.maxIters} calls × ${opts.repeats} repeats\n`,
  );

  const kernels = new Map<string, Kernel>();
  async function kernel(v: SweepVariant, ops: MatmulOperands): Promise<Kernel> {
    const key = `${v.name}/${opsKey(ops)}`;
    const known = kernels.get(key);
    if (known !== undefined) return known;
    let k: Kernel;
    const shared = v.params ? matmulVariantSharedBytes(v.params) : 16384;
    if (shared > L.maxComputeWorkgroupStorageSize) {
      k = {
        compileMs: 0,
        checkMs: 0,
        maxErr: NaN,
        status: `skipped: ${shared} B shared > limit ${L.maxComputeWorkgroupStorageSize}`,
      };
    } else {
      const t0 = performance.now();
      try {
        const pipe = await gpu.pipeline(v.wgsl(ops));
        const compileMs = performance.now() - t0;
        const maxErr = await checkKernel(gpu, v, pipe, ops);
        const checkMs = performance.now() - t0 - compileMs;
        k = { pipe, compileMs, checkMs, maxErr, status: maxErr <= TOLERANCE ? "ok" : "wrong" };
      } catch (e) {
        k = {
          compileMs: performance.now() - t0,
          checkMs: 0,
          maxErr: NaN,
          status: `error: ${(e as Error).message.split("\n").slice(0, 3).join(" ")}`,
        };
      }
    }
    kernels.set(key, k);
    if (k.status !== "ok") console.log(`  ${key}: ${k.status} (max err ${k.maxErr})`);
    return k;
  }

  // Operand buffers per shape (allocated on first use, kept).
  const buffers = new Map<string, { a: GPUBuffer; b: GPUBuffer; c: GPUBuffer } | string>();
  function shapeBuffers(s: Shape) {
    let got = buffers.get(s.name);
    if (got === undefined) {
      const sizes = [s.m * s.k, s.k * s.n, s.m * s.n];
      const tooBig = sizes.find((x) => x * 4 > L.maxStorageBufferBindingSize);
      if (tooBig !== undefined) {
        got = `skipped: a ${tooBig * 4}-byte operand > maxStorageBufferBindingSize`;
      } else {
        const [a, b, c] = sizes.map((x) => gpu.buffer(x * 4));
        gpu.fill(a, sizes[0]);
        gpu.fill(b, sizes[1]);
        got = { a, b, c };
      }
      buffers.set(s.name, got);
    }
    return got;
  }

  const results: Result[] = [];
  let lastUnitMs = 0, stopped = false;
  const save = () => {
    if (opts.json === undefined) return;
    const dir = opts.json.replace(/[/\\][^/\\]*$/, "");
    if (dir !== opts.json) Deno.mkdirSync(dir, { recursive: true });
    Deno.writeTextFileSync(
      opts.json,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          adapter: adapterInfo,
          limits,
          options: { ...opts, variants: opts.variants?.source, shapes: opts.shapes?.source },
          shapes,
          stoppedByBudget: stopped,
          elapsedS: (performance.now() - start) / 1000,
          results,
        },
        null,
        1,
      ) + "\n",
    );
  };

  async function measure(v: SweepVariant, s: Shape): Promise<void> {
    const t0 = performance.now();
    const ops = operandsFor(s);
    const k = await kernel(v, ops);
    const base = {
      variant: v.name,
      params: v.params,
      shape: s.name,
      compileMs: k.compileMs,
      checkMs: k.checkMs,
    };
    const bufs = shapeBuffers(s);
    if (k.pipe === undefined || k.status !== "ok" || typeof bufs === "string") {
      results.push({
        ...base,
        maxErr: k.maxErr,
        status: typeof bufs === "string" ? bufs : k.status,
      });
      return;
    }
    if (
      v.params?.unchecked &&
      !matmulFitsUnchecked(v.params, s.m, s.n, s.k, planSplits(s.m, s.n, s.k, 1, v).kChunk)
    ) {
      results.push({ ...base, maxErr: k.maxErr, status: "skipped: shape not whole tiles" });
      return;
    }
    const dims = { m: s.m, n: s.n, k: s.k, batches: 1, aStride: 0, bStride: 0 };
    const l = await makeLaunch(gpu, v, k.pipe, dims, bufs.a, bufs.b, bufs.c);
    try {
      await run(gpu, l, 1);
      const est = opts.warmup > 1 ? await run(gpu, l, opts.warmup - 1) / (opts.warmup - 1) : 0;
      let iters = Math.min(opts.maxIters, Math.max(opts.minIters, Math.ceil(opts.targetMs / est)));
      const left = deadline - performance.now() - 2000;
      if (est * iters * opts.repeats > left) iters = Math.floor(left / (est * opts.repeats));
      if (iters < 1) {
        results.push({ ...base, maxErr: k.maxErr, status: "budget: no time left to time it" });
        stopped = true;
        return;
      }
      const reps: number[] = [];
      for (let r = 0; r < opts.repeats; r++) reps.push(await run(gpu, l, iters) / iters);
      const ms = [...reps].sort((x, y) => x - y)[Math.floor(reps.length / 2)];
      const tflops = 2 * s.m * s.n * s.k / (ms * 1e9);
      results.push({
        ...base,
        ms,
        msRepeats: reps,
        tflops,
        iters,
        splits: l.splits,
        maxErr: k.maxErr,
        status: "ok",
      });
      console.log(
        `  ${s.name.padEnd(30)} ${v.name.padEnd(26)} ${ms.toFixed(3).padStart(9)} ms ` +
          `${
            tflops.toFixed(2).padStart(6)
          } TFLOP/s  (${iters}×${opts.repeats}, split ${l.splits}, ` +
          `compile ${k.compileMs.toFixed(0)} + check ${k.checkMs.toFixed(0)} ms, err ${
            k.maxErr.toExponential(1)
          })`,
      );
    } finally {
      for (const t of l.temps) t.destroy();
      lastUnitMs = performance.now() - t0;
    }
  }

  const outOfTime = () => {
    if (performance.now() + Math.max(3000, 1.5 * lastUnitMs) < deadline) return false;
    stopped = true;
    return true;
  };

  console.log(`phase 1: every variant on ${screen.name}`);
  for (const v of variants) {
    if (outOfTime()) break;
    await measure(v, screen);
    save();
  }
  const ranked = results.filter((r) => r.status === "ok" && r.shape === screen.name)
    .sort((x, y) => y.tflops! - x.tflops!).map((r) => r.variant);
  const chosen = [
    ...variants.filter((v) => v.name === "lib"),
    ...ranked.filter((n) => n !== "lib").slice(0, opts.top).map((n) =>
      variants.find((v) => v.name === n)!
    ),
  ];
  const rest = shapes.filter((s) => s !== screen);
  if (!stopped && rest.length > 0) {
    console.log(`\nphase 2: ${chosen.map((v) => v.name).join(", ")} on the other shapes`);
    outer: for (const v of chosen) {
      for (const s of rest) {
        if (outOfTime()) break outer;
        await measure(v, s);
        save();
      }
    }
  }
  save();
  report(results, shapes, stopped, (performance.now() - start) / 1000, opts.json);
  device.destroy();
}

function report(
  results: readonly Result[],
  shapes: readonly Shape[],
  stopped: boolean,
  elapsedS: number,
  json?: string,
): void {
  console.log(
    `\n# Results (${elapsedS.toFixed(1)} s${stopped ? ", stopped by --budget-s" : ""})`,
  );
  for (const s of shapes) {
    const rows = results.filter((r) => r.shape === s.name && r.status === "ok")
      .sort((x, y) => y.tflops! - x.tflops!);
    if (rows.length === 0) continue;
    const lib = rows.find((r) => r.variant === "lib");
    console.log(`\n## ${s.name} (transposeA=${s.transposeA}, transposeB=${s.transposeB})\n`);
    console.log(
      "| # | variant | ms | TFLOP/s | × lib | calls | split-K | compile + check ms | max err |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|");
    rows.forEach((r, i) =>
      console.log(
        `| ${i + 1} | ${r.variant} | ${r.ms!.toFixed(3)} | ${r.tflops!.toFixed(2)} | ${
          lib ? (r.tflops! / lib.tflops!).toFixed(2) : "–"
        } | ${r.iters}×${r.msRepeats!.length} | ${r.splits} | ${r.compileMs.toFixed(0)} + ${
          r.checkMs.toFixed(0)
        } | ${r.maxErr.toExponential(1)} |`,
      )
    );
  }
  const excluded = results.filter((r) => r.status !== "ok");
  if (excluded.length > 0) {
    console.log("\n## Excluded (wrong, failed to compile, skipped)\n");
    for (const r of excluded) {
      console.log(`- ${r.variant} on ${r.shape}: ${r.status} (max err ${r.maxErr})`);
    }
  }
  if (json !== undefined) console.log(`\nwrote ${json}`);
}

if (import.meta.main) await main();
