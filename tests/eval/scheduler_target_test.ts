import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { MODE_SPECS, withoutBeClients } from "../../src/eval/experiments.ts";
import { runWorkload } from "../../src/eval/runner.ts";
import { SchedulerTarget } from "../../src/eval/scheduler_target.ts";
import { defineWorkload, loadBuiltinWorkload } from "../../src/eval/workload.ts";

/** Hand-written packages named after the DISB models, with profiles: test data, not models. */
const MODELS = fileURLToPath(new URL("./fixtures/models/", import.meta.url));
const sim = { kind: "sim", modelDir: MODELS };

Deno.test("the target runs a DISB workload on the scheduler, labelled simulated", async () => {
  const workload = await loadBuiltinWorkload("A");
  await using target = await SchedulerTarget.create({ device: sim, mode: MODE_SPECS.reset });
  assert.equal(target.simulated, true);
  assert.equal(target.deviceName, "simulated H100-like GPU");
  const result = await runWorkload(workload, target, {
    mode: "reset",
    commandLine: "test",
    durationS: 0.3,
    progress: false,
  });
  assert.equal(result.label.simulated, true);
  assert.equal(result.label.device, "simulated H100-like GPU");
  const rt = result.requests.filter((r) => r.priority === "rt");
  // vgg19 at 100 req/s for 0.3 s, every request counted from its release.
  assert.equal(rt.length, 30);
  assert.ok(rt.every((r) => Math.abs(r.submittedUs - r.releaseUs) < 1e-6 && r.latencyUs >= 800));
  // The fixture's BE model (12 ms) is always running, so every RT request preempts it.
  assert.ok(result.stats.preemptLatenciesUs.length >= 25, `${result.stats.preemptLatenciesUs}`);
  assert.equal(result.stats.quiesceLatenciesUs.length, result.stats.preemptLatenciesUs.length);
  assert.deepEqual(result.stats.selectionTimesUs, []);
  assert.ok(result.requests.some((r) => r.priority === "be" && r.preemptions > 0));
});

Deno.test("requests beyond the per-client window wait in the target and keep their release", async () => {
  // 40 requests released together. The fixture vgg19 holds 408 bytes of tensors per task (384
  // input, 24 output): an arena of 1 224 bytes takes 3 tasks, so only the window lets them run.
  const workload = defineWorkload({
    name: "burst",
    duration_s: 1,
    clients: [{
      name: "rt",
      model: "vgg19",
      priority: "rt",
      arrival: { type: "trace", times_ms: Array.from({ length: 40 }, () => 0) },
    }],
  }, "burst");
  const run = async (maxAheadPerClient: number) => {
    await using target = await SchedulerTarget.create({
      device: sim,
      mode: MODE_SPECS.rtOnly,
      arenaBytes: 1224,
      maxAheadPerClient,
    });
    return await runWorkload(workload, target, {
      mode: "rt-only",
      commandLine: "test",
      durationS: 0.01,
      progress: false,
    });
  };
  const result = await run(3);
  assert.equal(result.requests.length, 40);
  assert.ok(result.requests.every((r) => Math.abs(r.submittedUs) < 1e-6));
  // They ran one after another, each latency counted from the common release.
  const finished = result.requests.map((r) => r.finishedUs).sort((a, b) => a - b);
  assert.ok(finished[39]! >= 40 * 800, `last finished at ${finished[39]} µs`);
  assert.ok(finished.every((f, i) => i === 0 || f > finished[i - 1]!));
  await assert.rejects(run(40), /The tensor arena is full/);
});

Deno.test("the target is created in the run's mode, device-queue capacity included", async () => {
  const workload = withoutBeClients(await loadBuiltinWorkload("A"));
  await using target = await SchedulerTarget.create({
    device: sim,
    mode: { label: "reset-dq8", mode: "reset", deviceQueueCap: 8 },
  });
  assert.equal(target.mode.deviceQueueCap, 8);
  const result = await runWorkload(workload, target, {
    mode: target.mode.label,
    commandLine: "test",
    durationS: 0.05,
    progress: false,
  });
  assert.equal(result.label.mode, "reset-dq8");
  await assert.rejects(
    SchedulerTarget.create({ device: sim, mode: { label: "x", mode: "reset", deviceQueueCap: 0 } }),
    /Option "deviceQueueCap" must be an integer from 1 to 1024, got "0"/,
  );
});

Deno.test("a BE client in rt-only mode and an unknown model fail with the scheduler's error", async () => {
  await using target = await SchedulerTarget.create({ device: sim, mode: MODE_SPECS.rtOnly });
  await target.loadModel("resnet152");
  await assert.rejects(target.submit("be", "be", "resnet152"), /rt-only/);
  await assert.rejects(
    target.submit("rt", "rt", "vgg19"),
    /Cannot submit to model "vgg19": it is not loaded/,
  );
  await assert.rejects(target.loadModel("alexnet"), /alexnet/);
});
