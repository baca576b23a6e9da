/**
 * Read-backs for generation, written once for both kinds of backend. Decoding code is a
 * generator that yields each device tensor whose values it needs and receives them as a
 * `Float32Array`; {@link readSync} drives it with `dataSync()` (wasm, cpu), {@link readAsync} with
 * `await data()` (every backend; the only way on tfjs-webgpu under Deno, which needs a canvas
 * to read synchronously). One code path, so sync and async runs give the same bytes.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * A computation that reads tensors back: yields a tensor (which the driver reads and then
 * disposes), receives its values, returns `T`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import type { Reads } from "./read_back.ts";
 * function* sum(): Reads<number> {
 *   const v = yield tf.tensor1d([1, 2]);
 *   return v[0] + v[1];
 * }
 * ```
 */
export type Reads<T> = Generator<tf.Tensor, T, Float32Array>;

/**
 * Runs `reads` reading every yielded tensor with `dataSync()` (backends that can: wasm, cpu).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { readSync, type Reads } from "./read_back.ts";
 * function* twice(): Reads<number> {
 *   return (yield tf.scalar(21))[0] * 2;
 * }
 * console.log(readSync(twice())); // 42
 * ```
 */
export function readSync<T>(reads: Reads<T>): T {
  let next = reads.next();
  while (!next.done) {
    let values: Float32Array;
    try {
      values = toFloat32(next.value.dataSync());
    } catch (e) {
      next.value.dispose();
      next = reads.throw(e); // lets the computation free what it holds, then rethrows
      continue;
    }
    next.value.dispose();
    next = reads.next(values);
  }
  return next.value;
}

/**
 * Runs `reads` reading every yielded tensor with `await data()` (every backend, webgpu too).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { readAsync, type Reads } from "./read_back.ts";
 * function* twice(): Reads<number> {
 *   return (yield tf.scalar(21))[0] * 2;
 * }
 * console.log(await readAsync(twice())); // 42
 * ```
 */
export async function readAsync<T>(reads: Reads<T>): Promise<T> {
  let next = reads.next();
  while (!next.done) {
    let values: Float32Array;
    try {
      values = toFloat32(await next.value.data());
    } catch (e) {
      next.value.dispose();
      next = reads.throw(e);
      continue;
    }
    next.value.dispose();
    next = reads.next(values);
  }
  return next.value;
}

/**
 * Whether the current backend can read tensors back synchronously (`dataSync`). tfjs-webgpu
 * reads synchronously by drawing into an `OffscreenCanvas` 2d context, which Deno lacks (its
 * `OffscreenCanvas` gives no 2d context); wasm and cpu always can.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { canReadSync } from "./read_back.ts";
 * await tf.setBackend("cpu");
 * console.log(canReadSync(), canReadSync("webgpu")); // true false
 * ```
 */
export function canReadSync(backend: string = tf.getBackend()): boolean {
  return backend !== "webgpu" || canvas2d();
}

let hasCanvas2d: boolean | null = null;

function canvas2d(): boolean {
  if (hasCanvas2d === null) {
    const Canvas = (globalThis as {
      OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: string): unknown };
    }).OffscreenCanvas;
    try {
      hasCanvas2d = Canvas !== undefined && new Canvas(1, 1).getContext("2d") != null;
    } catch {
      hasCanvas2d = false;
    }
  }
  return hasCanvas2d;
}

function toFloat32(values: tf.backend_util.BackendValues): Float32Array {
  if (values instanceof Float32Array) return values;
  if (values instanceof Int32Array || values instanceof Uint8Array) {
    return Float32Array.from(values);
  }
  throw new Error("read-back: expected a numeric tensor, found a string tensor");
}
