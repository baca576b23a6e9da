/**
 * `deno task sample`: see `deno task sample --help` (lib/train/cli.ts).
 *
 * @module
 */
import { sampleMain } from "../lib/train/cli.ts";

Deno.exit(await sampleMain(Deno.args));
