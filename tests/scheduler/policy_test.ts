import assert from "node:assert/strict";
import type { KernelRecord, SimDevice } from "../../src/gpu/sim/sim_device.ts";
import type { ExecDevice } from "../../src/scheduler/exec_device.ts";
import type { SimOptions } from "../../src/gpu/sim/options.ts";
import { runVirtual, settle } from "../../src/scheduler/drive.ts";
import type { Mode } from "../../src/scheduler/mode.ts";
import { type PolicyOptions, SchedulerPolicy } from "../../src/scheduler/policy.ts";
import { KernelPadder, type RtKernelLaunch } from "../../src/scheduler/padding.ts";
import type { TaskResult } from "../../src/scheduler/task.ts";
import { deviceWithModels, inputsFor, ReferenceRunner } from "./_harness.ts";

const NAMES = ["chain6", "rt3", "tiny2"];
const reference = await ReferenceRunner.create(NAMES);

async function setup(
  mode: Mode,
  options: Omit<PolicyOptions, "mode"> = {},
  sim: Partial<SimOptions> = {},
  /** What the policy drives instead of the simulated device itself (a wrapper around it). */
  wrap: (device: SimDevice) => ExecDevice = (device) => device,
) {
  const { device, models } = await deviceWithModels(NAMES, { trace: true, ...sim });
  const policy = new SchedulerPolicy(wrap(device), { mode, ...options });
  for (const model of models.values()) policy.addModel(model);
  const submitted = new Map<number, { model: string; seed: number }>();
  const submit = (id: number, model: string, client: number, releaseUs?: number) => {
    submitted.set(id, { model, seed: id });
    policy.submit({
      id,
      model: models.get(model)!.info.id,
      client,
      inputs: inputsFor(models.get(model)!, id),
      ...(releaseUs === undefined ? {} : { releaseUs }),
    });
  };
  /** Runs everything and checks every output against an uninterrupted run. */
  const run = (): Map<number, TaskResult> => {
    const results = runVirtual(policy, device);
    assert.equal(results.length, submitted.size, "every task completes once");
    const byId = new Map(results.map((r) => [r.id, r]));
    for (const [id, { model, seed }] of submitted) {
      const expected = reference.outputs(model, inputsFor(models.get(model)!, seed));
      assert.deepEqual(byId.get(id)!.outputs, expected, `outputs of task ${id} (${model})`);
    }
    return byId;
  };
  return { device, policy, models, submit, run };
}

/** Kernel runs that had blocks on the device, as [first block, end] intervals. */
const busy = (runs: readonly KernelRecord[], priority: "rt" | "be", rtStreams: Set<number>) =>
  runs.filter((r) => rtStreams.has(r.stream) === (priority === "rt"))
    .filter((r) => r.completedBlocks + r.stoppedBlocks > 0)
    .map((r) => [r.firstBlockUs, r.endUs] as const);

const overlaps = (
  a: readonly (readonly [number, number])[],
  b: readonly (readonly [number, number])[],
) => a.some(([s1, e1]) => b.some(([s2, e2]) => s1 < e2 && s2 < e1));

const rtStreamsOf = (runs: readonly KernelRecord[]) =>
  new Set(runs.filter((r) => r.model === "rt3").map((r) => r.stream));

Deno.test("BE tasks of a client run in FIFO order; RT clients share one FIFO, one task at a time", async () => {
  const { policy, submit, run } = await setup("reset");
  const be = policy.openClient("be", "be");
  const rtA = policy.openClient("rt", "a");
  const rtB = policy.openClient("rt", "b");
  submit(1, "chain6", be);
  submit(2, "chain6", be);
  submit(3, "chain6", be);
  submit(10, "rt3", rtA, 100);
  submit(11, "rt3", rtB, 100);
  submit(12, "rt3", rtA, 100);
  const results = run();
  const order = (ids: number[]) => ids.map((id) => results.get(id)!.timings);
  for (const timings of [order([1, 2, 3]), order([10, 11, 12])]) {
    for (let i = 1; i < timings.length; i++) {
      assert.ok(timings[i]!.started >= timings[i - 1]!.finished, "FIFO, one task at a time");
    }
  }
});

Deno.test("rt-only accepts only RT clients", async () => {
  const { policy, submit, run } = await setup("rt-only");
  assert.throws(() => policy.openClient("be", "batch"), {
    message: 'Cannot open BE client "batch": mode "rt-only" accepts only RT clients',
  });
  const rt = policy.openClient("rt", "rt");
  submit(1, "rt3", rt);
  submit(2, "chain6", rt);
  run();
  assert.equal(policy.stats().completed.rt, 2);
});

