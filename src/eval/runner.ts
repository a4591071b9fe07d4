/**
 * Runs a workload against a benchmark target (the scheduler on the GPU or on the simulated
 * device, bound by the caller) and collects a labelled {@linkcode RunResult}.
 *
 * The run goes: load every model once; two warm-up inferences per client, then rounds of RT
 * inferences released while BE ones run (all excluded); if the workload asks for staggered RT
 * starts, 5 standalone inferences per RT client to measure their latencies; then the measured
 * run. Open-loop clients (uniform, Poisson, trace) submit their whole schedule up front with
 * release times on the target's clock, so the timing of arrivals is exact whatever the host does;
 * closed-loop clients submit again as each request completes, until the duration ends. Requests
 * still in flight at the end are awaited and counted.
 * @module
 */

import type { LoopStall } from "../scheduler/stats.ts";
import { closedLoopArrivals, type OpenLoopArrival, openLoopArrivals } from "./arrivals.ts";
import { type ClientInfo, type RequestRecord, summarizeRun, type TargetStats } from "./metrics.ts";
import { ProgressReporter, type ProgressSink, stderrProgressSink } from "./progress.ts";
import { deriveSeed } from "./random.ts";
import type { RunResult } from "./results.ts";
import type { ClosedLoopArrival, Priority, Workload, WorkloadClient } from "./workload.ts";

/** Timings of one inference, µs on the target's clock ({@linkcode BenchTarget.nowUs}). */
export interface InferenceTimings {
  /** When the request entered the scheduler: the release time when one was given. */
  submittedUs: number;
  /** When its first kernel was launched. */
  startedUs: number;
  /** When it was observed complete. */
  finishedUs: number;
  /** Times it was preempted. */
  preemptions: number;
}

/** What the harness runs against; the lead binds it to the real scheduler. */
export interface BenchTarget {
  /** True for the simulated device: its results are never GPU results. */
  readonly simulated: boolean;
  /** The device's name, copied into every result. */
  readonly deviceName: string;
  /** Loads a model so that later submissions of it do not pay the load. */
  loadModel(name: string): Promise<void>;
  /** Submits one inference; `releaseAtUs` is an absolute time on the target's clock (target.nowUs()). */
  submit(
    client: string,
    priority: Priority,
    model: string,
    releaseAtUs?: number,
  ): Promise<InferenceTimings>;
  /** The target's clock, µs. */
  nowUs(): number;
  /**
   * Scheduler statistics since the target was created. Each array only grows; the runner keeps
   * the entries added during the measured run.
   */
  stats(): TargetStats | Promise<TargetStats>;
}

/** Options of {@linkcode runWorkload}. */
export interface RunOptions {
  /** Label of the scheduler mode the target was created in (`reef`, `reset-raw`, ...). */
  mode: string;
  /** The exact command line, recorded in the result. */
  commandLine: string;
  /** Seed of random arrivals; defaults to the workload's seed, else 1. */
  seed?: number;
  /** Overrides the workload's duration, seconds (REEF's quick mode). */
  durationS?: number;
  /**
   * Keeps closed-loop clients going past the window until the run has this many samples, for
   * runs whose percentiles need a count: preemptions where the mode preempts, else completed RT
   * requests. Open-loop schedules keep the window.
   */
  minSamples?: { count: number; maxDurationS: number };
  /** Swept parameters, recorded in the result. */
  sweep?: Record<string, number | string>;
  /** Time from planning the schedule to the run's start, µs; defaults to 100 000. */
  leadUs?: number;
  /**
   * Excluded inferences before the run: one per client, then rounds of RT released amid BE
   * (see contendedWarmup); defaults to true.
   */
  warmup?: boolean;
  /** Standalone inferences per RT client when staggering starts; defaults to 5, as REEF. */
  standaloneRuns?: number;
  /** Where progress goes; false for none. Defaults to stderr. */
  progress?: ProgressSink | false;
}

/**
 * Start offsets that stagger RT clients of one rate as REEF's artifact does
 * (`art:src/eval/DISB.h`): with period P and standalone latencies l_0..l_{n-1}, client i starts at
 * sum_{j<i} (l_j + g), where g = (P - sum l) / n, or 0 when the latencies exceed the period.
 *
 * @example
 * ```ts
 * artifactStaggerOffsetsUs([10_000, 10_000], 20); // [0, 25000]
 * ```
 * @param latenciesUs Standalone latency of each RT client, in workload order.
 * @param ratePerS The clients' common rate.
 */
