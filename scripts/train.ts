/**
 * `deno task train`: see `deno task train --help` (lib/train/cli.ts).
 *
 * @module
 */
import { trainMain } from "../lib/train/cli.ts";

Deno.exit(await trainMain(Deno.args));
