/**
 * The summary files of `reef bench`, each computed from the runs of one session only, so that
 * every ratio compares runs made together:
 * - `disb.json` (issue 7): RT latency, throughput and preemption latency per DISB workload and
 *   mode, with the goals of issue 7 checked for each workload;
 * - `preemption.json` (issue 4): the preemption sweeps, one point per sweep value, mode and metric;
 * - `rt-latency.json` (issue 4): each DISB RT model beside a BE model, every mode, against RT-only;
 * - `dkp.json` (issue 5): RT execution latency and BE throughput with RT work queued back to back
 *   (fig. 15), the DKP build's overhead (fig. 16, from models.json) and kernel-selection times.
 * Every file names the device and the command, and says whether the device was simulated.
 * @module
 */

import {
  beThroughputDuringRt,
  type BuildOverheadRow,
  measuredKernelUs,
  rtExecutionUs,
} from "./figure_data.ts";
import { percentile } from "./metrics.ts";
import type { RunResult } from "./results.ts";

/** What every summary file starts with. */
export interface ReportHeader {
  /** The device's name (a simulated device says so in its name too). */
  device: string;
  /** True when the runs were on the simulated device: never GPU results. */
  simulated: boolean;
  /** The exact command line. */
  command: string;
  /** Whether the runs used quick-mode durations. */
  quick: boolean;
}

/** One row of disb.json. */
export interface DisbRow {
  workload: string;
  mode: string;
  rt_mean_ms: number | null;
  rt_p99_ms: number | null;
  throughput_rps: number;
  preempt_p99_us: number | null;
}

/**
 * Issue 7's goals for one workload, from the session's runs: REEF's RT mean within 2% and p99
 * within 5% of RT-only, throughput at least 90% of GPU streams', preemption p99 under 40 µs.
 * A value is null when a run it needs is missing, and so is `met`.
 */
export interface DisbGoals {
  workload: string;
  rt_mean_ratio: number | null;
  rt_p99_ratio: number | null;
  throughput_vs_stream: number | null;
  preempt_p99_us: number | null;
  met: boolean | null;
}

/** disb.json. */
export interface DisbReport extends ReportHeader {
  rows: DisbRow[];
  goals: DisbGoals[];
}

/** The thresholds of issue 7's goals. */
export const DISB_GOALS = {
  rtMeanRatio: 1.02,
  rtP99Ratio: 1.05,
  throughputVsStream: 0.9,
  preemptP99Us: 40,
} as const;

const ms = (us: number | null): number | null => (us === null ? null : us / 1e3);

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;
}

/** The rows of disb.json: one per run, in the order given. */
export function disbRows(runs: readonly RunResult[]): DisbRow[] {
  return runs.map((run) => ({
    workload: run.label.workload,
    mode: run.label.mode,
    rt_mean_ms: ms(run.summary.priorities.rt.latencyUs.mean),
    rt_p99_ms: ms(run.summary.priorities.rt.latencyUs.p99),
    throughput_rps: run.summary.throughputPerS,
    preempt_p99_us: run.summary.preemptLatencyUs.p99,
  }));
}

/** Issue 7's goals for each workload of the rows that has a `reef` row. */
export function disbGoals(rows: readonly DisbRow[]): DisbGoals[] {
  const workloads = [...new Set(rows.map((r) => r.workload))];
  return workloads.flatMap((workload) => {
    const row = (mode: string) => rows.find((r) => r.workload === workload && r.mode === mode);
    const reef = row("reef");
    if (reef === undefined) return [];
    const rtOnly = row("rt-only");
    const stream = row("stream");
    const goals = {
      workload,
      rt_mean_ratio: ratio(reef.rt_mean_ms, rtOnly?.rt_mean_ms),
      rt_p99_ratio: ratio(reef.rt_p99_ms, rtOnly?.rt_p99_ms),
      throughput_vs_stream: ratio(reef.throughput_rps, stream?.throughput_rps),
      preempt_p99_us: reef.preempt_p99_us,
    };
    const checks = [
      goals.rt_mean_ratio === null ? null : goals.rt_mean_ratio <= DISB_GOALS.rtMeanRatio,
      goals.rt_p99_ratio === null ? null : goals.rt_p99_ratio <= DISB_GOALS.rtP99Ratio,
      goals.throughput_vs_stream === null
        ? null
        : goals.throughput_vs_stream >= DISB_GOALS.throughputVsStream,
      // A run without any preemption has no preemption latency to miss the goal with.
      goals.preempt_p99_us === null ? true : goals.preempt_p99_us < DISB_GOALS.preemptP99Us,
    ];
    return [{
      ...goals,
      met: checks.includes(false) ? false : checks.includes(null) ? null : true,
    }];
  });
}