Deno.test("seq: RT never overlaps BE on the device, BE clients share a stream, no flag", async () => {
  const { device, policy, submit, run } = await setup("seq");
  const be1 = policy.openClient("be", "1");
  const be2 = policy.openClient("be", "2");
  const rt = policy.openClient("rt", "rt");
  for (let i = 0; i < 4; i++) {
    submit(i, "chain6", i % 2 === 0 ? be1 : be2, i * 150);
    submit(100 + i, "rt3", rt, 60 + i * 170);
  }
  run();
  const runs = device.kernelTrace;
  const rtStreams = rtStreamsOf(runs);
  assert.ok(!overlaps(busy(runs, "rt", rtStreams), busy(runs, "be", rtStreams)));
  assert.equal(new Set(runs.filter((r) => r.model === "chain6").map((r) => r.stream)).size, 1);
  assert.deepEqual(device.flagTrace, []);
  assert.equal(policy.stats().preemptions.length, 0);
});

Deno.test("stream: no flag, every stream of one priority and bounded, RT and BE overlap", async () => {
  const { device, policy, submit, run } = await setup("stream");
  const be = policy.openClient("be", "be");
  const rtA = policy.openClient("rt", "a");
  const rtB = policy.openClient("rt", "b");
  for (let i = 0; i < 3; i++) submit(i, "chain6", be);
  submit(10, "rt3", rtA, 30);
  submit(11, "rt3", rtB, 30);
  run();
  const runs = device.kernelTrace;
  assert.deepEqual(device.flagTrace, []);
  assert.ok(runs.every((r) => r.priority === "normal" && r.build === "raw"));
  const streams = new Set(runs.map((r) => r.stream));
  assert.equal(streams.size, 3, "each client has its own stream");
  for (const stream of streams) assert.ok(device.maxInFlight(stream) <= 2);
  const rtStreams = rtStreamsOf(runs);
  assert.ok(overlaps(busy(runs, "rt", rtStreams), busy(runs, "be", rtStreams)));
});

Deno.test("stream-prio: RT streams high, BE low, no flag, bounded device queues", async () => {
  const { device, policy, submit, run } = await setup("stream-prio");
  const be = policy.openClient("be", "be");
  const rt = policy.openClient("rt", "rt");
  for (let i = 0; i < 3; i++) submit(i, "chain6", be);
  submit(10, "rt3", rt, 30);
  run();
  const runs = device.kernelTrace;
  assert.deepEqual(device.flagTrace, []);
  assert.ok(runs.filter((r) => r.model === "rt3").every((r) => r.priority === "high"));
  assert.ok(runs.filter((r) => r.model === "chain6").every((r) => r.priority === "low"));
  for (const stream of new Set(runs.map((r) => r.stream))) {
    assert.ok(device.maxInFlight(stream) <= 2);
  }
});

Deno.test("wait: RT is launched only once BE has quiesced; BE device queues are unbounded", async () => {
  const { device, policy, submit, run } = await setup("wait");
  const be = policy.openClient("be", "be");
  const rt = policy.openClient("rt", "rt");
  submit(1, "chain6", be);
  submit(2, "chain6", be);
  submit(10, "rt3", rt, 70);
  submit(11, "rt3", rt, 500);
  const results = run();
  const stats = policy.stats();
  assert.equal(stats.preemptions.length, 2);
  for (const p of stats.preemptions) {
    assert.ok(p.rtLaunchUs >= p.quiescedUs, `RT at ${p.rtLaunchUs}, quiesced ${p.quiescedUs}`);
  }
  const beStream = device.kernelTrace.find((r) => r.model === "chain6")!.stream;
  assert.equal(device.maxInFlight(beStream), 6, "all of a BE task's kernels are on the device");
  assert.ok(device.kernelTrace.filter((r) => r.model === "chain6").every((r) => r.build === "be"));
  assert.equal(results.get(1)!.timings.preemptions + results.get(2)!.timings.preemptions, 2);
});

