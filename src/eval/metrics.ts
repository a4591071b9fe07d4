/**
 * Metrics of a benchmark run: percentiles, summaries of latencies, throughput, and per-client
 * and per-priority summaries of request records.
 *
 * Percentiles default to linear interpolation between closest ranks (Hyndman and Fan's type 7,
 * the default of NumPy and R): for sorted values x[0..n-1] and p in [0, 100], h = (n - 1) p / 100
 * and the result is x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]). The nearest-rank
 * method (the smallest value with at least p% of the values at or below it: x[ceil(p n / 100) - 1],
 * x[0] for p = 0) is available for comparison with tools that use it.
 * @module
 */

import type { LoopStall } from "../scheduler/stats.ts";
import type { Priority } from "./workload.ts";

/** How a percentile is computed from a sample. */
export type PercentileMethod = "linear" | "nearest-rank";

/**
 * The p-th percentile of the values.
 *
 * @example
 * ```ts
 * percentile([15, 20, 35, 40, 50], 40); // 29 (linear)
 * percentile([15, 20, 35, 40, 50], 40, "nearest-rank"); // 20
 * ```
 * @param values The sample, in any order; it is not modified.
 * @param p The percentile, in [0, 100].
 * @throws {RangeError} if the sample is empty or p is out of range.
 */
export function percentile(
  values: readonly number[],
  p: number,
  method: PercentileMethod = "linear",
): number {
  if (values.length === 0) throw new RangeError("Cannot take a percentile of an empty sample");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`Percentile "${p}" must be in [0, 100]`);
  return sortedPercentile([...values].sort((a, b) => a - b), p, method);
}

/** The median: the 50th {@linkcode percentile}, the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** {@linkcode percentile} on values already sorted in ascending order. */
function sortedPercentile(sorted: readonly number[], p: number, method: PercentileMethod): number {
  const n = sorted.length;
  if (method === "nearest-rank") {
    return sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)];
  }
  const h = ((n - 1) * p) / 100;
  const lower = Math.floor(h);
  const upper = Math.min(lower + 1, n - 1);
  return sorted[lower] + (h - lower) * (sorted[upper] - sorted[lower]);
}

/** Arithmetic mean; NaN for an empty sample. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Summary statistics of a sample; every statistic is null when the sample is empty. */
export interface Summary {
  count: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  p50: number | null;
  p80: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

/** Summarizes a sample; percentiles use the given method (linear by default). */
export function summarize(
  values: readonly number[],
  method: PercentileMethod = "linear",
): Summary {
  if (values.length === 0) {
    return {
      count: 0,
      mean: null,
      min: null,
      max: null,
      p50: null,
      p80: null,
      p90: null,
      p95: null,
      p99: null,
    };
  }
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    mean: mean(sorted),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    p50: sortedPercentile(sorted, 50, method),
    p80: sortedPercentile(sorted, 80, method),
    p90: sortedPercentile(sorted, 90, method),
    p95: sortedPercentile(sorted, 95, method),
    p99: sortedPercentile(sorted, 99, method),
  };
}

/**
 * Throughput in requests per second: completed requests divided by the wall time.
 * @throws {RangeError} if the wall time is not positive.
 */
export function throughputPerS(completed: number, wallUs: number): number {
  if (!(wallUs > 0)) throw new RangeError(`Wall time "${wallUs}" µs must be positive`);
  return (completed * 1e6) / wallUs;
}

/**
 * One completed request. Times are µs from the start of the measured run, on the target's clock.
 */
export interface RequestRecord {
  client: string;
  model: string;
  priority: Priority;
  /** When the arrival process released the request. */
  releaseUs: number;
  /** When the target took the request in (the release time for requests submitted early). */
  submittedUs: number;
  /** When the target launched the request's first kernel. */
  startedUs: number;
  /** When the target observed the request done. */
  finishedUs: number;
  /** `finishedUs - submittedUs`. */
  latencyUs: number;
  /** How many times the request was preempted. */
  preemptions: number;
}

/** A client as summaries name it. */
export interface ClientInfo {
  name: string;
  model: string;
  priority: Priority;
}

