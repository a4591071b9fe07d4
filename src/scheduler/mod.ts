/**
 * The REEF scheduler: policy, modes, the Worker-based loop and its main-thread API, and the device
 * registry. The project's mod.ts re-exports this.
 * @module
 */

export { Client, Scheduler } from "./scheduler.ts";
export type { InferenceResult, SchedulerOptions, SubmitOptions, Tensors } from "./scheduler.ts";
export { registerDeviceFactory } from "./device_registry.ts";
export type {
  CreateDevice,
  DeviceHandle,
  DeviceModel,
  DeviceSpec,
  TensorSlot,
  VirtualClock,
} from "./device_handle.ts";
export { MODES } from "./mode.ts";
export type { Mode } from "./mode.ts";
export { DEFAULT_DEVICE_QUEUE_CAP, SchedulerPolicy, UNBOUNDED_DEVICE_QUEUE } from "./policy.ts";
export type { PolicyOptions } from "./policy.ts";
export { runVirtual } from "./drive.ts";
export {
  choosePadding,
  KernelPadder,
  type PaddingCursor,
  type RtKernelLaunch,
  type RtKernelPadder,
} from "./padding.ts";
export type { LoopStall, PreemptionRecord, RestoreRecord, SchedulerStats } from "./stats.ts";
export type { Priority, TaskResult, TaskTimings } from "./task.ts";
