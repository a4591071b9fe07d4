/**
 * The experiments behind the figures: which workloads run under which scheduler modes with which
 * swept parameters (REEF's `art:evaluation/figN/generate.py`, adapted), and the generated
 * workloads of the sweeps. `reef bench <figure>` expands a figure's experiment with
 * {@linkcode planRuns}, runs each planned run with `runWorkload`, then builds the figure's data.
 * The preemption sweeps of issue 4 (figs. 12a, 13a, 13b, 14a) run synthetic BE models
 * (`bench_models.ts`) against the tiny RT model. Experiments that are not workload runs (analysis
 * of profiles, the build-overhead benchmark) are described here and get their data elsewhere.
 * @module
 */

import type { Mode } from "../scheduler/mode.ts";
import {
  BE_TASKS_MODEL,
  BE_TASKS_SWEEP,
  DQ_MODEL,
  DQ_SWEEP,
  KERNEL_SWEEP_US,
  kernelSweepModel,
  MICRO_RT_MODEL,
  QUEUE_SWEEP_KERNELS,
  queueSweepModel,
} from "./bench_models.ts";
import {
  BUILTIN_WORKLOADS,
  defineWorkload,
  loadBuiltinWorkload,
  type Workload,
} from "./workload.ts";

/** Scheduler modes (one scheduler, a policy switch; see `src/scheduler/`). */
export type SchedulerMode = Mode;

/** A scheduler configuration a run uses, with the label results carry. */
export interface ModeSpec {
  /** Label in results and figures (`reset-raw` is `reset` with a large device queue). */
  label: string;
  mode: SchedulerMode;
  /** BE kernels in flight per stream; undefined keeps the scheduler's default (2). */
  deviceQueueCap?: number;
}

/** The scheduler configurations the figures compare. */
export const MODE_SPECS = {
  rtOnly: { label: "rt-only", mode: "rt-only" },
  seq: { label: "seq", mode: "seq" },
  stream: { label: "stream", mode: "stream" },
  streamPrio: { label: "stream-prio", mode: "stream-prio" },
  wait: { label: "wait", mode: "wait" },
  reset: { label: "reset", mode: "reset" },
  // REEF's "Reset w/o OPT": a device queue of 256 BE kernels instead of 2 (REEF's window).
  resetRaw: { label: "reset-raw", mode: "reset", deviceQueueCap: 256 },
  reef: { label: "reef", mode: "reef" },
} as const satisfies Record<string, ModeSpec>;

/** One run an experiment needs. */
export interface PlannedRun {
  workload: Workload;
  mode: ModeSpec;
  /** Swept parameters, recorded in the run's label (for example `{ n_be: 4 }`). */
  sweep: Record<string, number | string>;
  /** The measured window in quick mode, seconds (the full mode uses the workload's duration). */
  quickDurationS: number;
  /** Samples the run goes on for past its window (see `RunOptions.minSamples`). */
  minSamples?: { count: number; maxDurationS: number };
  /**
   * A reference run other runs are compared with (a model run alone, the RT-only baseline of a
   * comparison): kept whatever modes the user selects.
   */
  baseline?: boolean;
}

/** Identifiers of the experiments. */
export type ExperimentId =
  | "multi-stream"
  | "wait-motivation"
  | "rt-rate"
  | "disb-overall"
  | "disb-preemption"
  | "model-preemption"
  | "be-scaling"
  | "kernel-size"
  | "queue-size"
  | "dq-tradeoff"
  | "restore-overhead"
  | "dkp"
  | "transform-overhead"
  | "disb-selection"
  | "rt-latency";

/** How an experiment gets its data. */
export interface Experiment {
  id: ExperimentId;
  /**
   * `runs`: workload runs planned here; `analytic`: computed from model profiles;
   * `models-bench`: read from the results of `reef bench models`.
   */
  kind: "runs" | "analytic" | "models-bench";
  /** What it does, as the README's table of runs shows it. */
  description: string;
}

/** The models of the DISB workloads, with the short names REEF's figures use. */
export const DISB_MODELS = [
  { model: "resnet152", short: "RNET" },
  { model: "densenet201", short: "DNET" },
  { model: "vgg19", short: "VGG" },
  { model: "inception_v3", short: "IN3" },
  { model: "distilbert", short: "BERT" },
] as const;

