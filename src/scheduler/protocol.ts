/**
 * What the main thread and the scheduler's worker exchange: the shared control words, the record
 * formats of the submission and completion rings, and the (rare) control messages.
 * @module
 */

import type { DeviceModel, DeviceSpec } from "./device_handle.ts";
import type { Mode } from "./mode.ts";
import type { SchedulerStats } from "./stats.ts";
import type { Priority } from "./task.ts";

/** Int32 words of the control buffer. */
export const Control = {
  /** Bumped and notified by the main thread whenever the worker has something to look at. */
  doorbell: 0,
  /** Control messages posted and not yet handled; the worker yields to its event loop meanwhile. */
  pendingMessages: 1,
  /** Non-zero while the main thread is mid-way through submitting a burst (virtual time holds). */
  submitGate: 2,
  /** Completions the worker has pushed, in total. */
  published: 3,
  /** Completions the main thread has handled, in total, reactions included. */
  acknowledged: 4,
} as const;

/** Int32 words, then (from byte {@linkcode CLOCK_BYTE_OFFSET}) one Float64: the virtual clock. */
export const CONTROL_BYTES = 64;
/** Byte offset of the Float64 where the worker publishes a virtual device's time. */
export const CLOCK_BYTE_OFFSET = 32;

/** Submission record fields: task id, model id, client id, release µs (NaN: none), blob offset. */
export const SUBMISSION_FIELDS = 5;

/** Completion record fields: task id, status, submitted, started, finished, preemptions. */
export const COMPLETION_FIELDS = 6;

/** Completion status: outputs are in the task's blob. */
export const STATUS_DONE = 0;
/** Completion status: the scheduler closed before the task started. */
export const STATUS_CLOSED = 1;

/** The shared memory of one scheduler. */
export interface SharedBuffers {
  readonly control: SharedArrayBuffer;
  readonly submissions: SharedArrayBuffer;
  readonly completions: SharedArrayBuffer;
  readonly arena: SharedArrayBuffer;
  readonly ringCapacity: number;
}

/** Worker tuning for real-time devices. */
export interface IdleOptions {
  /** How long the loop keeps spinning with nothing to do before it sleeps, µs. */
  readonly idleSpinUs: number;
  /** Longest sleep between looks at the rings when idle, ms. */
  readonly idleWaitMs: number;
}

/** Messages to the worker. */
export type ToWorker =
  | {
    readonly type: "start";
    readonly spec: DeviceSpec;
    readonly factoryUrl: string;
    readonly mode: Mode;
    readonly deviceQueueCap: number;
    readonly buffers: SharedBuffers;
    readonly idle: IdleOptions;
  }
  | { readonly type: "load"; readonly id: number; readonly name: string }
  | {
    readonly type: "client";
    readonly id: number;
    readonly priority: Priority;
    readonly name: string;
  }
  | { readonly type: "stats"; readonly id: number }
  | { readonly type: "close"; readonly id: number };

/** Replies to control messages, by message type. */
export interface ReplyValues {
  readonly load: DeviceModel;
  readonly client: number;
  readonly stats: SchedulerStats;
  readonly close: null;
}

/** Messages from the worker. */
export type FromWorker =
  | {
    readonly type: "started";
    readonly deviceName: string;
    readonly simulated: boolean;
    /** Whether the device runs in virtual time (its clock is published in the control buffer). */
    readonly virtual: boolean;
    /** For real-time devices: device clock minus wall clock, µs. */
    readonly clockOffsetUs: number;
  }
  | { readonly type: "reply"; readonly id: number; readonly value: unknown }
  | { readonly type: "error"; readonly id: number; readonly message: string }
  /** Completions wait in the completion ring. */
  | { readonly type: "completed" }
  /** The worker failed and stopped; every pending request and task must fail. */
  | { readonly type: "fatal"; readonly message: string };

/** Wall-clock time in µs, comparable across threads (performance.now has a per-thread origin). */
export function wallClockUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}

/** Resolves after the event loop has run other tasks (messages included), without timer clamping. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}
