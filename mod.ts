/**
 * BLT research notebooks on Deno: the Byte Latent Transformer (arXiv 2412.09871) in TypeScript.
 *
 * @example
 * ```ts
 * import { encode } from "./mod.ts";
 * console.log(encode("hi")); // [1, 108, 109, 2]
 * ```
 * @module
 */
