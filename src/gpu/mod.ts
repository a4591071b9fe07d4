/**
 * reef's GPU binding: `Deno.dlopen` over `ffi/reef_gpu.h`.
 * @module
 */

export { Device, type DeviceProperties, type Platform } from "./device.ts";
export { ReefGpuError, statusName } from "./error.ts";
export { GatedTimer } from "./gated_timer.ts";
export {
  type LibraryCandidate,
  libraryCandidates,
  LibraryLoadError,
  liveHandles,
  openLibrary,
} from "./library.ts";
export { Buffer, HostBuffer } from "./memory.ts";
export { Kernel, type KernelAttributes, Module } from "./module.ts";
export { type Address, KernelParams } from "./params.ts";
export { type Dim3, Event, type LaunchConfig, Stream } from "./stream.ts";
export { ABI_VERSION, Status, type StatusCode } from "./symbols.ts";
