import assert from "node:assert/strict";
import { join } from "node:path";
import { EXPERIMENTS, planRuns, withoutBeClients } from "../../src/eval/experiments.ts";
import { FIGURES } from "../../src/eval/figure_catalog.ts";
import {
  buildFigureTable,
  formatFigureCsv,
  restoreOverheadTable,
  writeFigureData,
} from "../../src/eval/figure_data.ts";
import { figureNote, renderFigure } from "../../src/eval/figures.ts";
import type { RunResult } from "../../src/eval/results.ts";
import { runWorkload } from "../../src/eval/runner.ts";
import { loadBuiltinWorkload } from "../../src/eval/workload.ts";
import { FakeTarget } from "./fake_target.ts";
import { dkpReefRun, syntheticRun } from "./synthetic_runs.ts";

Deno.test("DISB figures have one row per workload, in DISB order, empty cells for missing runs", () => {
  const runs = [
    syntheticRun({ workload: "REAL", mode: "reef", rtLatenciesUs: [3000], beCount: 9 }),
    syntheticRun({ workload: "A", mode: "reef", rtLatenciesUs: [1000, 2000], beCount: 8 }),
    syntheticRun({ workload: "A", mode: "rt-only", rtLatenciesUs: [1000, 1000] }),
  ];
  const latency = buildFigureTable("10a", runs);
  assert.deepEqual(latency.columns, [
    "Workload",
    "RT-Only",
    "SEQ",
    "GPUStreams",
    "GPUStreams+Prio",
    "REEF",
  ]);
  assert.deepEqual(latency.rows, [["A", 1, null, null, null, 1.5], [
    "REAL",
    null,
    null,
    null,
    null,
    3,
  ]]);
  const throughput = buildFigureTable("10b", runs);
  assert.deepEqual(throughput.rows[0], ["A", 2, null, null, null, 10]);
  assert.equal(
    formatFigureCsv(throughput),
    "Workload,RT-Only,SEQ,GPUStreams,GPUStreams+Prio,REEF\nA,2,,,,10\nREAL,,,,,10\n",
  );
});

Deno.test("preemption and selection figures take the scheduler statistics", () => {
  const runs = [
    syntheticRun({ workload: "B", mode: "wait", preemptUs: [300, 500], quiesceUs: [300, 500] }),
    syntheticRun({ workload: "B", mode: "reset", preemptUs: [10, 20], quiesceUs: [40, 60] }),
    syntheticRun({ workload: "B", mode: "reef", selectionUs: [0.5, 1.5] }),
  ];
  assert.deepEqual(buildFigureTable("11a", runs).rows, [["B", 400, 15, 50]]);
  assert.deepEqual(buildFigureTable("17a", runs).rows, [["B", 1]]);
});

Deno.test("swept figures have one row per swept value", () => {
  const preempt = Array.from({ length: 101 }, (_, i) => i); // p90 = 90, p95 = 95
  const runs = [
    syntheticRun({ mode: "stream", sweep: { n_be: 2 }, rtLatenciesUs: [2000, 4000], beCount: 3 }),
    syntheticRun({ mode: "stream", sweep: { n_be: 0 }, rtLatenciesUs: [1000] }),
    syntheticRun({ mode: "wait", sweep: { n_be: 4 }, preemptUs: preempt.map((p) => p * 100) }),
    syntheticRun({ mode: "reef", sweep: { n_be: 0 }, rtLatenciesUs: [1200, 1400] }),
    syntheticRun({ mode: "reset", sweep: { n_be: 4 }, preemptUs: preempt }),
    syntheticRun({ mode: "reset-raw", sweep: { n_be: 4 }, preemptUs: preempt.map((p) => p * 2) }),
  ];
  assert.deepEqual(buildFigureTable("1a", runs).rows, [[0, 0, 1], [2, 3, 2]]);
  assert.deepEqual(buildFigureTable("1b", runs).rows, [[0, 1], [2, 2], [2, 4]]);
  assert.deepEqual(buildFigureTable("1c", runs).rows, [[4, 1.3, 9.5]]);
  assert.deepEqual(buildFigureTable("12a", runs).rows, [[4, 9500, 190, 95]]);
  const rate = [
    syntheticRun({ mode: "reset", sweep: { rt_rate: 50 }, beCount: 7 }),
    syntheticRun({ mode: "stream", sweep: { rt_rate: 50 }, beCount: 5 }),
    syntheticRun({ mode: "reset", sweep: { rt_rate: 10 }, beCount: 9 }),
  ];
  assert.deepEqual(buildFigureTable("1d", rate).rows, [[10, 9, null], [50, 7, 5]]);
  const tradeoff = [
    syntheticRun({ mode: "reset-dq8", sweep: { dq: 8 }, preemptUs: preempt, beCount: 2 }),
    syntheticRun({ mode: "reset-dq2", sweep: { dq: 2 }, preemptUs: [7], beCount: 1 }),
  ];
  assert.deepEqual(buildFigureTable("14a", tradeoff).rows, [[2, 7, 5], [8, 90, 5]]);
});

