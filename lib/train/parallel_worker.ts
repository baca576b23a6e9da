/**
 * One data-parallel worker (lib/train/parallel.ts starts it as a Deno module Worker): builds the
 * model from its {@link WorkerModelSpec} on its own tfjs backend, then per step reads the current
 * weights from shared memory, takes its share of the batches and writes the gradients of the
 * summed loss (Σ mean · predictions, exactly what the single-thread trainer accumulates) to its
 * shared buffer, replying with the loss sum and counts. Messages are the `ToWorker` / `FromWorker` types of parallel.ts.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
// The same kernel overrides and gradient fixes as the trainer on the main thread.
import "../wasm_kernels.ts";
import "../grad_fixes.ts";
import { type FromWorker, type ToWorker, valuesOf } from "./parallel.ts";
import type { Batch, TrainableModel, WorkerModelSpec } from "./types.ts";

let model: TrainableModel | null = null;
let variables: tf.Variable[] = [];
/** The shared weights (written by the trainer) and this worker's gradients, by float offset. */
let shared: { weights: Float32Array; grads: Float32Array; offsets: number[] } | null = null;

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

/** Σ over the share's batches of (mean loss · predictions) and its gradients, as loop.ts does;
 * the gradients go to the shared buffer. */
function step(batches: readonly Batch[]): FromWorker {
  const m = model!;
  if (shared === null) throw new Error("a step arrived before the shared buffers");
  const { weights, grads: out, offsets } = shared;
  const started = performance.now();
  // The wasm backend copies the values into its heap; the cpu backend would keep the view.
  const own = tf.getBackend() !== "wasm";
  variables.forEach((v, i) =>
    tf.tidy(() => {
      const view = weights.subarray(offsets[i], offsets[i] + v.size);
      v.assign(tf.tensor(own ? view.slice() : view, v.shape, "float32"));
    })
  );
  const assigned = performance.now();
  const batchMs: number[] = [];
  const index = new Map(variables.map((v, i) => [v.name, i]));
  const sum: (tf.Tensor | null)[] = variables.map(() => null);
  let sumNats = 0, predictions = 0, bytes = 0;
  for (const batch of batches) {
    const t0 = performance.now();
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
    batchMs.push(performance.now() - t0);
  }
  const read = performance.now();
  const present = sum.map((g, i) => {
    if (g === null) return false;
    out.set(valuesOf(g), offsets[i]);
    g.dispose();
    return true;
  });
  const done = performance.now();
  const seconds = (done - started) / 1000;
  const parts = { assignMs: assigned - started, batchMs, readMs: done - read };
  return { kind: "grads", present, sumNats, predictions, bytes, seconds, parts };
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const msg = event.data;
  try {
    if (msg.kind === "init") {
      self.postMessage(await init(msg.backend, msg.spec, msg.frozen));
    } else if (msg.kind === "share") {
      const weights = new Float32Array(msg.weights), grads = new Float32Array(msg.grads);
      shared = { weights, grads, offsets: msg.offsets };
      self.postMessage({ kind: "shared" } satisfies FromWorker);
    } else {
      self.postMessage(step(msg.batches));
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    self.postMessage({ kind: "error", message } satisfies FromWorker);
  }
};
