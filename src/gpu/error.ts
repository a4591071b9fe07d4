/**
 * Errors of the GPU binding.
 * @module
 */

import { Status, type StatusCode } from "./symbols.ts";

const statusNames = new Map<number, string>(
  Object.entries(Status).map(([name, code]) => [code, name]),
);

/** The name of a `reef_status` value, e.g. `"OUT_OF_MEMORY"`. */
export function statusName(status: number): string {
  return statusNames.get(status) ?? `UNKNOWN_${status}`;
}

/**
 * A failed call into the GPU library: which operation, its status, and the driver's message.
 *
 * @example Telling "no GPU here" apart from other failures
 * ```ts
 * import { Device, ReefGpuError, Status } from "./mod.ts";
 * try {
 *   Device.count();
 * } catch (error) {
 *   if (error instanceof ReefGpuError && error.status === Status.NO_DRIVER) console.log("no GPU");
 * }
 * ```
 */
export class ReefGpuError extends Error {
  /** The `reef_status` the library returned. */
  readonly status: StatusCode;
  /** What reef was doing, e.g. `"launch kernel \"k3_conv\""`. */
  readonly operation: string;

  /** Builds the error; `detail` is the library's message for the failed call. */
  constructor(operation: string, status: StatusCode, detail: string) {
    super(`Cannot ${operation} (${statusName(status)}): ${detail}`);
    this.name = "ReefGpuError";
    this.status = status;
    this.operation = operation;
  }
}
