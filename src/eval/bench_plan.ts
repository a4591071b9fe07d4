/**
 * What one `reef bench <target>` invocation runs: the target (a workload, a figure, a group of
 * experiments, or `all`) expanded into its runs, with runs shared by several figures made once,
 * the figures to draw, the summary files to write, the synthetic models to build, and an estimate
 * of how long it takes (the budget in `evaluation/README.md`).
 * @module
 */

import { basename } from "node:path";
import { type BenchModelSpec, benchModelSpec } from "./bench_models.ts";
import {
  type ExperimentId,
  EXPERIMENTS,
  type PlannedRun,
  planRuns,
  workloadRuns,
} from "./experiments.ts";
import { FIGURE_IDS, type FigureId, FIGURES } from "./figure_catalog.ts";
import { runFileBaseName } from "./results.ts";
import { BUILTIN_WORKLOADS, loadBuiltinWorkload, loadWorkload } from "./workload.ts";

/** The summary files a session can write. */
export type ReportKind = "disb" | "preemption" | "rt-latency" | "dkp";

/** The group of a run that is not part of an experiment: a workload named on the command line. */
export const WORKLOAD_GROUP = "workload";

/** A group of runs: an experiment, or {@linkcode WORKLOAD_GROUP}. */
export type RunGroup = ExperimentId | typeof WORKLOAD_GROUP;

/** One run of a session. */
export interface SessionRun {
  /** Unique in the session: the base name of the run's result files. */
  key: string;
  planned: PlannedRun;
  /** Every group that uses the run. */
  groups: RunGroup[];
  /** The measured window, seconds. */
  durationS: number;
  /** Samples the run goes on for past its window; none when `--duration` fixes the window. */
  minSamples?: { count: number; maxDurationS: number };
}

/** The expansion of a target. */
export interface BenchPlan {
  /** The target as named on the command line. */
  target: string;
  runs: SessionRun[];
  /** The figures to draw, in paper order. */
  figures: FigureId[];
  reports: ReportKind[];
  /** Synthetic models the runs use, to build before the first run. */
  benchModels: BenchModelSpec[];
}

/** Options of {@linkcode planBench}. */
export interface BenchPlanOptions {
  /** Quick-mode windows (each run's `quickDurationS`) instead of the workloads' durations. */
  quick: boolean;
  /** One window for every run, seconds; overrides both modes, and runs never go past it. */
  durationS?: number;
  /** Keep only runs of these modes or mode labels (baseline runs are always kept). */
  modes?: readonly string[];
}

/** Thrown for a target that names nothing `reef bench` can run. */
export class UnknownTargetError extends Error {
  /** Creates the error naming the target. */
  constructor(target: string) {
    super(
      `Unknown benchmark "${target}": expected a DISB workload (${
        BUILTIN_WORKLOADS.join(", ")
      }), ` +
        `a workload file (*.json), a figure (${FIGURE_IDS.join(", ")}), disb, preemption, ` +
        "rt-latency, dkp, all, demo, ffi or models",
    );
    this.name = "UnknownTargetError";
  }
}

const DISB_EXPERIMENTS: readonly ExperimentId[] = [
  "disb-overall",
  "disb-preemption",
  "disb-selection",
];

const PREEMPTION_EXPERIMENTS: readonly ExperimentId[] = [
  "kernel-size",
  "queue-size",
  "be-scaling",
  "dq-tradeoff",
];

/** The experiments each summary file is built from. */
export const REPORT_GROUPS: Record<ReportKind, readonly RunGroup[]> = {
  disb: [WORKLOAD_GROUP, ...DISB_EXPERIMENTS],
  preemption: PREEMPTION_EXPERIMENTS,
  "rt-latency": ["rt-latency"],
  dkp: ["dkp"],
};

/** The experiments a group target runs. */
const GROUP_TARGETS: Record<string, readonly ExperimentId[]> = {
  disb: DISB_EXPERIMENTS,
  preemption: PREEMPTION_EXPERIMENTS,
  "rt-latency": ["rt-latency"],
  dkp: ["dkp"],
};

function figureId(target: string): FigureId | undefined {
  const id = target.replace(/^fig/i, "").toLowerCase();
  return FIGURE_IDS.find((f) => f === id);
}

/**
 * The summary file a target writes for a report kind: `<kind>.json` when the target runs the whole
 * group (the group itself or `all`); otherwise the target's name is added (`preemption-13a.json`,
 * `disb-A.json`), so that a figure or one workload never overwrites the full summary with a part.
 */
export function reportFileName(kind: ReportKind, target: string): string {
  if (target === "all" || target === kind) return `${kind}.json`;
  const name = figureId(target) ??
    BUILTIN_WORKLOADS.find((w) => w.toLowerCase() === target.toLowerCase()) ??
    basename(target).replace(/\.json$/, "");
  return `${kind}-${name.replace(/[^A-Za-z0-9._-]/g, "_")}.json`;
}

/**
 * Expands a target into its plan.
 * @throws {UnknownTargetError} for a target that is not a workload, figure, group or `all`.
 * @throws {Error} for a workload file that cannot be loaded.
 */
