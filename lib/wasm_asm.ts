/**
 * The WebAssembly binary encoding shared by our hand-assembled SIMD modules (lib/wasm_gemm.ts,
 * lib/wasm_adamw.ts, lib/wasm_elementwise.ts): LEB128 numbers, names, sections, vectors, value
 * types and the few instructions every module uses. Each module builds its own function bodies
 * from these; nothing here knows about tfjs.
 *
 * @module
 */

/**
 * Unsigned LEB128 bytes of `n` (0 ≤ n < 2³²).
 *
 * @example
 * ```ts
 * import { leb } from "./wasm_asm.ts";
 * console.log(leb(624485)); // [ 229, 142, 38 ]
 * ```
 */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/**
 * Signed LEB128 bytes of the 32-bit integer `n`.
 *
 * @example
 * ```ts
 * import { sleb } from "./wasm_asm.ts";
 * console.log(sleb(-123456)); // [ 192, 187, 120 ]
 * ```
 */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
}

/**
 * A name (length-prefixed UTF-8), as imports and exports spell them.
 *
 * @example
 * ```ts
 * import { name } from "./wasm_asm.ts";
 * console.log(name("env")); // [ 3, 101, 110, 118 ]
 * ```
 */
export function name(s: string): number[] {
  return [...leb(s.length), ...new TextEncoder().encode(s)];
}

/**
 * A section: its id, its size, its body.
 *
 * @example
 * ```ts
 * import { section } from "./wasm_asm.ts";
 * console.log(section(1, [0])); // [ 1, 1, 0 ]
 * ```
 */
export function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

/**
 * A vector: its length, then the items' bytes.
 *
 * @example
 * ```ts
 * import { vec } from "./wasm_asm.ts";
 * console.log(vec([[1], [2, 3]])); // [ 2, 1, 2, 3 ]
 * ```
 */
export function vec(items: number[][]): number[] {
  return [...leb(items.length), ...items.flat()];
}

/** Value types. */
export const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;

/**
 * `local.get i`.
 *
 * @example
 * ```ts
 * import { get } from "./wasm_asm.ts";
 * console.log(get(2)); // [ 32, 2 ]
 * ```
 */
export function get(i: number): number[] {
  return [0x20, ...leb(i)];
}

/**
 * `local.set i`.
 *
 * @example
 * ```ts
 * import { set } from "./wasm_asm.ts";
 * console.log(set(2)); // [ 33, 2 ]
 * ```
 */
export function set(i: number): number[] {
  return [0x21, ...leb(i)];
}

/**
 * `local.tee i`.
 *
 * @example
 * ```ts
 * import { tee } from "./wasm_asm.ts";
 * console.log(tee(2)); // [ 34, 2 ]
 * ```
 */
export function tee(i: number): number[] {
  return [0x22, ...leb(i)];
}

/**
 * A SIMD instruction: the 0xfd prefix, the opcode (LEB128), then its immediates.
 *
 * @example
 * ```ts
 * import { simd } from "./wasm_asm.ts";
 * console.log(simd(0x00, 4, 0)); // [ 253, 0, 4, 0 ]: v128.load align=16 offset=0
 * ```
 */
export function simd(op: number, ...imm: number[]): number[] {
  return [0xfd, ...leb(op), ...imm];
}