/** Metrics of one client's requests. */
export interface ClientSummary {
  client: string;
  model: string;
  priority: Priority;
  completed: number;
  throughputPerS: number;
  latencyUs: Summary;
  /** Sum of preemptions over the client's requests. */
  preemptions: number;
  /** Requests preempted at least once. */
  preemptedRequests: number;
}

/** Metrics of all requests of one priority. */
export interface PrioritySummary {
  priority: Priority;
  clients: number;
  completed: number;
  throughputPerS: number;
  latencyUs: Summary;
  preemptions: number;
}

/** What a target reports about its scheduler over the measured run. */
export interface TargetStats {
  /** Per preemption: from the preempt decision until the RT task was launched, µs. */
  preemptLatenciesUs: number[];
  /** Per preemption: from the preempt decision until every BE stream was idle, µs. */
  quiesceLatenciesUs: number[];
  /** Per scheduling decision that selected work to launch (REEF's kernel selection), µs. */
  selectionTimesUs: number[];
  /**
   * The scheduler loop's stalls so far, on the target's clock; absent where the target does not
   * record them (the runner keeps those of the measured run in the run result).
   */
  loopStalls?: LoopStall[];
}

/** Metrics of a whole run. */
export interface RunSummary {
  /** The run's wall time on the target's clock, µs: see {@linkcode summarizeRun}. */
  wallUs: number;
  completed: number;
  /** Overall throughput: every completed request, RT and BE, per second of wall time. */
  throughputPerS: number;
  clients: ClientSummary[];
  priorities: { rt: PrioritySummary; be: PrioritySummary };
  preemptLatencyUs: Summary;
  quiesceLatencyUs: Summary;
  selectionTimeUs: Summary;
}

function prioritySummary(
  priority: Priority,
  clients: readonly ClientInfo[],
  records: readonly RequestRecord[],
  wallUs: number,
): PrioritySummary {
  const mine = records.filter((r) => r.priority === priority);
  return {
    priority,
    clients: clients.filter((c) => c.priority === priority).length,
    completed: mine.length,
    throughputPerS: throughputPerS(mine.length, wallUs),
    latencyUs: summarize(mine.map((r) => r.latencyUs)),
    preemptions: mine.reduce((sum, r) => sum + r.preemptions, 0),
  };
}

/**
 * Summarizes a run.
 *
 * @param clients Every client of the workload, so that a client with no completed request still
 *   appears (with a count of 0).
 * @param records The completed requests.
 * @param wallUs The wall time: from the start of the measured run until the last request
 *   finished (at least the workload's duration).
 * @param stats The target's statistics over the measured run.
 */
export function summarizeRun(
  clients: readonly ClientInfo[],
  records: readonly RequestRecord[],
  wallUs: number,
  stats: TargetStats,
): RunSummary {
  const byClient = new Map<string, RequestRecord[]>(clients.map((c) => [c.name, []]));
  for (const record of records) {
    const list = byClient.get(record.client);
    if (list === undefined) {
      throw new Error(`Request record names client "${record.client}", which is not in the run`);
    }
    list.push(record);
  }
  return {
    wallUs,
    completed: records.length,
    throughputPerS: throughputPerS(records.length, wallUs),
    clients: clients.map((client) => {
      const mine = byClient.get(client.name) as RequestRecord[];
      return {
        client: client.name,
        model: client.model,
        priority: client.priority,
        completed: mine.length,
        throughputPerS: throughputPerS(mine.length, wallUs),
        latencyUs: summarize(mine.map((r) => r.latencyUs)),
        preemptions: mine.reduce((sum, r) => sum + r.preemptions, 0),
        preemptedRequests: mine.filter((r) => r.preemptions > 0).length,
      };
    }),
    priorities: {
      rt: prioritySummary("rt", clients, records, wallUs),
      be: prioritySummary("be", clients, records, wallUs),
    },
    preemptLatencyUs: summarize(stats.preemptLatenciesUs),
    quiesceLatencyUs: summarize(stats.quiesceLatenciesUs),
    selectionTimeUs: summarize(stats.selectionTimesUs),
  };
}
