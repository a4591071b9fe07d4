/**
 * Builds each figure's data file from run results (see `figure_catalog.ts` for the columns).
 * Cells for runs that are missing are left empty, so a partly run experiment still plots.
 * The restore-overhead figure (14b) is computed from profiles, and the build-overhead figure
 * (16a) from the rows of `reef bench models`.
 * @module
 */

import { type CsvCell, formatCsv } from "./csv.ts";
import { benchModelSpec } from "./bench_models.ts";
import { DISB_MODELS, DKP_MODE_SPECS, EXPERIMENTS } from "./experiments.ts";
import { type FigureId, figureSpec } from "./figure_catalog.ts";
import { percentile } from "./metrics.ts";
import type { RunResult } from "./results.ts";
import { BUILTIN_WORKLOADS } from "./workload.ts";

/** The contents of a figure's data file. */
export interface FigureTable {
  columns: readonly string[];
  rows: CsvCell[][];
}

/** Formats a figure table as the CSV its gnuplot script reads. */
export function formatFigureCsv(table: FigureTable): string {
  return formatCsv(table.columns, table.rows);
}

/**
 * Writes a figure table to a CSV file, creating nothing else.
 * @param comment A first line for the file, such as `simulatedCsvComment` (results.ts).
 */
export async function writeFigureData(
  path: string,
  table: FigureTable,
  comment = "",
): Promise<void> {
  await Deno.writeTextFile(path, comment + formatFigureCsv(table));
}

const US_PER_MS = 1e3;

function ms(us: number | null): number | null {
  return us === null ? null : us / US_PER_MS;
}

/** The run with this mode label and these swept values (and workload, if given). */
function findRun(
  runs: readonly RunResult[],
  mode: string,
  sweep: Record<string, number | string>,
  workload?: string,
): RunResult | undefined {
  return runs.find((run) =>
    run.label.mode === mode &&
    (workload === undefined || run.label.workload === workload) &&
    Object.entries(sweep).every(([key, value]) => run.label.sweep[key] === value)
  );
}

