/**
 * A benchmark target for tests: one virtual-time server that runs one inference at a time, RT
 * before BE, an arriving RT inference preempting a running BE one (which later resumes where it
 * stopped). Time advances only between events, and each event yields a macrotask first, so the
 * runner's reactions to a completion (a closed-loop resubmission) happen before time moves on.
 * @module
 */

import type { BenchTarget, InferenceTimings } from "../../src/eval/runner.ts";
import type { TargetStats } from "../../src/eval/metrics.ts";

interface Job {
  client: string;
  priority: "rt" | "be";
  model: string;
  releaseUs: number;
  submittedUs: number;
  remainingUs: number;
  startedUs?: number;
  preemptions: number;
  resolve: (timings: InferenceTimings) => void;
}

/** One call of {@linkcode FakeTarget.submit}, as the test sees it. */
export interface Submission {
  client: string;
  priority: "rt" | "be";
  model: string;
  releaseAtUs: number | undefined;
  /** The fake's clock when submit was called. */
  calledAtUs: number;
}

/** Options of the fake target. */
export interface FakeTargetOptions {
  /** Service time of one inference per model, µs. */
  serviceUs: Record<string, number>;
  /** Added to the first inference of each model, µs (a real device's one-time costs). */
  coldExtraUs?: number;
  /** Recorded per preemption as the preempt latency; defaults to 10. */
  preemptLatencyUs?: number;
  /** Recorded per preemption as the quiesce latency; defaults to 25. */
  quiesceLatencyUs?: number;
  /** Models whose inferences fail. */
  failingModels?: string[];
  /** Makes the n-th call of submit (counting from 1) fail. */
  failingCall?: number;
  /** Statistics present before the run (the runner must not count them). */
  initialStats?: TargetStats;
  /** Returns timings with `startedUs` before `submittedUs`, to test the runner's check. */
  corruptTimings?: boolean;
  /** The clock's start, µs; defaults to 5 000 000 so that relative times are visible. */
  startUs?: number;
  /** Reports a loop stall of {@linkcode FAKE_STALL_US} at every multiple of this on its clock. */
  stallEveryUs?: number;
}

/** How long each of the fake's loop stalls lasts, µs. */
export const FAKE_STALL_US = 700;

/** A deterministic, virtual-time {@linkcode BenchTarget}. */
export class FakeTarget implements BenchTarget {
  readonly simulated = true;
  readonly deviceName = "fake virtual-time device";
  readonly loaded: string[] = [];
  readonly submissions: Submission[] = [];
  readonly #options: FakeTargetOptions;
  readonly #stats: TargetStats;
  #now: number;
  #waiting: Job[] = [];
  #readyRt: Job[] = [];
  #readyBe: Job[] = [];
  #running: Job | undefined;
  #runningSinceUs = 0;
  #pumping = false;
  /** Models that have run an inference. */
  #served = new Set<string>();

