import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { registerDeviceFactory } from "../../src/scheduler/device_registry.ts";
import {
  type InferenceResult,
  Scheduler,
  type SchedulerOptions,
} from "../../src/scheduler/scheduler.ts";
import { FIXTURE_DIR, inputsFor, ReferenceRunner } from "./_harness.ts";

const reference = await ReferenceRunner.create(["chain6", "rt3", "tiny2", "wide"]);
const sim = { kind: "sim", modelDir: FIXTURE_DIR };

async function withScheduler<T>(
  options: Partial<SchedulerOptions>,
  body: (scheduler: Scheduler) => Promise<T>,
): Promise<T> {
  const scheduler = await Scheduler.create({ device: sim, mode: "reset", ...options });
  try {
    return await body(scheduler);
  } finally {
    await scheduler.close();
  }
}

function assertOutputs(
  result: InferenceResult,
  model: string,
  seed: number,
  inputs: Map<string, Uint8Array>,
) {
  assert.deepEqual(
    result.outputs,
    reference.outputs(model, inputs),
    `outputs of ${model} #${seed}`,
  );
}

Deno.test("end to end: tasks cross the rings to the worker's simulated device and back", async () => {
  await withScheduler({}, async (scheduler) => {
    assert.equal(scheduler.simulated, true);
    assert.equal(scheduler.deviceName, "simulated H100-like GPU");
    const chain = await scheduler.loadModel("chain6");
    const rt3 = await scheduler.loadModel("rt3");
    assert.equal(await scheduler.loadModel("chain6"), chain, "a model loads once");
    const be = await scheduler.openClient("be", "batch");
    const rt = await scheduler.openClient("rt", "camera");
    const start = scheduler.nowUs() + 10;
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      const beInputs = inputsFor(chain, i);
      runs.push(
        be.infer(chain, beInputs, { releaseUs: start + i * 200 }).then((result) => {
          assertOutputs(result, "chain6", i, beInputs);
          assert.equal(result.timings.submitted, start + i * 200);
        }),
      );
      const rtInputs = inputsFor(rt3, 100 + i);
      runs.push(
        rt.infer("rt3", Object.fromEntries(rtInputs), { releaseUs: start + 150 + i * 400 })
          .then((result) => {
            assertOutputs(result, "rt3", 100 + i, rtInputs);
            const t = result.timings;
            assert.ok(t.submitted <= t.started && t.started < t.finished);
            assert.equal(t.preemptions, 0);
          }),
      );
    }
    await Promise.all(runs);
    // Tensors go by their names; the device sees their storages ("tokens" lives in "x").
    const wide = await scheduler.loadModel("wide");
    const wideInputs = inputsFor(wide, 7);
    assert.deepEqual([...wideInputs.keys()], ["tokens"]);
    const wideResult = await be.infer(wide, wideInputs);
    assert.deepEqual([...wideResult.outputs.keys()], ["logits"]);
    assertOutputs(wideResult, "wide", 7, wideInputs);
    const stats = await scheduler.stats();
    assert.equal(stats.simulated, true);
    assert.equal(stats.device, "simulated H100-like GPU");
    assert.deepEqual(stats.completed, { rt: 20, be: 21 });
    assert.ok(stats.preemptions.length > 0);
    assert.equal(stats.preemptLatenciesUs.length, stats.preemptions.length);
    assert.ok(scheduler.nowUs() > start + 19 * 400);
  });
});

/** A closed-loop BE client against periodic RT requests; returns every timing. */
async function closedLoop(): Promise<number[][]> {
  return await withScheduler({}, async (scheduler) => {
    const chain = await scheduler.loadModel("chain6");
    const rt3 = await scheduler.loadModel("rt3");
    const be = await scheduler.openClient("be", "loop");
    const rt = await scheduler.openClient("rt", "periodic");
    const start = scheduler.nowUs();
    const rtRuns = Array.from(
      { length: 10 },
      (_, i) => rt.infer(rt3, inputsFor(rt3, i), { releaseUs: start + 100 + i * 350 }),
    );
    const timings: number[][] = [];
    let previousFinish = -Infinity;
    for (let i = 0; i < 10; i++) {
      const { timings: t } = await be.infer(chain, inputsFor(chain, i));
      assert.ok(t.submitted >= previousFinish, "the next request follows the previous one");
      previousFinish = t.finished;
      timings.push([t.submitted - start, t.started - start, t.finished - start, t.preemptions]);
    }
    for (const { timings: t } of await Promise.all(rtRuns)) {
      timings.push([t.submitted - start, t.started - start, t.finished - start]);
    }
    return timings;
  });
}

Deno.test("a closed-loop client runs reproducibly in virtual time", async () => {
  const first = await closedLoop();
  assert.deepEqual(await closedLoop(), first);
  assert.ok(first.slice(0, 10).some((t) => t[3]! > 0), "the loop was preempted");
});

