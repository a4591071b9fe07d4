/**
 * Scheduler statistics: per-priority task counts and one record per preemption, with the derived
 * latencies the evaluation reports.
 * @module
 */

import type { Mode } from "./mode.ts";
import type { LoopStall } from "./stall_log.ts";
import type { Priority } from "./task.ts";

export type { LoopStall } from "./stall_log.ts";

/** Where a preempted BE task resumed. */
export interface RestoreRecord {
  readonly task: number;
  /** First kernel re-run (the restore point). */
  readonly from: number;
  /** Kernels had been launched up to here when the task was preempted. */
  readonly launched: number;
}

/** One preemption of BE work by an RT task. Times are device-clock µs; NaN where not reached yet. */
export interface PreemptionRecord {
  /** The RT task that caused it. */
  readonly rtTask: number;
  /** When the policy decided to preempt (just before setting the flag). */
  readonly preemptUs: number;
  /** When every BE stream was first seen idle again. */
  readonly quiescedUs: number;
  /** When the RT task's first kernel was launched. */
  readonly rtLaunchUs: number;
  /** BE tasks preempted (those with work started). */
  readonly preemptedTasks: readonly number[];
  /** Restore points, filled when the BE tasks resume. */
  readonly restores: readonly RestoreRecord[];
}

/** A snapshot of the scheduling policy's counters. */
export interface PolicyStats {
  /** Device name; a simulated device says so. */
  readonly device: string;
  /** True on the simulated device: never report these numbers as GPU results. */
  readonly simulated: boolean;
  readonly mode: Mode;
  readonly submitted: Readonly<Record<Priority, number>>;
  readonly completed: Readonly<Record<Priority, number>>;
  /** Tasks failed (for example at shutdown before they started). */
  readonly failed: number;
  readonly preemptions: readonly PreemptionRecord[];
  /** RT launch minus preempt call, per completed preemption: how long RT waited for the device. */
  readonly preemptLatenciesUs: readonly number[];
  /** Quiesce minus preempt call, per preemption where BE work went idle. */
  readonly quiesceLatenciesUs: readonly number[];
  /** Kernels launched again because of preemptions (restore overhead). */
  readonly relaunchedKernels: number;
  /**
   * `reef` mode: mean kernel-selection time per RT kernel of each RT launch that had BE work to
   * pad from, µs (empty in other modes).
   */
  readonly selectionTimesUs: readonly number[];
  /** `reef` mode: RT kernels launched padded with BE blocks (0 in other modes). */
  readonly paddedKernels: number;
}

/** A snapshot of the scheduler's counters: the policy's, and its loop's. */
export interface SchedulerStats extends PolicyStats {
  /**
   * Real-time devices: the worker loop's last stalls, gaps of at least
   * {@linkcode LOOP_STALL_THRESHOLD_US} between two polling passes (empty on a virtual device).
   */
  readonly loopStalls: readonly LoopStall[];
  /** Stalls since the scheduler started, those no longer in `loopStalls` included. */
  readonly loopStallsRecorded: number;
}

/**
 * A loop pass starting this long after the previous one is a stall, µs: half the millisecond host
 * waits of RT requests seen in DISB B and C on the H100 (sessions 13 and 14). A pass that launches
 * a large model's kernels at once can take about as long by itself (some 4 µs a launch).
 */
export const LOOP_STALL_THRESHOLD_US = 500;

/** Stalls the worker keeps, the last ones: two seconds of them at the threshold. */
export const LOOP_STALL_CAPACITY = 4096;
