/**
 * One data-parallel worker (lib/train/parallel.ts starts it as a Deno module Worker): builds the
 * model from its {@link WorkerModelSpec} on its own tfjs backend, then per step takes the current
 * weights and its share of the batches and returns the gradients of the summed loss
 * (Σ mean · predictions, exactly what the single-thread trainer accumulates) with the loss sum and
 * counts. Messages are the `ToWorker` / `FromWorker` types of parallel.ts.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
// The same kernel overrides and gradient fixes as the trainer on the main thread.
import "../wasm_kernels.ts";
import "../grad_fixes.ts";
import type { FromWorker, ToWorker } from "./parallel.ts";
import type { Batch, TrainableModel, WorkerModelSpec } from "./types.ts";

let model: TrainableModel | null = null;
let variables: tf.Variable[] = [];

async function init(backend: string, spec: WorkerModelSpec, frozen: Frozen): Promise<FromWorker> {
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend '${backend}' failed to start`);
  await tf.ready();
  const mod = await import(spec.module) as Record<string, unknown>;
  const factory = mod[spec.factory];
  if (typeof factory !== "function") {
    throw new Error(`${spec.module} has no exported function '${spec.factory}'`);
  }
  model = await factory(spec.args) as TrainableModel;
  variables = [...model.namedVariables().values()];
  // Frozen weights (a BLT's entropy model) arrive once; the trainable ones every step.
  const all = (model as { allVariables?: () => Map<string, tf.Variable> }).allVariables?.() ??
    new Map();
  for (const f of frozen) {
    const v = all.get(f.name);
    if (v === undefined || v.shape.join() !== f.shape.join()) {
      throw new Error(`frozen weight '${f.name}' [${f.shape}] does not match the worker's model`);
    }
    tf.tidy(() => v.assign(tf.tensor(f.data, f.shape, "float32")));
  }
  const names = [...model.namedVariables().keys()];
  return { kind: "ready", names, shapes: variables.map((v) => v.shape) };
}

type Frozen = Extract<ToWorker, { kind: "init" }>["frozen"];

/** Σ over the share's batches of (mean loss · predictions) and its gradients, as loop.ts does. */
function step(weights: Float32Array[], batches: readonly Batch[]): [FromWorker, ArrayBuffer[]] {
  const m = model!;
  variables.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(weights[i], v.shape, "float32"))));
  const started = performance.now();
  const index = new Map(variables.map((v, i) => [v.name, i]));
  const sum: (tf.Tensor | null)[] = variables.map(() => null);
  let sumNats = 0, predictions = 0, bytes = 0;
  for (const batch of batches) {
    let counts = { predictions: 0, bytes: 0 };
    const { value, grads } = tf.variableGrads(() => {
      const r = m.loss(batch);
      counts = { predictions: r.predictions, bytes: r.bytes };
      return tf.mul(r.loss, r.predictions) as tf.Scalar;
    }, variables);
    sumNats += value.dataSync()[0];
    value.dispose();
    predictions += counts.predictions;
    bytes += counts.bytes;
    for (const [name, g] of Object.entries(grads)) {
      const i = index.get(name)!;
      const prev = sum[i];
      if (prev === null) sum[i] = g;
      else {
        sum[i] = tf.add(prev, g);
        prev.dispose();
        g.dispose();
      }
    }
  }
  const grads = sum.map((g) => {
    if (g === null) return null;
    const data = g.dataSync() as Float32Array;
    g.dispose();
    // wasm reads back a copy; the cpu backend may hand out its own storage, which must not move.
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    return tf.getBackend() === "wasm" && whole ? data : data.slice();
  });
  const seconds = (performance.now() - started) / 1000;
  const transfer = grads.filter((g) => g !== null).map((g) => g!.buffer as ArrayBuffer);
  return [{ kind: "grads", grads, sumNats, predictions, bytes, seconds }, transfer];
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  try {
    if (msg.kind === "init") {
      self.postMessage(await init(msg.backend, msg.spec, msg.frozen));
    } else {
      const [reply, transfer] = step(msg.weights, msg.batches);
      self.postMessage(reply, transfer);
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    self.postMessage({ kind: "error", message } satisfies FromWorker);
  }
};
