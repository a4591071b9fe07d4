/**
 * The server's metrics: requests per model and priority, request latency, in-flight requests, and
 * the scheduler's preemptions, loop stalls and queue depths, read from the backend at each scrape.
 * @module
 */

import type { BackendStats, Priority } from "./backend.ts";
import { Counter, Gauge, Histogram, renderExposition } from "./prometheus.ts";
import { LOOP_STALL_THRESHOLD_US } from "../scheduler/stats.ts";

/** Request latency bucket bounds in seconds: 100 µs to 10 s. */
const REQUEST_BUCKETS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Preemption latency bucket bounds in seconds: 1 µs to 10 ms (REEF preempts in microseconds). */
const PREEMPTION_BUCKETS = [
  0.000001,
  0.0000025,
  0.000005,
  0.00001,
  0.000025,
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
];

/** How a request ended, as counted. */
export type RequestOutcome = "success" | "failure";

/** The metric families of one server. */
export class ServerMetrics {
  readonly #requests = new Counter(
    "reef_inference_requests_total",
    "Inference requests by model, priority and outcome.",
    ["model", "priority", "outcome"],
  );
  readonly #latency = new Histogram(
    "reef_inference_request_duration_seconds",
    "Time from request arrival to response, for successful inference requests.",
    ["model", "priority"],
    REQUEST_BUCKETS,
  );
  readonly #inflight = new Gauge(
    "reef_inference_requests_in_flight",
    "Inference requests submitted to the scheduler and not yet finished.",
  );
  readonly #preemptions = new Counter(
    "reef_preemptions_total",
    "Preemptions of best-effort work by real-time work since the scheduler started.",
  );
  readonly #preemptLatency = new Histogram(
    "reef_preemption_latency_seconds",
    "Time from a real-time arrival to best-effort work being off the device.",
    [],
    PREEMPTION_BUCKETS,
  );
  readonly #loopStalls = new Counter(
    "reef_scheduler_loop_stalls_total",
    `Passes of the scheduler's polling loop that began ${
      LOOP_STALL_THRESHOLD_US / 1000
    } ms or more after the previous one (GC, long host work, the OS) since it started.`,
  );
  readonly #queueDepth = new Gauge(
    "reef_queue_depth",
    "Tasks waiting or running, per scheduler queue.",
    ["queue"],
  );

  /** Counts a finished inference request; successful ones also record their latency. */
  recordRequest(
    model: string,
    priority: Priority,
    outcome: RequestOutcome,
    seconds: number,
  ): void {
    this.#requests.inc({ model, priority, outcome });
    if (outcome === "success") this.#latency.observe({ model, priority }, seconds);
  }

  /** Sets the number of requests in the scheduler. */
  setInflight(count: number): void {
    this.#inflight.set({}, count);
  }

  /** Renders every metric, after folding in a fresh snapshot of the scheduler's counters. */
  render(stats: BackendStats): string {
    this.#preemptions.setTotal({}, stats.preemptions);
    this.#loopStalls.setTotal({}, stats.loopStalls);
    for (const us of stats.preemptLatenciesUs) this.#preemptLatency.observe({}, us / 1e6);
    this.#queueDepth.clear();
    for (const [queue, depth] of Object.entries(stats.queueDepths)) {
      this.#queueDepth.set({ queue }, depth);
    }
    return renderExposition([
      this.#requests,
      this.#latency,
      this.#inflight,
      this.#preemptions,
      this.#preemptLatency,
      this.#loopStalls,
      this.#queueDepth,
    ]);
  }
}