  constructor(options: FakeTargetOptions) {
    this.#options = options;
    this.#now = options.startUs ?? 5_000_000;
    this.#stats = {
      preemptLatenciesUs: [...options.initialStats?.preemptLatenciesUs ?? []],
      quiesceLatenciesUs: [...options.initialStats?.quiesceLatenciesUs ?? []],
      selectionTimesUs: [...options.initialStats?.selectionTimesUs ?? []],
    };
  }

  loadModel(name: string): Promise<void> {
    if (!(name in this.#options.serviceUs)) {
      return Promise.reject(new Error(`Unknown model "${name}"`));
    }
    this.loaded.push(name);
    return Promise.resolve();
  }

  nowUs(): number {
    return this.#now;
  }

  stats(): TargetStats {
    const every = this.#options.stallEveryUs;
    return {
      preemptLatenciesUs: [...this.#stats.preemptLatenciesUs],
      quiesceLatenciesUs: [...this.#stats.quiesceLatenciesUs],
      selectionTimesUs: [...this.#stats.selectionTimesUs],
      ...(every === undefined ? {} : {
        loopStalls: Array.from(
          { length: Math.floor((this.#now - FAKE_STALL_US) / every) + 1 },
          (_, k) => ({ atUs: k * every, durationUs: FAKE_STALL_US }),
        ),
      }),
    };
  }

  submit(
    client: string,
    priority: "rt" | "be",
    model: string,
    releaseAtUs?: number,
  ): Promise<InferenceTimings> {
    this.submissions.push({ client, priority, model, releaseAtUs, calledAtUs: this.#now });
    if (
      this.#options.failingModels?.includes(model) ||
      this.submissions.length === this.#options.failingCall
    ) {
      return Promise.reject(new Error(`Model "${model}" crashed`));
    }
    const releaseUs = Math.max(releaseAtUs ?? this.#now, this.#now);
    const cold = !this.#served.has(model);
    this.#served.add(model);
    return new Promise((resolve) => {
      this.#waiting.push({
        client,
        priority,
        model,
        releaseUs,
        submittedUs: releaseUs,
        remainingUs: this.#options.serviceUs[model] + (cold ? this.#options.coldExtraUs ?? 0 : 0),
        preemptions: 0,
        resolve,
      });
      this.#waiting.sort((a, b) => a.releaseUs - b.releaseUs);
      void this.#pump();
    });
  }

  #release(): void {
    while (this.#waiting.length > 0 && this.#waiting[0].releaseUs <= this.#now) {
      const job = this.#waiting.shift() as Job;
      (job.priority === "rt" ? this.#readyRt : this.#readyBe).push(job);
      if (job.priority === "rt" && this.#running?.priority === "be") {
        const be = this.#running;
        be.remainingUs -= this.#now - this.#runningSinceUs;
        be.preemptions++;
        this.#readyBe.unshift(be);
        this.#running = undefined;
        this.#stats.preemptLatenciesUs.push(this.#options.preemptLatencyUs ?? 10);
        this.#stats.quiesceLatenciesUs.push(this.#options.quiesceLatencyUs ?? 25);
      }
    }
  }

  #dispatch(): void {
    if (this.#running !== undefined) return;
    const job = this.#readyRt.shift() ?? this.#readyBe.shift();
    if (job === undefined) return;
    if (job.priority === "rt") this.#stats.selectionTimesUs.push(1);
    job.startedUs ??= this.#now;
    this.#running = job;
    this.#runningSinceUs = this.#now;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const channel = new MessageChannel();
    let wake: () => void = () => {};
    channel.port1.onmessage = () => wake();
    // A macrotask boundary: every microtask the runner queued (its reaction to a completion)
    // runs before the clock moves.
    const yieldMacrotask = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        channel.port2.postMessage(null);
      });
    try {
      for (;;) {
        await yieldMacrotask();
        this.#release();
        this.#dispatch();
        const finishUs = this.#running === undefined
          ? Number.POSITIVE_INFINITY
          : this.#runningSinceUs + this.#running.remainingUs;
        const nextReleaseUs = this.#waiting[0]?.releaseUs ?? Number.POSITIVE_INFINITY;
        if (finishUs === Number.POSITIVE_INFINITY && nextReleaseUs === Number.POSITIVE_INFINITY) {
          return;
        }
        if (nextReleaseUs < finishUs) {
          this.#now = nextReleaseUs;
          continue;
        }
        this.#now = finishUs;
        const job = this.#running as Job;
        this.#running = undefined;
        const startedUs = job.startedUs as number;
        job.resolve({
          submittedUs: job.submittedUs,
          startedUs: this.#options.corruptTimings ? job.submittedUs - 1 : startedUs,
          finishedUs: this.#now,
          preemptions: job.preemptions,
        });
      }
    } finally {
      channel.port1.close();
      channel.port2.close();
      this.#pumping = false;
    }
  }
}
