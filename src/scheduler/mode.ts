/**
 * The scheduling modes: one scheduler, a policy switch. Each mode is described by a few traits that
 * the policy reads, so the policy has no per-mode branches beyond those traits.
 * @module
 */

import type { Build, StreamPriority } from "./exec_device.ts";

/**
 * A scheduling mode.
 * - `rt-only`: only RT tasks are accepted (REEF's RT-only baseline).
 * - `seq`: no preemption; an RT task waits until all BE device work has finished; BE clients share
 *   one queue (REEF's SEQ / NoPreempt).
 * - `stream`: every client on its own stream, all of one priority, no preemption (GPUStreams).
 * - `stream-prio`: as `stream`, with RT streams at high priority (the NVIDIA-native baseline).
 * - `wait`: set the preempt flag, wait until BE streams are idle, then launch RT (wait-based).
 * - `reset`: REEF's reset-based preemption: drop host queues, set the flag, launch RT at once.
 * - `reef`: `reset` plus dynamic kernel padding: RT kernels carry BE blocks (src/scheduler/padding.ts).
 */
export type Mode = "rt-only" | "seq" | "stream" | "stream-prio" | "wait" | "reset" | "reef";

/** Every mode, in the order of REEF's baselines. */
export const MODES: readonly Mode[] = [
  "rt-only",
  "seq",
  "stream",
  "stream-prio",
  "wait",
  "reset",
  "reef",
];

/** How RT work gets the device while BE work is running. */
export type PreemptionKind =
  /** RT and BE queues run side by side; the device's block scheduler arbitrates. */
  | "concurrent"
  /** RT waits for BE device work to drain; BE kernels are not interrupted (no flag). */
  | "drain"
  /** Flag set, RT launched once every BE stream is idle. */
  | "flag-wait"
  /** Host queues dropped, flag set, RT launched at once. */
  | "flag-reset";

/** The traits of a mode that the policy acts on. */
export interface ModeTraits {
  readonly preemption: PreemptionKind;
  /** Whether BE clients may be opened. */
  readonly acceptsBe: boolean;
  /** Whether every BE client shares one queue (SEQ) instead of owning one. */
  readonly sharedBeQueue: boolean;
  /** Whether every RT client owns a queue and stream (the stream modes) instead of sharing one. */
  readonly rtQueuePerClient: boolean;
  readonly rtStreamPriority: StreamPriority;
  readonly beStreamPriority: StreamPriority;
  /** Build BE kernels run with: `be` where the flag is used, `raw` otherwise. */
  readonly beBuild: Build;
  /** Whether the RT queue's kernels are all launched at once (REEF's RT window) or bounded as BE. */
  readonly rtBoundedLikeBe: boolean;
  /** Whether BE device queues are effectively unbounded (REEF's WaitPreempt uses a window of 1024). */
  readonly beUnbounded: boolean;
}

const TRAITS: Record<Mode, ModeTraits> = {
  "rt-only": traits("drain", { acceptsBe: false }),
  seq: traits("drain", { sharedBeQueue: true }),
  stream: traits("concurrent", {
    rtQueuePerClient: true,
    rtStreamPriority: "normal",
    beStreamPriority: "normal",
    rtBoundedLikeBe: true,
  }),
  "stream-prio": traits("concurrent", { rtQueuePerClient: true, rtBoundedLikeBe: true }),
  wait: traits("flag-wait", { beBuild: "be", beUnbounded: true }),
  reset: traits("flag-reset", { beBuild: "be" }),
  reef: traits("flag-reset", { beBuild: "be" }),
};

function traits(preemption: PreemptionKind, overrides: Partial<ModeTraits>): ModeTraits {
  return {
    preemption,
    acceptsBe: true,
    sharedBeQueue: false,
    rtQueuePerClient: false,
    rtStreamPriority: "high",
    beStreamPriority: "low",
    beBuild: "raw",
    rtBoundedLikeBe: false,
    beUnbounded: false,
    ...overrides,
  };
}

/**
 * The traits of a mode.
 * @throws {TypeError} for a string that is not a mode.
 */
export function modeTraits(mode: Mode): ModeTraits {
  // hasOwn, not a lookup: a string such as "constructor" would find Object's prototype.
  if (!Object.hasOwn(TRAITS, mode)) {
    throw new TypeError(
      `Unknown scheduling mode "${mode}": expected one of ${MODES.map((m) => `"${m}"`).join(", ")}`,
    );
  }
  return TRAITS[mode];
}
