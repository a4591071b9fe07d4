/**
 * What the scheduler drives: the real GPU (`src/scheduler/gpu_device.ts`) or the simulated device
 * (`src/gpu/sim/`). The scheduler's policy only ever talks to this interface, so it runs unchanged
 * on both; every call is synchronous and cheap (the GPU implementation does one or a few FFI calls),
 * because the scheduler loop busy-polls.
 *
 * Vocabulary:
 * - A *model* is a loaded model package: its kernels in launch order (see {@linkcode ModelInfo}).
 * - An *instance* is one copy of a model's storage plus one stop mark per kernel. Each
 *   queue that runs a model owns an instance, so tasks of different queues never share buffers.
 * - A *stream* is a device queue. RT work goes on a high-priority stream, BE work on low-priority
 *   streams, one per BE queue.
 * @module
 */

/** Opaque identifiers handed out by a device. */
export type ModelId = number;
export type InstanceId = number;
export type StreamId = number;

/** How a stream's blocks are prioritised by the device's block scheduler. */
export type StreamPriority = "high" | "normal" | "low";

/**
 * Which build of the kernels a launch uses: `raw` (no checks; RT work and non-preemptive modes) or
 * `be` (flag checked at tile boundaries; a block that stops there sets its kernel's stop mark).
 */
export type Build = "raw" | "be";

/** One kernel of a model, as the scheduler and the simulator see it. */
export interface KernelInfo {
  name: string;
  /** Blocks in the launch's grid (gx * gy * gz). */
  blocks: number;
  /** Threads per block. */
  threads: number;
  /** Dynamic shared memory per block, bytes. */
  sharedMemory: number;
  /** Resident blocks per SM at this block size and shared memory (occupancy), from the device. */
  blocksPerSm: number;
  /** Standalone time of the whole kernel on the device, µs (REEF's `total_latency`). */
  timeUs: number;
  /**
   * Time of one wave with j + 1 blocks resident per SM, µs, at index j (REEF's `latency`, from
   * the profile); empty when not profiled.
   */
  waveUs: readonly number[];
  /**
   * Measured cost of padding the kernel: its time padded with BE blocks that fit over its time
   * alone, minus 1 (the profile's `padding_slowdown`); absent when not measured.
   */
  paddingSlowdown?: number;
}

/** A loaded model: what the policy needs to launch, preempt and restore its tasks. */
export interface ModelInfo {
  id: ModelId;
  name: string;
  kernels: KernelInfo[];
  /** Standalone time of one inference, µs (REEF's `model_latency`). */
  latencyUs: number;
}

/** The BE share of a padded launch: virtual blocks [first, first + blocks) of a BE kernel. */
export interface PaddingBlocks {
  readonly instance: InstanceId;
  readonly kernel: number;
  readonly first: number;
  readonly blocks: number;
}

/** The device operations the scheduler uses. */
export interface ExecDevice {
  /** True for the simulated device: its results must never be reported as GPU results. */
  readonly simulated: boolean;
  /** Device name, shown in results ("NVIDIA H100 80GB HBM3", or "simulated H100-like GPU"). */
  readonly name: string;

  /** Monotonic time in µs: the host clock on a GPU, virtual time on the simulator. */
  now(): number;

  /** Creates a stream of the given priority. */
  createStream(priority: StreamPriority): StreamId;

  /**
   * Makes a new instance of a loaded model (its own storage and stop marks, and whatever uploads to
   * it need). It may take milliseconds and wait for the GPU: the policy calls it when it accepts a
   * task, never between launches.
   */
  createInstance(model: ModelId): InstanceId;

  /**
   * Enqueues kernels [from, to) of an instance on a stream, in order. Launches never zero the
   * marks: call {@linkcode ExecDevice.resetStopMarks} before relaunching kernels that stopped.
   */
  launch(stream: StreamId, instance: InstanceId, from: number, to: number, build: Build): void;

  /** Streaming multiprocessors: padding counts the block slots an RT kernel leaves per SM. */
  readonly smCount: number;

  /**
   * Resident blocks per SM of a padded launch of RT kernel `rtKernel` of `rtModel` carrying blocks
   * of a kernel of `beModel`, with this dynamic shared memory; 0 when the device cannot pad that
   * kernel with kernels of that model (on the GPU: another model, or one without a DKP build).
   */
  paddedOccupancy(
    rtModel: ModelId,
    rtKernel: number,
    beModel: ModelId,
    sharedMemory: number,
  ): number;

  /**
   * Enqueues RT kernel `kernel` of `instance` and the BE blocks `be` as one launch (dynamic kernel
   * padding): the RT kernel's work and those BE blocks are done when it completes, in the BE
   * instance's storage. The two kernels must have the same block size. Stop marks are not touched.
   */
  launchPadded(stream: StreamId, instance: InstanceId, kernel: number, be: PaddingBlocks): void;

  /** Enqueues, on the stream, the zeroing of the instance's stop marks of kernels [from, to). */
  resetStopMarks(stream: StreamId, instance: InstanceId, from: number, to: number): void;

  /**
   * Kernels launched on the stream and not yet finished (running, queued on the device, or exiting
   * after a preemption). The policy keeps this at most the device-queue capacity for BE streams.
   */
  inFlight(stream: StreamId): number;

  /** True when every operation enqueued on the stream has finished. */
  idle(stream: StreamId): boolean;

  /** Sets (1) or clears (0) the preempt flag that every BE kernel reads. Takes effect at once. */
  setPreemptFlag(value: 0 | 1): void;

  /**
   * The restore point of an instance: the index of its first kernel in [from, to) with a stop
   * mark (`to` if none stopped). [from, to) are kernels launched in the `be` build since their
   * marks were zeroed; every launched kernel runs, if only to stop at its first check, so an
   * unmarked one finished. Valid only when the streams that ran the instance are idle.
   */
  restorePoint(instance: InstanceId, from: number, to: number): number;

  /**
   * Enqueues on the stream a copy of `data` into the instance's storage `storage` (an input). The
   * bytes are staged at once, so the caller may reuse `data` when this returns.
   */
  upload(stream: StreamId, instance: InstanceId, storage: string, data: Uint8Array): void;

  /**
   * Copies the instance's storage `storage` (an output) to the host. Call only once the stream that
   * ran the task is idle. The simulated device returns a digest of how the storage was computed,
   * repeated to the right size, so a skipped or partly run kernel shows in the output.
   */
  download(instance: InstanceId, storage: string): Uint8Array;

  /** Blocks until the stream is idle (used by SEQ and WAIT modes, and at shutdown). */
  synchronize(stream: StreamId): void;
}
