/**
 * MegaByte's FLOPs per byte in the accounting of `lib/model/flops.ts` (paper §4.5): the global
 * transformer runs once per patch of P bytes over n_ctx / P patches, the local one once per byte
 * over the P bytes of its patch, plus the two linear maps between the widths (patch embedding
 * P·h_L → h_G and global output h_G → P·h_L, once per patch). Embedding look-ups count 0.
 *
 * @module
 */
import { transformerForwardFlops } from "../flops.ts";
import type { MegaByteConfig } from "./megabyte.ts";

/**
 * Forward, inference and training (3 × forward) FLOPs per byte of MegaByte over contexts of
 * `contextBytes` bytes, with the per-part split.
 *
 * @example
 * ```ts
 * import { PRESETS } from "../../config.ts";
 * import { megabyteFlopsPerByte } from "./flops.ts";
 * const f = megabyteFlopsPerByte(
 *   { kind: "megabyte", patchSize: 8, global: PRESETS.tiny.global, local: PRESETS.tiny.encoder },
 *   1024,
 * );
 * console.log(f.training === 3 * f.forward); // true
 * ```
 */
export function megabyteFlopsPerByte(
  config: MegaByteConfig,
  contextBytes: number,
): {
  readonly global: number;
  readonly local: number;
  readonly projections: number;
  readonly forward: number;
  readonly inference: number;
  readonly training: number;
} {
  if (!(Number.isFinite(contextBytes) && contextBytes > 0)) {
    throw new Error(`megabyteFlopsPerByte: contextBytes must be > 0, found ${contextBytes}`);
  }
  const { patchSize: P, global: g, local: l } = config;
  const global = transformerForwardFlops(g, contextBytes / P, 0) / P;
  const local = transformerForwardFlops(l, P, 260);
  // Two [P·h_L ↔ h_G] maps per patch, shared by its P bytes.
  const projections = (2 * 2 * P * l.dim * g.dim) / P;
  const forward = global + local + projections;
  return { global, local, projections, forward, inference: forward, training: 3 * forward };
}
