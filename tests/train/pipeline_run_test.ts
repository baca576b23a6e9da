import assert from "node:assert/strict";
import { microBatching } from "../../lib/train/pipeline_run.ts";

Deno.test("microBatching: CPU batches of long windows split into micro-batches, same effective batch", () => {
  assert.deepEqual(microBatching(8, 1024, "wasm", {}), { batchSize: 2, gradAccumulation: 4 });
  assert.deepEqual(microBatching(16, 4096, "wasm", {}), { batchSize: 1, gradAccumulation: 16 });
  assert.deepEqual(microBatching(8, 256, "wasm", {}), { batchSize: 8 });
  assert.deepEqual(microBatching(6, 1024, "cpu", {}), { batchSize: 2, gradAccumulation: 3 });
  assert.deepEqual(microBatching(8, 1024, "webgpu", {}), { batchSize: 8 });
  assert.deepEqual(microBatching(8, 1024, "wasm", { gradAccumulation: 1 }), { batchSize: 8 });
});
