import assert from "node:assert/strict";
import {
  dkpWorkload,
  type ExperimentId,
  EXPERIMENTS,
  MICRO_RT_MODEL,
  multiStreamWorkload,
  planRuns,
  preemptionWorkload,
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
    "be-scaling": 15,
    "dq-tradeoff": 9,
    dkp: 15,
  };
  for (const experiment of Object.values(EXPERIMENTS)) {
    if (experiment.kind !== "runs") {
      await assert.rejects(
        planRuns(experiment.id),
        /is a (micro|analytic) experiment, not workload runs/,
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
  const tradeoff = await planRuns("dq-tradeoff");
  assert.deepEqual(tradeoff.map((r) => r.mode.deviceQueueCap), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
});

Deno.test("every figure's experiment is described", () => {
  for (const figure of FIGURES) {
    assert.ok(EXPERIMENTS[figure.experiment].description.length > 0, figure.id);
  }
});
