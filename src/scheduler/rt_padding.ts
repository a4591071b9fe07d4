/**
 * The seam for dynamic kernel padding (DKP) in `reef` mode: with a padder configured, the policy
 * launches each RT kernel through it, one kernel at a time, instead of enqueuing the RT task's
 * kernels in one call. A padder may then launch a merged kernel that also runs BE blocks on the SMs
 * the RT kernel leaves idle; it must enqueue exactly the RT kernel's work on the RT stream.
 * @module
 */

import type { ExecDevice, InstanceId, ModelInfo, StreamId } from "./exec_device.ts";

/** A BE task waiting while RT work runs: what a padder may choose BE work from. */
export interface WaitingBeTask {
  readonly task: number;
  readonly model: ModelInfo;
  readonly instance: InstanceId;
  readonly stream: StreamId;
  /** First kernel not known to be finished (the task's restore point is at or after it). */
  readonly fromKernel: number;
}

/** One RT kernel to launch. */
export interface RtKernelLaunch {
  readonly device: ExecDevice;
  readonly stream: StreamId;
  readonly instance: InstanceId;
  readonly model: ModelInfo;
  readonly kernel: number;
  /** BE tasks held back by the RT work, in queue order. */
  readonly waiting: readonly WaitingBeTask[];
}

/** Launches RT kernels one by one, possibly padded with BE blocks. */
export interface RtKernelPadder {
  /** Enqueues RT kernel `launch.kernel` on `launch.stream`. */
  launchRtKernel(launch: RtKernelLaunch): void;
}