Deno.test("reset: RT is launched before BE quiesces; BE device queues stay within the cap", async () => {
  const { device, policy, submit, run } = await setup("reset");
  const be1 = policy.openClient("be", "1");
  const be2 = policy.openClient("be", "2");
  const rt = policy.openClient("rt", "rt");
  submit(1, "chain6", be1);
  submit(2, "chain6", be2);
  submit(3, "chain6", be1);
  for (let i = 0; i < 4; i++) submit(10 + i, "rt3", rt, 70 + i * 230);
  run();
  const stats = policy.stats();
  assert.equal(stats.preemptions.length, 4);
  for (const p of stats.preemptions) {
    assert.ok(p.rtLaunchUs < p.quiescedUs, `RT at ${p.rtLaunchUs}, quiesced ${p.quiescedUs}`);
    assert.ok(p.preemptedTasks.length > 0);
    assert.equal(p.restores.length, p.preemptedTasks.length);
  }
  assert.equal(stats.preemptLatenciesUs.length, 4);
  const beStreams = new Set(
    device.kernelTrace.filter((r) => r.model === "chain6").map((r) => r.stream),
  );
  assert.equal(beStreams.size, 2);
  for (const stream of beStreams) assert.equal(device.maxInFlight(stream), 2, `stream ${stream}`);
  const flags = device.flagTrace.map((f) => f.value);
  assert.deepEqual(flags, [1, 0, 1, 0, 1, 0, 1, 0]);
});

/**
 * A device wrapper that logs `<method> <first argument>` for the named methods into `calls` and
 * passes every call through.
 */
function logCalls(calls: string[], methods: readonly string[]) {
  return (device: SimDevice) =>
    new Proxy(device, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (methods.includes(String(key))) calls.push(`${String(key)} ${args[0]}`);
          return value.apply(target, args);
        };
      },
    });
}

Deno.test("reset: the RT task's inputs are uploaded before the flag stops BE work", async () => {
  const calls: string[] = [];
  const logging = logCalls(calls, ["upload", "setPreemptFlag", "launch"]);
  const { policy, submit, run } = await setup("reset", {}, {}, logging);
  submit(1, "chain6", policy.openClient("be", "be"));
  submit(2, "rt3", policy.openClient("rt", "rt"), 70);
  run();
  const preempt = calls.indexOf("setPreemptFlag 1");
  assert.ok(preempt > 0, calls.join(", "));
  const rtStream = Number(calls.slice(preempt).find((c) => c.startsWith("launch"))!.split(" ")[1]);
  const upload = calls.indexOf(`upload ${rtStream}`);
  assert.ok(upload >= 0 && upload < preempt, calls.join(", "));
  assert.equal(policy.stats().preemptLatenciesUs.length, 1);
});

Deno.test("reset: two BE clients run concurrently in normal mode", async () => {
  const { device, policy, submit, run } = await setup("reset");
  submit(1, "chain6", policy.openClient("be", "1"));
  submit(2, "chain6", policy.openClient("be", "2"));
  run();
  const [a, b] = [...new Set(device.kernelTrace.map((r) => r.stream))];
  const on = (stream: number | undefined) =>
    device.kernelTrace.filter((r) => r.stream === stream).map((r) =>
      [r.firstBlockUs, r.endUs] as const
    );
  assert.ok(overlaps(on(a), on(b)));
});

Deno.test("reset: RT with no BE running preempts nothing; BE arriving meanwhile waits", async () => {
  const { device, policy, submit, run } = await setup("reset");
  const be = policy.openClient("be", "be");
  const rt = policy.openClient("rt", "rt");
  submit(10, "rt3", rt);
  submit(1, "chain6", be, 5);
  const results = run();
  assert.deepEqual(device.flagTrace, []);
  assert.equal(policy.stats().preemptions.length, 0);
  assert.ok(results.get(1)!.timings.started >= results.get(10)!.timings.finished);
});

Deno.test("the device-queue cap bounds BE kernels in flight", async () => {
  const { device, policy, submit, run } = await setup("reset", { deviceQueueCap: 3 });
  submit(1, "chain6", policy.openClient("be", "be"));
  run();
  assert.equal(device.maxInFlight(device.kernelTrace[0]!.stream), 3);
});

Deno.test("reef: RT kernels go through the padder, with the held BE task to pad from", async () => {
  const calls: { from: number; to: number; cursors: number[] }[] = [];
  const padder = {
    launchRtKernels(launch: RtKernelLaunch): void {
      calls.push({
        from: launch.from,
        to: launch.to,
        cursors: launch.cursors.map((c) => c.kernel),
      });
      launch.device.launch(launch.stream, launch.instance, launch.from, launch.to, "raw");
    },
    selectionTimesUs: () => [],
    paddedKernels: () => 0,
  };
  const { policy, submit, run } = await setup("reef", { padder });
  submit(1, "chain6", policy.openClient("be", "be"));
  submit(10, "rt3", policy.openClient("rt", "rt"), 100);
  run();
  // The BE task is still draining when the RT task launches: nothing to pad from yet. The first
  // kernel goes alone (quiescence is looked at after it), then the rest.
  assert.deepEqual(calls, [{ from: 0, to: 1, cursors: [] }, { from: 1, to: 3, cursors: [] }]);
  assert.equal(policy.stats().preemptions.length, 1);
});