/** Workload duration of the generated sweeps, seconds (REEF: 30 s). */
export const SWEEP_DURATION_S = 30;

/** Quick-mode window of the DISB workloads, seconds (REEF's quick mode: 10 s). */
export const DISB_QUICK_S = 10;

/** Quick-mode window of the generated workloads built from DISB models, seconds. */
export const GENERATED_QUICK_S = 5;

/** Quick-mode window of a preemption-sweep point, seconds. */
export const SWEEP_QUICK_S = 2;

/**
 * Preemptions (or, in a mode that does not preempt, RT requests) a preemption-sweep point
 * gathers at least, the window running on up to {@linkcode SWEEP_MAX_S} (issue 4: p50 and p99
 * over at least 1 000 preemptions).
 */
export const SWEEP_MIN_SAMPLES = 1000;

/**
 * The longest a sweep point runs on for its samples, seconds. On the H100, beside 10-µs BE
 * kernels or one queued kernel, most RT arrivals find no BE work to preempt: 30 s gave 998.
 */
export const SWEEP_MAX_S = 60;

/** Window of a standalone run of one synthetic model: full and quick, seconds. */
export const SOLO_DURATION_S = { full: 2, quick: 0.5 } as const;

/** The BE model of the RT-latency comparison (issue 4): REEF's BE model in DISB A and B. */
export const RT_LATENCY_BE_MODEL = "resnet152";

/** Rate of the RT client of the RT-latency comparison, requests per second. */
export const RT_LATENCY_RATE_PER_S = 50;

/** Fig. 1a-c: RT vgg19 at 30 req/s and `nBe` BE resnet152 clients at 40 req/s (`art:fig1/N.json`). */
export function multiStreamWorkload(nBe: number): Workload {
  return defineWorkload({
    name: `fig1-be${nBe}`,
    duration_s: SWEEP_DURATION_S,
    clients: [
      rtUniform("rt-vgg19", "vgg19", 30),
      ...Array.from({ length: nBe }, (_, i) => beRateCapped(`be${i}-resnet152`, "resnet152", 40)),
    ],
  }, `fig1-be${nBe}`);
}

/** Fig. 1d: RT vgg19 at `rtRatePerS` and one BE resnet152 client at 100 req/s. */
export function rtRateWorkload(rtRatePerS: number): Workload {
  return defineWorkload({
    name: `fig1d-rt${rtRatePerS}`,
    duration_s: SWEEP_DURATION_S,
    clients: [
      rtUniform("rt-vgg19", "vgg19", rtRatePerS),
      beRateCapped("be-resnet152", "resnet152", 100),
    ],
  }, `fig1d-rt${rtRatePerS}`);
}

/**
 * REEF's `DNN-preempt M n`: `nBe` closed-loop BE clients of `beModel` and an RT client of the tiny
 * model that sends again 1 to 1 + n ms after each completion (`art:src/eval/DNN-preempt.cpp`).
 */
export function preemptionWorkload(
  beModel: string,
  nBe: number,
  rtModel: string = MICRO_RT_MODEL,
): Workload {
  return sweepWorkload(`preempt-${beModel}-be${nBe}`, beModel, nBe, { min: 1, max: 1 + nBe }, {
    rtModel,
    durationS: SWEEP_DURATION_S,
  });
}

/**
 * REEF's `tradeoff M Q`: one closed-loop BE client of `beModel` and an RT client of the tiny model
 * every 1 ms; the device-queue capacity is the swept scheduler parameter.
 */
export function tradeoffWorkload(
  rtModel: string = MICRO_RT_MODEL,
  beModel: string = DQ_MODEL.name,
): Workload {
  return sweepWorkload("dq-tradeoff", beModel, 1, { min: 1, max: 1 }, {
    rtModel,
    durationS: SWEEP_DURATION_S,
  });
}

/**
 * A preemption benchmark: `nBe` closed-loop BE clients of `beModel` and a closed-loop RT client
 * of the tiny model that waits a think time drawn from `thinkMs` after each completion.
 */
