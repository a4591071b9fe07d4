/**
 * The scheduler's device on a real GPU: {@linkcode ExecDevice} over the FFI binding.
 *
 * - The preempt flag is one 32-bit word of device memory that every BE kernel reads. It is set
 *   either by a plain host store that a persistent one-thread watcher kernel copies into device
 *   memory (`doorbell: "watcher"`, the default, see src/kernels/runtime.cu), or by a 32-bit write
 *   on a highest-priority control stream (`doorbell: "stream"`, also used until the watcher is
 *   started). On the H100 the store took 0.9 µs at the median and the stream write 3.8 µs, on a
 *   preemption's critical path (evaluation/results/h100/preempt-trace-*.json). Clearing the flag
 *   waits until the clear has landed, so a relaunched BE kernel can never see a stale
 *   "preempted" and skip its work.
 * - Device-queue depth: every launch on a stream other than the highest-priority RT stream
 *   records an event after it, and `inFlight` counts the events not yet reached.
 * - Restore points come from the instance's stop marks, read once the streams idle.
 * - The watcher is a persistent kernel, and the driver waits for the GPU to idle inside some calls
 *   (module loads, frees): with the watcher running those would never return. So it starts only on
 *   {@linkcode GpuExecDevice.startWatcher}, and loading, instance creation and closing stop it
 *   first and restart it after. Copies to and from the host go through a non-blocking stream.
 * @module
 */

import {
  Device,
  type Event,
  type HostBuffer,
  KernelParams,
  type Module,
  type Stream,
} from "../gpu/mod.ts";
import { LoadedModel, type ModelInstance, type Weights } from "../model/executor.ts";
import {
  type ModelPackage,
  type ModelProfile,
  type PackagePaths,
  tensorBytes,
} from "../model/package.ts";
import type {
  Build,
  ExecDevice,
  InstanceId,
  KernelInfo,
  ModelId,
  ModelInfo,
  PaddingBlocks,
  StreamId,
  StreamPriority,
} from "./exec_device.ts";

/** How the preempt flag is set. */
export type Doorbell = "stream" | "watcher";

/** Options of {@linkcode GpuExecDevice}. */
export interface GpuExecDeviceOptions {
  ordinal?: number;
  doorbell?: Doorbell;
}

const runtimeImage = new URL("../../build/reef_runtime.fatbin", import.meta.url);

/**
 * Events recorded after launches on one stream, oldest first, in a ring that grows only when every
 * event is pending: the scheduler loop polls it about two million times a second, and tracking
 * must not allocate there (young-generation collections stall the loop for up to a millisecond).
 */
class LaunchTracker {
  #events: Event[] = [];
  /** Index of the oldest pending event. */
  #head = 0;
  #pending = 0;
  #device: Device;

  constructor(device: Device) {
    this.#device = device;
  }

  recorded(stream: Stream): void {
    if (this.#pending === this.#events.length) this.#grow();
    const event = this.#events[(this.#head + this.#pending) % this.#events.length]!;
    event.record(stream);
    this.#pending++;
  }

  inFlight(): number {
    const events = this.#events;
    while (this.#pending > 0 && events[this.#head]!.query()) {
      this.#head = (this.#head + 1) % events.length;
      this.#pending--;
    }
    return this.#pending;
  }

  clear(): void {
    this.#pending = 0;
  }

  /** Adds an event after the pending ones (all of them: the ring is full), oldest first. */
  #grow(): void {
    const events = this.#events;
    this.#events = [
      ...events.slice(this.#head),
      ...events.slice(0, this.#head),
      this.#device.createEvent(),
    ];
    this.#head = 0;
  }
}

interface StreamState {
  stream: Stream;
  tracker: LaunchTracker | undefined;
  /** Launches since the stream was last seen idle, for untracked (RT) streams. */
  launched: number;
}

/** The watcher's host-mapped control block (layout of `WatcherControl` in runtime.cu). */
class Watcher {
  readonly words: Int32Array;
  readonly stream: Stream;
  readonly host: HostBuffer;

