/**
 * What a device factory gives the scheduler's worker: the {@linkcode ExecDevice} it drives, the
 * loader that turns a model name into a {@linkcode DeviceModel}, and, for devices that run in
 * virtual time (the simulator), the clock the loop advances instead of spinning.
 *
 * A device factory is a module exporting `createDevice` (see {@linkcode CreateDevice}); it is named
 * by path in the device registry so that the worker imports the GPU module only when asked.
 * @module
 */

import type { ExecDevice, ModelInfo } from "./exec_device.ts";

/**
 * Which device the scheduler runs on, sent to the worker at start (so it must be structured-cloneable).
 * `kind` selects the factory in the device registry; the other fields are the factory's own.
 */
export interface DeviceSpec {
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** An input or output tensor of a model: its name for callers, its storage on the device. */
export interface TensorSlot {
  /** Tensor name callers use (the storage name when the package names no tensors). */
  readonly name: string;
  /** Storage name in the model package, for `upload` and `download`. */
  readonly storage: string;
  /** Size in bytes. */
  readonly bytes: number;
}

/** A model loaded on a device, as the scheduler sees it: kernels for the policy, tensors for callers. */
export interface DeviceModel {
  readonly info: ModelInfo;
  /** Storages a task uploads before its first launch, in a fixed order. */
  readonly inputs: readonly TensorSlot[];
  /** Storages a task downloads at completion, in a fixed order. */
  readonly outputs: readonly TensorSlot[];
}

/**
 * A device whose time is virtual. Its time moves only through host calls (which cost modelled host
 * time) and through {@linkcode VirtualClock.advanceTo}, so a loop with nothing to do jumps to the
 * next event rather than spinning.
 */
export interface VirtualClock {
  /** Time of the next pending device event in µs; undefined when the device has nothing pending. */
  nextEventUs(): number | undefined;
  /** Processes every event up to `us` and sets the device time to `us` (never backwards). */
  advanceTo(us: number): void;
}

/** What a device factory returns. */
export interface DeviceHandle {
  readonly device: ExecDevice;
  /** Present only for devices in virtual time. */
  readonly clock?: VirtualClock;
  /** Loads a model by name (the factory's spec says where models live). */
  loadModel(name: string): DeviceModel | Promise<DeviceModel>;
  /** Releases the device; called once, after every stream is idle. */
  close(): void;
}

/** The function a device factory module exports as `createDevice`. */
export type CreateDevice = (spec: DeviceSpec) => DeviceHandle | Promise<DeviceHandle>;
