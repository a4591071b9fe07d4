/**
 * Splits the RT latency of stored runs into its two phases, from the per-request files that
 * `reef bench` writes under `<out>/runs/`: queueing (release to first kernel launch, host side)
 * and execution (first launch to completion seen by the scheduler). Percentiles per run, for all RT
 * requests and apart for those released while a BE request of the run was on the device (between
 * its first launch and its completion: the RT request found BE work to preempt or run beside) and
 * those released with none. Where the run recorded the scheduler loop's stalls, also how many RT
 * requests waited a millisecond or more before their first launch, and how many of those spent at
 * least half the wait in a stall (the loop was held, not deciding).
 *
 * Usage: deno run --allow-read --allow-write evaluation/scripts/rt_phases.ts <runs dir> <out.json>
 *        [name prefixes, comma-separated, default "rtlat-"]
 * @module
 */

import { percentile } from "../../src/eval/metrics.ts";
import type { RequestRecord } from "../../src/eval/metrics.ts";
import { readRunFile } from "../../src/eval/results.ts";
import type { LoopStall } from "../../src/scheduler/stats.ts";

const [dir, out, prefixList = "rtlat-"] = Deno.args;
if (dir === undefined || out === undefined) {
  console.error("Usage: rt_phases.ts <runs dir> <out.json> [name prefixes, comma-separated]");
  Deno.exit(2);
}

const prefixes = prefixList.split(",");

const summary = (values: number[]) => ({
  p50_us: Math.round(percentile(values, 50)),
  p99_us: Math.round(percentile(values, 99)),
  max_us: Math.round(Math.max(...values)),
});

/** A host wait: release to first launch, this long or more, µs. */
const HOST_WAIT_US = 1_000;

/** Stall time within the request's wait from release to first launch, µs. */
function stalledUs(request: RequestRecord, stalls: readonly LoopStall[]): number {
  let total = 0;
  for (const stall of stalls) {
    const from = Math.max(stall.atUs, request.submittedUs);
    const to = Math.min(stall.atUs + stall.durationUs, request.startedUs);
    if (to > from) total += to - from;
  }
  return total;
}

/** Latency and its two phases, as percentiles (just the count for no request). */
function phases(rt: readonly RequestRecord[]) {
  if (rt.length === 0) return { n: 0 };
  return {
    n: rt.length,
    latency: summary(rt.map((r) => r.latencyUs)),
    queue: summary(rt.map((r) => r.startedUs - r.submittedUs)),
    execution: summary(rt.map((r) => r.finishedUs - r.startedUs)),
  };
}

/** Whether a BE request was between its first launch and its completion at `us`. */
function beRunningAt(be: readonly RequestRecord[], us: number): boolean {
  return be.some((r) => r.startedUs <= us && us < r.finishedUs);
}

/** The run's stalls, and its RT requests that waited on the host, those held by a stall apart. */
function hostWaits(rt: readonly RequestRecord[], stalls: readonly LoopStall[]) {
  const waits = rt.filter((r) => r.startedUs - r.submittedUs >= HOST_WAIT_US);
  return {
    loop_stalls: {
      n: stalls.length,
      max_us: Math.round(Math.max(0, ...stalls.map((s) => s.durationUs))),
    },
    waits_over_1ms: {
      n: waits.length,
      mostly_in_stalls:
        waits.filter((r) => stalledUs(r, stalls) >= (r.startedUs - r.submittedUs) / 2).length,
    },
  };
}

const rows = [];
const names = [...Deno.readDirSync(dir)].map((e) => e.name)
  .filter((name) => prefixes.some((p) => name.startsWith(p)) && name.endsWith(".json")).sort();
let device = "";
for (const name of names) {
  const run = await readRunFile(`${dir}/${name}`);
  device = run.label.device;
  const rt = run.requests.filter((r) => r.priority === "rt");
  if (rt.length === 0) continue;
  const be = run.requests.filter((r) => r.priority === "be");
  const withBe: RequestRecord[] = [];
  const alone: RequestRecord[] = [];
  for (const r of rt) (beRunningAt(be, r.submittedUs) ? withBe : alone).push(r);
  rows.push({
    run: name.replace(/\.json$/, ""),
    mode: run.label.mode,
    ...phases(rt),
    ...(be.length === 0 ? {} : {
      released_beside_be: phases(withBe),
      released_alone: phases(alone),
    }),
    ...(run.loopStalls === undefined ? {} : hostWaits(rt, run.loopStalls)),
  });
}
const command = `deno run --allow-read --allow-write evaluation/scripts/rt_phases.ts ${
  Deno.args.join(" ")
}`;
await Deno.writeTextFile(out, JSON.stringify({ device, command, rows }, null, 1) + "\n");
console.error(`wrote ${out}: ${rows.length} runs`);
