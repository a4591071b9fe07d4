import assert from "node:assert/strict";
import {
  disbReport,
  dkpReport,
  formatDisbTable,
  preemptionReport,
  type ReportHeader,
  rtLatencyReport,
} from "../../src/eval/reports.ts";
import { dkpReefRun, syntheticRun } from "./synthetic_runs.ts";

const header: ReportHeader = {
  device: "NVIDIA H100 80GB HBM3",
  simulated: false,
  command: "reef bench test",
  quick: true,
};

Deno.test("disb.json has a row per run and checks issue 7's goals per workload", () => {
  const report = disbReport(header, [
    syntheticRun({ workload: "A", mode: "rt-only", rtLatenciesUs: [1000, 1000], wallUs: 1e6 }),
    syntheticRun({ workload: "A", mode: "stream", rtLatenciesUs: [3000, 3000], beCount: 10 }),
    syntheticRun({
      workload: "A",
      mode: "reef",
      rtLatenciesUs: [1010, 1030],
      beCount: 9,
      preemptUs: Array.from({ length: 101 }, (_, i) => i / 4), // p99 24.75 µs
    }),
    syntheticRun({ workload: "B", mode: "reef", rtLatenciesUs: [2000], preemptUs: [50] }),
    syntheticRun({ workload: "B", mode: "rt-only", rtLatenciesUs: [1000] }),
  ]);
  assert.equal(report.device, "NVIDIA H100 80GB HBM3");
  assert.equal(report.command, "reef bench test");
  assert.deepEqual(report.rows[0], {
    workload: "A",
    mode: "rt-only",
    rt_mean_ms: 1,
    rt_p99_ms: 1,
    throughput_rps: 2,
    preempt_p99_us: null,
  });
  assert.equal(report.rows[2]!.preempt_p99_us, 24.75);
  const [a, b] = report.goals;
  assert.equal(a!.workload, "A");
  assert.ok(Math.abs(a!.rt_mean_ratio! - 1.02) < 1e-12);
  assert.ok(Math.abs(a!.rt_p99_ratio! - 1.0298) < 1e-12);
  assert.ok(Math.abs(a!.throughput_vs_stream! - 11 / 12) < 1e-12);
  assert.equal(a!.met, true);
  // B: RT latency doubled, the preemption too slow, and no stream run to compare throughput.
  assert.deepEqual(b, {
    workload: "B",
    rt_mean_ratio: 2,
    rt_p99_ratio: 2,
    throughput_vs_stream: null,
    preempt_p99_us: 50,
    met: false,
  });
  const table = formatDisbTable(report.rows.slice(0, 3), report.device, false);
  assert.match(table, /^DISB A on NVIDIA H100 80GB HBM3\n/);
  assert.match(table, /\nreef\s+1\.020\s+1\.030\s+11\.0$/);
  assert.match(
    formatDisbTable(report.rows.slice(0, 1), "simulated H100-like GPU", true),
    /simulated H100-like GPU \(SIMULATED: not GPU results\)/,
  );
});

