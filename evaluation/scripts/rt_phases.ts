/**
 * Splits the RT latency of stored runs into its two phases, from the per-request files that
 * `reef bench` writes under `<out>/runs/`: queueing (release to first kernel launch, host side)
 * and execution (first launch to completion seen by the scheduler). Percentiles per run.
 *
 * Usage: deno run --allow-read --allow-write evaluation/scripts/rt_phases.ts <runs dir> <out.json>
 *        [name prefix, default "rtlat-"]
 * @module
 */

import { percentile } from "../../src/eval/metrics.ts";
import { readRunFile } from "../../src/eval/results.ts";

const [dir, out, prefix = "rtlat-"] = Deno.args;
if (dir === undefined || out === undefined) {
  console.error("Usage: rt_phases.ts <runs dir> <out.json> [name prefix]");
  Deno.exit(2);
}

const summary = (values: number[]) => ({
  p50_us: Math.round(percentile(values, 50)),
  p99_us: Math.round(percentile(values, 99)),
  max_us: Math.round(Math.max(...values)),
});

const rows = [];
const names = [...Deno.readDirSync(dir)].map((e) => e.name)
  .filter((name) => name.startsWith(prefix) && name.endsWith(".json")).sort();
let device = "";
for (const name of names) {
  const run = await readRunFile(`${dir}/${name}`);
  device = run.label.device;
  const rt = run.requests.filter((r) => r.priority === "rt");
  if (rt.length === 0) continue;
  rows.push({
    run: name.replace(/\.json$/, ""),
    mode: run.label.mode,
    n: rt.length,
    queue: summary(rt.map((r) => r.startedUs - r.submittedUs)),
    execution: summary(rt.map((r) => r.finishedUs - r.startedUs)),
  });
}
const command = `deno run --allow-read --allow-write evaluation/scripts/rt_phases.ts ${
  Deno.args.join(" ")
}`;
await Deno.writeTextFile(out, JSON.stringify({ device, command, rows }, null, 1) + "\n");
console.error(`wrote ${out}: ${rows.length} runs`);
