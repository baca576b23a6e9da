import assert from "node:assert/strict";
import { defaultTrainConfig, resolveTrainConfig } from "../../lib/train/config.ts";

Deno.test("resolveTrainConfig: overrides defaults and freezes", () => {
  const c = resolveTrainConfig({ steps: 5, gradClip: 0 });
  assert.deepEqual(c.steps, 5);
  assert.deepEqual(c.gradClip, 0);
  assert.deepEqual(c.beta2, defaultTrainConfig.beta2);
  assert(Object.isFrozen(c));
});

Deno.test("resolveTrainConfig: unknown keys name the key and the nearest known one", () => {
  assert.throws(
    () => resolveTrainConfig({ warmupStep: 3 } as never),
    /Unknown train config key 'warmupStep' \(did you mean 'warmupSteps'\?\)/,
  );
});

Deno.test("resolveTrainConfig: invalid values name the field", () => {
  assert.throws(() => resolveTrainConfig({ steps: 0 }), /'steps' must be > 0/);
  assert.throws(() => resolveTrainConfig({ steps: 1.5 }), /'steps' must be an integer/);
  assert.throws(() => resolveTrainConfig({ beta2: 1 }), /'beta2' must lie in \[0, 1\)/);
  assert.throws(() => resolveTrainConfig({ lr: NaN }), /'lr' must be a finite number/);
});
