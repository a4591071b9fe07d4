/**
 * The allocation sites of sampled heap profiles (`REEF_WORKER_HEAP_PROFILE`, see
 * src/scheduler/worker.ts), largest first, as JSON on stdout.
 *
 * Usage: deno run -A evaluation/scripts/heap_sites.ts <file.heapprofile>... [--top 25]
 * @module
 */

import { parseArgs } from "node:util";
import { allocationSites, type HeapProfile } from "../../src/scheduler/heap_sampler.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "25" } },
});
if (positionals.length === 0) {
  console.error("Usage: heap_sites.ts <file.heapprofile>... [--top 25]");
  Deno.exit(2);
}
const root = new URL("../../", import.meta.url).href;
const report = [];
for (const file of positionals) {
  const profile: HeapProfile = JSON.parse(await Deno.readTextFile(file));
  const sites = allocationSites(profile, root);
  report.push({
    file,
    sampled_bytes: sites.reduce((sum, site) => sum + site.bytes, 0),
    sites: sites.slice(0, Number(values.top)),
  });
}
console.log(JSON.stringify(report, null, 2));