Deno.test("per-model figures use REEF's short model names and RT execution time", () => {
  const runs = [
    syntheticRun({ mode: "wait", sweep: { model: "densenet201" }, preemptUs: [100, 200] }),
    syntheticRun({ mode: "reset", sweep: { model: "densenet201" }, preemptUs: [10, 20] }),
    syntheticRun({ mode: "wait", sweep: { model: "resnet152" }, preemptUs: [50] }),
    dkpReefRun(),
  ];
  assert.deepEqual(buildFigureTable("11b", runs).rows, [["RNET", 50, null], ["DNET", 190, 19]]);
  // RT execution excludes queueing: 9 ms latency - 4 ms queued.
  assert.deepEqual(buildFigureTable("15a", runs).rows.at(-1), ["VGG", null, null, null, null, 5]);
  // 6 BE requests finished within the RT span [4 ms, 19 ms]: 400 per second.
  assert.deepEqual(buildFigureTable("15b", runs).rows.at(-1), ["VGG", null, null, null, 400]);
});

Deno.test("figures without runs explain where their data come from", () => {
  assert.throws(
    () => buildFigureTable("14b", []),
    /Figure 14b is not built from workload runs: its data come from the analytic experiment "restore-overhead" \(From each DISB model's profile/,
  );
  assert.throws(
    () => buildFigureTable("10a", [syntheticRun({ mode: "stream", sweep: { n_be: 1 } })]),
    /Figure 10a has no data: none of the 1 runs given belongs to experiment "disb-overall"/,
  );
});

Deno.test("the restore overhead is REEF's 4 x mean kernel time over model latency", () => {
  const table = restoreOverheadTable([
    { name: "resnet152", latencyUs: 1000, kernelTimesUs: [10, 20, 30] },
    { name: "toy", latencyUs: 50, kernelTimesUs: [5] },
  ]);
  assert.deepEqual(table.rows, [["RNET", 8], ["toy", 40]]);
  assert.deepEqual(
    restoreOverheadTable([{ name: "toy", latencyUs: 50, kernelTimesUs: [5] }], 2).rows,
    [
      ["toy", 20],
    ],
  );
  assert.throws(
    () => restoreOverheadTable([{ name: "empty", latencyUs: 10, kernelTimesUs: [] }]),
    /Cannot compute the restore overhead of model "empty"/,
  );
});

Deno.test("every run-based figure gets rows from results labelled as its experiment plans them", async () => {
  for (const figure of FIGURES) {
    if (EXPERIMENTS[figure.experiment].kind !== "runs") continue;
    const plan = await planRuns(figure.experiment);
    const runs = plan.map((p) =>
      syntheticRun({
        workload: p.workload.name,
        rtModel: p.workload.clients[0].model,
        mode: p.mode.label,
        sweep: p.sweep,
        rtLatenciesUs: [1000, 2000],
        beCount: p.workload.clients.some((c) => c.priority === "be") ? 3 : 0,
        preemptUs: [10, 20],
        quiesceUs: [30],
        selectionUs: [1],
      })
    );
    const table = buildFigureTable(figure.id, runs);
    for (const row of table.rows) {
      assert.equal(row.length, figure.columns.length, `figure ${figure.id}`);
      if (figure.id !== "1b") {
        assert.ok(row.slice(1).every((cell) => cell !== null), `figure ${figure.id}: ${row}`);
      }
    }
  }
});

Deno.test("a figure is drawn end to end from runs on a target", async () => {
  const workload = await loadBuiltinWorkload("A");
  const runs: RunResult[] = [];
  for (const [mode, w] of [["rt-only", withoutBeClients(workload)], ["reef", workload]] as const) {
    const target = new FakeTarget({ serviceUs: { vgg19: 1_500, resnet152: 6_000 } });
    runs.push(
      await runWorkload(w, target, {
        mode,
        commandLine: "reef bench 10a",
        durationS: 0.2,
        progress: false,
      }),
    );
  }
  const table = buildFigureTable("10a", runs);
  assert.deepEqual(table.rows, [["A", 1.5, null, null, null, 1.5]]);
  const note = figureNote(runs);
  assert.equal(note, "SIMULATED device (fake virtual-time device): not GPU results");
  assert.equal(figureNote([syntheticRun({ mode: "reef" })]), "NVIDIA H100 80GB HBM3");
  const dir = await Deno.makeTempDir();
  try {
    const data = join(dir, "fig10a.csv");
    await writeFigureData(data, table);
    const rendered = await renderFigure("10a", data, dir, { note });
    assert.ok((await Deno.stat(rendered.png)).size > 10_000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
