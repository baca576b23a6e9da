/**
 * A backward pass that frees memory as it goes, installed on tfjs's engine (on import,
 * idempotent, every backend).
 *
 * tfjs 4.22's `engine.gradients` (behind `tf.grads`, `tf.variableGrads`, `optimizer.minimize`)
 * walks the tape backwards but frees nothing until the walk ends: the gradient of every
 * intermediate tensor and every tensor saved for a kernel's gradient live until the last node is
 * done. The peak of a step is then all activations kept for backward *plus* a gradient for each
 * of them. PyTorch's autograd releases both as soon as a node's backward has run; so does this:
 * after node i's gradient functions ran, the gradients of node i's outputs (all their consumers
 * come later on the tape, so were already processed) and node i's saved tensors are disposed;
 * nodes on no path from the xs to y (masks, index arithmetic) free theirs before the walk.
 *
 * Same tape filter, same order of gradient functions, same accumulation (`add`), so the results
 * are bit for bit those of tfjs; only the lifetimes differ. Higher-order gradients (a gradient
 * taken while another tape records) keep tfjs's own path.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  gradients: GradientsFn;
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string | (() => T), f?: () => T): T;
}

type GradientsFn = (
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy?: tf.Tensor | null,
  allowNoGradients?: boolean,
) => { value: tf.Tensor; grads: tf.Tensor[] };

// tfjs-core's getFilteredNodesXToY: the nodes on a path from xs to y, inputs not coming from xs
// pruned.
function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const name in node.inputs) {
        toY.add(node.inputs[name].id);
        nodesToY.add(node.id);
      }
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) inputs[name] = node.inputs[name];
    }
    filtered.push({ ...node, inputs, outputs: node.outputs });
  }
  return filtered;
}

// tfjs-core's backpropagateGradients, freeing each node's output gradients and saved tensors
// once the node is done.
function backpropagate(
  engine: EngineInternals,
  grads: Map<number, tf.Tensor>,
  tape: TapeNode[],
  keep: Set<number>,
): void {
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    if (node.gradient == null) {
      throw new Error(
        `Cannot compute gradient: gradient function not found for ${node.kernelName}.`,
      );
    }
    const inputGradients = node.gradient(dys);
    for (const name in node.inputs) {
      if (!(name in inputGradients)) {
        throw new Error(
          `Cannot backprop through input ${name}. Available gradients found: ` +
            `${Object.keys(inputGradients)}.`,
        );
      }
      let dx = engine.tidy(() => inputGradients[name]());
      if (dx.dtype !== "float32") {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have ` +
            `'float32' dtype, but has '${dx.dtype}'`,
        );
      }
      const x = node.inputs[name];
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has ` +
            `shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
        );
      }
      // A gradient function may hand back dy itself; it is about to be freed, so hold a copy
      // (sharing the data, no bytes).
      if (dys.includes(dx) || (node.saved ?? []).includes(dx)) dx = engine.tidy(() => tf.clone(dx));
      const current = grads.get(x.id);
      if (current === undefined) grads.set(x.id, dx);
      else {
        grads.set(x.id, tf.add(current, dx));
        current.dispose();
      }
    }
    for (const o of node.outputs) {
      const g = grads.get(o.id);
      if (g !== undefined && !keep.has(o.id)) {
        grads.delete(o.id);
        g.dispose();
      }
    }
    for (const t of node.saved ?? []) t.dispose();
  }
}

const INSTALLED = Symbol.for("blt.leanBackward");

/**
 * Installs the freeing backward pass on the current tfjs engine (done on import; exported for
 * tests and for engines created later). Returns tfjs's original `gradients`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { installLeanBackward } from "./lean_backward.ts";
 * installLeanBackward();
 * const x = tf.variable(tf.tensor1d([1, 2, 3]));
 * const { grads } = tf.variableGrads(() => tf.sum(tf.square(x)), [x]);
 * console.log(Array.from(grads[x.name].dataSync())); // [2, 4, 6]
 * ```
 */
export function installLeanBackward(): GradientsFn {
  const engine = tf.engine() as unknown as EngineInternals & { [INSTALLED]?: GradientsFn };
  if (engine[INSTALLED] !== undefined) return engine[INSTALLED];
  const original = engine.gradients;
  engine[INSTALLED] = original;
  engine.gradients = function (f, xs, dy = null, allowNoGradients = false) {
    // Nested (higher-order) gradients need the outer tape's tensors: tfjs's own path.
    if (engine.state.gradientDepth > 0) return original.call(engine, f, xs, dy, allowNoGradients);
    tf.util.assert(xs.length > 0, () => "gradients() received an empty list of xs.");
    if (dy != null && dy.dtype !== "float32") {
      throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    }
    const y = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => engine.tidy("forward", f),
    );
    tf.util.assert(y instanceof tf.Tensor, () => "The result y returned by f() must be a tensor.");
    const tape = engine.state.activeTape!;
    const filtered = filterTape(tape, xs, y);
    if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
      throw new Error(
        "Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed " +
          "encloses all operations that lead from x to y.",
      );
    }
    // Nodes off every x → y path never run their gradient: free what they saved now.
    const onPath = new Set(filtered.map((node) => node.id));
    for (const node of tape) {
      if (!onPath.has(node.id)) { for (const t of node.saved ?? []) t.dispose(); }
    }
    return engine.tidy("backward", () => {
      const grads = new Map<number, tf.Tensor>();
      grads.set(y.id, dy == null ? tf.onesLike(y) : dy);
      try {
        backpropagate(engine, grads, filtered, new Set(xs.map((x) => x.id)));
        return { value: y, grads: xs.map((x) => grads.get(x.id)!) };
      } finally {
        for (const node of tape) for (const t of node.saved ?? []) t.dispose();
        engine.state.activeTape = null;
      }
    }) as unknown as { value: tf.Tensor; grads: tf.Tensor[] };
  };
  return original;
}

installLeanBackward();
