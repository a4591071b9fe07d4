/**
 * A discrete-event model of an H100-like GPU that implements {@linkcode ExecDevice} in virtual time.
 *
 * What it models:
 * - SMs with resident-block limits: a block of a kernel takes `1/blocksPerSm` of an SM's occupancy
 *   plus its threads and shared memory, so kernels of different shapes share SMs.
 * - Streams: operations of one stream run strictly in order, each starting `kernelGapUs` after the
 *   previous one ended and no earlier than `gpuLaunchLatencyUs` after its launch call.
 * - Block dispatch in stream-priority order: whenever resources free up, pending blocks of
 *   higher-priority streams are placed first (oldest kernel first within a priority), spread evenly
 *   over the SMs; running blocks are never evicted.
 * - Block time: a kernel's profiled time spread over its waves (`timeUs / ceil(blocks / (sms *
 *   blocksPerSm))`), scaled by an optional seeded jitter per kernel run.
 * - Host costs: every host call advances virtual time by its modelled cost (a launch ~4 µs, a flag
 *   write 7 µs), processing device events meanwhile, as a real host thread would be blocked.
 * - Padding: a padded launch runs as its RT kernel does; its BE blocks are counted as done when it
 *   ends, without taking SM room (selection only pads blocks that fit in the RT kernel's time).
 * - The preempt flag: `be`-build blocks dispatched while it is set exit at entry (a dispatcher cost
 *   per block); running ones stop at their next check point and are not counted as finished.
 * - Data flow: instead of bytes, each kernel of an instance holds a digest of its inputs' digests,
 *   so a partly run kernel or a skipped one yields a different output than a complete run. Outputs
 *   are downloaded as that digest repeated; a restored task must reproduce an uninterrupted run's
 *   bytes exactly.
 * @module
 */

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
} from "../../scheduler/exec_device.ts";
import type { DeviceModel, VirtualClock } from "../../scheduler/device_handle.ts";
import { Fifo } from "../../scheduler/fifo.ts";
import { MinHeap } from "../../scheduler/min_heap.ts";
import { digestBytes, digestString, mix32 } from "./digest.ts";
import type { SimPackage } from "./model_package.ts";
import { resolveSimOptions, type SimOptions } from "./options.ts";
import { SeededRandom } from "./rng.ts";

/** The name every simulated device reports, so its numbers are never taken for GPU results. */
export const SIM_DEVICE_NAME = "simulated H100-like GPU";

/** One kernel run on the simulated device (recorded when tracing). Times are virtual µs. */
export interface KernelRecord {
  readonly stream: StreamId;
  readonly priority: StreamPriority;
  readonly instance: InstanceId;
  readonly model: string;
  readonly kernel: number;
  readonly build: Build;
  /** End of the launch call. */
  readonly launchUs: number;
  /** The kernel reached the head of its stream. */
  readonly startUs: number;
  /** First block dispatched (or skipped); NaN if none was. */
  readonly firstBlockUs: number;
  /** Last block gone. */
  readonly endUs: number;
  readonly completedBlocks: number;
  /** Blocks that stopped at a check point. */
  readonly stoppedBlocks: number;
  /** Blocks that exited at entry on the flag. */
  readonly skippedBlocks: number;
}

/** One preempt-flag write, at the time the device sees it. */
export interface FlagRecord {
  readonly us: number;
  readonly value: 0 | 1;
}

const PRIORITY_RANK: Record<StreamPriority, number> = { high: 0, normal: 1, low: 2 };

/** Least common multiple of 1..32: every allowed blocksPerSm divides it, so occupancy is exact. */
const OCCUPANCY_UNITS = (() => {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let lcm = 1;
  for (let i = 2; i <= 32; i++) lcm = (lcm / gcd(lcm, i)) * i;
  return lcm;
})();

interface SimKernel {
  readonly info: KernelInfo;
  /** Occupancy units one block takes on an SM. */
  readonly units: number;
  /** Run time of one block without jitter, µs. */
  readonly blockUs: number;
}

