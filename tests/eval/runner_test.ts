import assert from "node:assert/strict";
import { artifactStaggerOffsetsUs, type BenchTarget, runWorkload } from "../../src/eval/runner.ts";
import type { ProgressSink } from "../../src/eval/progress.ts";
import { defineWorkload, loadBuiltinWorkload } from "../../src/eval/workload.ts";
import { FAKE_STALL_US, FakeTarget } from "./fake_target.ts";

const SERVICE_US = { vgg19: 2_000, resnet152: 8_000, densenet201: 5_000 };
const OPTIONS = { mode: "reset", commandLine: "reef bench test", progress: false as const };

function mixedWorkload() {
  return defineWorkload({
    name: "mixed",
    duration_s: 1,
    clients: [
      {
        name: "rt-vgg19",
        model: "vgg19",
        priority: "rt",
        arrival: { type: "uniform", rate_per_s: 50 },
        start_offset_ms: 5,
      },
      {
        name: "be-resnet152",
        model: "resnet152",
        priority: "be",
        arrival: { type: "closed_loop" },
      },
    ],
  }, "mixed");
}

Deno.test("open-loop requests are released on the target's clock exactly as scheduled", async () => {
  const target = new FakeTarget({ serviceUs: SERVICE_US });
  const result = await runWorkload(mixedWorkload(), target, OPTIONS);
  const rt = result.requests.filter((r) => r.client === "rt-vgg19");
  assert.equal(rt.length, 50);
  rt.forEach((r, k) => {
    assert.equal(r.releaseUs, 5_000 + k * 20_000);
    assert.equal(r.submittedUs, r.releaseUs);
    // RT preempts BE at once on the fake target, so RT latency is its service time.
    assert.equal(r.latencyUs, 2_000);
  });
  // The whole open-loop schedule was submitted before the run started, with release times.
  const measured = target.submissions.slice(14).filter((s) => s.client === "rt-vgg19");
  assert.ok(measured.every((s) => s.releaseAtUs !== undefined));
  assert.ok(measured.every((s) => s.calledAtUs < (measured[0].releaseAtUs as number)));
});

Deno.test("closed-loop clients resubmit on completion until the duration ends", async () => {
  const target = new FakeTarget({ serviceUs: SERVICE_US });
  const result = await runWorkload(mixedWorkload(), target, OPTIONS);
  const be = result.requests.filter((r) => r.client === "be-resnet152");
  for (let i = 1; i < be.length; i++) {
    assert.equal(be[i].submittedUs, be[i - 1].finishedUs);
  }
  assert.ok(be[be.length - 1].submittedUs < 1e6);
  // 1 s of a 8 ms model minus 50 RT inferences of 2 ms: 112 or 113 BE requests fit.
  assert.ok(be.length >= 110 && be.length <= 113, `${be.length} BE requests`);
  assert.ok(be.some((r) => r.preemptions > 0));
  assert.equal(result.summary.priorities.be.completed, be.length);
  assert.equal(result.summary.wallUs, Math.max(1e6, be[be.length - 1].finishedUs));
});

