/**
 * `reef profile <model>`: measures a compiled model on the GPU and writes `<m>.profile.json`.
 * @module
 */

import { packagePaths, readPackage } from "../model/package.ts";
import { profileModel } from "../model/profiler.ts";
import { PADDING_SLOWDOWN_LIMIT } from "../scheduler/padding.ts";
import { measurePaddingSlowdown } from "../scheduler/padding_profile.ts";
import { type Command, numberOption, parseOptions, UsageError } from "./command.ts";

/** Padded launches queued per timing: ten kernels of a few µs are long against the events' step. */
const PADDING_TIMING_LAUNCHES = 10;

/** `reef profile`. */
export const profileCommand: Command = {
  name: "profile",
  summary: "Measure a compiled model's kernels on the GPU; write <model>.profile.json",
  help: `Usage: reef profile <model>... [options]

Measures each kernel's standalone time, its time per wave at each occupancy (blocks per SM, run
through the DKP proxy), and the whole model's time, on GPU 0, and writes
resource/<model>/<model>.profile.json in REEF's format. Then measures what padding costs each
kernel it may pad (padded with BE blocks of the same model, over alone): kernels slowed by more
than ${PADDING_SLOWDOWN_LIMIT * 100}% are never padded. Compile the model first (reef compile).

Options:
  --root <dir>          Where packages are (default: resource/)
  --repeats <n>         Timed repeats per measurement, median reported (default 20)
  --max-occupancy <n>   Most occupancy levels per kernel (default 32)
  --partners <n>        BE kernels sampled per padded kernel (default 8)`,
  async run(args) {
    const { values, positionals } = parseOptions(args, {
      root: { type: "string" },
      repeats: { type: "string" },
      "max-occupancy": { type: "string" },
      partners: { type: "string" },
    }, true);
    if (positionals.length === 0) throw new UsageError("Name a model to profile");
    const positive = (n: number) => Number.isInteger(n) && n > 0;
    const options = {
      repeats: numberOption("repeats", values.repeats, 20, positive),
      maxOccupancy: numberOption("max-occupancy", values["max-occupancy"], 32, positive),
      partners: numberOption("partners", values.partners, 8, positive),
      command: `reef profile ${args.join(" ")}`,
    };
    for (const name of positionals) {
      const paths = values.root ? packagePaths(name, values.root) : packagePaths(name);
      const profile = await profileModel(paths, options);
      const slowdown = await measurePaddingSlowdown(paths, await readPackage(paths), profile, {
        repeats: options.repeats,
        partners: options.partners,
        launches: PADDING_TIMING_LAUNCHES,
      });
      profile.padding_slowdown = slowdown;
      await Deno.writeTextFile(paths.profile, JSON.stringify(profile, null, 1) + "\n");
      const kernels = Object.keys(profile.kernel_latency).length;
      const measured = Object.values(slowdown);
      const refused = measured.filter((s) => s > PADDING_SLOWDOWN_LIMIT).length;
      console.log(
        `${name}: ${profile.model_latency} µs per inference, ${kernels} kernels, padding measured ` +
          `on ${measured.length}, refused on ${refused} -> ${paths.profile}`,
      );
    }
    return 0;
  },
};