export function sweepWorkload(
  name: string,
  beModel: string,
  nBe: number,
  thinkMs: { min: number; max: number },
  options: { rtModel?: string; durationS?: number } = {},
): Workload {
  const rtModel = options.rtModel ?? MICRO_RT_MODEL;
  return defineWorkload({
    name,
    duration_s: options.durationS ?? SWEEP_DURATION_S,
    clients: [
      {
        name: `rt-${rtModel}`,
        model: rtModel,
        priority: "rt",
        arrival: { type: "closed_loop", think_time_ms: thinkMs },
      },
      ...Array.from({ length: nBe }, (_, i) => ({
        name: `be${i}-${beModel}`,
        model: beModel,
        priority: "be",
        arrival: { type: "closed_loop" },
      })),
    ],
  }, name);
}

/**
 * A model alone: one closed-loop RT client, run in `rt-only` mode to measure the model's
 * standalone time in the same session as the runs compared with it.
 */
export function soloWorkload(model: string): Workload {
  const name = `solo-${model}`;
  return defineWorkload({
    name,
    duration_s: SOLO_DURATION_S.full,
    clients: [{ name: `rt-${model}`, model, priority: "rt", arrival: { type: "closed_loop" } }],
  }, name);
}

/**
 * Issue 4's RT latency under load: an RT client of `rtModel` at
 * {@linkcode RT_LATENCY_RATE_PER_S} and one closed-loop BE client of `beModel`.
 */
export function rtLatencyWorkload(
  rtModel: string,
  beModel: string = RT_LATENCY_BE_MODEL,
): Workload {
  const name = `rtlat-${rtModel}-${beModel}`;
  return defineWorkload({
    name,
    duration_s: SWEEP_DURATION_S,
    clients: [
      rtUniform(`rt-${rtModel}`, rtModel, RT_LATENCY_RATE_PER_S),
      { name: `be-${beModel}`, model: beModel, priority: "be", arrival: { type: "closed_loop" } },
    ],
  }, name);
}

/**
 * REEF's `dkp M mode N`: `nRt` RT inferences of `model` all queued at the start, with `nBe`
 * closed-loop BE clients of the same model (5, or 0 for RT-only).
 */
export function dkpWorkload(model: string, nRt: number, nBe: number): Workload {
  const name = `dkp-${model}-be${nBe}`;
  return defineWorkload({
    name,
    duration_s: 10,
    clients: [
      {
        name: `rt-${model}`,
        model,
        priority: "rt",
        arrival: { type: "trace", times_ms: Array.from({ length: nRt }, () => 0) },
      },
      ...Array.from({ length: nBe }, (_, i) => ({
        name: `be${i}-${model}`,
        model,
        priority: "be",
        arrival: { type: "closed_loop" },
      })),
    ],
  }, name);
}

/** BE clients beside the queued RT inferences in the DKP experiment (the five). */
export const DKP_BE_CLIENTS = 5;

/** The modes the DKP experiment compares with BE clients (rt-only runs without them). */
export const DKP_MODE_SPECS: readonly ModeSpec[] = [
  MODE_SPECS.stream,
  MODE_SPECS.streamPrio,
  MODE_SPECS.reset,
  MODE_SPECS.reef,
];

function rtUniform(name: string, model: string, ratePerS: number) {
  return { name, model, priority: "rt", arrival: { type: "uniform", rate_per_s: ratePerS } };
}

function beRateCapped(name: string, model: string, ratePerS: number) {
  return { name, model, priority: "be", arrival: { type: "closed_loop", rate_per_s: ratePerS } };
}

const SWEEP_MODES = "wait, stream-prio, reset";