Deno.test("warm-up inferences run first, two per client then RT amid BE, and are not counted", async () => {
  const target = new FakeTarget({
    serviceUs: SERVICE_US,
    // The first inference of each model is slow, as on a fresh GPU scheduler.
    coldExtraUs: 30_000,
    initialStats: { preemptLatenciesUs: [999], quiesceLatenciesUs: [999], selectionTimesUs: [9] },
  });
  const statsBefore = target.stats().preemptLatenciesUs.length;
  const result = await runWorkload(mixedWorkload(), target, OPTIONS);
  assert.deepEqual(target.loaded, ["vgg19", "resnet152"]);
  assert.deepEqual(
    target.submissions.slice(0, 4).map((s) => [s.client, s.releaseAtUs]),
    [["rt-vgg19", undefined], ["rt-vgg19", undefined], ["be-resnet152", undefined], [
      "be-resnet152",
      undefined,
    ]],
  );
  // Then 5 rounds: BE released first, RT halfway through BE's warm latency (8 ms / 2, not the
  // cold first one's 38 ms / 2, which would release RT after BE finished), so each preempts.
  const rounds = target.submissions.slice(4, 14);
  for (let r = 0; r < 5; r++) {
    const [be, rt] = [rounds[2 * r]!, rounds[2 * r + 1]!].sort((a, b) =>
      a.client.localeCompare(b.client)
    );
    assert.equal(be.client, "be-resnet152");
    assert.equal(rt.releaseAtUs! - be.releaseAtUs!, 4_000);
  }
  const warmupPreemptions = target.stats().preemptLatenciesUs.length - statsBefore -
    result.stats.preemptLatenciesUs.length;
  assert.equal(warmupPreemptions, 5);
  // The result records them, apart from the measured run's and the target's earlier ones.
  assert.deepEqual(result.warmupPreemptLatenciesUs, [10, 10, 10, 10, 10]);
  assert.equal(target.submissions.length, 14 + result.requests.length);
  // Only statistics of the measured run are kept.
  assert.ok(!result.stats.preemptLatenciesUs.includes(999));
  assert.equal(result.stats.preemptLatenciesUs.length, result.summary.priorities.be.preemptions);
  assert.ok(result.stats.selectionTimesUs.every((t) => t === 1));
});

Deno.test("the result keeps the loop stalls that overlap the measured run, in its time", async () => {
  const target = new FakeTarget({ serviceUs: SERVICE_US, stallEveryUs: 100_000 });
  const result = await runWorkload(mixedWorkload(), target, OPTIONS);
  // The run's start on the target's clock, from the first measured RT release (after the 14
  // warm-up submissions), given both ways.
  const rt = result.requests.find((r) => r.client === "rt-vgg19")!;
  const submitted = target.submissions.slice(14).find((s) => s.client === "rt-vgg19")!;
  const t0 = submitted.releaseAtUs! - rt.releaseUs;
  const endUs = t0 + result.summary.wallUs;
  const expected = [];
  for (let at = 0; at < endUs; at += 100_000) {
    if (at + FAKE_STALL_US > t0) expected.push({ atUs: at - t0, durationUs: FAKE_STALL_US });
  }
  assert.ok(expected.length >= 10, `${expected.length} stalls in the run`);
  assert.deepEqual(result.loopStalls, expected);
  // A target that records none leaves the field out.
  const plain = await runWorkload(
    mixedWorkload(),
    new FakeTarget({ serviceUs: SERVICE_US }),
    OPTIONS,
  );
  assert.equal(plain.loopStalls, undefined);
});

Deno.test("results are labelled with device, mode, command line, sweep and duration", async () => {
  const target = new FakeTarget({ serviceUs: SERVICE_US });
  const result = await runWorkload(mixedWorkload(), target, {
    ...OPTIONS,
    mode: "reset-raw",
    sweep: { n_be: 1 },
    durationS: 0.2,
    seed: 77,
  });
  assert.equal(result.label.workload, "mixed");
  assert.equal(result.label.mode, "reset-raw");
  assert.equal(result.label.device, "fake virtual-time device");
  assert.equal(result.label.simulated, true);
  assert.equal(result.label.commandLine, "reef bench test");
  assert.deepEqual(result.label.sweep, { n_be: 1 });
  assert.equal(result.label.durationS, 0.2);
  assert.equal(result.label.seed, 77);
  assert.ok(!Number.isNaN(Date.parse(result.label.startedAt)));
  assert.equal(result.requests.filter((r) => r.priority === "rt").length, 10);
});