/** Sorted distinct values of a swept parameter over the runs of the given modes. */
function sweptValues(runs: readonly RunResult[], key: string, modes: readonly string[]): number[] {
  const values = new Set<number>();
  for (const run of runs) {
    const value = run.label.sweep[key];
    if (modes.includes(run.label.mode) && typeof value === "number") values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

type Metric = (run: RunResult) => number | null;

const rtMeanLatencyMs: Metric = (run) => ms(run.summary.priorities.rt.latencyUs.mean);
const overallThroughput: Metric = (run) => run.summary.throughputPerS;
const beThroughput: Metric = (run) => run.summary.priorities.be.throughputPerS;

function preemptPercentile(p: number): Metric {
  return (run) =>
    run.stats.preemptLatenciesUs.length === 0 ? null : percentile(run.stats.preemptLatenciesUs, p);
}

/** Finished - started of every RT request, µs: REEF's "RT execution latency" (no queueing). */
export function rtExecutionUs(run: RunResult): number[] {
  return run.requests.filter((r) => r.priority === "rt").map((r) => r.finishedUs - r.startedUs);
}

const maxRtExecutionMs: Metric = (run) => {
  const times = rtExecutionUs(run);
  return times.length === 0 ? null : ms(Math.max(...times));
};

/**
 * BE requests completed per second while RT work ran: those finished between the first RT
 * request's start and the last one's end, over that span. Null without RT or BE requests. With RT
 * requests queued back to back, this is the BE throughput that sharing the GPU with RT gives.
 */
export function beThroughputDuringRt(run: RunResult): number | null {
  const rt = run.requests.filter((r) => r.priority === "rt");
  if (rt.length === 0 || !run.requests.some((r) => r.priority === "be")) return null;
  const from = Math.min(...rt.map((r) => r.startedUs));
  const to = Math.max(...rt.map((r) => r.finishedUs));
  const done =
    run.requests.filter((r) => r.priority === "be" && r.finishedUs >= from && r.finishedUs <= to)
      .length;
  return to > from ? done / ((to - from) / 1e6) : null;
}

/**
 * The measured time of one kernel of a synthetic benchmark model run alone: the median of
 * finished - started over its requests, divided by its kernel count. Null when the run is missing
 * or its model is not a synthetic benchmark model.
 */
export function measuredKernelUs(run: RunResult | undefined): number | null {
  const model = run?.clients[0]?.model;
  const spec = model === undefined ? undefined : benchModelSpec(model);
  if (run === undefined || spec === undefined || run.requests.length === 0) return null;
  return percentile(run.requests.map((r) => r.finishedUs - r.startedUs), 50) /
    spec.kernels.length;
}

/** Rows over the DISB workloads present in the runs, one column per (mode, metric). */
function disbRows(
  runs: readonly RunResult[],
  series: readonly { mode: string; metric: Metric }[],
): CsvCell[][] {
  const modes = series.map((s) => s.mode);
  const names = BUILTIN_WORKLOADS.filter((name) =>
    runs.some((r) => r.label.workload === name && modes.includes(r.label.mode))
  );
  return names.map((name) => [
    name,
    ...series.map(({ mode, metric }) => {
      const run = findRun(runs, mode, {}, name);
      return run === undefined ? null : metric(run);
    }),
  ]);
}

/** Rows over the values of a numeric swept parameter, one column per (mode, metric). */
function sweepRows(
  runs: readonly RunResult[],
  key: string,
  series: readonly { mode: string; metric: Metric }[],
): CsvCell[][] {
  return sweptValues(runs, key, series.map((s) => s.mode)).map((value) => [
    value,
    ...series.map(({ mode, metric }) => {
      const run = findRun(runs, mode, { [key]: value });
      return run === undefined ? null : metric(run);
    }),
  ]);
}

/** Rows over the DISB models present in the runs (REEF's short names), one column per series. */
function modelRows(
  runs: readonly RunResult[],
  series: readonly { mode: string; metric: Metric }[],
): CsvCell[][] {
  const modes = series.map((s) => s.mode);
  return DISB_MODELS.filter(({ model }) =>
    runs.some((r) => r.label.sweep.model === model && modes.includes(r.label.mode))
  )
    .map(({ model, short }) => [
      short,
      ...series.map(({ mode, metric }) => {
        const run = findRun(runs, mode, { model });
        return run === undefined ? null : metric(run);
      }),
    ]);
}

/** The modes of figures 15a and 15b beside RT-only, in their columns' order: the experiment's. */
const DKP_FIGURE_MODES = DKP_MODE_SPECS.map((spec) => spec.label);

const DISB_OVERALL_MODES = ["rt-only", "seq", "stream", "stream-prio", "reef"] as const;

function rowsFor(id: FigureId, runs: readonly RunResult[]): CsvCell[][] {
  switch (id) {
    case "1a":
      return sweepRows(runs, "n_be", [
        { mode: "stream", metric: beThroughput },
        { mode: "stream", metric: (run) => run.summary.priorities.rt.throughputPerS },
      ]);
    case "1b":
      return sweptValues(runs, "n_be", ["stream"]).flatMap((n) => {
        const run = findRun(runs, "stream", { n_be: n });
        return (run?.requests ?? []).filter((r) => r.priority === "rt")
          .map((r): CsvCell[] => [n, r.latencyUs / US_PER_MS]);
      });
    case "1c": {
      const standalone = findRun(runs, "reef", { n_be: 0 });
      const executionMs = standalone === undefined ? null : rtMeanLatencyMs(standalone);
      return sweepRows(runs, "n_be", [{ mode: "wait", metric: preemptPercentile(95) }])
        .map(([n, preemptUs]) => [n, executionMs, ms(preemptUs as number | null)]);
    }
    case "1d":
      return sweepRows(runs, "rt_rate", [
        { mode: "reset", metric: beThroughput },
        { mode: "stream", metric: beThroughput },
      ]);
    case "10a":
      return disbRows(runs, DISB_OVERALL_MODES.map((mode) => ({ mode, metric: rtMeanLatencyMs })));
    case "10b":
      return disbRows(
        runs,
        DISB_OVERALL_MODES.map((mode) => ({ mode, metric: overallThroughput })),
      );
    case "11a":
      return disbRows(runs, [
        { mode: "wait", metric: (run) => run.summary.preemptLatencyUs.mean },
        { mode: "reset", metric: (run) => run.summary.preemptLatencyUs.mean },
        { mode: "reset", metric: (run) => run.summary.quiesceLatencyUs.mean },
      ]);
    case "11b":
      return modelRows(runs, [
        { mode: "wait", metric: preemptPercentile(90) },
        { mode: "reset", metric: preemptPercentile(90) },
      ]);
    case "12a":
      return sweepRows(runs, "n_be", [
        { mode: "wait", metric: preemptPercentile(95) },
        { mode: "reset-raw", metric: preemptPercentile(95) },
        { mode: "reset", metric: preemptPercentile(95) },
      ]);
    case "13a":
      // x is the kernel time measured alone in the same session; points without it are dropped.
      return sweepRows(runs, "kernel_us", [
        { mode: "wait", metric: preemptPercentile(80) },
        { mode: "reset", metric: preemptPercentile(80) },
      ]).map((
        [us, ...cells],
      ) => [measuredKernelUs(findRun(runs, "rt-only", { kernel_us: us! })), ...cells])
        .filter(([x]) => x !== null);
    case "13b":
      return sweepRows(runs, "queued", [
        { mode: "wait", metric: preemptPercentile(50) },
        { mode: "reset", metric: preemptPercentile(50) },
      ]);
    case "14a":
      return sweptValues(runs, "dq", runs.map((r) => r.label.mode)).map((q) => {
        const run = runs.find((r) => r.label.sweep.dq === q) as RunResult;
        return [q, preemptPercentile(90)(run), ms(run.summary.priorities.be.latencyUs.mean)];
      });
    case "15a":
      return modelRows(
        runs,
        ["rt-only", ...DKP_FIGURE_MODES].map((mode) => ({ mode, metric: maxRtExecutionMs })),
      );
    case "15b":
      return modelRows(
        runs,
        DKP_FIGURE_MODES.map((mode) => ({ mode, metric: beThroughputDuringRt })),
      );
    case "17a":
      return disbRows(runs, [{ mode: "reef", metric: (run) => run.summary.selectionTimeUs.mean }]);
    case "14b":
    case "16a": {
      const spec = figureSpec(id);
      const experiment = EXPERIMENTS[spec.experiment];
      throw new Error(
        `Figure ${id} is not built from workload runs: its data come from the ${experiment.kind} ` +
          `experiment "${experiment.id}" (${experiment.description})`,
      );
    }
  }
}

/**
 * Builds a figure's data table from the results of its experiment's runs.
 *
 * @param id A figure built from workload runs (all but 14b and 16a).
 * @param runs Results labelled as {@linkcode planRuns} plans them (mode labels and sweeps).
 * @throws {Error} if the figure is not built from runs, or no run yields a row.
 */
export function buildFigureTable(id: FigureId, runs: readonly RunResult[]): FigureTable {
  const spec = figureSpec(id);
  const rows = rowsFor(id, runs);
  if (rows.length === 0) {
    throw new Error(
      `Figure ${id} has no data: none of the ${runs.length} runs given belongs to experiment ` +
        `"${spec.experiment}" (${EXPERIMENTS[spec.experiment].description})`,
    );
  }
  return { columns: spec.columns, rows };
}

/** What the restore-overhead figure needs of a model's profile. */
export interface ModelProfileSummary {
  /** The model's name (a DISB model gets REEF's short name in the figure). */
  name: string;
  /** Standalone time of one inference, µs. */
  latencyUs: number;
  /** Standalone time of each kernel call, in launch order, µs. */
  kernelTimesUs: readonly number[];
}

/**
 * Fig. 14b, REEF's analytic restore overhead (`art:evaluation/fig14/generate.py`): a restore
 * re-runs about `restoreKernels` kernels, so the overhead is restoreKernels x the mean kernel
 * time, as a percentage of the model's latency.
 *
 * @param restoreKernels Kernels re-run per restore; REEF used 4.
 */
export function restoreOverheadTable(
  models: readonly ModelProfileSummary[],
  restoreKernels = 4,
): FigureTable {
  const rows = models.map((model): CsvCell[] => {
    if (model.kernelTimesUs.length === 0 || !(model.latencyUs > 0)) {
      throw new Error(
        `Cannot compute the restore overhead of model "${model.name}": it needs kernels and a ` +
          `positive latency (got ${model.kernelTimesUs.length} kernels, ${model.latencyUs} µs)`,
      );
    }
    const meanKernelUs = model.kernelTimesUs.reduce((s, t) => s + t, 0) /
      model.kernelTimesUs.length;
    const short = DISB_MODELS.find((m) => m.model === model.name)?.short ?? model.name;
    return [short, (100 * restoreKernels * meanKernelUs) / model.latencyUs];
  });
  return { columns: figureSpec("14b").columns, rows };
}

/**
 * Whether a figure table has a value to plot: some cell after the x column is not empty. gnuplot
 * fails on data without a single point, so a figure without one is reported instead of drawn.
 */
export function hasPlotData(table: FigureTable): boolean {
  return table.rows.some((row) => row.slice(1).some((cell) => cell !== null));
}

/** What the build-overhead figure needs of one row of `reef bench models` (models.json). */
export interface BuildOverheadRow {
  model: string;
  /** GPU time of the BE build over the raw build's, minus 1. */
  be_overhead: number;
  /**
   * GPU time of the DKP build over the raw build's, minus 1: padding launches (no BE blocks) for
   * the kernels `reef` mode may pad, raw launches for the others.
   */
  dkp_overhead?: number;
  /** The same with every kernel as its padding launch. */
  dkp_overhead_all_kernels?: number;
}

/**
 * Fig. 16a from the rows of `reef bench models`: the BE and DKP builds' overheads over the raw
 * build, in percent (a DKP cell is empty for a models.json written before it was timed).
 */
export function buildOverheadTable(rows: readonly BuildOverheadRow[]): FigureTable {
  return {
    columns: figureSpec("16a").columns,
    rows: rows.map((row): CsvCell[] => [
      DISB_MODELS.find((m) => m.model === row.model)?.short ?? row.model,
      100 * row.be_overhead,
      row.dkp_overhead === undefined ? null : 100 * row.dkp_overhead,
      row.dkp_overhead_all_kernels === undefined ? null : 100 * row.dkp_overhead_all_kernels,
    ]),
  };
}