export async function planBench(target: string, options: BenchPlanOptions): Promise<BenchPlan> {
  const grouped: { group: RunGroup; runs: PlannedRun[] }[] = [];
  let figures: FigureId[] = [];
  const builtin = BUILTIN_WORKLOADS.find((w) => w.toLowerCase() === target.toLowerCase());
  const figure = figureId(target);
  let experiments: readonly ExperimentId[];
  if (builtin !== undefined || target.endsWith(".json")) {
    const workload = builtin !== undefined
      ? await loadBuiltinWorkload(builtin)
      : await loadWorkload(target);
    grouped.push({ group: WORKLOAD_GROUP, runs: workloadRuns(workload) });
    experiments = [];
  } else if (target === "all") {
    experiments = (Object.keys(EXPERIMENTS) as ExperimentId[])
      .filter((id) => EXPERIMENTS[id].kind === "runs");
    figures = [...FIGURE_IDS];
  } else if (Object.hasOwn(GROUP_TARGETS, target)) {
    experiments = GROUP_TARGETS[target]!;
  } else if (figure !== undefined) {
    const experiment = FIGURES.find((f) => f.id === figure)!.experiment;
    experiments = EXPERIMENTS[experiment].kind === "runs" ? [experiment] : [];
    figures = [figure];
  } else {
    throw new UnknownTargetError(target);
  }
  for (const id of experiments) grouped.push({ group: id, runs: await planRuns(id) });
  // Every figure whose experiment runs is drawn (asking for 10a draws 10b from the same runs).
  figures = FIGURE_IDS.filter((id) =>
    figures.includes(id) || experiments.includes(FIGURES.find((f) => f.id === id)!.experiment)
  );
  const runs = new Map<string, SessionRun>();
  for (const { group, runs: planned } of grouped) {
    for (const run of planned) {
      if (!keepRun(run, options.modes)) continue;
      const key = runFileBaseName({
        workload: run.workload.name,
        mode: run.mode.label,
        sweep: run.sweep,
      });
      const known = runs.get(key);
      if (known !== undefined) {
        if (!known.groups.includes(group)) known.groups.push(group);
        continue;
      }
      const durationS = options.durationS ??
        (options.quick ? run.quickDurationS : run.workload.duration_s);
      const minSamples = options.durationS === undefined ? run.minSamples : undefined;
      runs.set(key, {
        key,
        planned: run,
        groups: [group],
        durationS,
        ...(minSamples === undefined ? {} : { minSamples }),
      });
    }
  }
  const reports = (Object.keys(REPORT_GROUPS) as ReportKind[]).filter((kind) =>
    [...runs.values()].some((run) => run.groups.some((g) => REPORT_GROUPS[kind].includes(g)))
  );
  const models = new Set(
    [...runs.values()].flatMap((r) => r.planned.workload.clients.map((c) => c.model)),
  );
  const benchModels = [...models].flatMap((name) => benchModelSpec(name) ?? []);
  return { target, runs: [...runs.values()], figures, reports, benchModels };
}

function keepRun(run: PlannedRun, modes: readonly string[] | undefined): boolean {
  return modes === undefined || run.baseline === true || modes.includes(run.mode.mode) ||
    modes.includes(run.mode.label);
}

/**
 * Estimated host time to load each model in a run, seconds: generating and laying out its seeded
 * weights, measured on a 2-core development machine (fp16; module loads and uploads not included).
 * The GPU factory does this once per model per scheduler, and `reef bench` creates one scheduler
 * per run.
 */
export const MODEL_LOAD_ESTIMATE_S: Readonly<Record<string, number>> = {
  vgg19: 5.6,
  resnet152: 2.2,
  densenet201: 0.8,
  inception_v3: 0.7,
  distilbert: 1.5,
};

/** Estimated load time of a model not in {@linkcode MODEL_LOAD_ESTIMATE_S}, seconds. */
const OTHER_MODEL_LOAD_S = 2;

/**
 * Estimated fixed cost of a run beyond its window and model loads, seconds: starting the worker
 * and the device, warm-up inferences, draining requests in flight, writing results. Not measured
 * on the GPU yet: `reef bench` records every run's real duration in its timings file.
 */
export const RUN_OVERHEAD_ESTIMATE_S = 1.5;

/**
 * Estimated time to compile one synthetic model with nvcc (two builds at once), seconds; measured
 * 0.9 s on the 2-core development machine.
 */
export const NVCC_ESTIMATE_S = 1;

/** Estimated wall time of one run, seconds. */
export function estimateRunSeconds(run: SessionRun): number {
  const models = new Set(run.planned.workload.clients.map((c) => c.model));
  let load = 0;
  for (const model of models) {
    load += benchModelSpec(model) !== undefined
      ? 0
      : MODEL_LOAD_ESTIMATE_S[model] ?? OTHER_MODEL_LOAD_S;
  }
  return run.durationS + load + RUN_OVERHEAD_ESTIMATE_S;
}

/** Estimated wall time of a plan on the GPU, seconds, and its parts. */
export function estimatePlanSeconds(
  plan: BenchPlan,
): { total: number; runs: number; build: number } {
  const runs = plan.runs.reduce((sum, run) => sum + estimateRunSeconds(run), 0);
  const build = plan.benchModels.length * NVCC_ESTIMATE_S;
  return { total: runs + build, runs, build };
}