Deno.test("REEF's stagger offsets spread equal-rate RT clients over the period", () => {
  assert.deepEqual(artifactStaggerOffsetsUs([10_000, 10_000], 20), [0, 25_000]);
  assert.deepEqual(artifactStaggerOffsetsUs([10_000, 5_000], 20), [0, 27_500]);
  // Latencies longer than the period leave no gap.
  assert.deepEqual(artifactStaggerOffsetsUs([40_000, 30_000, 1], 20), [0, 40_000, 70_000]);
});

Deno.test("workloads that ask for it get staggered RT starts from measured latencies", async () => {
  const workload = defineWorkload({
    name: "staggered",
    duration_s: 0.2,
    stagger_rt_starts: true,
    clients: [
      { name: "a", model: "vgg19", priority: "rt", arrival: { type: "uniform", rate_per_s: 20 } },
      {
        name: "b",
        model: "densenet201",
        priority: "rt",
        arrival: { type: "uniform", rate_per_s: 20 },
      },
    ],
  }, "staggered");
  const target = new FakeTarget({ serviceUs: SERVICE_US });
  const result = await runWorkload(workload, target, OPTIONS);
  assert.deepEqual(result.standaloneLatencyUs, { a: 2_000, b: 5_000 });
  // Period 50 ms, latencies 2 + 5 ms: gap (50 - 7) / 2 = 21.5 ms; b starts at 2 + 21.5 ms.
  assert.deepEqual(result.startOffsetsUs, { a: 0, b: 23_500 });
  assert.equal(result.requests.find((r) => r.client === "b")?.releaseUs, 23_500);
  // 2 x 2 warm-ups and 2 x 5 standalone inferences precede the run.
  assert.equal(target.submissions.length, 14 + result.requests.length);
});

Deno.test("built-in workload D runs end to end with staggered RT clients", async () => {
  const workload = await loadBuiltinWorkload("D");
  const serviceUs = {
    vgg19: 1_000,
    resnet152: 3_000,
    densenet201: 4_000,
    inception_v3: 2_000,
    distilbert: 2_500,
  };
  const result = await runWorkload(workload, new FakeTarget({ serviceUs }), {
    ...OPTIONS,
    durationS: 0.5,
  });
  assert.equal(result.summary.priorities.rt.completed, 5 * 10);
  const offsets = workload.clients.filter((c) => c.priority === "rt")
    .map((c) => result.startOffsetsUs[c.name]);
  // Latencies sum to 12.5 ms of the 50 ms period: gaps of 7.5 ms.
  assert.deepEqual(offsets, [0, 8_500, 19_000, 30_500, 40_000]);
  assert.ok(result.summary.priorities.be.completed > 0);
});

Deno.test("a failed inference fails the run with the client and model named", async () => {
  const target = new FakeTarget({ serviceUs: SERVICE_US, failingModels: ["resnet152"] });
  await assert.rejects(
    runWorkload(mixedWorkload(), target, OPTIONS),
    /Inference of client "be-resnet152" \(model "resnet152"\) failed: Model "resnet152" crashed/,
  );
});

Deno.test("a failure during the run is reported after every request has settled", async () => {
  // Call 14 + 50 + 3 is the third closed-loop BE request, after the whole RT schedule was
  // submitted (14 warm-ups: two per client, then 5 rounds of both).
  const target = new FakeTarget({ serviceUs: SERVICE_US, failingCall: 67 });
  await assert.rejects(
    runWorkload(mixedWorkload(), target, OPTIONS),
    /Inference of client "be-resnet152" \(model "resnet152"\) failed/,
  );
  // The closed loop stopped at the failure; the open-loop RT requests all completed.
  assert.equal(target.submissions.length, 67);
});

Deno.test("inconsistent timings from the target are reported", async () => {
  const target = new FakeTarget({ serviceUs: SERVICE_US, corruptTimings: true });
  await assert.rejects(
    runWorkload(mixedWorkload(), target, OPTIONS),
    /Target "fake virtual-time device" returned inconsistent timings for client "rt-vgg19"/,
  );
});