Deno.test("reef: instances are made when tasks are accepted, never between RT launches", async () => {
  const calls: string[] = [];
  const logging = logCalls(calls, ["createInstance", "launch", "launchPadded"]);
  const { policy, submit, run } = await setup("reef", { padder: new KernelPadder() }, {}, logging);
  const be = policy.openClient("be", "be");
  const rt = policy.openClient("rt", "rt");
  const rtIds = [10, 11, 12, 13, 14, 15, 16, 17];
  for (const id of rtIds) submit(id, "tiny2", rt, 0);
  // Arrives during the RT work, the first task of its queue: started for padding all the same.
  submit(1, "tiny2", be, 1);
  const results = run();
  const firstLaunch = calls.findIndex((c) => c.startsWith("launch"));
  assert.equal(calls.slice(0, firstLaunch).filter((c) => c.startsWith("createInstance")).length, 2);
  assert.ok(!calls.slice(firstLaunch).some((c) => c.startsWith("createInstance")), calls.join());
  const rtEnd = Math.max(...rtIds.map((id) => results.get(id)!.timings.finished));
  assert.ok(results.get(1)!.timings.finished < rtEnd, "the BE task finished by padding");
});

Deno.test("reef: padding runs held BE tasks inside RT kernels; none finishes before its blocks", async () => {
  const { device, policy, submit, run } = await setup("reef", { padder: new KernelPadder() });
  const be = policy.openClient("be", "be");
  const rt = policy.openClient("rt", "rt");
  // tiny2 (8-block kernels of 5 and 8 µs) leaves most SMs free: its BE blocks ride on them.
  for (let i = 0; i < 3; i++) submit(1 + i, "tiny2", be, 5);
  for (let i = 0; i < 8; i++) submit(10 + i, "tiny2", rt, 6);
  const results = run();
  const rtEnd = Math.max(
    ...[10, 11, 12, 13, 14, 15, 16, 17].map((id) => results.get(id)!.timings.finished),
  );
  for (const id of [1, 2, 3]) {
    assert.ok(results.get(id)!.timings.finished < rtEnd, `BE task ${id} finished by padding`);
  }
  const stats = policy.stats();
  assert.ok(stats.selectionTimesUs.length > 0 && stats.selectionTimesUs.every((t) => t >= 0));
  assert.ok(stats.paddedKernels > 0);
  // Padded BE blocks never ran on the BE stream: it ran only the kernels before the preemption.
  const beStreamKernels = device.kernelTrace.filter((r) => r.build === "be").length;
  assert.ok(beStreamKernels < 6, `${beStreamKernels} BE-build kernels of 6`);
});

Deno.test("reef: a BE task arriving during the last RT task waits for it, unstarted", async () => {
  const calls: string[] = [];
  const logging = logCalls(calls, ["upload", "launch", "launchPadded"]);
  const { policy, submit, run } = await setup("reef", { padder: new KernelPadder() }, {}, logging);
  const be = policy.openClient("be", "be");
  // One RT task, launched whole when it starts: no RT kernel is left for BE blocks to ride in.
  submit(10, "tiny2", policy.openClient("rt", "rt"), 0);
  submit(1, "tiny2", be, 1);
  const results = run();
  assert.ok(results.get(1)!.timings.started >= results.get(10)!.timings.finished);
  assert.equal(policy.stats().paddedKernels, 0);
  assert.ok(!calls.some((c) => c.startsWith("launchPadded")), calls.join());
});

Deno.test("reef: random arrivals with padding lose no task and corrupt no output", async () => {
  for (const seed of [1, 2, 3]) {
    const { policy, submit, run } = await setup("reef", { padder: new KernelPadder() }, { seed });
    const clients = [policy.openClient("be", "a"), policy.openClient("be", "b")];
    const rt = policy.openClient("rt", "rt");
    let state = seed;
    const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    let id = 0;
    for (let i = 0; i < 12; i++) {
      submit(++id, random() < 0.5 ? "tiny2" : "chain6", clients[i % 2]!, random() * 500);
    }
    for (let i = 0; i < 12; i++) submit(++id, "tiny2", rt, random() * 500);
    run();
  }
});

