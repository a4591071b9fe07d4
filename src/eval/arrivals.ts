/**
 * Arrival processes: when each request of a client is released, in µs from the start of the
 * measured run. Open-loop processes (uniform, Poisson, trace) produce their whole schedule at
 * once; the closed-loop process is driven by completions. Every process is deterministic given
 * its seed. A run's window is [0, duration): a release at or after the duration is not made.
 * @module
 */

import { SeededRandom } from "./random.ts";
import type { Arrival, ClosedLoopArrival } from "./workload.ts";

const US_PER_S = 1e6;
const US_PER_MS = 1e3;

/** The window in which an open-loop process releases requests. */
export interface ArrivalWindow {
  /** End of the run, µs; releases are strictly earlier. */
  durationUs: number;
  /** First possible release, µs (the client's start offset). Defaults to 0. */
  startUs?: number;
}

function checkWindow(window: ArrivalWindow): number {
  const startUs = window.startUs ?? 0;
  if (!(window.durationUs > 0) || !Number.isFinite(window.durationUs)) {
    throw new RangeError(`Arrival window duration "${window.durationUs}" µs must be positive`);
  }
  if (!(startUs >= 0) || !Number.isFinite(startUs)) {
    throw new RangeError(`Arrival window start "${startUs}" µs must be non-negative`);
  }
  return startUs;
}

function checkRate(ratePerS: number): void {
  if (!(ratePerS > 0) || !Number.isFinite(ratePerS)) {
    throw new RangeError(`Arrival rate "${ratePerS}" per second must be positive`);
  }
}

/**
 * Uniform (periodic) arrivals: `startUs + k / rate` for k = 0, 1, ... Each time is computed from
 * k, not accumulated, so there is no drift.
 *
 * @example
 * ```ts
 * uniformArrivals(1000, { durationUs: 4000 }); // [0, 1000, 2000, 3000]
 * ```
 */
export function uniformArrivals(ratePerS: number, window: ArrivalWindow): number[] {
  checkRate(ratePerS);
  const startUs = checkWindow(window);
  const times: number[] = [];
  for (let k = 0;; k++) {
    // k * 1e6 is exact, so the one rounding of the division keeps t on the ideal grid.
    const t = startUs + (k * US_PER_S) / ratePerS;
    if (t >= window.durationUs) return times;
    times.push(t);
  }
}

/**
 * Poisson arrivals: exponentially distributed gaps of mean 1 / rate, the first gap counted from
 * `startUs`.
 *
 * @param seed Seeds the gaps; the same seed gives the same schedule.
 */
export function poissonArrivals(ratePerS: number, window: ArrivalWindow, seed: number): number[] {
  checkRate(ratePerS);
  const startUs = checkWindow(window);
  const random = new SeededRandom(seed);
  const meanGapUs = US_PER_S / ratePerS;
  const times: number[] = [];
  for (let t = startUs + random.nextExponential(meanGapUs); t < window.durationUs;) {
    times.push(t);
    t += random.nextExponential(meanGapUs);
  }
  return times;
}

/** How a trace is played. */
export interface TraceOptions {
  /** Repeat the pattern every this many ms (before scaling) until the window ends. */
  repeatEveryMs?: number;
  /** Multiplies every time and the repeat period: 0.5 plays the trace twice as fast. */
  timeScale?: number;
}

/**
 * Trace arrivals: the given times (ms, relative to `startUs`), optionally repeated and scaled,
 * cut at the end of the window.
 *
 * @example
 * ```ts
 * traceArrivals([0, 100], { durationUs: 450_000 }, { repeatEveryMs: 200 });
 * // [0, 100000, 200000, 300000, 400000]
 * ```
 */
export function traceArrivals(
  timesMs: readonly number[],
  window: ArrivalWindow,
  options: TraceOptions = {},
): number[] {
  const startUs = checkWindow(window);
  const scale = options.timeScale ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`Trace time scale "${scale}" must be positive`);
  }
  if (timesMs.length === 0) return [];
  const repeatUs = options.repeatEveryMs === undefined
    ? undefined
    : options.repeatEveryMs * US_PER_MS * scale;
  if (repeatUs !== undefined && !(repeatUs > 0)) {
    throw new RangeError(`Trace repeat period "${options.repeatEveryMs}" ms must be positive`);
  }
  const times: number[] = [];
  for (let round = 0;; round++) {
    const offsetUs = startUs + (repeatUs === undefined ? 0 : round * repeatUs);
    for (const ms of timesMs) {
      const t = offsetUs + ms * US_PER_MS * scale;
      if (t >= window.durationUs) return times;
      times.push(t);
    }
    if (repeatUs === undefined) return times;
  }
}

/** Parameters of a closed-loop process. */
export interface ClosedLoopOptions extends ArrivalWindow {
  /** Requests kept outstanding; defaults to 1. */
  concurrency?: number;
  /** Caps the request rate: request k is not released before `startUs + k / rate`. */
  ratePerS?: number;
  /** Think time drawn uniformly from [minUs, maxUs) before each replacement request. */
  thinkTimeUs?: { minUs: number; maxUs: number };
  /** Seeds the think times. */
  seed?: number;
}