Deno.test("a burst larger than the ring waits on the main thread and completes", async () => {
  await withScheduler({ ringCapacity: 4 }, async (scheduler) => {
    const tiny = await scheduler.loadModel("tiny2");
    const clients = [await scheduler.openClient("be", "a"), await scheduler.openClient("be", "b")];
    const runs = Array.from({ length: 60 }, (_, i) => {
      const inputs = inputsFor(tiny, i);
      return clients[i % 2]!.infer(tiny, inputs).then((r) => assertOutputs(r, "tiny2", i, inputs));
    });
    await Promise.all(runs);
  });
});

Deno.test("a full tensor arena rejects the submission with a clear error, then recovers", async () => {
  // chain6 needs 4 096 input bytes and 4 000 output bytes: two tasks fit in 16 KiB, not three.
  await withScheduler({ arenaBytes: 16_384 }, async (scheduler) => {
    const chain = await scheduler.loadModel("chain6");
    const be = await scheduler.openClient("be", "be");
    const first = [be.infer(chain, inputsFor(chain, 0)), be.infer(chain, inputsFor(chain, 1))];
    await assert.rejects(be.infer(chain, inputsFor(chain, 2)), {
      message:
        'Cannot submit task 2 to model "chain6": The tensor arena is full: 8096 bytes needed, 192 of 16384 free, largest free extent 192; raise option "arenaBytes" or submit fewer tasks at once',
    });
    await Promise.all(first);
    const inputs = inputsFor(chain, 3);
    assertOutputs(await be.infer(chain, inputs), "chain6", 3, inputs);
  });
});

Deno.test("closing with tasks in flight: started tasks complete, the others fail, none hangs", async () => {
  const scheduler = await Scheduler.create({ device: sim, mode: "reset" });
  const chain = await scheduler.loadModel("chain6");
  const tiny = await scheduler.loadModel("tiny2");
  const rt3 = await scheduler.loadModel("rt3");
  const be1 = await scheduler.openClient("be", "1");
  const be2 = await scheduler.openClient("be", "2");
  const rt = await scheduler.openClient("rt", "rt");
  const inputsA = inputsFor(chain, 1);
  const a = be1.infer(chain, inputsA);
  const c = be1.infer(chain, inputsFor(chain, 2));
  const d = rt.infer(rt3, inputsFor(rt3, 3), { releaseUs: scheduler.nowUs() + 1e9 });
  // B finishes long before A; closing in its continuation (virtual time holds until it has run)
  // finds A running, C queued behind it and D not yet released.
  let closing: Promise<void> | undefined;
  const b = be2.infer(tiny, inputsFor(tiny, 4)).then((result) => {
    closing = scheduler.close();
    return result;
  });
  const settled = await Promise.allSettled([a, b, c, d]);
  await closing;
  assert.equal(settled[0].status, "fulfilled");
  assertOutputs(
    (settled[0] as PromiseFulfilledResult<InferenceResult>).value,
    "chain6",
    1,
    inputsA,
  );
  assert.equal(settled[1].status, "fulfilled");
  for (const [index, task] of [[2, 1], [3, 2]]) {
    const outcome = settled[index!]!;
    assert.equal(outcome.status, "rejected");
    assert.match(
      (outcome as PromiseRejectedResult).reason.message,
      new RegExp(
        `^Task ${task} of model "(chain6|rt3)" was not run: the scheduler closed before it started$`,
      ),
    );
  }
  await assert.rejects(be1.infer(chain, inputsA), {
    message: "Cannot submit task 4: the scheduler is closed",
  });
  await assert.rejects(scheduler.stats(), { message: "The scheduler is closed" });
  assert.equal(scheduler.close(), closing, "closing twice is closing once");
});

Deno.test("mode rules and submissions are checked before a task reaches the device", async () => {
  await withScheduler({ mode: "rt-only" }, async (scheduler) => {
    await assert.rejects(scheduler.openClient("be", "batch"), {
      message: 'Cannot open BE client "batch": mode "rt-only" accepts only RT clients',
    });
    const rt = await scheduler.openClient("rt", "rt");
    await assert.rejects(rt.infer("rt3", {}), {
      message: 'Cannot submit task 0: model "rt3" is not loaded',
    });
    const rt3 = await scheduler.loadModel("rt3");
    await assert.rejects(rt.infer(rt3, { input0: new Uint8Array(3) }), {
      message: 'Cannot submit task 1: input "input0" of model "rt3" must be 512 bytes, got 3',
    });
    await assert.rejects(rt.infer(rt3, inputsFor(rt3, 0), { releaseUs: NaN }), {
      message: 'Cannot submit task 2: option "releaseUs" must be a finite number, got "NaN"',
    });
    await assert.rejects(scheduler.loadModel("missing"), {
      message: /^No model package "missing" at .*missing\/missing\.json/,
    });
  });
});

