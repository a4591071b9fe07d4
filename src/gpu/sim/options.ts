/**
 * Parameters of the simulated device, with H100-like defaults taken from the probes measured on the
 * lent H100 (docs/h100-probes.md). Every time is in µs.
 * @module
 */

import { z } from "zod";

/** Where a running BE block notices the preempt flag, besides block entry. */
export type CheckPoints =
  /** Every `1/parts` of the block's run time (a tile boundary of the main loop). */
  | { readonly kind: "fraction"; readonly parts: number }
  /** Every `us` of run time. */
  | { readonly kind: "interval"; readonly us: number }
  /** Only at block entry (REEF's BE kernels on AMD, where running waves were killed instead). */
  | { readonly kind: "entry-only" };

/** Every parameter of the simulated device. */
export interface SimOptions {
  /** Streaming multiprocessors. */
  readonly sms: number;
  readonly maxThreadsPerSm: number;
  readonly maxBlocksPerSm: number;
  /** Shared memory per SM, bytes. */
  readonly sharedMemoryPerSm: number;
  /** Host time of one kernel launch call. */
  readonly hostLaunchUs: number;
  /** From the end of a launch call until the GPU can start the kernel. */
  readonly gpuLaunchLatencyUs: number;
  /** GPU time between the end of one operation of a stream and the start of the next. */
  readonly kernelGapUs: number;
  /** Host time of a preempt-flag write, until the device sees it (a control-stream write). */
  readonly flagWriteUs: number;
  /** Dispatcher time per block that exits at entry on the flag (4 224 blocks drain in about 5 µs). */
  readonly skipBlockUs: number;
  readonly checkPoints: CheckPoints;
  /** Host time of an upload call (the copy itself runs on the stream). */
  readonly uploadCallUs: number;
  /** Host time of a download call, before the copy. */
  readonly downloadCallUs: number;
  /** Host-device copy bandwidth, bytes per µs. */
  readonly copyBytesPerUs: number;
  /** Host time of enqueuing a stop-mark reset. */
  readonly resetCallUs: number;
  /** GPU time of a stop-mark reset. */
  readonly resetGpuUs: number;
  /** Host time of reading an instance's stop marks (a restore point). */
  readonly markReadUs: number;
  /** Seed of the jitter. */
  readonly seed: number;
  /** Each kernel run's block time is scaled by a uniform factor in [1 - jitter, 1 + jitter]. */
  readonly jitter: number;
  /** Record every kernel run and flag write (for tests and what-if studies). */
  readonly trace: boolean;
}

/** An H100 SXM-like device: 132 SMs, 2 048 threads, 32 blocks and 228 KiB shared memory per SM. */
export const H100_LIKE: SimOptions = {
  sms: 132,
  maxThreadsPerSm: 2048,
  maxBlocksPerSm: 32,
  sharedMemoryPerSm: 233_472,
  hostLaunchUs: 4,
  gpuLaunchLatencyUs: 3,
  kernelGapUs: 1,
  flagWriteUs: 7,
  skipBlockUs: 0.0012,
  checkPoints: { kind: "fraction", parts: 8 },
  uploadCallUs: 2,
  downloadCallUs: 5,
  copyBytesPerUs: 25_000,
  resetCallUs: 2,
  resetGpuUs: 1,
  markReadUs: 5,
  seed: 1,
  jitter: 0,
  trace: false,
};

const count = z.number({ error: "must be a number" }).int({ error: "must be an integer" })
  .positive({ error: "must be positive" });
const duration = z.number({ error: "must be a number" }).nonnegative({
  error: "must be a non-negative number",
});

const OptionsSchema = z.strictObject({
  sms: count,
  maxThreadsPerSm: count,
  maxBlocksPerSm: count.max(32, { error: "must be at most 32" }),
  sharedMemoryPerSm: count,
  hostLaunchUs: duration,
  gpuLaunchLatencyUs: duration,
  kernelGapUs: duration,
  flagWriteUs: duration,
  skipBlockUs: duration,
  checkPoints: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("fraction"), parts: count }),
    z.strictObject({
      kind: z.literal("interval"),
      us: z.number().positive({ error: "must be positive" }),
    }),
    z.strictObject({ kind: z.literal("entry-only") }),
  ], {
    error: 'must be {kind: "fraction", parts}, {kind: "interval", us} or {kind: "entry-only"}',
  }),
  uploadCallUs: duration,
  downloadCallUs: duration,
  copyBytesPerUs: z.number().positive({ error: "must be positive" }),
  resetCallUs: duration,
  resetGpuUs: duration,
  markReadUs: duration,
  seed: z.number().int({ error: "must be an integer" }),
  jitter: z.number().min(0, { error: "must be in [0, 1)" }).lt(1, { error: "must be in [0, 1)" }),
  trace: z.boolean({ error: "must be a boolean" }),
}, { error: "must be an object" });

/**
 * The H100-like defaults overridden by `overrides`.
 * @throws {TypeError} naming the first invalid or unknown field.
 */
export function resolveSimOptions(overrides: unknown = {}): SimOptions {
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
    throw new TypeError("Invalid simulated device options: must be an object");
  }
  const parsed = OptionsSchema.safeParse({ ...H100_LIKE, ...overrides });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.join(".") : "options";
    const message = issue.code === "unrecognized_keys"
      ? `has unknown field "${issue.keys[0]}"`
      : issue.message;
    throw new TypeError(`Invalid simulated device option "${field}": ${message}`);
  }
  return parsed.data;
}
