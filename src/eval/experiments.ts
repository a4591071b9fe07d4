/**
 * The experiments behind the figures: which workloads run under which scheduler modes with which
 * swept parameters (REEF's `art:evaluation/figN/generate.py`, adapted), and the generated
 * workloads of the sweeps. `reef bench <figure>` expands a figure's experiment with
 * {@linkcode planRuns}, runs each planned run with `runWorkload`, then builds the figure's data.
 * Experiments that are not workload runs (device microbenchmarks, analysis of profiles) are
 * described here and produce their data files elsewhere.
 * @module
 */

import {
  BUILTIN_WORKLOADS,
  defineWorkload,
  loadBuiltinWorkload,
  type Workload,
} from "./workload.ts";

/** Scheduler modes (one scheduler, a policy switch; see `src/scheduler/`). */
export type SchedulerMode =
  | "rt-only"
  | "seq"
  | "stream"
  | "stream-prio"
  | "wait"
  | "reset"
  | "reef";

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
  | "disb-selection";

/** How an experiment gets its data. */
export interface Experiment {
  id: ExperimentId;
  /** `runs`: workload runs planned here; `micro`: a device microbenchmark; `analytic`: computed. */
  kind: "runs" | "micro" | "analytic";
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

/**
 * The tiny RT model of the preemption microbenchmarks: REEF's `mocked_kernel` (two element-wise
 * kernels, about 30 µs), so that the measured latency is the preemption's, not the RT model's.
 */
export const MICRO_RT_MODEL = "mocked_kernel";

/** Workload duration of the generated sweeps, seconds (REEF: 30 s; 5 s in quick mode). */
export const SWEEP_DURATION_S = 30;

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
  const name = `preempt-${beModel}-be${nBe}`;
  return defineWorkload({
    name,
    duration_s: SWEEP_DURATION_S,
    clients: [
      {
        name: `rt-${rtModel}`,
        model: rtModel,
        priority: "rt",
        arrival: { type: "closed_loop", think_time_ms: { min: 1, max: 1 + nBe } },
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
 * REEF's `tradeoff resnet152 Q`: one closed-loop BE resnet152 client and an RT client of the tiny
 * model every 1 ms; the device-queue capacity is the swept scheduler parameter.
 */
export function tradeoffWorkload(rtModel: string = MICRO_RT_MODEL): Workload {
  return defineWorkload({
    name: "dq-tradeoff",
    duration_s: SWEEP_DURATION_S,
    clients: [
      {
        name: `rt-${rtModel}`,
        model: rtModel,
        priority: "rt",
        arrival: { type: "closed_loop", think_time_ms: { min: 1, max: 1 } },
      },
      {
        name: "be-resnet152",
        model: "resnet152",
        priority: "be",
        arrival: { type: "closed_loop" },
      },
    ],
  }, "dq-tradeoff");
}

/**
 * REEF's `dkp M mode N`: `nRt` RT inferences of `model` all queued at the start, with `nBe`
 * closed-loop BE clients of the same model (5 for padding, 1 for GPU streams, 0 for RT-only).
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

function rtUniform(name: string, model: string, ratePerS: number) {
  return { name, model, priority: "rt", arrival: { type: "uniform", rate_per_s: ratePerS } };
}

function beRateCapped(name: string, model: string, ratePerS: number) {
  return { name, model, priority: "be", arrival: { type: "closed_loop", rate_per_s: ratePerS } };
}

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
    description: "DNN-preempt resnet152 n, n in {1,2,4,6,8}; modes wait, reset-raw, reset",
  },
  "kernel-size": {
    id: "kernel-size",
    kind: "micro",
    description:
      "BE = one spin kernel of n iterations (execution 1 µs to 8 ms), RT = tiny kernel " +
      "every 300-500 µs; wait vs reset; writes kernel_time_us, wait p80, reset p80",
  },
  "queue-size": {
    id: "queue-size",
    kind: "micro",
    description:
      "BE = N queued copies of the spin kernel, N in {10,100,200,300,400,500}; wait vs " +
      "reset; writes kernels, wait p50, reset p50",
  },
  "dq-tradeoff": {
    id: "dq-tradeoff",
    kind: "runs",
    description: "BE resnet152 closed loop + tiny RT every 1 ms; mode reset with device queue " +
      "capacity Q in {1,2,4,...,256}",
  },
  "restore-overhead": {
    id: "restore-overhead",
    kind: "analytic",
    description: "From each model's profile: 4 x mean kernel time / model latency (REEF's formula)",
  },
  dkp: {
    id: "dkp",
    kind: "runs",
    description: "1000 RT inferences of M queued at start; rt-only (no BE), stream (1 BE client " +
      "of M), reef (5 BE clients of M); each DISB model M",
  },
  "transform-overhead": {
    id: "transform-overhead",
    kind: "micro",
    description: "Profiler: standalone time of each model's BE and DKP builds against the raw " +
      "build; writes model, be_pct, dkp_pct",
  },
  "disb-selection": {
    id: "disb-selection",
    kind: "runs",
    description: `DISB ${BUILTIN_WORKLOADS.join(", ")}; mode reef; kernel-selection times`,
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

async function builtinRuns(modes: readonly ModeSpec[]): Promise<PlannedRun[]> {
  const runs: PlannedRun[] = [];
  for (const name of BUILTIN_WORKLOADS) {
    const workload = await loadBuiltinWorkload(name);
    for (const mode of modes) {
      runs.push({
        workload: mode.mode === "rt-only" ? withoutBeClients(workload) : workload,
        mode,
        sweep: {},
      });
    }
  }
  return runs;
}

/**
 * Expands an experiment into its runs.
 * @throws {Error} for an experiment that is not made of workload runs.
 */
export async function planRuns(id: ExperimentId, options: PlanOptions = {}): Promise<PlannedRun[]> {
  const rtModel = options.microRtModel ?? MICRO_RT_MODEL;
  switch (id) {
    case "multi-stream":
      return [0, 1, 2, 4, 8].map((n) => ({
        workload: multiStreamWorkload(n),
        mode: MODE_SPECS.stream,
        sweep: { n_be: n },
      }));
    case "wait-motivation":
      return [
        ...[1, 2, 4, 8].map((n) => ({
          workload: preemptionWorkload("resnet152", n, rtModel),
          mode: MODE_SPECS.wait,
          sweep: { n_be: n },
        })),
        { workload: multiStreamWorkload(0), mode: MODE_SPECS.reef, sweep: { n_be: 0 } },
      ];
    case "rt-rate":
      return [1, 10, 50, 100, 150, 200, 220, 230, 250, 300, 350].flatMap((f) =>
        [MODE_SPECS.reset, MODE_SPECS.stream].map((mode) => ({
          workload: rtRateWorkload(f),
          mode,
          sweep: { rt_rate: f },
        }))
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
      return DISB_MODELS.flatMap(({ model }) =>
        [MODE_SPECS.wait, MODE_SPECS.reset].map((mode) => ({
          workload: preemptionWorkload(model, 1, rtModel),
          mode,
          sweep: { model },
        }))
      );
    case "be-scaling":
      return [1, 2, 4, 6, 8].flatMap((n) =>
        [MODE_SPECS.wait, MODE_SPECS.resetRaw, MODE_SPECS.reset].map((mode) => ({
          workload: preemptionWorkload("resnet152", n, rtModel),
          mode,
          sweep: { n_be: n },
        }))
      );
    case "dq-tradeoff":
      return [1, 2, 4, 8, 16, 32, 64, 128, 256].map((q) => ({
        workload: tradeoffWorkload(rtModel),
        mode: { label: `reset-dq${q}`, mode: "reset", deviceQueueCap: q },
        sweep: { dq: q },
      }));
    case "dkp": {
      const n = options.dkpRtRequests ?? 1000;
      return DISB_MODELS.flatMap(({ model }) => [
        { workload: dkpWorkload(model, n, 0), mode: MODE_SPECS.rtOnly, sweep: { model } },
        { workload: dkpWorkload(model, n, 1), mode: MODE_SPECS.stream, sweep: { model } },
        { workload: dkpWorkload(model, n, 5), mode: MODE_SPECS.reef, sweep: { model } },
      ]);
    }
    case "kernel-size":
    case "queue-size":
    case "restore-overhead":
    case "transform-overhead":
      throw new Error(
        `Experiment "${id}" is a ${EXPERIMENTS[id].kind} experiment, not workload runs: ` +
          EXPERIMENTS[id].description,
      );
  }
}