/**
 * Closed-loop arrivals, driven by completions: {@linkcode ClosedLoopArrivals.initialReleases}
 * gives the first `concurrency` releases, then each completion yields the next release via
 * {@linkcode ClosedLoopArrivals.next}.
 *
 * With a rate cap this is REEF's synchronous periodic client (`art:src/eval/DISB.h`): request k
 * takes slot `k / rate`; a request that becomes ready after its slot is released at once, so a
 * slow client catches up, and a client whose requests take longer than the period is simply
 * closed-loop.
 *
 * @example
 * ```ts
 * const loop = new ClosedLoopArrivals({ durationUs: 10_000 });
 * loop.initialReleases(); // [0]
 * loop.next(2_500); // 2500: sent as soon as the previous one completed
 * loop.next(12_000); // undefined: past the end of the run
 * ```
 */
export class ClosedLoopArrivals {
  readonly #durationUs: number;
  readonly #startUs: number;
  readonly #concurrency: number;
  readonly #ratePerS: number | undefined;
  readonly #thinkTimeUs: { minUs: number; maxUs: number } | undefined;
  readonly #random: SeededRandom;
  #issued = 0;

  /** Creates the process; see {@linkcode ClosedLoopOptions}. */
  constructor(options: ClosedLoopOptions) {
    this.#startUs = checkWindow(options);
    this.#durationUs = options.durationUs;
    this.#concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new RangeError(`Closed-loop concurrency "${options.concurrency}" must be at least 1`);
    }
    if (options.ratePerS !== undefined) checkRate(options.ratePerS);
    this.#ratePerS = options.ratePerS;
    const think = options.thinkTimeUs;
    if (think !== undefined && !(think.minUs >= 0 && think.maxUs >= think.minUs)) {
      throw new RangeError(
        `Closed-loop think time [${think.minUs}, ${think.maxUs}) µs must satisfy 0 <= min <= max`,
      );
    }
    this.#thinkTimeUs = think;
    this.#random = new SeededRandom(options.seed ?? 0);
  }

  /** Requests released so far. */
  get issued(): number {
    return this.#issued;
  }

  #release(readyUs: number): number | undefined {
    const slotUs = this.#ratePerS === undefined
      ? this.#startUs
      : this.#startUs + (this.#issued * US_PER_S) / this.#ratePerS;
    const t = Math.max(readyUs, slotUs);
    if (t >= this.#durationUs) return undefined;
    this.#issued++;
    return t;
  }

  /** Releases of the first `concurrency` requests (fewer if the window ends first). */
  initialReleases(): number[] {
    if (this.#issued > 0) {
      throw new Error("Closed-loop initial releases were already taken");
    }
    const times: number[] = [];
    for (let i = 0; i < this.#concurrency; i++) {
      const t = this.#release(this.#startUs);
      if (t === undefined) break;
      times.push(t);
    }
    return times;
  }

  /**
   * The release of the request that replaces one completed at `completedUs`, or undefined when
   * it would fall at or after the end of the run.
   */
  next(completedUs: number): number | undefined {
    const think = this.#thinkTimeUs === undefined
      ? 0
      : this.#random.nextInRange(this.#thinkTimeUs.minUs, this.#thinkTimeUs.maxUs);
    return this.#release(completedUs + think);
  }
}

/** Arrival processes whose whole schedule is known in advance. */
export type OpenLoopArrival = Exclude<Arrival, ClosedLoopArrival>;

/**
 * The release schedule of an open-loop arrival process from a workload.
 *
 * @param arrival The client's arrival process.
 * @param window The run's window; `startUs` is the client's start offset.
 * @param seed Seeds random processes (Poisson).
 */
export function openLoopArrivals(
  arrival: OpenLoopArrival,
  window: ArrivalWindow,
  seed: number,
): number[] {
  switch (arrival.type) {
    case "uniform":
      return uniformArrivals(arrival.rate_per_s, window);
    case "poisson":
      return poissonArrivals(arrival.rate_per_s, window, seed);
    case "trace":
      return traceArrivals(arrival.times_ms, window, {
        repeatEveryMs: arrival.repeat_every_ms,
        timeScale: arrival.time_scale,
      });
  }
}

/** Builds the closed-loop process of a workload client. */
export function closedLoopArrivals(
  arrival: ClosedLoopArrival,
  window: ArrivalWindow,
  seed: number,
): ClosedLoopArrivals {
  return new ClosedLoopArrivals({
    ...window,
    concurrency: arrival.concurrency,
    ratePerS: arrival.rate_per_s,
    thinkTimeUs: arrival.think_time_ms === undefined ? undefined : {
      minUs: arrival.think_time_ms.min * US_PER_MS,
      maxUs: arrival.think_time_ms.max * US_PER_MS,
    },
    seed,
  });
}