Deno.test("the run reports progress and ends with a final line", async () => {
  const lines: string[] = [];
  const sink: ProgressSink = { isTerminal: false, write: (text) => lines.push(text) };
  const target = new FakeTarget({ serviceUs: SERVICE_US });
  const result = await runWorkload(mixedWorkload(), target, { ...OPTIONS, progress: sink });
  assert.equal(
    lines[lines.length - 1],
    `mixed reset: 100% (1.0/1.0 s, ${result.requests.length} requests done)\n`,
  );
});

function closedLoopRtWorkload() {
  return defineWorkload({
    name: "closed-rt",
    duration_s: 0.1,
    clients: [
      {
        name: "rt-vgg19",
        model: "vgg19",
        priority: "rt",
        arrival: { type: "closed_loop", think_time_ms: { min: 3, max: 3 } },
      },
      {
        name: "be-resnet152",
        model: "resnet152",
        priority: "be",
        arrival: { type: "closed_loop" },
      },
    ],
  }, "closed-rt");
}

Deno.test("a run with minSamples goes on past its window until it has that many preemptions", async () => {
  const target = new FakeTarget({ serviceUs: SERVICE_US });
  // 5 ms per RT cycle: 20 RT requests (and preemptions) in the 0.1-s window, 60 asked for.
  const result = await runWorkload(closedLoopRtWorkload(), target, {
    ...OPTIONS,
    minSamples: { count: 60, maxDurationS: 10 },
  });
  const preemptions = result.stats.preemptLatenciesUs.length;
  assert.ok(preemptions >= 60 && preemptions <= 62, `${preemptions} preemptions`);
  assert.ok(
    result.label.durationS > 0.25 && result.label.durationS < 0.35,
    `${result.label.durationS} s`,
  );

  // Capped by maxDurationS, and without minSamples the window is the workload's.
  const capped = await runWorkload(
    closedLoopRtWorkload(),
    new FakeTarget({ serviceUs: SERVICE_US }),
    {
      ...OPTIONS,
      minSamples: { count: 10_000, maxDurationS: 0.2 },
    },
  );
  assert.ok(capped.stats.preemptLatenciesUs.length <= 41);
  assert.ok(capped.label.durationS <= 0.2);
  const plain = await runWorkload(
    closedLoopRtWorkload(),
    new FakeTarget({ serviceUs: SERVICE_US }),
    OPTIONS,
  );
  assert.ok(plain.stats.preemptLatenciesUs.length <= 21);
  assert.equal(plain.label.durationS, 0.1);
});

Deno.test("a closed-loop request already due when the client sends it counts from its handover", async () => {
  const workload = defineWorkload({
    name: "late",
    duration_s: 0.05,
    clients: [{
      name: "rt",
      model: "vgg19",
      priority: "rt",
      arrival: { type: "closed_loop", think_time_ms: { min: 1, max: 1 } },
    }],
  }, "late");
  for (const lagUs of [0, 1500]) {
    const fake = new FakeTarget({ serviceUs: SERVICE_US });
    // The client reads the clock 1.5 ms late, as a busy thread would, so that its next request
    // (1 ms after the last one finished) is already due.
    const target: BenchTarget = {
      simulated: true,
      deviceName: fake.deviceName,
      loadModel: (name) => fake.loadModel(name),
      submit: (...args) => fake.submit(...args),
      nowUs: () => fake.nowUs() + lagUs,
      stats: () => fake.stats(),
    };
    await runWorkload(workload, target, OPTIONS);
    // After the two warm-ups and the first measured request (released at the run's start).
    const measured = fake.submissions.slice(3);
    assert.ok(measured.length > 10);
    assert.ok(
      measured.every((s) => (s.releaseAtUs === undefined) === (lagUs > 0)),
      `lag ${lagUs} µs: ${JSON.stringify(measured.slice(0, 2))}`,
    );
  }
});
