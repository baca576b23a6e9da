import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { setFastBroadcast } from "../lib/wasm_kernels.ts";
import { broadcastBinary, broadcastModuleBytes } from "../lib/wasm_broadcast.ts";

const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);
const tag = (v: number) => (Object.is(v, -0) ? "-0" : v);

Deno.test("broadcast module validates", () => {
  assert.ok(WebAssembly.validate(broadcastModuleBytes()));
});

Deno.test("wasm broadcasting Multiply, Add, Sub = the stock kernels bit for bit (float32, int32)", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number[]][] = [
    [[8192, 1, 1, 32], [8192, 1, 2, 32]], // the cross-attention's shapes
    [[8192, 1, 2, 1], [8192, 1, 2, 32]],
    [[8192, 1, 2, 1], [8192, 1, 1, 32]],
    [[2056, 2, 4, 1], [2056, 1, 4, 32]],
    [[2056, 2, 1, 32], [2056, 1, 4, 32]],
    [[2, 257, 4, 128], [2, 257, 4, 1]],
    [[2, 2048], [2, 1]],
    [[3, 1, 8], [5, 8]], // ranks differ
    [[8], [4, 3, 2, 8]],
    [[2, 3, 1], [1, 1, 6]], // last axis 6: stock
    [[2, 3, 1], [2, 1, 1]], // both scalar along the last axis: stock
    [[2, 3, 4, 5, 8], [2, 1, 4, 1, 8]], // rank 5: stock
    [[2, 4], [2, 4]], // same shapes: stock
  ];
  for (const [i, [sa, sb]] of [...cases, ...cases.slice(5, 9)].entries()) {
    tf.tidy(() => {
      // the last 4 cases again as int32 (wrapping products of large values included)
      const int = i >= cases.length;
      const cast = (t: tf.Tensor) => int ? tf.cast(tf.mul(t, 1e5), "int32") : t;
      const a = cast(r(sa, 2 * i + 1)), b = cast(r(sb, 2 * i + 2));
      for (const op of [tf.mul, tf.add, tf.sub]) {
        for (const [x, y] of [[a, b], [b, a]]) {
          const run = (on: boolean) => {
            const before = setFastBroadcast(on);
            try {
              return op(x, y);
            } finally {
              setFastBroadcast(before);
            }
          };
          const [stock, ours] = [run(false), run(true)];
          assert.deepEqual(ours.shape, stock.shape);
          assert.deepEqual(
            Array.from(ours.dataSync()).map(tag),
            Array.from(stock.dataSync()).map(tag),
            `${op.name} [${x.shape}] [${y.shape}]`,
          );
        }
      }
    });
  }
});

Deno.test("broadcastBinary covers the cross-attention's shapes and declines others", async () => {
  await tf.setBackend("wasm");
  const wasm = tf.backend() as BackendWasm;
  const covered = (sa: number[], sb: number[], dtype: tf.DataType = "float32") =>
    tf.tidy(() => {
      const out = broadcastBinary(tf.Multiply, tf.zeros(sa, dtype), tf.zeros(sb, dtype), wasm);
      if (out !== null) wasm.disposeData(out.dataId);
      return out !== null;
    });
  assert.ok(covered([8192, 1, 1, 32], [8192, 1, 2, 32]));
  assert.ok(covered([2, 2048], [2, 1]));
  assert.ok(!covered([2, 4], [2, 4])); // same shapes
  assert.ok(!covered([2, 6], [2, 1])); // 6 values a row
  assert.ok(covered([2, 8], [2, 1], "int32"));
  assert.ok(!covered([2, 8], [2, 1], "bool"));
  assert.ok(!covered([2, 1, 1, 1, 8], [1, 2, 1, 1, 8]));
  // special values go through the same single operation
  const a = tf.tensor2d([[NaN, -0, Infinity, 1e-45, -1, 0, 3e38, 2]]);
  const b = tf.tensor2d([[-0], [Infinity]]);
  const before = setFastBroadcast(false);
  const stock = [tf.mul(a, b), tf.add(a, b), tf.sub(b, a)].map((t) =>
    Array.from(t.dataSync()).map(tag)
  );
  setFastBroadcast(true);
  const ours = [tf.mul(a, b), tf.add(a, b), tf.sub(b, a)].map((t) =>
    Array.from(t.dataSync()).map(tag)
  );
  setFastBroadcast(before);
  assert.deepEqual(ours, stock);
});

Deno.test("wasm broadcasting float32 comparisons (SIMD, bool) = the JS loop (ties, NaN, -0)", async () => {
  await tf.setBackend("wasm");
  const cases: [number[], number[]][] = [
    [[2, 257, 4, 128], [2, 257, 1, 128]], // Max's gradient mask
    [[3, 1, 32], [1, 5, 32]],
    [[4, 16], [4, 1]],
    [[2, 8], [2, 1]], // 8 values a row: the JS loop either way
  ];
  const ops = [tf.equal, tf.notEqual, tf.less, tf.greater, tf.lessEqual, tf.greaterEqual];
  for (const [i, [sa, sb]] of cases.entries()) {
    tf.tidy(() => {
      // rounded values: many ties; a few NaN and -0
      const special = (t: tf.Tensor) => {
        const v = Float32Array.from(
          t.dataSync(),
          (x, k) => k % 37 === 0 ? NaN : k % 41 === 0 ? -0 : x,
        );
        return tf.tensor(v, t.shape);
      };
      const a = special(tf.round(r(sa, 2 * i + 1))), b = special(tf.round(r(sb, 2 * i + 2)));
      for (const op of ops) {
        const run = (on: boolean) => {
          const before = setFastBroadcast(on);
          try {
            return op(a, b);
          } finally {
            setFastBroadcast(before);
          }
        };
        const [js, ours] = [run(false), run(true)];
        assert.equal(ours.dtype, "bool");
        assert.deepEqual(ours.shape, js.shape);
        assert.deepEqual(
          Array.from(ours.dataSync()),
          Array.from(js.dataSync()),
          `${op.name} ${sa}`,
        );
      }
    });
  }
});