/** Every experiment, by id. */
export const EXPERIMENTS: Record<ExperimentId, Experiment> = {
  "multi-stream": {
    id: "multi-stream",
    kind: "runs",
    description: "RT vgg19 @30 + n BE resnet152 @40, n in {0,1,2,4,8}; mode stream",
  },
  "wait-motivation": {
    id: "wait-motivation",
    kind: "runs",
    description: "DNN-preempt resnet152 n, n in {1,2,4,8}, mode wait; plus fig1-be0 under reef " +
      "for the RT execution time",
  },
  "rt-rate": {
    id: "rt-rate",
    kind: "runs",
    description:
      "RT vgg19 @f + BE resnet152 @100, f in {1,10,50,100,150,200,220,230,250,300,350}; " +
      "modes reset, stream",
  },
  "disb-overall": {
    id: "disb-overall",
    kind: "runs",
    description: `DISB ${
      BUILTIN_WORKLOADS.join(", ")
    }; modes rt-only, seq, stream, stream-prio, reef`,
  },
  "disb-preemption": {
    id: "disb-preemption",
    kind: "runs",
    description: `DISB ${BUILTIN_WORKLOADS.join(", ")}; modes wait, reset`,
  },
  "model-preemption": {
    id: "model-preemption",
    kind: "runs",
    description: "DNN-preempt M 1 for each DISB model M; modes wait, reset",
  },
  "be-scaling": {
    id: "be-scaling",
    kind: "runs",
    description: `n BE clients of ${BE_TASKS_MODEL.name} (${BE_TASKS_MODEL.description}) + tiny ` +
      `RT with a 1 to 1 + n ms think time, n in {${BE_TASKS_SWEEP.join(",")}}; modes ` +
      `${SWEEP_MODES}, reset-raw`,
  },
  "kernel-size": {
    id: "kernel-size",
    kind: "runs",
    description: `1 BE client of spin kernels of T µs, T in {${KERNEL_SWEEP_US.join(",")}}, + ` +
      `tiny RT every 0.3-0.5 ms; modes ${SWEEP_MODES}; each BE model also runs alone for its ` +
      "measured kernel time",
  },
  "queue-size": {
    id: "queue-size",
    kind: "runs",
    description: `1 BE client of N spin kernels of 20 µs, N in {${
      QUEUE_SWEEP_KERNELS.join(",")
    }}, + tiny RT every 0.3-0.5 ms; modes ${SWEEP_MODES}`,
  },
  "dq-tradeoff": {
    id: "dq-tradeoff",
    kind: "runs",
    description: `1 BE client of ${DQ_MODEL.name} (${DQ_MODEL.description}) + tiny RT every ` +
      `1 ms; mode reset with device-queue capacity Q in {${DQ_SWEEP.join(",")}}; the BE model ` +
      "also runs alone, for the BE slowdown",
  },
  "restore-overhead": {
    id: "restore-overhead",
    kind: "analytic",
    description: "From each DISB model's profile: 2 x mean kernel time / model latency (REEF's " +
      "formula with 4; reef re-runs at most the 2 kernels in flight)",
  },
  dkp: {
    id: "dkp",
    kind: "runs",
    description: "1000 RT inferences of M queued at start with 5 closed-loop BE clients of M; " +
      "rt-only (no BE), stream, stream-prio, reset and reef (reset + padding); each DISB model M",
  },
  "transform-overhead": {
    id: "transform-overhead",
    kind: "models-bench",
    description: "The BE and DKP builds' GPU time against the raw build's, per model, from " +
      "models.json (`reef bench models`)",
  },
  "disb-selection": {
    id: "disb-selection",
    kind: "runs",
    description: `DISB ${BUILTIN_WORKLOADS.join(", ")}; mode reef; kernel-selection times`,
  },
  "rt-latency": {
    id: "rt-latency",
    kind: "runs",
    description: `RT M uniform @${RT_LATENCY_RATE_PER_S} + 1 BE ${RT_LATENCY_BE_MODEL} closed ` +
      "loop, for each DISB model M; every mode (rt-only without the BE client)",
  },
};

/** Options of {@linkcode planRuns}. */
export interface PlanOptions {
  /** The tiny RT model of the microbenchmarks; defaults to {@linkcode MICRO_RT_MODEL}. */
  microRtModel?: string;
  /** RT inferences queued up front in the DKP experiment; defaults to 1000 (REEF: 1000 or 5000). */
  dkpRtRequests?: number;
}

/**
 * The workload with its BE clients removed: what REEF's RT-only baseline runs (the scheduler's
 * `rt-only` mode accepts only RT tasks).
 */