Deno.test("preemption.json has preempt, quiesce and RT-delay points for each sweep point", () => {
  const rtAlone = syntheticRun({
    workload: "solo-micro_rt",
    mode: "rt-only",
    rtLatenciesUs: [30, 40, 50],
  });
  const report = preemptionReport({ ...header, quick: false }, [
    rtAlone,
    syntheticRun({
      workload: "solo-syn_k100us",
      rtModel: "syn_k100us",
      mode: "rt-only",
      sweep: { kernel_us: 100 },
      rtLatenciesUs: [800, 808, 900], // 8 kernels: 101 µs each at the median
    }),
    syntheticRun({
      mode: "reset",
      sweep: { kernel_us: 100 },
      rtLatenciesUs: [50, 60, 70],
      beCount: 2,
      preemptUs: [10, 20, 30],
      quiesceUs: [40],
    }),
    syntheticRun({ mode: "stream-prio", sweep: { kernel_us: 100 }, rtLatenciesUs: [140] }),
    syntheticRun({ mode: "wait", sweep: { queued: 10 }, rtLatenciesUs: [40], preemptUs: [] }),
    syntheticRun({
      workload: "solo-syn_dq",
      rtModel: "syn_dq",
      mode: "rt-only",
      rtLatenciesUs: [2000, 2000],
    }),
    syntheticRun({
      mode: "reset-dq8",
      sweep: { dq: 8 },
      beModel: "syn_dq",
      beCount: 3,
      preemptUs: [5],
      rtLatenciesUs: [45],
    }),
  ], "micro_rt");
  assert.equal(report.rt_alone_p50_us, 40);
  const point = (mode: string, sweep: string, metric: string) =>
    report.points.filter((p) => p.mode === mode && p.sweep === sweep && p.metric === metric);
  assert.deepEqual(point("reset", "kernel_us", "preempt"), [{
    mode: "reset",
    sweep: "kernel_us",
    x: 100,
    metric: "preempt",
    p50_us: 20,
    p99_us: 29.8,
    n: 3,
    kernel_us_measured: 101,
  }]);
  assert.deepEqual(point("reset", "kernel_us", "quiesce").map((p) => [p.p50_us, p.n]), [[40, 1]]);
  assert.deepEqual(point("reset", "kernel_us", "rt_delay").map((p) => [p.p50_us, p.n]), [[20, 3]]);
  // stream-prio makes no preempt call: only the RT delay, 140 - 40 µs.
  assert.deepEqual(point("stream-prio", "kernel_us", "preempt"), []);
  assert.deepEqual(point("stream-prio", "kernel_us", "rt_delay").map((p) => p.p50_us), [100]);
  // A preemptive mode without a preemption still reports its point, empty.
  assert.deepEqual(point("wait", "queued", "preempt").map((p) => [p.x, p.p50_us, p.n]), [[
    10,
    null,
    0,
  ]]);
  // The device-queue sweep is reset at capacity x, with the BE slowdown against syn_dq alone.
  const dq = point("reset", "dq", "preempt")[0]!;
  assert.equal(dq.x, 8);
  assert.equal(dq.be_mean_ms, 5);
  assert.equal(dq.be_slowdown, 2.5);
  // Full mode asks for 1 000 preemptions per point.
  assert.ok(report.notes.includes("kernel_us=100 reset: 3 preemptions, fewer than 1000"));
  assert.deepEqual(preemptionReport(header, [], "micro_rt").notes, [
    'No standalone run of "micro_rt": the rt_delay points are missing',
  ]);
});

Deno.test("rt-latency.json compares each mode with RT-only of the same model", () => {
  const report = rtLatencyReport(header, [
    syntheticRun({ mode: "rt-only", sweep: { rt_model: "vgg19" }, rtLatenciesUs: [1000, 1000] }),
    syntheticRun({ mode: "reset", sweep: { rt_model: "vgg19" }, rtLatenciesUs: [1000, 1100] }),
    syntheticRun({ mode: "seq", sweep: { rt_model: "densenet201" }, rtLatenciesUs: [4000] }),
    syntheticRun({ mode: "reset", sweep: {}, rtLatenciesUs: [1] }),
  ]);
  assert.deepEqual(report.rows.map((r) => [r.rt_model, r.be_model, r.mode]), [
    ["vgg19", "resnet152", "rt-only"],
    ["vgg19", "resnet152", "reset"],
    ["densenet201", "resnet152", "seq"],
  ]);
  assert.equal(report.rows[0]!.ratio_mean, 1);
  assert.equal(report.rows[1]!.mean_ms, 1.05);
  assert.equal(report.rows[1]!.ratio_mean, 1.05);
  assert.ok(Math.abs(report.rows[1]!.ratio_p99! - 1.099) < 1e-12);
  // No RT-only run of densenet201 in this session: no ratio.
  assert.equal(report.rows[2]!.ratio_mean, null);
});

Deno.test("dkp.json has RT execution and BE throughput per model and mode, fig16 and selection", () => {
  const runs = [
    syntheticRun({ mode: "rt-only", sweep: { model: "vgg19" }, rtLatenciesUs: [1000, 3000] }),
    dkpReefRun({ selectionUs: [0.4, 0.6, 2] }),
  ];
  const rows = [
    { model: "vgg19", be_overhead: 0.01, dkp_overhead: 0.02, dkp_overhead_all_kernels: 0.18 },
  ];
  const report = dkpReport(header, runs, { source: "out/models.json", rows });
  assert.deepEqual(report.fig15, [
    { model: "vgg19", mode: "rt-only", rt_max_ms: 3, rt_p99_ms: 2.98, be_throughput: null },
    // Execution excludes queueing (1 and 5 ms); 6 BE requests end within the RT span of 15 ms.
    { model: "vgg19", mode: "reef", rt_max_ms: 5, rt_p99_ms: 4.96, be_throughput: 400 },
  ]);
  assert.deepEqual(report.fig16, [{ model: "vgg19", overhead: 0.02, overhead_all_kernels: 0.18 }]);
  assert.equal(report.fig16_source, "out/models.json");
  assert.deepEqual(report.selection_us, { p50: 0.6, p99: 1.972, samples: 3 });
  const bare = dkpReport(header, [], undefined);
  assert.deepEqual([bare.fig16, bare.fig16_source, bare.selection_us.p50], [[], null, null]);
});