Deno.test("invalid options are refused", async () => {
  const { device } = await deviceWithModels([]);
  const padder = new KernelPadder();
  assert.throws(() => new SchedulerPolicy(device, { mode: "reset", padder }), {
    message: 'Option "padder" needs mode "reef", got mode "reset"',
  });
  assert.throws(() => new SchedulerPolicy(device, { mode: "reset", deviceQueueCap: 0 }), {
    message: 'Option "deviceQueueCap" must be an integer from 1 to 1024, got "0"',
  });
  assert.throws(() => new SchedulerPolicy(device, { mode: "fast" as Mode }), {
    message: /Unknown scheduling mode "fast": expected one of "rt-only", "seq"/,
  });
});

Deno.test("a task waits for its release time, which is its submitted time", async () => {
  const { device, policy, submit } = await setup("reset");
  const be = policy.openClient("be", "be");
  submit(1, "tiny2", be, 250);
  assert.equal(policy.nextReleaseUs(), 250);
  assert.equal(policy.hasReleasedWork(), false);
  const [first] = runVirtual(policy, device);
  assert.equal(first!.timings.submitted, 250);
  assert.ok(first!.timings.started >= 250);
  // A release time already past is kept as the submitted time.
  device.advanceTo(1000);
  submit(2, "tiny2", be, 900);
  const [second] = runVirtual(policy, device);
  assert.equal(second!.timings.submitted, 900);
  assert.ok(second!.timings.started >= 1000);
});

Deno.test("submissions are validated", async () => {
  const { policy, models } = await setup("reset");
  const be = policy.openClient("be", "be");
  const chain = models.get("chain6")!;
  const good = inputsFor(chain, 1);
  const task = (over: object) => ({
    id: 1,
    model: chain.info.id,
    client: be,
    inputs: good,
    ...over,
  });
  assert.throws(() => policy.submit(task({ model: 99 })), {
    message: "Cannot submit task 1: model 99 is not loaded",
  });
  assert.throws(() => policy.submit(task({ client: 7 })), {
    message: "Cannot submit task 1: client 7 is not open",
  });
  assert.throws(() => policy.submit(task({ inputs: new Map() })), {
    message: 'Cannot submit task 1: input "data" of model "chain6" is missing',
  });
  assert.throws(() => policy.submit(task({ inputs: new Map([["data", new Uint8Array(5)]]) })), {
    message: 'Cannot submit task 1: input "data" of model "chain6" must be 4096 bytes, got 5',
  });
  assert.throws(
    () => policy.submit(task({ inputs: new Map([...good, ["extra", new Uint8Array(1)]]) })),
    { message: 'Cannot submit task 1: model "chain6" has no input "extra"' },
  );
  policy.submit(task({}));
  assert.throws(() => policy.submit(task({})), {
    message: "Cannot submit task 1: a task with this id is already in the scheduler",
  });
});

Deno.test("failUnstarted removes queued and unreleased tasks; started ones complete", async () => {
  const { device, policy, submit } = await setup("reset");
  const be = policy.openClient("be", "be");
  const rt = policy.openClient("rt", "rt");
  submit(1, "chain6", be);
  submit(2, "chain6", be);
  submit(3, "rt3", rt, 5000);
  submit(4, "rt3", rt, 80);
  assert.equal(settle(policy, []), true, "task 1 starts");
  device.advanceTo(100);
  assert.equal(settle(policy, []), true, "task 4 preempts task 1");
  assert.deepEqual(policy.failUnstarted(), [2, 3]);
  const results = runVirtual(policy, device);
  assert.deepEqual(results.map((r) => r.id).sort(), [1, 4]);
  assert.equal(results.find((r) => r.id === 1)!.timings.preemptions, 1);
  assert.equal(policy.stats().failed, 2);
  assert.equal(policy.busy(), false);
});

Deno.test("runVirtual reports a stall instead of spinning forever", async () => {
  const { device, policy, submit } = await setup("reset");
  submit(1, "tiny2", policy.openClient("be", "be"));
  // A clock that never delivers the device's events: the task can never complete.
  const frozen = { now: () => device.now(), nextEventUs: () => undefined, advanceTo: () => {} };
  assert.throws(() => runVirtual(policy, frozen), {
    message: /^Scheduler stalled at \d+ µs: tasks remain but nothing is pending on the device$/,
  });
});
