/**
 * Tasks as the policy receives and returns them. A task is one inference of a loaded model,
 * submitted by an RT or a BE client.
 * @module
 */

import type { ModelId } from "./exec_device.ts";

/** A client's priority class. */
export type Priority = "rt" | "be";

/** Identifier of a client opened on the policy. */
export type ClientId = number;

/** One inference to run. */
export interface TaskRequest {
  /** Unique among the policy's tasks; chosen by the submitter. */
  readonly id: number;
  readonly model: ModelId;
  readonly client: ClientId;
  /**
   * Device-clock time (µs) before which the task is not scheduled. It is then the task's
   * `submitted` time, so latencies count from the intended arrival even if it was handed over late.
   */
  readonly releaseUs?: number;
  /** Input bytes by storage name: exactly the model's inputs, each of its exact size. */
  readonly inputs: ReadonlyMap<string, Uint8Array>;
}

/** When a task went through the scheduler, in device-clock µs. */
export interface TaskTimings {
  /** Release time, or the time the policy received it when it had none. */
  readonly submitted: number;
  /** First kernel launch. */
  readonly started: number;
  /** Completion observed by the policy (all kernels done and the stream idle). */
  readonly finished: number;
  /** How many times the task was preempted. */
  readonly preemptions: number;
}

/** A completed task. */
export interface TaskResult {
  readonly id: number;
  /** Output bytes by storage name. */
  readonly outputs: Map<string, Uint8Array>;
  readonly timings: TaskTimings;
}
