/**
 * The paper's baselines (§4) next to BLT: a BPE-token transformer (bits per byte over the bytes
 * its tokens cover), MegaByte (static patches, global + local models), their FLOPs per byte, and
 * the model families ready to train through one trainer at matched FLOPs (see lib/eval/compare.ts).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { BpeLM, comparisonRuns, MegaByte, stackConfig } from "./mod.ts";
 * await tf.ready(); // the wasm backend (registered on import) initialises asynchronously
 * import { trainBpe } from "../../tokenizers/mod.ts";
 * const tok = trainBpe(["the cat sat on the mat"], { vocabSize: 270 });
 * const lm = new BpeLM(tok, stackConfig(32, 1), 0);
 * const mb = new MegaByte({ kind: "megabyte", patchSize: 4, global: stackConfig(32, 1), local: stackConfig(16, 1) });
 * console.log(comparisonRuns({ dim: 32, layers: 1, bpeVocab: 270, patchSize: 4, hashBuckets: 64 }).length); // 8
 * lm.dispose();
 * mb.dispose();
 * ```
 *
 * @module
 */
export { decodeBpeBytes, encodeBpeBytes } from "./bpe_bytes.ts";
export {
  bpeTrainBatches,
  bpeValidationBatches,
  bytesPerToken,
  tokenizeDocuments,
} from "./bpe_data.ts";
export {
  BPE_BOS,
  BPE_EOS,
  BpeLM,
  type BpeLmConfig,
  checkBpeVocab,
  tokenByteCounts,
} from "./bpe_lm.ts";
export {
  type PreparedRun,
  prepareRun,
  type RunContext,
  type RunData,
  type RunSpec,
} from "./families.ts";
export { megabyteFlopsPerByte } from "./flops.ts";
export { checkPatchSize, MegaByte, type MegaByteConfig } from "./megabyte.ts";
export {
  ablationRuns,
  bltAtScale,
  comparisonRuns,
  type ComparisonScale,
  hashAblationRuns,
  stackConfig,
} from "./scales.ts";