export function withoutBeClients(workload: Workload): Workload {
  return { ...workload, clients: workload.clients.filter((c) => c.priority === "rt") };
}

/** Every scheduler mode, REEF's baselines first, as a workload target runs them. */
export const ALL_MODE_SPECS: readonly ModeSpec[] = [
  MODE_SPECS.rtOnly,
  MODE_SPECS.seq,
  MODE_SPECS.stream,
  MODE_SPECS.streamPrio,
  MODE_SPECS.wait,
  MODE_SPECS.reset,
  MODE_SPECS.reef,
];

/**
 * The runs of one workload under each mode (`rt-only` without the BE clients).
 * @param quickDurationS The quick-mode window; defaults to {@linkcode DISB_QUICK_S}.
 */
export function workloadRuns(
  workload: Workload,
  modes: readonly ModeSpec[] = ALL_MODE_SPECS,
  quickDurationS: number = DISB_QUICK_S,
): PlannedRun[] {
  return modes.map((mode) => ({
    workload: mode.mode === "rt-only" ? withoutBeClients(workload) : workload,
    mode,
    sweep: {},
    quickDurationS,
  }));
}

async function builtinRuns(modes: readonly ModeSpec[]): Promise<PlannedRun[]> {
  const runs: PlannedRun[] = [];
  for (const name of BUILTIN_WORKLOADS) {
    runs.push(...workloadRuns(await loadBuiltinWorkload(name), modes));
  }
  return runs;
}

/** A standalone run of a model, labelled `rt-only` with the sweep value it belongs to. */
function soloRun(model: string, sweep: Record<string, number | string> = {}): PlannedRun {
  return {
    workload: soloWorkload(model),
    mode: MODE_SPECS.rtOnly,
    sweep,
    quickDurationS: SOLO_DURATION_S.quick,
    baseline: true,
  };
}

/** The modes every preemption sweep compares (issue 4: wait and stream-prio beside reset). */
const SWEEP_MODE_SPECS = [MODE_SPECS.wait, MODE_SPECS.streamPrio, MODE_SPECS.reset] as const;

function sweepPoint(
  workload: Workload,
  modes: readonly ModeSpec[],
  sweep: Record<string, number>,
): PlannedRun[] {
  return modes.map((mode) => ({
    workload,
    mode,
    sweep,
    quickDurationS: SWEEP_QUICK_S,
    minSamples: { count: SWEEP_MIN_SAMPLES, maxDurationS: SWEEP_MAX_S },
  }));
}

/** REEF's `kernel_size` and `queue_size` RT client: the tiny model every 300 to 500 µs. */
const THINK_300_500 = { min: 0.3, max: 0.5 };

function kernelSweepRuns(rtModel: string): PlannedRun[] {
  return [
    soloRun(rtModel),
    ...KERNEL_SWEEP_US.flatMap((us) => {
      const model = kernelSweepModel(us);
      const workload = sweepWorkload(`sweep-kernel${us}us`, model.name, 1, THINK_300_500, {
        rtModel,
      });
      return [
        soloRun(model.name, { kernel_us: us }),
        ...sweepPoint(workload, SWEEP_MODE_SPECS, {
          kernel_us: us,
        }),
      ];
    }),
  ];
}

function queueSweepRuns(rtModel: string): PlannedRun[] {
  return [
    soloRun(rtModel),
    ...QUEUE_SWEEP_KERNELS.flatMap((n) => {
      const model = queueSweepModel(n);
      const workload = sweepWorkload(`sweep-queued${n}`, model.name, 1, THINK_300_500, { rtModel });
      return sweepPoint(workload, SWEEP_MODE_SPECS, { queued: n });
    }),
  ];
}

function beScalingRuns(rtModel: string): PlannedRun[] {
  return [
    soloRun(rtModel),
    ...BE_TASKS_SWEEP.flatMap((n) =>
      sweepPoint(
        sweepWorkload(`sweep-be${n}`, BE_TASKS_MODEL.name, n, { min: 1, max: 1 + n }, {
          rtModel,
        }),
        [...SWEEP_MODE_SPECS, MODE_SPECS.resetRaw],
        { n_be: n },
      )
    ),
  ];
}