export function artifactStaggerOffsetsUs(
  latenciesUs: readonly number[],
  ratePerS: number,
): number[] {
  const periodUs = 1e6 / ratePerS;
  const total = latenciesUs.reduce((sum, l) => sum + l, 0);
  const gapUs = total > periodUs ? 0 : (periodUs - total) / latenciesUs.length;
  const offsets: number[] = [];
  let offset = 0;
  for (const latency of latenciesUs) {
    offsets.push(offset);
    offset += latency + gapUs;
  }
  return offsets;
}

/** The uniform RT clients that the artifact staggers, or none if their rates differ. */
function staggeredClients(workload: Workload): WorkloadClient[] {
  const uniformRt = workload.clients.filter((c) =>
    c.priority === "rt" && c.arrival.type === "uniform"
  );
  if (uniformRt.length < 2) return [];
  const rates = new Set(uniformRt.map((c) => (c.arrival as { rate_per_s: number }).rate_per_s));
  return rates.size === 1 ? uniformRt : [];
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function submitChecked(
  target: BenchTarget,
  client: WorkloadClient,
  releaseAtUs: number | undefined,
): Promise<InferenceTimings> {
  let timings: InferenceTimings;
  try {
    timings = await target.submit(client.name, client.priority, client.model, releaseAtUs);
  } catch (error) {
    throw new Error(
      `Inference of client "${client.name}" (model "${client.model}") failed: ${errorText(error)}`,
      { cause: error },
    );
  }
  const { submittedUs, startedUs, finishedUs } = timings;
  if (!(submittedUs <= startedUs && startedUs <= finishedUs)) {
    throw new Error(
      `Target "${target.deviceName}" returned inconsistent timings for client "${client.name}": ` +
        `submitted ${submittedUs}, started ${startedUs}, finished ${finishedUs} µs`,
    );
  }
  return timings;
}

/**
 * Warm-up inferences per client, one after another, before the contended rounds. The last one's
 * latency is the client's latency alone: the first inference of a fresh scheduler pays one-time
 * costs, and RT released at half of that would come after BE had finished.
 */
const SOLO_WARMUP_INFERENCES = 2;

/** Rounds of {@linkcode contendedWarmup}. */
const CONTENDED_WARMUP_ROUNDS = 5;

/**
 * Excluded rounds in which every BE client's inference starts and every RT client's is released
 * halfway through the shortest of them, so that the first measured preemptions do not run the
 * scheduler's preemption code for the first time. (It does not reach padding, which needs RT tasks
 * queued behind one another: the first RT inference of a padded DKP run on the H100 still takes
 * 1.2-4x the median.) Nothing for a workload without both priorities.
 * @param aloneUs Each client's latency alone, µs (its last solo warm-up).
 */
async function contendedWarmup(
  workload: Workload,
  target: BenchTarget,
  aloneUs: ReadonlyMap<string, number>,
): Promise<void> {
  const be = workload.clients.filter((c) => c.priority === "be");
  const rt = workload.clients.filter((c) => c.priority === "rt");
  if (be.length === 0 || rt.length === 0) return;
  const rtDelayUs = Math.min(...be.map((c) => aloneUs.get(c.name)!)) / 2;
  for (let round = 0; round < CONTENDED_WARMUP_ROUNDS; round++) {
    // Released a little ahead, so that every submission is in before the first release.
    const startUs = target.nowUs() + 1_000;
    await Promise.all([
      ...be.map((client) => submitChecked(target, client, startUs)),
      ...rt.map((client) => submitChecked(target, client, startUs + rtDelayUs)),
    ]);
  }
}

/** The stalls that overlap `[fromUs, toUs)`, their times made relative to `fromUs`. */
function stallsWithin(stalls: readonly LoopStall[], fromUs: number, toUs: number): LoopStall[] {
  return stalls.filter((s) => s.atUs < toUs && s.atUs + s.durationUs > fromUs)
    .map((s) => ({ atUs: s.atUs - fromUs, durationUs: s.durationUs }));
}

/**
 * Runs a workload against a target and returns its labelled result.
 *
 * @example
 * ```ts ignore
 * const workload = await loadBuiltinWorkload("A");
 * const result = await runWorkload(workload, target, {
 *   mode: "reef",
 *   commandLine: ["reef", ...Deno.args].join(" "),
 * });
 * await writeRunFiles(result, "evaluation/results/h100/fig10");
 * ```
 * @throws {Error} if an inference fails or the target reports inconsistent timings.
 */
export async function runWorkload(
  workload: Workload,
  target: BenchTarget,
  options: RunOptions,
): Promise<RunResult> {
  const durationS = options.durationS ?? workload.duration_s;
  if (!(durationS > 0)) throw new RangeError(`Run duration "${durationS}" s must be positive`);
  const durationUs = durationS * 1e6;
  const seed = options.seed ?? workload.seed ?? 1;
  const startedAt = new Date().toISOString();

  for (const model of new Set(workload.clients.map((c) => c.model))) {
    await target.loadModel(model);
  }
  const statsAtStart = await target.stats();
  if (options.warmup ?? true) {
    const aloneUs = new Map<string, number>();
    for (const client of workload.clients) {
      for (let i = 0; i < SOLO_WARMUP_INFERENCES; i++) {
        const t = await submitChecked(target, client, undefined);
        aloneUs.set(client.name, t.finishedUs - t.submittedUs);
      }
    }
    await contendedWarmup(workload, target, aloneUs);
  }

  const startOffsetsUs: Record<string, number> = {};
  for (const client of workload.clients) {
    startOffsetsUs[client.name] = (client.start_offset_ms ?? 0) * 1e3;
  }
  const standaloneLatencyUs: Record<string, number> = {};
  const staggered = workload.stagger_rt_starts ? staggeredClients(workload) : [];
  if (staggered.length > 0) {
    const runs = options.standaloneRuns ?? 5;
    for (const client of staggered) {
      let sum = 0;
      for (let i = 0; i < runs; i++) {
        const t = await submitChecked(target, client, undefined);
        sum += t.finishedUs - t.submittedUs;
      }
      standaloneLatencyUs[client.name] = sum / runs;
    }
    const rate = (staggered[0].arrival as { rate_per_s: number }).rate_per_s;
    const offsets = artifactStaggerOffsetsUs(
      staggered.map((c) => standaloneLatencyUs[c.name]),
      rate,
    );
    staggered.forEach((client, i) => startOffsetsUs[client.name] += offsets[i]);
  }

  const statsBefore = await target.stats();
  const t0 = target.nowUs() + (options.leadUs ?? 100_000);
  const records: RequestRecord[] = [];

  // Set when an inference fails, or when an extended window has its samples, so that
  // closed-loop clients stop submitting.
  let failed = false;
  let ended = false;

  // The extended window (options.minSamples), for workloads whose RT clients are all closed-loop
  // (an open-loop schedule ends with the window). Past the window, once as many RT requests as
  // samples asked for have completed, it reads the preemption count; each RT request preempts at
  // most once, so the next read comes after as many more RT requests as preemptions are missing.
  const minSamples =
    workload.clients.every((c) => c.priority === "be" || c.arrival.type === "closed_loop")
      ? options.minSamples
      : undefined;
  const maxDurationUs = Math.max(durationUs, (minSamples?.maxDurationS ?? 0) * 1e6);
  let rtCompleted = 0;
  let nextCheckAt = minSamples?.count ?? Infinity;
  let checking = false;
  let statsError: unknown;
  const checkSamples = async () => {
    if (ended || checking || rtCompleted < nextCheckAt || target.nowUs() - t0 < durationUs) {
      return;
    }
    checking = true;
    try {
      const preempted = (await target.stats()).preemptLatenciesUs.length -
        statsBefore.preemptLatenciesUs.length;
      const missing = minSamples!.count - preempted;
      // A mode that never preempts counts RT requests.
      if (preempted === 0 || missing <= 0) ended = true;
      else nextCheckAt = rtCompleted + missing;
    } catch (error) {
      statsError ??= error;
      ended = true;
    } finally {
      checking = false;
    }
  };
  const submitOne = async (
    client: WorkloadClient,
    releaseUs: number,
    releaseAtUs: number | undefined,
  ): Promise<RequestRecord> => {
    let t: InferenceTimings;
    try {
      t = await submitChecked(target, client, releaseAtUs);
    } catch (error) {
      failed = true;
      throw error;
    }
    const record: RequestRecord = {
      client: client.name,
      model: client.model,
      priority: client.priority,
      releaseUs,
      submittedUs: t.submittedUs - t0,
      startedUs: t.startedUs - t0,
      finishedUs: t.finishedUs - t0,
      latencyUs: t.finishedUs - t.submittedUs,
      preemptions: t.preemptions,
    };
    records.push(record);
    if (client.priority === "rt" && minSamples !== undefined) {
      rtCompleted++;
      void checkSamples();
    }
    return record;
  };

  const openLoop: { client: WorkloadClient; releaseUs: number; order: number }[] = [];
  const closedLoop: { client: WorkloadClient; arrival: ClosedLoopArrival }[] = [];
  workload.clients.forEach((client, order) => {
    const window = { durationUs, startUs: startOffsetsUs[client.name] };
    const clientSeed = deriveSeed(seed, client.name);
    if (client.arrival.type === "closed_loop") {
      closedLoop.push({ client, arrival: client.arrival });
      return;
    }
    const arrival = client.arrival as OpenLoopArrival;
    for (const releaseUs of openLoopArrivals(arrival, window, clientSeed)) {
      openLoop.push({ client, releaseUs, order });
    }
  });
  // Submitting in release order lets a target that keeps submission order see arrivals sorted.
  openLoop.sort((a, b) => a.releaseUs - b.releaseUs || a.order - b.order);

  const reporter = options.progress === false ? undefined : new ProgressReporter({
    label: `${workload.name} ${options.mode}`,
    sink: options.progress ?? stderrProgressSink(),
  });
  const timer = reporter === undefined ? undefined : setInterval(
    () => reporter.update(records.length, Math.max(0, (target.nowUs() - t0) / 1e6), durationS),
    100,
  );

  try {
    const pending: Promise<unknown>[] = openLoop.map(({ client, releaseUs }) =>
      submitOne(client, releaseUs, t0 + releaseUs)
    );
    for (const { client, arrival } of closedLoop) {
      const process = closedLoopArrivals(
        arrival,
        { durationUs: maxDurationUs, startUs: startOffsetsUs[client.name] },
        deriveSeed(seed, client.name),
      );
      for (const first of process.initialReleases()) {
        pending.push((async () => {
          let record = await submitOne(client, first, t0 + first);
          for (;;) {
            const next = process.next(record.finishedUs);
            if (next === undefined || failed || ended) return;
            // A request already due when the client gets to send it (no think time, or this
            // thread reacted to the completion late) is submitted without a release time, so
            // that its latency counts from when the target took it in: the client's own lag is
            // not the scheduler's latency.
            const due = t0 + next > target.nowUs() ? t0 + next : undefined;
            record = await submitOne(client, next, due);
          }
        })());
      }
    }
    // Every request is awaited even after a failure, so that none is left in flight when the
    // run reports the first error.
    const outcomes = await Promise.allSettled(pending);
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failure !== undefined) throw failure.reason;
    if (statsError !== undefined) {
      throw new Error(`Reading the target's statistics failed: ${errorText(statsError)}`, {
        cause: statsError,
      });
    }
  } finally {
    if (timer !== undefined) clearInterval(timer);
  }
  // The window actually measured: longer than asked when closed-loop clients ran on for samples.
  const lastReleaseUs = records.reduce((max, r) => Math.max(max, r.releaseUs), 0);
  const windowUs = minSamples === undefined
    ? durationUs
    : Math.min(maxDurationUs, Math.max(durationUs, lastReleaseUs));
  reporter?.finish(records.length, windowUs / 1e6);

  const statsAfter = await target.stats();
  const stats: TargetStats = {
    preemptLatenciesUs: statsAfter.preemptLatenciesUs.slice(statsBefore.preemptLatenciesUs.length),
    quiesceLatenciesUs: statsAfter.quiesceLatenciesUs.slice(statsBefore.quiesceLatenciesUs.length),
    selectionTimesUs: statsAfter.selectionTimesUs.slice(statsBefore.selectionTimesUs.length),
  };
  records.sort((a, b) => a.submittedUs - b.submittedUs || a.client.localeCompare(b.client));
  const lastFinishUs = records.reduce((max, r) => Math.max(max, r.finishedUs), 0);
  const wallUs = Math.max(windowUs, lastFinishUs);
  const clients: ClientInfo[] = workload.clients.map((c) => ({
    name: c.name,
    model: c.model,
    priority: c.priority,
  }));
  return {
    label: {
      workload: workload.name,
      mode: options.mode,
      device: target.deviceName,
      simulated: target.simulated,
      commandLine: options.commandLine,
      seed,
      durationS: windowUs / 1e6,
      startedAt,
      sweep: options.sweep ?? {},
    },
    clients,
    startOffsetsUs,
    standaloneLatencyUs,
    warmupPreemptLatenciesUs: statsBefore.preemptLatenciesUs.slice(
      statsAtStart.preemptLatenciesUs.length,
    ),
    ...(statsAfter.loopStalls === undefined
      ? {}
      : { loopStalls: stallsWithin(statsAfter.loopStalls, t0, t0 + wallUs) }),
    requests: records,
    stats,
    summary: summarizeRun(clients, records, wallUs, stats),
  };
}