/** disb.json from the session's workload runs. */
export function disbReport(header: ReportHeader, runs: readonly RunResult[]): DisbReport {
  const rows = disbRows(runs);
  return { ...header, rows, goals: disbGoals(rows) };
}

/**
 * A short table of the rows for a terminal: mode, RT mean and p99 latency, overall throughput,
 * under a line naming the workload and the device (and saying so when it is simulated).
 */
export function formatDisbTable(
  rows: readonly DisbRow[],
  device: string,
  simulated: boolean,
): string {
  const cell = (value: number | null, digits: number) =>
    value === null ? "-" : value.toFixed(digits);
  const workloads = [...new Set(rows.map((r) => r.workload))].join(", ");
  const lines = [
    `DISB ${workloads} on ${device}${simulated ? " (SIMULATED: not GPU results)" : ""}`,
    `${"mode".padEnd(12)} ${"RT mean (ms)".padStart(12)} ${"RT p99 (ms)".padStart(12)} ` +
    `${"throughput (req/s)".padStart(18)}`,
    ...rows.map((r) =>
      `${r.mode.padEnd(12)} ${cell(r.rt_mean_ms, 3).padStart(12)} ` +
      `${cell(r.rt_p99_ms, 3).padStart(12)} ${cell(r.throughput_rps, 1).padStart(18)}`
    ),
  ];
  return lines.join("\n");
}

/** The sweeps of issue 4, by the swept parameter their runs are labelled with. */
export const PREEMPTION_SWEEPS = ["kernel_us", "queued", "n_be", "dq"] as const;

/** One of {@linkcode PREEMPTION_SWEEPS}. */
export type PreemptionSweep = typeof PREEMPTION_SWEEPS[number];

/**
 * What a point measures:
 * - `preempt`: from the preempt decision until the RT task's first kernel was launched (the
 *   scheduler's preemption latency; modes with a preemption only);
 * - `quiesce`: from the preempt decision until every BE stream was idle;
 * - `rt_delay`: each RT request's latency minus the median latency of the RT model run alone in
 *   the same session: what BE work cost the RT task, in every mode (stream-prio has no preempt
 *   call, so this is its only metric).
 */
export type PreemptionMetric = "preempt" | "quiesce" | "rt_delay";

/** One point of preemption.json. */
export interface PreemptionPoint {
  mode: string;
  sweep: PreemptionSweep;
  x: number;
  metric: PreemptionMetric;
  p50_us: number | null;
  p99_us: number | null;
  n: number;
  /** Kernel-duration sweep: one BE kernel's time measured alone in the same session, µs. */
  kernel_us_measured?: number | null;
  /** Device-queue sweep: mean BE latency, ms. */
  be_mean_ms?: number | null;
  /** Device-queue sweep: mean BE latency over the BE model's mean latency alone. */
  be_slowdown?: number | null;
}

/** preemption.json. */
export interface PreemptionReport extends ReportHeader {
  /** The RT model's median latency alone, µs: the reference of `rt_delay`. */
  rt_alone_p50_us: number | null;
  points: PreemptionPoint[];
  /** Points of a full-mode session with fewer than 1 000 preemptions, and similar remarks. */
  notes: string[];
}

/** Preemptions per point issue 4 asks for in full mode. */
export const MIN_PREEMPTIONS_FULL = 1000;

