#!/usr/bin/env -S deno run --allow-all
/**
 * The `reef` command line. See `reef --help`.
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