Deno.test("devices come from the registry: unknown kinds, bad modules and bad specs are refused", async () => {
  await assert.rejects(Scheduler.create({ device: { kind: "tpu" }, mode: "reset" }), {
    message: /^No device factory is registered for kind "tpu" \(registered: "sim", "gpu"/,
  });
  registerDeviceFactory(
    "no-factory",
    fileURLToPath(new URL("./fixtures/not_a_factory.ts", import.meta.url)),
  );
  await assert.rejects(Scheduler.create({ device: { kind: "no-factory" }, mode: "reset" }), {
    message:
      /^Cannot start the scheduler's device: Device factory module ".*not_a_factory\.ts" must export a function "createDevice"$/,
  });
  await assert.rejects(Scheduler.create({ device: { kind: "sim" }, mode: "reset" }), {
    message:
      'Cannot start the scheduler\'s device: Device spec of kind "sim" needs field "modelDir": the directory of its model packages',
  });
  await assert.rejects(Scheduler.create({ device: sim, mode: "reset", deviceQueueCap: 1.5 }), {
    message: 'Option "deviceQueueCap" must be an integer from 1 to 1024, got "1.5"',
  });
  registerDeviceFactory("sim-alias", new URL("../../src/gpu/sim/factory.ts", import.meta.url));
  const scheduler = await Scheduler.create({ device: { ...sim, kind: "sim-alias" }, mode: "seq" });
  assert.equal(scheduler.simulated, true);
  await scheduler.close();
});

Deno.test("on a real-time device a pass that holds the loop is a recorded stall, an idle wait is not", async () => {
  registerDeviceFactory(
    "sim-slow-launch",
    new URL("./fixtures/slow_launch_sim.ts", import.meta.url),
  );
  await withScheduler({ device: { ...sim, kind: "sim-slow-launch" } }, async (scheduler) => {
    const chain = await scheduler.loadModel("chain6");
    const rt3 = await scheduler.loadModel("rt3");
    const rt = await scheduler.openClient("rt", "rt");
    await rt.infer(chain, inputsFor(chain, 1)); // first-use costs, before what is measured
    const warm = await scheduler.stats();
    // Past its 200-µs spin the idle loop waits on the doorbell, 1 ms at a time: some 30 waits
    // that are no stalls (counted, they would be as many). A loaded machine may deschedule the
    // worker a few times meanwhile, which are.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const idle = await scheduler.stats();
    assert.ok(idle.loopStallsRecorded - warm.loopStallsRecorded < 10, JSON.stringify(idle));
    await rt.infer(rt3, inputsFor(rt3, 2)); // its first launch holds the thread 10 ms
    const stats = await scheduler.stats();
    const held = stats.loopStalls.slice(idle.loopStalls.length);
    assert.ok(
      held.some((s) => s.durationUs >= 10_000),
      JSON.stringify([idle.loopStalls, stats.loopStalls]),
    );
    assert.equal(stats.loopStallsRecorded, stats.loopStalls.length);
  });
  // A virtual device's loop has no wall-clock stalls.
  await withScheduler({}, async (scheduler) => {
    const chain = await scheduler.loadModel("chain6");
    await (await scheduler.openClient("rt", "rt")).infer(chain, inputsFor(chain, 1));
    const stats = await scheduler.stats();
    assert.deepEqual([stats.loopStalls, stats.loopStallsRecorded], [[], 0]);
  });
});

Deno.test("on a real-time device the worker polls, backs off when idle, and honours release times", async () => {
  registerDeviceFactory("sim-realtime", new URL("./fixtures/realtime_sim.ts", import.meta.url));
  await withScheduler({ device: { ...sim, kind: "sim-realtime" } }, async (scheduler) => {
    const chain = await scheduler.loadModel("chain6");
    const rt3 = await scheduler.loadModel("rt3");
    const be = await scheduler.openClient("be", "be");
    const rt = await scheduler.openClient("rt", "rt");
    // Let the worker go idle (past its spin) before the tasks arrive.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const release = scheduler.nowUs() + 15_000;
    const beInputs = inputsFor(chain, 5);
    const rtInputs = inputsFor(rt3, 6);
    const [beResult, rtResult] = await Promise.all([
      be.infer(chain, beInputs),
      rt.infer(rt3, rtInputs, { releaseUs: release }),
    ]);
    assertOutputs(beResult, "chain6", 5, beInputs);
    assertOutputs(rtResult, "rt3", 6, rtInputs);
    assert.equal(rtResult.timings.submitted, release);
    assert.ok(rtResult.timings.started >= release);
    assert.ok(scheduler.nowUs() >= release);
  });
});