function distribution(
  values: readonly number[],
): { p50_us: number | null; p99_us: number | null; n: number } {
  return values.length === 0
    ? { p50_us: null, p99_us: null, n: 0 }
    : { p50_us: percentile(values, 50), p99_us: percentile(values, 99), n: values.length };
}

function sweepOf(run: RunResult): PreemptionSweep | undefined {
  return PREEMPTION_SWEEPS.find((key) => typeof run.label.sweep[key] === "number");
}

/** Median latency of the only client of a run alone, µs, or null. */
function soloP50(run: RunResult | undefined): number | null {
  return run === undefined || run.requests.length === 0
    ? null
    : percentile(run.requests.map((r) => r.latencyUs), 50);
}

/** Mean latency of the BE requests of a run (or of every request of a run alone), µs. */
function meanLatencyUs(run: RunResult | undefined, priority: "rt" | "be"): number | null {
  return run?.summary.priorities[priority].latencyUs.mean ?? null;
}

/**
 * preemption.json from the session's runs of the preemption sweeps.
 * @param runs The sweep runs and the standalone runs (`solo-<model>`, mode `rt-only`) they need.
 * @param rtModel The tiny RT model, whose standalone run is the reference of `rt_delay`.
 */
export function preemptionReport(
  header: ReportHeader,
  runs: readonly RunResult[],
  rtModel: string,
): PreemptionReport {
  const solo = (model: string) =>
    runs.find((r) => r.label.mode === "rt-only" && r.label.workload === `solo-${model}`);
  const rtAlone = soloP50(solo(rtModel));
  const points: PreemptionPoint[] = [];
  const notes: string[] = [];
  for (const run of runs) {
    const sweep = sweepOf(run);
    if (sweep === undefined || run.label.mode === "rt-only") continue;
    const x = run.label.sweep[sweep] as number;
    // The capacity is the point's x; the label's "reset-dq<Q>" would only repeat it.
    const mode = sweep === "dq" ? "reset" : run.label.mode;
    const extra: Partial<PreemptionPoint> = {};
    if (sweep === "kernel_us") {
      extra.kernel_us_measured = measuredKernelUs(
        runs.find((r) => r.label.mode === "rt-only" && r.label.sweep.kernel_us === x),
      );
    }
    if (sweep === "dq") {
      const be = meanLatencyUs(run, "be");
      const beModel = run.clients.find((c) => c.priority === "be")?.model;
      const alone = beModel === undefined ? null : meanLatencyUs(solo(beModel), "rt");
      extra.be_mean_ms = ms(be);
      extra.be_slowdown = ratio(be, alone);
    }
    const preempting = run.stats.preemptLatenciesUs.length > 0 ||
      ["wait", "reset", "reef"].includes(run.label.mode.replace(/-(raw|dq\d+)$/, ""));
    if (preempting) {
      const preempt = distribution(run.stats.preemptLatenciesUs);
      points.push({ mode, sweep, x, metric: "preempt", ...preempt, ...extra });
      points.push({
        mode,
        sweep,
        x,
        metric: "quiesce",
        ...distribution(run.stats.quiesceLatenciesUs),
      });
      if (!header.quick && preempt.n < MIN_PREEMPTIONS_FULL) {
        notes.push(
          `${sweep}=${x} ${mode}: ${preempt.n} preemptions, fewer than ${MIN_PREEMPTIONS_FULL}`,
        );
      }
    }
    if (rtAlone !== null) {
      const delays = run.requests.filter((r) => r.priority === "rt").map((r) =>
        r.latencyUs - rtAlone
      );
      points.push({
        mode,
        sweep,
        x,
        metric: "rt_delay",
        ...distribution(delays),
        ...(preempting ? {} : extra),
      });
    }
  }
  if (rtAlone === null) {
    notes.push(`No standalone run of "${rtModel}": the rt_delay points are missing`);
  }
  return { ...header, rt_alone_p50_us: rtAlone, points, notes };
}

/** One row of rt-latency.json. */
export interface RtLatencyRow {
  rt_model: string;
  be_model: string | null;
  mode: string;
  mean_ms: number | null;
  p99_ms: number | null;
  ratio_mean: number | null;
  ratio_p99: number | null;
}

