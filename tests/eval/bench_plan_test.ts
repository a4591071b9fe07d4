import assert from "node:assert/strict";
import {
  estimatePlanSeconds,
  estimateRunSeconds,
  planBench,
  reportFileName,
  UnknownTargetError,
} from "../../src/eval/bench_plan.ts";
import { FIGURE_IDS } from "../../src/eval/figure_catalog.ts";

Deno.test("a workload target runs every mode once, RT-only without BE clients", async () => {
  const plan = await planBench("a", { quick: true });
  assert.deepEqual(plan.runs.map((r) => r.key), [
    "A-rt-only",
    "A-seq",
    "A-stream",
    "A-stream-prio",
    "A-wait",
    "A-reset",
    "A-reef",
  ]);
  assert.ok(plan.runs.every((r) => r.durationS === 10 && r.groups.join() === "workload"));
  assert.deepEqual(plan.runs[0]!.planned.workload.clients.map((c) => c.priority), ["rt"]);
  assert.deepEqual(plan.reports, ["disb"]);
  assert.deepEqual(plan.figures, []);
  assert.deepEqual(plan.benchModels, []);
  const full = await planBench("A", { quick: false, modes: ["reset", "reef"] });
  assert.deepEqual(full.runs.map((r) => [r.key, r.durationS]), [["A-reset", 60], ["A-reef", 60]]);
});

Deno.test("a figure target draws every figure of its runs, and runs shared by figures once", async () => {
  const plan = await planBench("fig10a", { quick: true });
  assert.deepEqual(plan.figures, ["10a", "10b"]);
  assert.equal(plan.runs.length, 30);
  assert.deepEqual(plan.reports, ["disb"]);
  const disb = await planBench("disb", { quick: true });
  // disb-overall (5 modes), disb-preemption (2) and disb-selection (reef again): 6 x 7 runs.
  assert.equal(disb.runs.length, 42);
  const reef = disb.runs.find((r) => r.key === "A-reef")!;
  assert.deepEqual(reef.groups, ["disb-overall", "disb-selection"]);
  assert.deepEqual(disb.figures, ["10a", "10b", "11a", "17a"]);
  const restore = await planBench("14b", { quick: true });
  assert.deepEqual([restore.runs.length, restore.figures], [0, ["14b"]]);
});

Deno.test("the preemption target runs the four sweeps with synthetic models", async () => {
  const plan = await planBench("preemption", { quick: true });
  assert.deepEqual(plan.figures, ["12a", "13a", "13b", "14a"]);
  assert.deepEqual(plan.reports, ["preemption"]);
  // The tiny RT model alone is one run, shared by the four sweeps.
  const alone = plan.runs.filter((r) => r.key === "solo-micro_rt-rt-only");
  assert.equal(alone.length, 1);
  assert.deepEqual(alone[0]!.groups, ["kernel-size", "queue-size", "be-scaling", "dq-tradeoff"]);
  assert.equal(plan.runs.length, 1 + 7 * 4 + 7 * 3 + 5 * 4 + 1 + 9);
  assert.deepEqual(
    plan.benchModels.map((m) => m.name).sort(),
    [
      "micro_rt",
      ...[10, 30, 100, 300, 1000, 3000, 10000].map((us) => `syn_k${us}us`),
      ...[1, 10, 100, 200, 300, 400, 500].map((n) => `syn_q${n}`),
      "syn_be",
      "syn_dq",
    ].sort(),
  );
  // Selecting a mode keeps the reference runs.
  const reset = await planBench("13a", { quick: true, modes: ["reset"] });
  assert.equal(reset.runs.filter((r) => r.planned.mode.mode === "reset").length, 7);
  assert.equal(reset.runs.filter((r) => r.planned.baseline).length, 8);
});

Deno.test("all runs every experiment once and its estimate stays within the 45-minute budget", async () => {
  const plan = await planBench("all", { quick: true });
  assert.deepEqual(plan.figures, [...FIGURE_IDS]);
  assert.deepEqual(plan.reports, ["disb", "preemption", "rt-latency", "dkp"]);
  assert.equal(new Set(plan.runs.map((r) => r.key)).size, plan.runs.length);
  const quick = estimatePlanSeconds(plan);
  assert.ok(quick.total < 45 * 60, `estimated ${quick.total} s`);
  const full = estimatePlanSeconds(await planBench("all", { quick: false }));
  assert.ok(full.total > 2 * quick.total);
  const override = await planBench("all", { quick: true, durationS: 0.5 });
  assert.ok(override.runs.every((r) => r.durationS === 0.5));
  // A run's estimate is its window, its models' loads and a fixed cost.
  const a = (await planBench("A", { quick: true, modes: ["reef"] })).runs[0]!;
  assert.ok(Math.abs(estimateRunSeconds(a) - (10 + 5.6 + 2.2 + 1.5)) < 1e-9);
});

Deno.test("only a whole group or all writes a full summary; a part is named for its target", () => {
  assert.equal(reportFileName("disb", "disb"), "disb.json");
  assert.equal(reportFileName("preemption", "all"), "preemption.json");
  assert.equal(reportFileName("preemption", "fig13A"), "preemption-13a.json");
  assert.equal(reportFileName("disb", "real"), "disb-REAL.json");
  assert.equal(reportFileName("disb", "work/my load.json"), "disb-my_load.json");
});

Deno.test("an unknown target lists what can be run", async () => {
  await assert.rejects(planBench("fig99", { quick: true }), (error) => {
    assert.ok(error instanceof UnknownTargetError);
    assert.match(error.message, /^Unknown benchmark "fig99": expected a DISB workload \(A, B/);
    assert.match(
      error.message,
      /a figure \(1a, 1b,.* 17a\), disb, preemption, rt-latency, dkp, all/,
    );
    return true;
  });
  await assert.rejects(planBench("missing.json", { quick: true }), /missing\.json/);
});
