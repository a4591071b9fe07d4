/**
 * Where a preemption's time goes on the GPU. Drives the policy in-process (no worker) on a
 * {@linkcode GpuExecDevice} whose calls are timed: RT tasks of one model at a fixed period, one
 * closed-loop BE client of another. For each preemption it attributes the time from the preempt
 * decision to the RT task's first launch to the device calls made in between; what no call
 * accounts for is the policy's own work. Prints and writes percentiles per call, and the host
 * time of every call over the whole run (`all_calls`; `launch` per kernel launched), which shows
 * what keeping the GPU fed costs in each mode (padded launches against plain ones).
 *
 * Usage: deno run -A evaluation/scripts/preempt_trace.ts <out.json> [--mode reset|reef]
 *        [--rt vgg19] [--be resnet152] [--period-us 4000] [--seconds 5]
 *        [--doorbell stream|watcher] [--models resource]
 * @module
 */

import { parseArgs } from "node:util";
import { percentile } from "../../src/eval/metrics.ts";
import type { ExecDevice } from "../../src/scheduler/exec_device.ts";
import { createDevice } from "../../src/scheduler/gpu_factory.ts";
import type { Mode } from "../../src/scheduler/mode.ts";
import { SchedulerPolicy } from "../../src/scheduler/policy.ts";
import type { TaskResult } from "../../src/scheduler/task.ts";
import type { DeviceModel } from "../../src/scheduler/device_handle.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mode: { type: "string", default: "reset" },
    rt: { type: "string", default: "vgg19" },
    be: { type: "string", default: "resnet152" },
    "period-us": { type: "string", default: "4000" },
    seconds: { type: "string", default: "5" },
    doorbell: { type: "string", default: "stream" },
    models: { type: "string", default: "resource" },
  },
});
const out = positionals[0];
if (out === undefined) {
  console.error("Usage: preempt_trace.ts <out.json> [options] (see the module notes)");
  Deno.exit(2);
}
const doorbell = values.doorbell as "stream" | "watcher";
const handle = createDevice({ kind: "gpu", modelDir: values.models, doorbell });
const rtModel = await handle.loadModel(values.rt);
const beModel = await handle.loadModel(values.be);

/** Calls made while a preemption is open: from the flag until the first RT launch. */
const calls: { method: string; startUs: number; us: number }[] = [];
/** Host time of every call, µs, by method; per kernel for `launch`. */
const allCalls = new Map<string, number[]>();
let open = false;
const device = new Proxy(handle.device, {
  get(target, property) {
    const value = Reflect.get(target, property, target);
    if (typeof value !== "function") return value;
    const method = String(property);
    return (...args: unknown[]) => {
      if (method === "setPreemptFlag" && args[0] === 1) open = true;
      const start = performance.now();
      try {
        return value.apply(target, args);
      } finally {
        const end = performance.now();
        if (method !== "now") {
          const kernels = method === "launch" ? (args[3] as number) - (args[2] as number) : 1;
          let list = allCalls.get(method);
          if (list === undefined) allCalls.set(method, list = []);
          if (kernels > 0) list.push(((end - start) * 1000) / kernels);
        }
        if (open && method !== "now") {
          calls.push({ method, startUs: start * 1000, us: (end - start) * 1000 });
        }
        // BE queues launch nothing while preempted: the first launch is the RT task's.
        if (method === "launch" || method === "launchPadded") open = false;
      }
    };
  },
}) as ExecDevice;

const policy = new SchedulerPolicy(device, { mode: values.mode as Mode });
policy.addModel(rtModel);
policy.addModel(beModel);
const rtClient = policy.openClient("rt", "rt");
const beClient = policy.openClient("be", "be");

const inputs = (model: DeviceModel) =>
  new Map(model.inputs.map((slot) => [slot.name, new Uint8Array(slot.bytes)]));
let nextId = 0;
const beIds = new Set<number>();
const submitBe = () => {
  beIds.add(nextId);
  policy.submit({
    id: nextId++,
    model: beModel.info.id,
    client: beClient,
    inputs: inputs(beModel),
  });
};

const periodUs = Number(values["period-us"]);
const endUs = device.now() + Number(values.seconds) * 1e6;
let nextRtUs = device.now() + periodUs;
submitBe();
const sink: TaskResult[] = [];
while (device.now() < endUs || policy.busy()) {
  const now = device.now();
  if (now < endUs && now >= nextRtUs) {
    policy.submit({
      id: nextId++,
      model: rtModel.info.id,
      client: rtClient,
      inputs: inputs(rtModel),
    });
    nextRtUs += periodUs;
  }
  sink.length = 0;
  while (policy.step(sink));
  for (const result of sink) {
    if (beIds.has(result.id) && device.now() < endUs) submitBe();
  }
}

const stats = policy.stats();
const windows = stats.preemptions.filter((p) => !Number.isNaN(p.rtLaunchUs));
const byMethod = new Map<string, number[]>();
const unaccounted: number[] = [];
for (const p of windows) {
  const inside = calls.filter((c) => c.startUs >= p.preemptUs && c.startUs < p.rtLaunchUs);
  const sums = new Map<string, number>();
  for (const c of inside) sums.set(c.method, (sums.get(c.method) ?? 0) + c.us);
  for (const [method, us] of sums) {
    let list = byMethod.get(method);
    if (list === undefined) byMethod.set(method, list = []);
    list.push(us);
  }
  unaccounted.push(p.rtLaunchUs - p.preemptUs - [...sums.values()].reduce((a, b) => a + b, 0));
}
const summary = (list: number[]) => ({
  n: list.length,
  p50_us: percentile(list, 50),
  p90_us: percentile(list, 90),
  p99_us: percentile(list, 99),
});
const report = {
  device: handle.device.name,
  command: `deno run -A evaluation/scripts/preempt_trace.ts ${Deno.args.join(" ")}`,
  mode: values.mode,
  doorbell,
  rt: values.rt,
  be: values.be,
  completed: stats.completed,
  preempt: summary(windows.map((p) => p.rtLaunchUs - p.preemptUs)),
  quiesce: summary(stats.quiesceLatenciesUs as number[]),
  calls: Object.fromEntries([...byMethod].map(([method, list]) => [method, summary(list)])),
  unaccounted: summary(unaccounted),
  all_calls: Object.fromEntries(
    [...allCalls].filter(([, list]) => list.length > 0).map(([method, list]) => [
      method,
      summary(list),
    ]),
  ),
};
handle.close();
console.log(JSON.stringify(report, null, 1));
await Deno.writeTextFile(out, JSON.stringify(report, null, 1) + "\n");