/** rt-latency.json. */
export interface RtLatencyReport extends ReportHeader {
  rows: RtLatencyRow[];
}

/**
 * rt-latency.json from the session's runs labelled with an `rt_model` sweep value: RT latency
 * per model and mode, with ratios against the same model's `rt-only` run.
 */
export function rtLatencyReport(header: ReportHeader, runs: readonly RunResult[]): RtLatencyReport {
  const labelled = runs.filter((r) => typeof r.label.sweep.rt_model === "string");
  const rows = labelled.map((run): RtLatencyRow => {
    const rtModel = run.label.sweep.rt_model as string;
    const same = labelled.filter((r) => r.label.sweep.rt_model === rtModel);
    const baseline = same.find((r) => r.label.mode === "rt-only");
    const beModel = same.flatMap((r) => r.clients).find((c) => c.priority === "be")?.model ?? null;
    const latency = run.summary.priorities.rt.latencyUs;
    const alone = baseline?.summary.priorities.rt.latencyUs;
    return {
      rt_model: rtModel,
      be_model: beModel,
      mode: run.label.mode,
      mean_ms: ms(latency.mean),
      p99_ms: ms(latency.p99),
      ratio_mean: ratio(latency.mean, alone?.mean),
      ratio_p99: ratio(latency.p99, alone?.p99),
    };
  });
  return { ...header, rows };
}

/** One fig15 row of dkp.json: one model under one mode. */
export interface DkpFig15Row {
  model: string;
  mode: string;
  /** RT execution latency (start to end, no queueing), ms. */
  rt_max_ms: number | null;
  rt_p99_ms: number | null;
  /** BE inferences completed per second while RT work ran (null without BE clients). */
  be_throughput: number | null;
}

/** dkp.json. */
export interface DkpReport extends ReportHeader {
  fig15: DkpFig15Row[];
  /**
   * The DKP build's GPU time over the raw build's, minus 1, per model (models.json): as `reef` mode
   * uses it (padding launches for the kernels it may pad), and with every kernel padded.
   */
  fig16: { model: string; overhead: number | null; overhead_all_kernels: number | null }[];
  /** Where fig16 comes from: models.json of `reef bench models` in the output folder. */
  fig16_source: string | null;
  /** Mean selection time per RT kernel of each RT task that had BE work to pad from, µs. */
  selection_us: { p50: number | null; p99: number | null; samples: number };
}

/**
 * dkp.json from the session's runs of the DKP experiment (labelled with a `model` sweep value)
 * and, for fig16, the rows of models.json when there is one.
 */
export function dkpReport(
  header: ReportHeader,
  runs: readonly RunResult[],
  models: { source: string; rows: readonly BuildOverheadRow[] } | undefined,
): DkpReport {
  const fig15 = runs.filter((r) => typeof r.label.sweep.model === "string").map((run) => {
    const times = rtExecutionUs(run);
    return {
      model: run.label.sweep.model as string,
      mode: run.label.mode,
      rt_max_ms: times.length === 0 ? null : ms(Math.max(...times)),
      rt_p99_ms: times.length === 0 ? null : ms(percentile(times, 99)),
      be_throughput: beThroughputDuringRt(run),
    };
  });
  const selection = runs.filter((r) => r.label.mode === "reef")
    .flatMap((r) => r.stats.selectionTimesUs);
  return {
    ...header,
    fig15,
    fig16: (models?.rows ?? []).map((row) => ({
      model: row.model,
      overhead: row.dkp_overhead ?? null,
      overhead_all_kernels: row.dkp_overhead_all_kernels ?? null,
    })),
    fig16_source: models?.source ?? null,
    selection_us: {
      p50: selection.length === 0 ? null : percentile(selection, 50),
      p99: selection.length === 0 ? null : percentile(selection, 99),
      samples: selection.length,
    },
  };
}

/** Writes a summary file as indented JSON. */
export async function writeReport(path: string, report: ReportHeader): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
}