function dqTradeoffRuns(rtModel: string): PlannedRun[] {
  return [
    soloRun(rtModel),
    soloRun(DQ_MODEL.name),
    ...DQ_SWEEP.flatMap((q) =>
      sweepPoint(
        tradeoffWorkload(rtModel),
        [{ label: `reset-dq${q}`, mode: "reset", deviceQueueCap: q }],
        { dq: q },
      )
    ),
  ];
}

/** Runs of the experiments made of generated workloads of DISB models, 5 s in quick mode. */
function generated(runs: Omit<PlannedRun, "quickDurationS">[]): PlannedRun[] {
  return runs.map((run) => ({ ...run, quickDurationS: GENERATED_QUICK_S }));
}

/**
 * Expands an experiment into its runs.
 * @throws {Error} for an experiment that is not made of workload runs.
 */
export async function planRuns(id: ExperimentId, options: PlanOptions = {}): Promise<PlannedRun[]> {
  const rtModel = options.microRtModel ?? MICRO_RT_MODEL;
  switch (id) {
    case "multi-stream":
      return generated([0, 1, 2, 4, 8].map((n) => ({
        workload: multiStreamWorkload(n),
        mode: MODE_SPECS.stream,
        sweep: { n_be: n },
      })));
    case "wait-motivation":
      return generated([
        ...[1, 2, 4, 8].map((n) => ({
          workload: preemptionWorkload("resnet152", n, rtModel),
          mode: MODE_SPECS.wait,
          sweep: { n_be: n },
        })),
        { workload: multiStreamWorkload(0), mode: MODE_SPECS.reef, sweep: { n_be: 0 } },
      ]);
    case "rt-rate":
      return generated(
        [1, 10, 50, 100, 150, 200, 220, 230, 250, 300, 350].flatMap((f) =>
          [MODE_SPECS.reset, MODE_SPECS.stream].map((mode) => ({
            workload: rtRateWorkload(f),
            mode,
            sweep: { rt_rate: f },
          }))
        ),
      );
    case "disb-overall":
      return await builtinRuns([
        MODE_SPECS.rtOnly,
        MODE_SPECS.seq,
        MODE_SPECS.stream,
        MODE_SPECS.streamPrio,
        MODE_SPECS.reef,
      ]);
    case "disb-preemption":
      return await builtinRuns([MODE_SPECS.wait, MODE_SPECS.reset]);
    case "disb-selection":
      return await builtinRuns([MODE_SPECS.reef]);
    case "model-preemption":
      return generated(
        DISB_MODELS.flatMap(({ model }) =>
          [MODE_SPECS.wait, MODE_SPECS.reset].map((mode) => ({
            workload: preemptionWorkload(model, 1, rtModel),
            mode,
            sweep: { model },
          }))
        ),
      );
    case "be-scaling":
      return beScalingRuns(rtModel);
    case "kernel-size":
      return kernelSweepRuns(rtModel);
    case "queue-size":
      return queueSweepRuns(rtModel);
    case "dq-tradeoff":
      return dqTradeoffRuns(rtModel);
    case "dkp": {
      const n = options.dkpRtRequests ?? 1000;
      return generated(DISB_MODELS.flatMap(({ model }) => [
        { workload: dkpWorkload(model, n, 0), mode: MODE_SPECS.rtOnly, sweep: { model } },
        ...DKP_MODE_SPECS.map((mode) => ({
          workload: dkpWorkload(model, n, DKP_BE_CLIENTS),
          mode,
          sweep: { model },
        })),
      ]));
    }
    case "rt-latency":
      return DISB_MODELS.flatMap(({ model }) =>
        workloadRuns(rtLatencyWorkload(model), ALL_MODE_SPECS, GENERATED_QUICK_S).map((run) => ({
          ...run,
          sweep: { rt_model: model },
          ...(run.mode.mode === "rt-only" ? { baseline: true } : {}),
        }))
      );
    case "restore-overhead":
    case "transform-overhead":
      throw new Error(
        `Experiment "${id}" is a ${EXPERIMENTS[id].kind} experiment, not workload runs: ` +
          EXPERIMENTS[id].description,
      );
  }
}