  constructor(device: Device, runtime: Module, flag: bigint) {
    const { greatest } = device.streamPriorityRange();
    this.host = device.allocHost(64, { mapped: true });
    this.words = new Int32Array(this.host.bytes.buffer, 0, 4);
    this.words.fill(0);
    this.stream = device.createStream({ priority: greatest });
    this.stream.launch(runtime.kernel("reef_watcher"), {
      grid: 1,
      block: 32,
      params: new KernelParams().pointer(this.host.deviceAddress).pointer(flag).bytes(),
    });
  }

  /** Stores the value for the watcher; with `confirm`, waits until it has landed on the GPU. */
  set(value: number, confirm: boolean): void {
    Atomics.store(this.words, 0, value);
    if (!confirm) return;
    const deadline = performance.now() + 1000;
    while (Atomics.load(this.words, 1) !== value) {
      if (performance.now() > deadline) {
        throw new Error("The preemption watcher kernel stopped answering (1 s without an ack)");
      }
    }
  }

  stop(): void {
    Atomics.store(this.words, 2, 1);
    this.stream.synchronizeSync();
    this.stream.close();
    this.host.close();
  }
}

/** {@linkcode ExecDevice} on a GPU. */
export class GpuExecDevice implements ExecDevice, Disposable {
  readonly simulated = false;
  readonly name: string;
  readonly device: Device;
  #flag;
  #control: Stream;
  #runtime: Module;
  #watcher: Watcher | undefined;
  #streams: StreamState[] = [];
  #models: { loaded: LoadedModel; info: ModelInfo }[] = [];
  #instances: ModelInstance[] = [];
  #greatest: number;
  #least: number;
  #io: Stream;
  #doorbell: Doorbell;
  /** Pinned staging buffers of the instances' inputs, by `<instance>/<storage>`. */
  #staging = new Map<string, HostBuffer>();
  /** Padding launches' occupancy, by RT model, kernel and shared memory (see paddedOccupancy). */
  #padOccupancy = new Map<number, number>();
  readonly smCount: number;

  constructor(options: GpuExecDeviceOptions = {}) {
    this.device = Device.open(options.ordinal ?? 0);
    this.name = this.device.properties.name;
    this.smCount = this.device.properties.smCount;
    const { least, greatest } = this.device.streamPriorityRange();
    this.#least = least;
    this.#greatest = greatest;
    this.#flag = this.device.allocPreemptFlag();
    this.#control = this.device.createStream({ priority: greatest });
    this.#runtime = this.device.loadModule(Deno.readFileSync(runtimeImage));
    this.#io = this.device.createStream({ priority: least });
    this.#doorbell = options.doorbell ?? "watcher";
  }

  /**
   * Starts the watcher kernel when the doorbell is "watcher" (after models and instances are set
   * up: see the module notes). Does nothing for the stream doorbell or when already running.
   */
  startWatcher(): void {
    if (this.#doorbell === "watcher" && !this.#watcher) {
      this.#watcher = new Watcher(this.device, this.#runtime, this.#flag.address);
    }
  }

  /** Stops the watcher for a setup step; returns whether it was running (see the module notes). */
  #pauseWatcher(): boolean {
    const running = this.#watcher !== undefined;
    this.#watcher?.stop();
    this.#watcher = undefined;
    return running;
  }

  now(): number {
    return performance.now() * 1000;
  }