interface SimModel {
  readonly info: ModelInfo;
  readonly kernels: readonly SimKernel[];
  readonly storageBytes: ReadonlyMap<string, number>;
  /** Input storage names, sorted, for the input digest. */
  readonly inputs: readonly string[];
  readonly outputs: ReadonlySet<string>;
  readonly salt: number;
}

interface SimInstance {
  readonly id: InstanceId;
  readonly model: SimModel;
  /** Stop mark per kernel: 1 once a block of its `be` build stopped or skipped, as on the GPU. */
  readonly stopMarks: Uint8Array;
  /** Data digest per kernel: what its output buffers hold. */
  readonly values: Uint32Array;
  /** Blocks of each kernel done by padded launches since the kernel last ran whole. */
  readonly padded: Int32Array;
  readonly inputTags: Map<string, number>;
  /** Operations enqueued on any stream and not finished. */
  opsInFlight: number;
}

interface KernelOp {
  readonly kind: "kernel";
  readonly instance: SimInstance;
  readonly index: number;
  readonly build: Build;
  readonly launchUs: number;
  readonly readyUs: number;
  /** BE blocks padded into this launch. */
  readonly pad:
    | { readonly instance: SimInstance; readonly index: number; readonly blocks: number }
    | undefined;
}

interface ResetOp {
  readonly kind: "reset";
  readonly instance: SimInstance;
  readonly from: number;
  readonly to: number;
  readonly durationUs: number;
  readonly readyUs: number;
}

interface UploadOp {
  readonly kind: "upload";
  readonly instance: SimInstance;
  readonly storage: string;
  readonly tag: number;
  readonly durationUs: number;
  readonly readyUs: number;
}

type StreamOp = KernelOp | ResetOp | UploadOp;

interface SimStream {
  readonly id: StreamId;
  readonly priority: StreamPriority;
  readonly rank: number;
  readonly ops: Fifo<StreamOp>;
  kernels: number;
  maxKernels: number;
  lastEndUs: number;
  headStarted: boolean;
}

interface RunningKernel {
  readonly stream: SimStream;
  readonly op: KernelOp;
  readonly kernel: SimKernel;
  readonly blockUs: number;
  readonly seq: number;
  readonly startUs: number;
  readonly groups: Set<BlockGroup>;
  firstBlockUs: number;
  pending: number;
  running: number;
  completed: number;
  stopped: number;
  skipped: number;
  skipping: boolean;
}

/** Blocks of one kernel dispatched together: they start and end (or stop) together. */
interface BlockGroup {
  readonly kernel: RunningKernel;
  readonly sms: number[];
  readonly counts: number[];
  readonly total: number;
  readonly startUs: number;
  endUs: number;
  stopped: boolean;
  version: number;
}

type SimEvent =
  | {
    readonly time: number;
    readonly seq: number;
    readonly kind: "start";
    readonly stream: SimStream;
  }
  | {
    readonly time: number;
    readonly seq: number;
    readonly kind: "opEnd";
    readonly stream: SimStream;
  }
  | {
    readonly time: number;
    readonly seq: number;
    readonly kind: "groupEnd";
    readonly group: BlockGroup;
    readonly version: number;
  }
  | {
    readonly time: number;
    readonly seq: number;
    readonly kind: "skipEnd";
    readonly kernel: RunningKernel;
  };

/** The simulated GPU. Deterministic: equal options and equal call sequences give equal runs. */
export class SimDevice implements ExecDevice, VirtualClock {
  /** Always true: results from this device must never be reported as GPU results. */
  readonly simulated = true;
  /** {@linkcode SIM_DEVICE_NAME}. */
  readonly name = SIM_DEVICE_NAME;
  /** The resolved parameters. */
  readonly options: SimOptions;

