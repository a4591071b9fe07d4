/**
 * `reef bench`: runs a benchmark and writes its results under evaluation/results/.
 * @module
 */

import { runFfiBench } from "../eval/ffi_bench.ts";
import { type Command, numberOption, parseOptions, UsageError } from "./command.ts";

/** The results folder for a device: `evaluation/results/h100` for an H100, and so on. */
export function resultsDir(deviceName: string): string {
  const known = deviceName.toLowerCase().match(/\b(h100|h200|a100|v100|l40s?|mi\d+)\b/);
  const slug = known
    ? known[1]!
    : deviceName.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `evaluation/results/${slug}`;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(value, null, 2) + "\n");
  console.error(`reef: wrote ${path}`);
}

/** `reef bench`. */
export const benchCommand: Command = {
  name: "bench",
  summary: "Run a benchmark on the GPU and write its results",
  help: `Usage: reef bench <benchmark> [options]

Benchmarks:
  ffi       Host cost of a kernel launch and a flag write through the binding and from C

Options:
  --out <file>       Where to write the JSON result (default: evaluation/results/<gpu>/<name>.json)
  --rounds <n>       ffi: timed rounds per measurement (default 200)
  --batch <n>        ffi: calls per round (default 100)
  --repeats <n>      ffi: alternations of C and binding measurements (default 3)`,
  async run(args) {
    const { values, positionals } = parseOptions(args, {
      out: { type: "string" },
      rounds: { type: "string" },
      batch: { type: "string" },
      repeats: { type: "string" },
    }, true);
    const [target] = positionals;
    const command = `reef bench ${args.join(" ")}`;
    const positive = (n: number) => Number.isInteger(n) && n > 0;
    switch (target) {
      case "ffi": {
        const result = await runFfiBench({
          rounds: numberOption("rounds", values.rounds, 200, positive),
          batch: numberOption("batch", values.batch, 100, positive),
          repeats: numberOption("repeats", values.repeats, 3, positive),
          command,
        });
        console.log(JSON.stringify(result, null, 2));
        await writeJson(values.out ?? `${resultsDir(result.device)}/ffi-bench.json`, result);
        return 0;
      }
      case undefined:
        throw new UsageError("Name a benchmark, e.g. `reef bench ffi`");
      default:
        throw new UsageError(`Unknown benchmark "${target}"`);
    }
  },
};
