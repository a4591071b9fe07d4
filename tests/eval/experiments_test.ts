import assert from "node:assert/strict";
import { MICRO_RT_MODEL } from "../../src/eval/bench_models.ts";
import {
  dkpWorkload,
  type ExperimentId,
  EXPERIMENTS,
  multiStreamWorkload,
  planRuns,
  preemptionWorkload,
  rtLatencyWorkload,
  rtRateWorkload,
} from "../../src/eval/experiments.ts";
import { FIGURES } from "../../src/eval/figure_catalog.ts";
import { runFileBaseName } from "../../src/eval/results.ts";

Deno.test("each run experiment plans the runs REEF's artifact made", async () => {
  const expected: Partial<Record<ExperimentId, number>> = {
    "multi-stream": 5,
    "wait-motivation": 5,
    "rt-rate": 22,
    "disb-overall": 30,
    "disb-preemption": 12,
    "disb-selection": 6,
    "model-preemption": 10,
    // The sweeps: the tiny RT model alone, then each point under each mode (kernel-size also
    // runs each BE model alone, dq-tradeoff the one BE model).
    "be-scaling": 1 + 5 * 4,
    "kernel-size": 1 + 7 * (1 + 3),
    "queue-size": 1 + 7 * 3,
    "dq-tradeoff": 2 + 9,
    dkp: 5 * 5,
    "rt-latency": 5 * 7,
  };
  for (const experiment of Object.values(EXPERIMENTS)) {
    if (experiment.kind !== "runs") {
      await assert.rejects(
        planRuns(experiment.id),
        /is a (analytic|models-bench) experiment, not workload runs/,
      );
      continue;
    }
    const runs = await planRuns(experiment.id);
    assert.equal(runs.length, expected[experiment.id], experiment.id);
    // Result files of one experiment never overwrite each other.
    const names = runs.map((r) =>
      runFileBaseName({ ...r, workload: r.workload.name, mode: r.mode.label })
    );
    assert.equal(new Set(names).size, names.length, experiment.id);
  }
});

Deno.test("the RT-only baseline runs the workload without its BE clients", async () => {
  const runs = await planRuns("disb-overall");
  for (const run of runs) {
    const hasBe = run.workload.clients.some((c) => c.priority === "be");
    assert.equal(hasBe, run.mode.mode !== "rt-only", `${run.workload.name} ${run.mode.label}`);
  }
});

Deno.test("generated sweep workloads follow REEF's configurations", () => {
  const fig1 = multiStreamWorkload(4);
  assert.deepEqual(fig1.clients.map((c) => [c.model, c.priority, c.arrival]), [
    ["vgg19", "rt", { type: "uniform", rate_per_s: 30 }],
    ...Array.from(
      { length: 4 },
      () => ["resnet152", "be", { type: "closed_loop", rate_per_s: 40 }],
    ),
  ]);
  assert.deepEqual(rtRateWorkload(220).clients[0].arrival, { type: "uniform", rate_per_s: 220 });
  const preempt = preemptionWorkload("densenet201", 3);
  assert.equal(preempt.clients[0].model, MICRO_RT_MODEL);
  assert.deepEqual(preempt.clients[0].arrival, {
    type: "closed_loop",
    think_time_ms: { min: 1, max: 4 },
  });
  assert.equal(preempt.clients.filter((c) => c.model === "densenet201").length, 3);
  const dkp = dkpWorkload("vgg19", 50, 5);
  const rt = dkp.clients[0].arrival;
  assert.ok(rt.type === "trace" && rt.times_ms.length === 50 && rt.times_ms.every((t) => t === 0));
  assert.equal(dkp.clients.length, 6);
});

Deno.test("plans take the micro RT model and the DKP request count as options", async () => {
  const runs = await planRuns("be-scaling", { microRtModel: "tiny" });
  assert.ok(runs.every((r) => r.workload.clients[0].model === "tiny"));
  const dkp = await planRuns("dkp", { dkpRtRequests: 7 });
  const arrival = dkp[0].workload.clients[0].arrival;
  assert.ok(arrival.type === "trace" && arrival.times_ms.length === 7);
  const tradeoff = (await planRuns("dq-tradeoff")).filter((r) => !r.baseline);
  assert.deepEqual(tradeoff.map((r) => r.mode.deviceQueueCap), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
});

Deno.test("sweeps compare wait, stream-prio and reset on the same points, beside baselines", async () => {
  const kernel = await planRuns("kernel-size");
  const points = kernel.filter((r) => !r.baseline);
  assert.deepEqual(
    [...new Set(points.map((r) => r.mode.label))].sort(),
    ["reset", "stream-prio", "wait"],
  );
  // Every BE model of the sweep also runs alone, in rt-only mode, labelled with its point.
  for (const us of [10, 30, 100, 300, 1000, 3000, 10000]) {
    const alone = kernel.filter((r) => r.baseline && r.sweep.kernel_us === us);
    assert.equal(alone.length, 1, `kernel_us ${us}`);
    assert.equal(alone[0].mode.mode, "rt-only");
    assert.equal(alone[0].workload.clients[0].model, `syn_k${us}us`);
  }
  assert.ok(kernel.some((r) => r.workload.name === `solo-${MICRO_RT_MODEL}`));
  const scaling = (await planRuns("be-scaling")).filter((r) => r.sweep.n_be === 8);
  assert.deepEqual(scaling.map((r) => r.mode.label), ["wait", "stream-prio", "reset", "reset-raw"]);
  assert.equal(scaling[0].workload.clients.filter((c) => c.priority === "be").length, 8);
  assert.ok(kernel.every((r) => r.quickDurationS > 0 && r.quickDurationS <= 2));
});

Deno.test("the RT-latency comparison pairs each DISB model with a BE model under every mode", async () => {
  const runs = await planRuns("rt-latency");
  const vgg = runs.filter((r) => r.sweep.rt_model === "vgg19");
  assert.deepEqual(vgg.map((r) => r.mode.label), [
    "rt-only",
    "seq",
    "stream",
    "stream-prio",
    "wait",
    "reset",
    "reef",
  ]);
  assert.equal(vgg[0].baseline, true);
  assert.deepEqual(vgg[0].workload.clients.map((c) => c.priority), ["rt"]);
  assert.deepEqual(rtLatencyWorkload("vgg19").clients.map((c) => [c.model, c.priority]), [
    ["vgg19", "rt"],
    ["resnet152", "be"],
  ]);
});

Deno.test("every figure's experiment is described", () => {
  for (const figure of FIGURES) {
    assert.ok(EXPERIMENTS[figure.experiment].description.length > 0, figure.id);
  }
});
