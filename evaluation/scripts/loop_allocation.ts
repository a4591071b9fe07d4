/**
 * Where the scheduler loop allocates (issue 7: DISB B's preemption tail follows host stalls of
 * about 1 ms, and the worker's young-generation collections, 0.6-1.1 ms each, are the suspect).
 * Runs B's pattern (its RT client released uniformly, its BE client in a closed loop capped at its
 * rate, both read from the built-in workload: VGG-19 and ResNet-152 at 220/s) through the worker's
 * own parts (the policy in a mode, `settle`, the device the worker would own) in this thread, under V8's sampling heap profiler, and reports the bytes
 * allocated per second, per request and per loop pass, and by allocation site. The worker's ring
 * and message code is not in it: read `src/scheduler/worker.ts` for that part.
 *
 * Usage: deno run -A evaluation/scripts/loop_allocation.ts <out.json> [--device gpu|sim]
 *        [--models resource] [--mode reef] [--seconds 5] [--warmup-s 1] [--interval 4096]
 * @module
 */

import { parseArgs } from "node:util";
import { createDevice as createGpuDevice } from "../../src/scheduler/gpu_factory.ts";
import { createDevice as createSimDevice } from "../../src/gpu/sim/factory.ts";
import type { DeviceModel } from "../../src/scheduler/device_handle.ts";
import { createPolicy, nextWakeUs, settle } from "../../src/scheduler/drive.ts";
import { type Mode, MODES } from "../../src/scheduler/mode.ts";
import { allocationSites, HeapSampler } from "../../src/scheduler/heap_sampler.ts";
import type { TaskResult } from "../../src/scheduler/task.ts";
import { loadBuiltinWorkload, type WorkloadClient } from "../../src/eval/workload.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: "string", default: "gpu" },
    models: { type: "string", default: "resource" },
    mode: { type: "string", default: "reef" },
    seconds: { type: "string", default: "5" },
    "warmup-s": { type: "string", default: "1" },
    interval: { type: "string", default: "4096" },
  },
});
const [out] = positionals;
const mode = values.mode as Mode;
if (out === undefined || !["gpu", "sim"].includes(values.device) || !MODES.includes(mode)) {
  console.error("Usage: loop_allocation.ts <out.json> [--device gpu|sim] (see the module notes)");
  Deno.exit(2);
}
const workload = await loadBuiltinWorkload("B");
const rtSpec = workload.clients.find((c) => c.priority === "rt")!;
const beSpec = workload.clients.find((c) => c.priority === "be")!;
/** Period of a client's arrivals: B's RT is uniform and its BE closed loop at most this often. */
const periodUs = (client: WorkloadClient) =>
  1e6 / (client.arrival as { rate_per_s: number }).rate_per_s;
const rtPeriodUs = periodUs(rtSpec);
const bePeriodUs = periodUs(beSpec);

const spec = { kind: values.device, modelDir: values.models };
const handle = values.device === "gpu" ? createGpuDevice(spec) : createSimDevice(spec);
const device = handle.device;
const clock = handle.clock;
const rtModel = await handle.loadModel(rtSpec.model);
const beModel = await handle.loadModel(beSpec.model);
const policy = createPolicy(device, mode);
policy.addModel(rtModel);
policy.addModel(beModel);
const rtClient = policy.openClient("rt", rtSpec.name);
const beClient = mode === "rt-only" ? undefined : policy.openClient("be", beSpec.name);

function randomInputs(model: DeviceModel): Map<string, Uint8Array> {
  return new Map(model.inputs.map((slot) => {
    const values = Float32Array.from({ length: slot.bytes / 4 }, () => Math.random() * 2 - 1);
    return [slot.name, new Uint8Array(values.buffer)];
  }));
}
const rtInputs = randomInputs(rtModel);
const beInputs = randomInputs(beModel);

let nextId = 0;
const beTasks = new Set<number>();

function submit(priority: "rt" | "be", releaseUs: number): void {
  const id = nextId++;
  const be = priority === "be";
  if (be) beTasks.add(id);
  policy.submit({
    id,
    model: (be ? beModel : rtModel).info.id,
    client: be ? beClient! : rtClient,
    inputs: be ? beInputs : rtInputs,
    releaseUs,
  });
}

/** What one {@linkcode run} did. */
interface Counts {
  passes: number;
  rt: number;
  be: number;
}

/**
 * Runs the pattern for `seconds`, as the worker's loop does: RT releases submitted up front, the
 * BE client's next inference on each completion, until the window ends and every task is done.
 */
function run(seconds: number): Counts {
  const startUs = device.now() + 1_000;
  const endUs = startUs + seconds * 1e6;
  for (let at = startUs; at < endUs; at += rtPeriodUs) submit("rt", at);
  let beReleaseUs = startUs;
  if (beClient !== undefined) submit("be", beReleaseUs);
  const results: TaskResult[] = [];
  const counts: Counts = { passes: 0, rt: 0, be: 0 };
  while (policy.busy()) {
    counts.passes++;
    const progressed = settle(policy, results);
    for (const result of results) {
      if (!beTasks.delete(result.id)) {
        counts.rt++;
        continue;
      }
      counts.be++;
      const now = device.now();
      if (now >= endUs) continue;
      beReleaseUs = Math.max(now, beReleaseUs + bePeriodUs);
      submit("be", beReleaseUs);
    }
    const completed = results.length > 0;
    results.length = 0;
    if (clock === undefined || progressed || completed) continue;
    const wake = nextWakeUs(policy, clock);
    if (wake !== undefined) clock.advanceTo(wake);
  }
  return counts;
}

run(Number(values["warmup-s"]));
const seconds = Number(values.seconds);
const sampler = await HeapSampler.start(Number(values.interval));
const wallStart = performance.now();
const counts = run(seconds);
const wallS = (performance.now() - wallStart) / 1e3;
const profile = await sampler.stop();
handle.close();

const sites = allocationSites(profile, new URL("../../", import.meta.url).href);
const total = sites.reduce((sum, site) => sum + site.bytes, 0);
const report = {
  device: device.name,
  simulated: device.simulated,
  command: ["deno run -A evaluation/scripts/loop_allocation.ts", ...Deno.args].join(" "),
  mode,
  window_s: seconds,
  wall_s: wallS,
  ...counts,
  allocated_bytes: total,
  bytes_per_s: Math.round(total / wallS),
  bytes_per_request: Math.round(total / (counts.rt + counts.be)),
  bytes_per_pass: Math.round((total / counts.passes) * 10) / 10,
  sites: sites.slice(0, 30),
};
await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
console.log(
  `${device.name}, ${mode}: ${report.bytes_per_s} B/s, ${report.bytes_per_request} B/request, ` +
    `${report.bytes_per_pass} B/pass over ${counts.passes} passes, ${counts.rt} RT and ${counts.be} BE`,
);
for (const { site, bytes } of report.sites.slice(0, 12)) console.log(`${bytes}\t${site}`);