  createStream(priority: StreamPriority): StreamId {
    const value = priority === "high" ? this.#greatest : this.#least;
    const stream = this.device.createStream({ priority: value });
    this.#streams.push({
      stream,
      tracker: priority === "high" ? undefined : new LaunchTracker(this.device),
      launched: 0,
    });
    return this.#streams.length - 1;
  }

  /** Loads a model package with its weights; `profile` supplies per-kernel times when present. */
  async loadModel(
    paths: PackagePaths,
    pkg: ModelPackage,
    weights: Weights,
    profile: ModelProfile | undefined,
  ): Promise<ModelInfo> {
    const running = this.#pauseWatcher();
    let loaded: LoadedModel;
    try {
      loaded = await LoadedModel.load(this.device, paths, pkg, weights, {
        be: true,
        dkp: pkg.binaries?.dkp !== undefined,
      });
    } finally {
      if (running) this.startWatcher();
    }
    const id = this.#models.length;
    const kernels: KernelInfo[] = loaded.kernels.map((k) => ({
      name: k.call.name,
      blocks: k.blocks,
      threads: k.block[0] * k.block[1] * k.block[2],
      sharedMemory: k.sharedMemory,
      blocksPerSm: k.blocksPerSm,
      timeUs: profile?.kernel_latency[k.call.name]?.total_latency ?? 0,
      waveUs: profile?.kernel_latency[k.call.name]?.latency ?? [],
      paddingSlowdown: profile?.padding_slowdown?.[k.call.name],
    }));
    const info: ModelInfo = {
      id,
      name: paths.name,
      kernels,
      latencyUs: profile?.model_latency ?? 0,
    };
    this.#models.push({ loaded, info });
    return info;
  }

  /** The loaded model behind an id. */
  model(id: ModelId): LoadedModel {
    const entry = this.#models[id];
    if (!entry) throw new RangeError(`No model ${id}`);
    return entry.loaded;
  }

  createInstance(model: ModelId): InstanceId {
    // Allocation and zero-fill with the watcher stopped: see the module notes. The pinned staging
    // buffers of the inputs are allocated here too, so that no upload allocates.
    const loaded = this.model(model);
    const id = this.#instances.length;
    this.#withWatcherPaused(() => {
      this.#instances.push(loaded.createInstance(this.#flag.address));
      for (const input of loaded.pkg.inputs ?? []) {
        this.#stagingBuffer(id, input.storage, tensorBytes(loaded.pkg, input));
      }
    });
    return id;
  }

  /** Runs a synchronous setup step with the watcher stopped (see the module notes). */
  #withWatcherPaused<T>(step: () => T): T {
    const running = this.#pauseWatcher();
    try {
      return step();
    } finally {
      if (running) this.startWatcher();
    }
  }

  /** The instance behind an id. */
  instance(id: InstanceId): ModelInstance {
    const instance = this.#instances[id];
    if (!instance) throw new RangeError(`No instance ${id}`);
    return instance;
  }

  launch(stream: StreamId, instance: InstanceId, from: number, to: number, build: Build): void {
    const state = this.#streams[stream]!;
    const target = this.instance(instance);
    if (state.tracker) {
      for (let i = from; i < to; i++) {
        target.launch(state.stream, i, i + 1, build);
        state.tracker.recorded(state.stream);
      }
    } else {
      target.launch(state.stream, from, to, build);
      state.launched += to - from;
    }
  }

  paddedOccupancy(
    rtModel: ModelId,
    rtKernel: number,
    beModel: ModelId,
    sharedMemory: number,
  ): number {
    // A padding launch calls bodies of its own module only: on the H100 (driver 580, CUDA 13), a
    // kernel calling a body of another loaded module faulted with an illegal address
    // (tests/gpu/padding_test.ts). So two models are never paired.
    if (rtModel !== beModel) return 0;
    const kernel = this.model(rtModel).kernels[rtKernel]!;
    if (kernel.pad === undefined) return 0; // no DKP build: a synthetic benchmark model
    // One number per (model, kernel, shared memory): models < 2^20, kernels < 2^16, shared memory
    // < 2^18 bytes; a key that is not a string keeps the lookup free of allocation.
    const key = (rtModel * 65536 + rtKernel) * 262144 + sharedMemory;
    let blocks = this.#padOccupancy.get(key);
    if (blocks === undefined) {
      blocks = kernel.pad.occupancy(kernel.block[0], sharedMemory);
      this.#padOccupancy.set(key, blocks);
    }
    return blocks;
  }

  launchPadded(stream: StreamId, instance: InstanceId, kernel: number, be: PaddingBlocks): void {
    const state = this.#streams[stream]!;
    this.instance(instance).launchPadded(state.stream, kernel, {
      instance: this.instance(be.instance),
      index: be.kernel,
      first: be.first,
      blocks: be.blocks,
    });
    if (state.tracker) state.tracker.recorded(state.stream);
    else state.launched++;
  }

  resetStopMarks(stream: StreamId, instance: InstanceId, from: number, to: number): void {
    this.instance(instance).resetStopMarks(this.#streams[stream]!.stream, from, to);
  }

  inFlight(stream: StreamId): number {
    const state = this.#streams[stream]!;
    if (state.tracker) return state.tracker.inFlight();
    if (state.launched > 0 && state.stream.query()) state.launched = 0;
    return state.launched;
  }

  idle(stream: StreamId): boolean {
    const state = this.#streams[stream]!;
    const idle = state.stream.query();
    if (idle) {
      state.launched = 0;
      state.tracker?.clear();
    }
    return idle;
  }

  setPreemptFlag(value: 0 | 1): void {
    // Setting must be fast; clearing must have landed before any BE kernel is relaunched.
    if (this.#watcher) {
      this.#watcher.set(value, value === 0);
    } else {
      this.#control.writeU32(this.#flag.address, value);
      if (value === 0) this.#control.synchronizeSync();
    }
  }

  restorePoint(instance: InstanceId, from: number, to: number): number {
    const target = this.instance(instance);
    const marks = target.readStopMarks(this.#io);
    for (let i = from; i < to; i++) {
      if (marks[i] !== 0) return i;
    }
    return to;
  }

  upload(stream: StreamId, instance: InstanceId, storage: string, data: Uint8Array): void {
    const target = this.instance(instance);
    const staging = this.#stagingBuffer(instance, storage, data.byteLength).bytes;
    staging.set(data);
    this.#streams[stream]!.stream.copyToDevice(target.address(storage), staging);
  }

  /**
   * The pinned buffer an input of an instance is staged in, allocated with the instance. Pinned,
   * so the copy is a DMA that returns at once (from pageable memory the driver copies it first;
   * with this and the worker's earlier wake-up, the median RT queueing of ResNet-152 alone on the
   * H100 went from 0.49 to 0.15 ms: evaluation/results/h100/rt-phases*.json). Reusing it is safe:
   * an instance runs one task at a time, and the next one starts only after the last has completed.
   */
  #stagingBuffer(instance: InstanceId, storage: string, size: number): HostBuffer {
    const key = `${instance}/${storage}`;
    let buffer = this.#staging.get(key);
    if (buffer === undefined || buffer.bytes.byteLength !== size) {
      const stale = buffer;
      // Freeing and allocating pinned memory may wait for the GPU to idle: see the module notes.
      buffer = this.#withWatcherPaused(() => {
        stale?.close();
        return this.device.allocHost(size);
      });
      this.#staging.set(key, buffer);
    }
    return buffer;
  }

  download(instance: InstanceId, storage: string): Uint8Array {
    return this.instance(instance).download(this.#io, storage);
  }

  synchronize(stream: StreamId): void {
    this.#streams[stream]!.stream.synchronizeSync();
  }

  /** Stops the watcher and releases everything. */
  close(): void {
    this.#pauseWatcher();
    for (const buffer of this.#staging.values()) buffer.close();
    this.#staging.clear();
    for (const { loaded } of this.#models) loaded.close();
    this.#models = [];
    this.device.close();
  }

  /** Same as {@linkcode GpuExecDevice.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
