/**
 * Micro-benchmark of our WGSL kernels against tfjs's stock webgpu kernels: GFLOP/s of the matmul
 * shapes of the small/medium presets (forward and the two gradient products), then fused vs
 * plain-tfjs attention. Needs a WebGPU adapter (`navigator.gpu`).
 *
 *   deno run -A bench/gpu_kernels.ts            # full shapes (a real GPU)
 *   deno run -A bench/gpu_kernels.ts --quick    # tiny shapes (software adapter smoke run)
 *   deno bundle --platform deno -o .gpu/app.js bench/gpu_kernels.ts && deno run -A .gpu/app.js
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import {
  attentionFlops,
  enableGpuKernels,
  fusedAttention,
  matmulFlops,
  referenceAttention,
  stockMatMul,
  timeKernel,
} from "../lib/gpu/mod.ts";

interface MatmulCase {
  readonly name: string;
  readonly a: number[];
  readonly b: number[];
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

/** x·W, dY·Wᵀ (input grad) and xᵀ·dY (weight grad) for a [rows, k] × [k, n] layer. */
function layerCases(label: string, rows: number, k: number, n: number): MatmulCase[] {
  return [
    { name: `${label} fwd`, a: [rows, k], b: [k, n], transposeA: false, transposeB: false },
    { name: `${label} dX`, a: [rows, n], b: [k, n], transposeA: false, transposeB: true },
    { name: `${label} dW`, a: [rows, k], b: [rows, n], transposeA: true, transposeB: false },
  ];
}

function flopsOf(c: MatmulCase): number {
  const m = c.transposeA ? c.a[1] : c.a[0];
  const k = c.transposeA ? c.a[0] : c.a[1];
  const n = c.transposeB ? c.b[0] : c.b[1];
  return matmulFlops(m, n, k);
}

const quick = Deno.args.includes("--quick");
if (!(await tf.setBackend("webgpu"))) {
  throw new Error("bench/gpu_kernels.ts: tfjs could not start the 'webgpu' backend.");
}
enableGpuKernels();
const iters = quick ? 2 : 20;
// small preset: 16 × 4096 bytes, h_E = 256; medium: h_E = 512; global model rows ≈ bytes / 4.5.
const cases = quick ? layerCases("quick [256,64]x[64,96]", 256, 64, 96) : [
  ...layerCases("small enc qkv [65536,256]x[256,768]", 16 * 4096, 256, 768),
  ...layerCases("small enc mlp [65536,256]x[256,1024]", 16 * 4096, 256, 1024),
  ...layerCases("medium enc qkv [65536,512]x[512,1536]", 16 * 4096, 512, 1536),
  ...layerCases("medium global mlp [14592,1024]x[1024,4096]", 14592, 1024, 4096),
];

console.log(`device: ${tf.getBackend()}; ${iters} timed calls each\n`);
console.log("| case | stock ms | stock GFLOP/s | ours ms | ours GFLOP/s | speed-up | max |Δ| |");
console.log("|---|---|---|---|---|---|---|");
for (const c of cases) {
  const a = tf.randomNormal(c.a), b = tf.randomNormal(c.b);
  const flops = flopsOf(c);
  const stock = await timeKernel(() => stockMatMul(a, b, c.transposeA, c.transposeB), {
    flops,
    iters,
  });
  const ours = await timeKernel(() => tf.matMul(a, b, c.transposeA, c.transposeB), {
    flops,
    iters,
  });
  const diff = tf.tidy(() =>
    tf.max(tf.abs(tf.sub(
      tf.matMul(a, b, c.transposeA, c.transposeB),
      stockMatMul(a, b, c.transposeA, c.transposeB),
    )))
  );
  const d = (await diff.data())[0];
  console.log(
    `| ${c.name} | ${stock.ms.toFixed(3)} | ${stock.gflops.toPrecision(3)} | ${
      ours.ms.toFixed(3)
    } | ` +
      `${ours.gflops.toPrecision(3)} | ${(stock.ms / ours.ms).toFixed(2)}× | ${
        d.toExponential(1)
      } |`,
  );
  tf.dispose([a, b, diff]);
}

const [ab, ah, at, ad] = quick ? [1, 2, 128, 32] : [2, 8, 4096, 64];
const q = tf.randomNormal([ab, ah, at, ad]), k = tf.randomNormal([ab, ah, at, ad]);
const v = tf.randomNormal([ab, ah, at, ad]);
const flops = attentionFlops(ab, ah, at, ad, true);
console.log(
  `\nattention [${ab}, ${ah}, ${at}, ${ad}] causal (forward; FLOPs counted for causal half)`,
);
for (const [name, opts] of [["causal", {}], ["window 512", { window: 512 }]] as const) {
  const fused = await timeKernel(() => fusedAttention(q, k, v, opts), { flops, iters });
  const plain = await timeKernel(() => referenceAttention(q, k, v, opts), { flops, iters });
  console.log(
    `${name}: fused ${fused.ms.toFixed(3)} ms (${fused.gflops.toPrecision(3)} GFLOP/s), ` +
      `plain tfjs ${plain.ms.toFixed(3)} ms (${plain.gflops.toPrecision(3)} GFLOP/s)`,
  );
}
const grad = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
  tf.sum(fusedAttention(x, y, z))
);
const fb = await timeKernel(() => grad([q, k, v]), { flops: 3.5 * flops, iters });
console.log(
  `causal forward+backward: fused ${fb.ms.toFixed(3)} ms (${fb.gflops.toPrecision(3)} GFLOP/s)`,
);