  readonly #random: SeededRandom;
  readonly #models: SimModel[] = [];
  readonly #instances: SimInstance[] = [];
  readonly #streams: SimStream[] = [];
  readonly #events = new MinHeap<SimEvent>((a, b) =>
    a.time < b.time || (a.time === b.time && a.seq < b.seq)
  );
  /** Kernels at the head of their streams, by stream priority then age. */
  readonly #active: RunningKernel[] = [];
  readonly #usedUnits: Float64Array;
  readonly #usedThreads: Int32Array;
  readonly #usedSharedMemory: Int32Array;
  readonly #usedBlocks: Int32Array;
  readonly #fits: Int32Array;
  readonly #kernelTrace: KernelRecord[] = [];
  readonly #flagTrace: FlagRecord[] = [];
  #now = 0;
  #seq = 0;
  #flag: 0 | 1 = 0;
  #dirty = false;
  #nextSm = 0;

  /**
   * Creates a device; `options` override the H100-like defaults.
   * @throws {TypeError} for an invalid option.
   */
  constructor(options: Partial<SimOptions> = {}) {
    this.options = resolveSimOptions(options);
    this.#random = new SeededRandom(this.options.seed);
    const sms = this.options.sms;
    this.#usedUnits = new Float64Array(sms);
    this.#usedThreads = new Int32Array(sms);
    this.#usedSharedMemory = new Int32Array(sms);
    this.#usedBlocks = new Int32Array(sms);
    this.#fits = new Int32Array(sms);
  }

  /** Kernel runs so far, in completion order (empty unless `trace` is on). */
  get kernelTrace(): readonly KernelRecord[] {
    return this.#kernelTrace;
  }

  /** Flag writes so far (empty unless `trace` is on). */
  get flagTrace(): readonly FlagRecord[] {
    return this.#flagTrace;
  }

  /**
   * Loads a model package: computes each kernel's shape, occupancy and block time.
   * @throws {Error} for a kernel whose block does not fit on an SM.
   */
  addModel(pkg: SimPackage): DeviceModel {
    const o = this.options;
    const id: ModelId = this.#models.length;
    const kernels = pkg.kernels.map((k, i): SimKernel => {
      const blocks = k.grid[0] * k.grid[1] * k.grid[2];
      const threads = k.block[0] * k.block[1] * k.block[2];
      const limit = Math.min(
        o.maxBlocksPerSm,
        Math.floor(o.maxThreadsPerSm / threads),
        k.sharedMemory > 0 ? Math.floor(o.sharedMemoryPerSm / k.sharedMemory) : Infinity,
      );
      if (limit < 1) {
        throw new Error(
          `Cannot load model "${pkg.name}": kernel ${i} ("${k.name}") does not fit on an SM ` +
            `(${threads} threads, ${k.sharedMemory} bytes of shared memory per block)`,
        );
      }
      const blocksPerSm = Math.min(k.blocksPerSm ?? limit, limit);
      const waves = Math.ceil(blocks / (o.sms * blocksPerSm));
      return {
        info: {
          name: k.name,
          blocks,
          threads,
          sharedMemory: k.sharedMemory,
          blocksPerSm,
          timeUs: k.timeUs,
          waveUs: k.waveUs,
          paddingSlowdown: k.paddingSlowdown,
        },
        units: OCCUPANCY_UNITS / blocksPerSm,
        blockUs: k.timeUs / waves,
      };
    });
    const info: ModelInfo = {
      id,
      name: pkg.name,
      kernels: kernels.map((k) => k.info),
      latencyUs: pkg.latencyUs,
    };
    this.#models.push({
      info,
      kernels,
      storageBytes: pkg.storage,
      inputs: pkg.inputs.map((slot) => slot.storage).sort(),
      outputs: new Set(pkg.outputs.map((slot) => slot.storage)),
      salt: digestString(pkg.name),
    });
    return { info, inputs: pkg.inputs, outputs: pkg.outputs };
  }

  /** Most kernels ever in flight at once on the stream. */
  maxInFlight(stream: StreamId): number {
    return this.#stream(stream, "read").maxKernels;
  }

  // ExecDevice

  /** Virtual time, µs. */
  now(): number {
    return this.#now;
  }

  /** Creates a stream. */
  createStream(priority: StreamPriority): StreamId {
    if (!Object.hasOwn(PRIORITY_RANK, priority)) {
      throw new TypeError(`Cannot create stream: unknown priority "${priority}"`);
    }
    const id = this.#streams.length;
    this.#streams.push({
      id,
      priority,
      rank: PRIORITY_RANK[priority],
      ops: new Fifo(),
      kernels: 0,
      maxKernels: 0,
      lastEndUs: -Infinity,
      headStarted: false,
    });
    return id;
  }

  /** Creates an instance of a loaded model with zeroed stop marks. */
  createInstance(model: ModelId): InstanceId {
    const m = this.#models[model];
    if (m === undefined) {
      throw new RangeError(`Cannot create instance: model ${model} is not loaded`);
    }
    const id = this.#instances.length;
    const n = m.kernels.length;
    this.#instances.push({
      id,
      model: m,
      stopMarks: new Uint8Array(n),
      values: new Uint32Array(n),
      padded: new Int32Array(n),
      inputTags: new Map(),
      opsInFlight: 0,
    });
    return id;
  }

  /** Enqueues kernels [from, to): each launch call costs `hostLaunchUs` of host time. */
  launch(stream: StreamId, instance: InstanceId, from: number, to: number, build: Build): void {
    const s = this.#stream(stream, "launch on");
    const inst = this.#instance(instance, "launch");
    this.#checkRange(inst, from, to, "launch");
    if (build !== "raw" && build !== "be") {
      throw new TypeError(`Cannot launch: unknown build "${build}"`);
    }
    const o = this.options;
    for (let index = from; index < to; index++) {
      this.#hostWork(o.hostLaunchUs);
      this.#enqueue(s, {
        kind: "kernel",
        instance: inst,
        index,
        build,
        launchUs: this.#now,
        readyUs: this.#now + o.gpuLaunchLatencyUs,
        pad: undefined,
      });
    }
  }

  /** SMs of the device. */
  get smCount(): number {
    return this.options.sms;
  }

  /** Blocks per SM that the RT kernel's block size and the shared memory allow (no registers). */
  paddedOccupancy(
    rtModel: ModelId,
    rtKernel: number,
    _beModel: ModelId,
    sharedMemory: number,
  ): number {
    const o = this.options;
    const threads = this.#models[rtModel]!.kernels[rtKernel]!.info.threads;
    return Math.min(
      o.maxBlocksPerSm,
      Math.floor(o.maxThreadsPerSm / threads),
      sharedMemory > 0 ? Math.floor(o.sharedMemoryPerSm / sharedMemory) : Infinity,
    );
  }

  /** Enqueues the RT kernel; the BE blocks count as done when it ends (see the module notes). */
  launchPadded(stream: StreamId, instance: InstanceId, kernel: number, be: PaddingBlocks): void {
    const s = this.#stream(stream, "launch on");
    const inst = this.#instance(instance, "launch");
    const other = this.#instance(be.instance, "pad");
    this.#checkRange(inst, kernel, kernel + 1, "launch");
    this.#checkRange(other, be.kernel, be.kernel + 1, "pad");
    const total = other.model.kernels[be.kernel]!.info.blocks;
    if (be.first < 0 || be.blocks < 1 || be.first + be.blocks > total) {
      throw new RangeError(
        `Cannot pad: blocks [${be.first}, ${be.first + be.blocks}) of a kernel of ${total} blocks`,
      );
    }
    this.#hostWork(this.options.hostLaunchUs);
    other.opsInFlight++;
    this.#enqueue(s, {
      kind: "kernel",
      instance: inst,
      index: kernel,
      build: "raw",
      launchUs: this.#now,
      readyUs: this.#now + this.options.gpuLaunchLatencyUs,
      pad: { instance: other, index: be.kernel, blocks: be.blocks },
    });
  }

  /** Enqueues the zeroing of the stop marks of kernels [from, to). */
  resetStopMarks(stream: StreamId, instance: InstanceId, from: number, to: number): void {
    const s = this.#stream(stream, "reset stop marks on");
    const inst = this.#instance(instance, "reset stop marks");
    this.#checkRange(inst, from, to, "reset stop marks");
    this.#hostWork(this.options.resetCallUs);
    this.#enqueue(s, {
      kind: "reset",
      instance: inst,
      from,
      to,
      durationUs: this.options.resetGpuUs,
      readyUs: this.#now + this.options.gpuLaunchLatencyUs,
    });
  }

  /** Kernels on the stream not finished. */
  inFlight(stream: StreamId): number {
    return this.#stream(stream, "query").kernels;
  }

  /** Whether the stream has no unfinished operation. */
  idle(stream: StreamId): boolean {
    return this.#stream(stream, "query").ops.length === 0;
  }

  /** Writes the flag; the call takes `flagWriteUs`, after which the device sees the value. */
  setPreemptFlag(value: 0 | 1): void {
    if (value !== 0 && value !== 1) {
      throw new RangeError(`Cannot set the preempt flag to "${value}": it must be 0 or 1`);
    }
    this.#hostWork(this.options.flagWriteUs);
    if (this.options.trace) this.#flagTrace.push({ us: this.#now, value });
    if (value === this.#flag) return;
    this.#flag = value;
    if (value === 1) {
      for (const kernel of this.#active) {
        if (kernel.op.build !== "be") continue;
        for (const group of kernel.groups) this.#stopAtCheckPoint(group);
      }
    }
    this.#dirty = true;
    this.#dispatch();
  }

  /** First kernel in [from, to) with a stop mark; `to` if none. */
  restorePoint(instance: InstanceId, from: number, to: number): number {
    const inst = this.#instance(instance, "read the restore point of");
    this.#checkRange(inst, from, to, "read the restore point of");
    this.#checkQuiet(inst, "read the restore point of");
    this.#hostWork(this.options.markReadUs);
    for (let k = from; k < to; k++) {
      if (inst.stopMarks[k] !== 0) return k;
    }
    return to;
  }

  /** Enqueues a copy of `data` into an input storage; its digest is what the kernels will see. */
  upload(stream: StreamId, instance: InstanceId, storage: string, data: Uint8Array): void {
    const s = this.#stream(stream, "upload on");
    const inst = this.#instance(instance, "upload to");
    const bytes = inst.model.storageBytes.get(storage);
    if (bytes === undefined) {
      throw new Error(
        `Cannot upload to instance ${instance}: model "${inst.model.info.name}" has no storage "${storage}"`,
      );
    }
    if (data.byteLength !== bytes) {
      throw new Error(
        `Cannot upload to storage "${storage}" of model "${inst.model.info.name}": expected ${bytes} bytes, got ${data.byteLength}`,
      );
    }
    const tag = digestBytes(data);
    this.#hostWork(this.options.uploadCallUs);
    this.#enqueue(s, {
      kind: "upload",
      instance: inst,
      storage,
      tag,
      durationUs: bytes / this.options.copyBytesPerUs,
      readyUs: this.#now,
    });
  }

  /** The output's bytes: the digest of the instance's last kernel, repeated. */
  download(instance: InstanceId, storage: string): Uint8Array {
    const inst = this.#instance(instance, "download from");
    const model = inst.model;
    if (!model.outputs.has(storage)) {
      throw new Error(
        `Cannot download storage "${storage}" of model "${model.info.name}": it is not an output`,
      );
    }
    this.#checkQuiet(inst, "download from");
    const bytes = model.storageBytes.get(storage)!;
    this.#hostWork(this.options.downloadCallUs + bytes / this.options.copyBytesPerUs);
    const words = new Uint32Array(Math.ceil(bytes / 4));
    words.fill(mix32(inst.values[inst.values.length - 1]!, digestString(storage)));
    return new Uint8Array(words.buffer).slice(0, bytes);
  }

  /** Runs the device until the stream is idle. */
  synchronize(stream: StreamId): void {
    const s = this.#stream(stream, "synchronize");
    while (s.ops.length > 0) {
      const next = this.nextEventUs();
      if (next === undefined) {
        throw new Error(`Cannot synchronize stream ${stream}: it has work but no event is pending`);
      }
      this.advanceTo(next);
    }
  }

  // VirtualClock

  /** Time of the next device event, or undefined. */
  nextEventUs(): number | undefined {
    return this.#peekEvent()?.time;
  }

  /** Processes events up to `us` and moves the clock there (never backwards). */
  advanceTo(us: number): void {
    for (let event = this.#peekEvent(); event !== undefined && event.time <= us;) {
      this.#now = Math.max(this.#now, event.time);
      while (event !== undefined && event.time <= this.#now) {
        this.#events.pop();
        this.#handle(event);
        event = this.#peekEvent();
      }
      this.#dispatch();
      event = this.#peekEvent();
    }
    this.#now = Math.max(this.#now, us);
  }

  // Internals

  #hostWork(us: number): void {
    this.advanceTo(this.#now + us);
  }

  #stream(id: StreamId, action: string): SimStream {
    const s = this.#streams[id];
    if (s === undefined) throw new RangeError(`Cannot ${action} stream ${id}: no such stream`);
    return s;
  }

  #instance(id: InstanceId, action: string): SimInstance {
    const inst = this.#instances[id];
    if (inst === undefined) {
      throw new RangeError(`Cannot ${action} instance ${id}: no such instance`);
    }
    return inst;
  }

  #checkRange(inst: SimInstance, from: number, to: number, action: string): void {
    const n = inst.model.kernels.length;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || from > to || to > n) {
      throw new RangeError(
        `Cannot ${action} instance ${inst.id}: kernel range [${from}, ${to}) is not within [0, ${n})`,
      );
    }
  }

  #checkQuiet(inst: SimInstance, action: string): void {
    if (inst.opsInFlight > 0) {
      throw new Error(
        `Cannot ${action} instance ${inst.id}: ${inst.opsInFlight} of its operations are still in flight`,
      );
    }
  }

  #push(event: SimEvent): void {
    this.#events.push(event);
  }

  #peekEvent(): SimEvent | undefined {
    for (let e = this.#events.peek(); e !== undefined; e = this.#events.peek()) {
      if (e.kind !== "groupEnd" || e.version === e.group.version) return e;
      this.#events.pop();
    }
    return undefined;
  }

  #enqueue(stream: SimStream, op: StreamOp): void {
    stream.ops.push(op);
    op.instance.opsInFlight++;
    if (op.kind === "kernel") {
      stream.kernels++;
      stream.maxKernels = Math.max(stream.maxKernels, stream.kernels);
    }
    if (stream.ops.length === 1) this.#scheduleHead(stream);
  }

  #scheduleHead(stream: SimStream): void {
    const op = stream.ops.peek();
    if (op === undefined || stream.headStarted) return;
    stream.headStarted = true;
    const time = Math.max(op.readyUs, stream.lastEndUs + this.options.kernelGapUs, this.#now);
    this.#push({ time, seq: this.#seq++, kind: "start", stream });
  }

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case "start":
        return this.#startHead(event.stream);
      case "opEnd":
        return this.#endOp(event.stream);
      case "groupEnd":
        return this.#endGroup(event.group);
      case "skipEnd":
        event.kernel.skipping = false;
        return this.#finishKernelIfDone(event.kernel);
    }
  }

  #startHead(stream: SimStream): void {
    const op = stream.ops.peek()!;
    if (op.kind !== "kernel") {
      this.#push({ time: this.#now + op.durationUs, seq: this.#seq++, kind: "opEnd", stream });
      return;
    }
    const kernel = op.instance.model.kernels[op.index]!;
    const jitter = this.options.jitter;
    const factor = jitter > 0 ? 1 + jitter * (2 * this.#random.next() - 1) : 1;
    const running: RunningKernel = {
      stream,
      op,
      kernel,
      blockUs: kernel.blockUs * factor,
      seq: this.#seq++,
      startUs: this.#now,
      groups: new Set(),
      firstBlockUs: NaN,
      pending: kernel.info.blocks,
      running: 0,
      completed: 0,
      stopped: 0,
      skipped: 0,
      skipping: false,
    };
    const at = this.#active.findIndex((k) =>
      k.stream.rank > stream.rank || (k.stream.rank === stream.rank && k.seq > running.seq)
    );
    this.#active.splice(at === -1 ? this.#active.length : at, 0, running);
    this.#dirty = true;
  }

  #endOp(stream: SimStream): void {
    const op = stream.ops.peek()!;
    if (op.kind === "reset") op.instance.stopMarks.fill(0, op.from, op.to);
    else if (op.kind === "upload") op.instance.inputTags.set(op.storage, op.tag);
    this.#retireHead(stream);
  }

  #retireHead(stream: SimStream): void {
    const op = stream.ops.shift()!;
    op.instance.opsInFlight--;
    if (op.kind === "kernel") stream.kernels--;
    stream.lastEndUs = this.#now;
    stream.headStarted = false;
    this.#scheduleHead(stream);
  }

  #endGroup(group: BlockGroup): void {
    const kernel = group.kernel;
    const info = kernel.kernel.info;
    for (let i = 0; i < group.sms.length; i++) {
      const sm = group.sms[i]!;
      const count = group.counts[i]!;
      this.#usedUnits[sm]! -= count * kernel.kernel.units;
      this.#usedThreads[sm]! -= count * info.threads;
      this.#usedSharedMemory[sm]! -= count * info.sharedMemory;
      this.#usedBlocks[sm]! -= count;
    }
    kernel.running -= group.total;
    kernel.groups.delete(group);
    if (group.stopped) {
      kernel.stopped += group.total;
    } else {
      kernel.completed += group.total;
    }
    this.#dirty = true;
    this.#finishKernelIfDone(kernel);
  }

  #finishKernelIfDone(kernel: RunningKernel): void {
    if (kernel.pending > 0 || kernel.running > 0 || kernel.skipping) return;
    this.#active.splice(this.#active.indexOf(kernel), 1);
    const { op, stream } = kernel;
    const inst = op.instance;
    const model = inst.model;
    const whole = kernel.completed === kernel.kernel.info.blocks;
    this.#writeOutputs(inst, op.index, whole);
    if (op.build === "be" && !whole) inst.stopMarks[op.index] = 1;
    inst.padded[op.index] = 0;
    if (op.pad) this.#finishPadding(op.pad);
    if (this.options.trace) {
      this.#kernelTrace.push({
        stream: stream.id,
        priority: stream.priority,
        instance: inst.id,
        model: model.info.name,
        kernel: op.index,
        build: op.build,
        launchUs: op.launchUs,
        startUs: kernel.startUs,
        firstBlockUs: kernel.firstBlockUs,
        endUs: this.#now,
        completedBlocks: kernel.completed,
        stoppedBlocks: kernel.stopped,
        skippedBlocks: kernel.skipped,
      });
    }
    this.#retireHead(stream);
  }

  /** Adds a padded launch's BE blocks; the BE kernel's outputs are written once all are done. */
  #finishPadding(pad: NonNullable<KernelOp["pad"]>): void {
    const inst = pad.instance;
    inst.opsInFlight--;
    inst.padded[pad.index]! += pad.blocks;
    if (inst.padded[pad.index]! < inst.model.kernels[pad.index]!.info.blocks) return;
    inst.padded[pad.index] = 0;
    this.#writeOutputs(inst, pad.index, true);
  }

  /**
   * Sets what kernel `index` of an instance wrote: a digest of its inputs' digest. A kernel that
   * did not run every block leaves its outputs partly stale: a different digest.
   */
  #writeOutputs(inst: SimInstance, index: number, complete: boolean): void {
    const previous = index === 0 ? this.#inputDigest(inst) : inst.values[index - 1]!;
    const salt = inst.model.salt;
    inst.values[index] = mix32(mix32(previous, complete ? salt : ~salt), index + 1);
  }

  #inputDigest(inst: SimInstance): number {
    let digest = inst.model.salt;
    for (const name of inst.model.inputs) digest = mix32(digest, inst.inputTags.get(name) ?? 0);
    return digest;
  }

  #stopAtCheckPoint(group: BlockGroup): void {
    if (group.stopped) return;
    const points = this.options.checkPoints;
    if (points.kind === "entry-only") return;
    const interval = points.kind === "fraction" ? group.kernel.blockUs / points.parts : points.us;
    // Tolerance: a check point that floating-point rounding puts a hair before now is now.
    const passed = Math.max(0, Math.ceil((this.#now - group.startUs) / interval - 1e-9));
    const stopUs = group.startUs + passed * interval;
    if (stopUs >= group.endUs) return;
    group.endUs = stopUs;
    group.stopped = true;
    group.version++;
    this.#push({
      time: stopUs,
      seq: this.#seq++,
      kind: "groupEnd",
      group,
      version: group.version,
    });
  }

  #dispatch(): void {
    if (!this.#dirty) return;
    this.#dirty = false;
    for (const kernel of this.#active) {
      if (kernel.pending === 0) continue;
      if (kernel.op.build === "be" && this.#flag === 1) this.#skip(kernel);
      else this.#place(kernel);
    }
  }

  /** Blocks dispatched with the flag set exit at entry; they only need a free slot to start. */
  #skip(kernel: RunningKernel): void {
    if (this.#computeFits(kernel) === 0) return;
    if (Number.isNaN(kernel.firstBlockUs)) kernel.firstBlockUs = this.#now;
    kernel.skipping = true;
    kernel.skipped += kernel.pending;
    const time = this.#now + kernel.pending * this.options.skipBlockUs;
    kernel.pending = 0;
    this.#push({ time, seq: this.#seq++, kind: "skipEnd", kernel });
  }

  /** Places as many pending blocks as fit, spread evenly over the SMs (water-filling). */
  #place(kernel: RunningKernel): void {
    const capacity = this.#computeFits(kernel);
    if (capacity === 0) return;
    const fits = this.#fits;
    const sms = fits.length;
    const take = Math.min(capacity, kernel.pending);
    // Find the level L such that giving every SM min(fit, L) blocks leaves fewer than one more per
    // SM to hand out; the rest go one each, round-robin, to SMs with room above L.
    let level = 0;
    let assigned = 0;
    for (;;) {
      let above = 0;
      for (let sm = 0; sm < sms; sm++) if (fits[sm]! > level) above++;
      if (assigned + above >= take) break;
      assigned += above;
      level++;
    }
    let extra = take - assigned;
    const group: BlockGroup = {
      kernel,
      sms: [],
      counts: [],
      total: take,
      startUs: this.#now,
      endUs: this.#now + kernel.blockUs,
      stopped: false,
      version: 0,
    };
    const info = kernel.kernel.info;
    // The round-robin start is read once: it moves below, and each SM must be visited once.
    const first = this.#nextSm;
    for (let i = 0; i < sms; i++) {
      const sm = (first + i) % sms;
      let count = Math.min(fits[sm]!, level);
      if (extra > 0 && fits[sm]! > level) {
        count++;
        extra--;
        if (extra === 0) this.#nextSm = (sm + 1) % sms;
      }
      if (count === 0) continue;
      group.sms.push(sm);
      group.counts.push(count);
      this.#usedUnits[sm]! += count * kernel.kernel.units;
      this.#usedThreads[sm]! += count * info.threads;
      this.#usedSharedMemory[sm]! += count * info.sharedMemory;
      this.#usedBlocks[sm]! += count;
    }
    kernel.pending -= take;
    kernel.running += take;
    kernel.groups.add(group);
    if (Number.isNaN(kernel.firstBlockUs)) kernel.firstBlockUs = this.#now;
    this.#push({ time: group.endUs, seq: this.#seq++, kind: "groupEnd", group, version: 0 });
  }

  /** Fills `#fits` with how many more blocks of the kernel each SM takes; returns their sum. */
  #computeFits(kernel: RunningKernel): number {
    const o = this.options;
    const info = kernel.kernel.info;
    let total = 0;
    for (let sm = 0; sm < o.sms; sm++) {
      const fit = Math.min(
        Math.floor((OCCUPANCY_UNITS - this.#usedUnits[sm]!) / kernel.kernel.units),
        Math.floor((o.maxThreadsPerSm - this.#usedThreads[sm]!) / info.threads),
        info.sharedMemory > 0
          ? Math.floor((o.sharedMemoryPerSm - this.#usedSharedMemory[sm]!) / info.sharedMemory)
          : Infinity,
        o.maxBlocksPerSm - this.#usedBlocks[sm]!,
      );
      this.#fits[sm] = fit;
      total += fit;
    }
    return total;
  }
}
