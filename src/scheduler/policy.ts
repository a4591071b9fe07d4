/**
 * The REEF scheduling policy: a deterministic step function over explicit state. Each
 * {@linkcode SchedulerPolicy.step} looks at the device (through {@linkcode ExecDevice} only), moves
 * tasks along, and returns the tasks it saw complete. It never waits: whatever is not ready yet is
 * looked at again on the next step, so one loop drives it on a GPU (busy polling) and on the
 * simulator (jumping to the next event) alike.
 *
 * Queues: RT tasks share one FIFO on a high-priority stream (in the stream modes every RT client
 * owns one); every BE client owns a FIFO on its own low-priority stream (in `seq` all BE clients
 * share one). Only the head task of a queue runs; its kernels not yet launched form the scheduler's
 * host queue, and at most `cap` of its kernels are in flight on the device.
 * @module
 */

import type {
  Build,
  ExecDevice,
  InstanceId,
  ModelId,
  StreamId,
  StreamPriority,
} from "./exec_device.ts";
import type { DeviceModel } from "./device_handle.ts";
import { Fifo } from "./fifo.ts";
import { checkInputs } from "./inputs.ts";
import { MinHeap } from "./min_heap.ts";
import { type Mode, type ModeTraits, modeTraits } from "./mode.ts";
import type { PaddingCursor, RtKernelPadder } from "./padding.ts";
import type { PolicyStats, PreemptionRecord, RestoreRecord } from "./stats.ts";
import type { ClientId, Priority, TaskRequest, TaskResult } from "./task.ts";

/** BE device-queue capacity when none is given: REEF's `be_stream_device_queue_cap`. */
export const DEFAULT_DEVICE_QUEUE_CAP = 2;

/** REEF's RT stream window, and the BE window of wait mode: in practice unbounded. */
export const UNBOUNDED_DEVICE_QUEUE = 1024;

/** How the policy is configured. */
export interface PolicyOptions {
  readonly mode: Mode;
  /** Kernels in flight per bounded stream (BE streams; every stream in the stream modes). */
  readonly deviceQueueCap?: number;
  /** Dynamic kernel padding hook for RT kernels; `reef` mode only. */
  readonly padder?: RtKernelPadder;
}

interface InstanceState {
  readonly id: InstanceId;
  /** Whether a BE run may have left stop marks that must be zeroed before the next task. */
  marksDirty: boolean;
}

interface QueueState {
  readonly priority: Priority;
  readonly stream: StreamId;
  readonly cap: number;
  readonly build: Build;
  readonly tasks: Fifo<TaskState>;
  readonly instances: Map<ModelId, InstanceState>;
}

interface TaskState {
  readonly id: number;
  readonly model: DeviceModel;
  readonly queue: QueueState;
  readonly inputs: ReadonlyMap<string, Uint8Array>;
  readonly submittedUs: number;
  readonly seq: number;
  /** The queue's instance of the model, made when the task was accepted. */
  readonly instance: InstanceState;
  /** NaN until the first launch. */
  startedUs: number;
  /** Next kernel to launch: [next, n) is the host queue. */
  next: number;
  /** First kernel of the current run: the restore point lies in [runFrom, next]. */
  runFrom: number;
  preemptions: number;
  /** Preempted (or started for padding) and waiting for the RT work to end. */
  held: boolean;
  /** Held with its restore point applied: `next` is its first kernel not done (padding). */
  restored: boolean;
  /** Blocks of kernel `next` already run in padded launches. */
  padBlock: number;
  /** Some of its kernels ran in padded launches on the RT stream since it was last held. */
  padded: boolean;
}

interface MutablePreemption {
  readonly rtTask: number;
  readonly preemptUs: number;
  quiescedUs: number;
  rtLaunchUs: number;
  readonly tasks: TaskState[];
  readonly restores: RestoreRecord[];
  /**
   * Whether the restore points were read: with padding once BE quiesced and RT launched, else on
   * resume.
   */
  restored: boolean;
}

/** Exclusive-mode phases: BE queues run; RT waits for BE device work; RT runs, BE held. */
type Phase = "be" | "drain" | "rt";

/** The scheduling policy. Not thread-safe: one loop owns it together with its device. */
export class SchedulerPolicy {
  readonly #device: ExecDevice;
  readonly #mode: Mode;
  readonly #traits: ModeTraits;
  readonly #cap: number;
  readonly #padder: RtKernelPadder | undefined;
  readonly #models = new Map<ModelId, DeviceModel>();
  readonly #clients: QueueState[] = [];
  readonly #queues: QueueState[] = [];
  readonly #beQueues: QueueState[] = [];
  #rtQueue: QueueState | undefined;
  #sharedBeQueue: QueueState | undefined;
  readonly #unreleased = new MinHeap<TaskState>((a, b) =>
    a.submittedUs < b.submittedUs || (a.submittedUs === b.submittedUs && a.seq < b.seq)
  );
  readonly #live = new Set<number>();
  #seq = 0;
  #phase: Phase = "be";
  #preemption: MutablePreemption | undefined;
  readonly #preemptions: MutablePreemption[] = [];
  readonly #submitted: Record<Priority, number> = { rt: 0, be: 0 };
  readonly #completed: Record<Priority, number> = { rt: 0, be: 0 };
  #failed = 0;
  #relaunched = 0;

  /**
   * Creates a policy that drives `device`.
   * @throws {RangeError} for a device-queue capacity that is not an integer in [1, 1024].
   * @throws {TypeError} for an unknown mode or a padder outside `reef` mode.
   */
  constructor(device: ExecDevice, options: PolicyOptions) {
    this.#device = device;
    this.#mode = options.mode;
    this.#traits = modeTraits(options.mode);
    const cap = options.deviceQueueCap ?? DEFAULT_DEVICE_QUEUE_CAP;
    if (!Number.isInteger(cap) || cap < 1 || cap > UNBOUNDED_DEVICE_QUEUE) {
      throw new RangeError(
        `Option "deviceQueueCap" must be an integer from 1 to ${UNBOUNDED_DEVICE_QUEUE}, got "${cap}"`,
      );
    }
    this.#cap = cap;
    if (options.padder !== undefined && options.mode !== "reef") {
      throw new TypeError(`Option "padder" needs mode "reef", got mode "${options.mode}"`);
    }
    this.#padder = options.padder;
  }

  /** The scheduling mode. */
  get mode(): Mode {
    return this.#mode;
  }

  /** Registers a model loaded on the device, so tasks may name it. */
  addModel(model: DeviceModel): void {
    this.#models.set(model.info.id, model);
  }

  /**
   * Opens a client and returns its id. RT clients share the RT queue (each owns one in the stream
   * modes); BE clients each own a queue and stream (all share one in `seq`).
   * @throws {TypeError} for a BE client in `rt-only` mode.
   */
  openClient(priority: Priority, name: string): ClientId {
    const t = this.#traits;
    let queue: QueueState;
    if (priority === "rt") {
      if (t.rtQueuePerClient) {
        queue = this.#newQueue("rt", t.rtStreamPriority, this.#cap, "raw");
      } else {
        const cap = t.rtBoundedLikeBe ? this.#cap : UNBOUNDED_DEVICE_QUEUE;
        queue = this.#rtQueue ??= this.#newQueue("rt", t.rtStreamPriority, cap, "raw");
      }
    } else {
      if (!t.acceptsBe) {
        throw new TypeError(
          `Cannot open BE client "${name}": mode "${this.#mode}" accepts only RT clients`,
        );
      }
      const cap = t.beUnbounded ? UNBOUNDED_DEVICE_QUEUE : this.#cap;
      queue = t.sharedBeQueue
        ? (this.#sharedBeQueue ??= this.#newQueue("be", t.beStreamPriority, cap, t.beBuild))
        : this.#newQueue("be", t.beStreamPriority, cap, t.beBuild);
    }
    this.#clients.push(queue);
    return this.#clients.length - 1;
  }

  /**
   * Accepts a task. It is queued at once, or at its release time if that is in the future.
   * @throws {Error} for an unknown model or client, a duplicate id, or inputs that do not match the
   * model's inputs by name and size.
   */
  submit(request: TaskRequest): void {
    const where = `Cannot submit task ${request.id}`;
    const model = this.#models.get(request.model);
    if (model === undefined) throw new Error(`${where}: model ${request.model} is not loaded`);
    const queue = this.#clients[request.client];
    if (queue === undefined) throw new Error(`${where}: client ${request.client} is not open`);
    if (this.#live.has(request.id)) {
      throw new Error(`${where}: a task with this id is already in the scheduler`);
    }
    checkInputs(where, model, request.inputs);
    const now = this.#device.now();
    const task: TaskState = {
      id: request.id,
      model,
      queue,
      inputs: request.inputs,
      submittedUs: request.releaseUs ?? now,
      seq: this.#seq++,
      // Made now, not when the task starts: that may fall between RT launches, and making an
      // instance allocates memory and may wait for the GPU.
      instance: this.#instanceFor(queue, model),
      startedUs: NaN,
      next: 0,
      runFrom: 0,
      preemptions: 0,
      held: false,
      restored: false,
      padBlock: 0,
      padded: false,
    };
    this.#live.add(task.id);
    this.#submitted[queue.priority]++;
    if (task.submittedUs > now) this.#unreleased.push(task);
    else queue.tasks.push(task);
  }

  /** Release time (µs) of the earliest task not yet released; undefined when there is none. */
  nextReleaseUs(): number | undefined {
    return this.#unreleased.peek()?.submittedUs;
  }

  /** True while any accepted task has not completed or failed. */
  busy(): boolean {
    return this.#live.size > 0;
  }

  /** True while any released task waits or runs (so the device must be polled). */
  hasReleasedWork(): boolean {
    return this.#live.size > this.#unreleased.size;
  }

  /**
   * Removes every task that has not started (queued or not yet released) and returns their ids, in
   * queue order then release order. Started tasks, preempted ones included, stay and complete.
   */
  failUnstarted(): number[] {
    const failed: number[] = [];
    for (const queue of this.#queues) {
      for (const task of queue.tasks.removeWhere((t) => Number.isNaN(t.startedUs))) {
        failed.push(task.id);
      }
    }
    const later = this.#unreleased.removeWhere(() => true);
    later.sort((a, b) => a.submittedUs - b.submittedUs || a.seq - b.seq);
    for (const task of later) failed.push(task.id);
    for (const id of failed) this.#live.delete(id);
    this.#failed += failed.length;
    return failed;
  }

  /** A snapshot of the counters and preemption records. */
  stats(): PolicyStats {
    const preemptions: PreemptionRecord[] = this.#preemptions.map((p) => ({
      rtTask: p.rtTask,
      preemptUs: p.preemptUs,
      quiescedUs: p.quiescedUs,
      rtLaunchUs: p.rtLaunchUs,
      preemptedTasks: p.tasks.map((t) => t.id),
      restores: [...p.restores],
    }));
    return {
      device: this.#device.name,
      simulated: this.#device.simulated,
      mode: this.#mode,
      submitted: { ...this.#submitted },
      completed: { ...this.#completed },
      failed: this.#failed,
      preemptions,
      preemptLatenciesUs: preemptions.filter((p) => !Number.isNaN(p.rtLaunchUs))
        .map((p) => p.rtLaunchUs - p.preemptUs),
      quiesceLatenciesUs: preemptions.filter((p) => !Number.isNaN(p.quiescedUs))
        .map((p) => p.quiescedUs - p.preemptUs),
      relaunchedKernels: this.#relaunched,
      selectionTimesUs: this.#padder?.selectionTimesUs() ?? [],
      paddedKernels: this.#padder?.paddedKernels() ?? 0,
    };
  }

  /**
   * Advances every queue as far as the device allows right now, and appends the tasks it saw
   * complete (outputs downloaded) to `completed`. The scheduler loop calls it in a busy poll, so
   * it allocates nothing when nothing happens.
   * @returns true when the step changed any state; false means nothing can happen until the
   * device moves.
   */
  step(completed: TaskResult[]): boolean {
    let progressed = this.#release();
    for (const queue of this.#queues) {
      if (this.#tryComplete(queue, completed)) progressed = true;
    }
    const moved = this.#traits.preemption === "concurrent"
      ? this.#stepConcurrent()
      : this.#stepExclusive();
    return progressed || moved;
  }

  #newQueue(priority: Priority, stream: StreamPriority, cap: number, build: Build): QueueState {
    const queue: QueueState = {
      priority,
      stream: this.#device.createStream(stream),
      cap,
      build,
      tasks: new Fifo(),
      instances: new Map(),
    };
    this.#queues.push(queue);
    if (priority === "be") this.#beQueues.push(queue);
    return queue;
  }

  #release(): boolean {
    const now = this.#device.now();
    let released = false;
    for (let t = this.#unreleased.peek(); t !== undefined && t.submittedUs <= now;) {
      this.#unreleased.pop();
      t.queue.tasks.push(t);
      released = true;
      t = this.#unreleased.peek();
    }
    return released;
  }

  #tryComplete(queue: QueueState, out: TaskResult[]): boolean {
    const task = queue.tasks.peek();
    if (
      task === undefined || Number.isNaN(task.startedUs) ||
      task.next < task.model.info.kernels.length || !this.#device.idle(queue.stream)
    ) {
      return false;
    }
    // A held task is done only when padding ran its last kernels, once the RT stream has.
    if (task.held && !(task.padded && this.#device.idle(this.#rtQueue!.stream))) return false;
    const finished = this.#device.now();
    const instance = task.instance.id;
    const outputs = new Map<string, Uint8Array>();
    for (const slot of task.model.outputs) {
      outputs.set(slot.name, this.#device.download(instance, slot.storage));
    }
    queue.tasks.shift();
    this.#live.delete(task.id);
    this.#completed[queue.priority]++;
    out.push({
      id: task.id,
      outputs,
      timings: {
        submitted: task.submittedUs,
        started: task.startedUs,
        finished,
        preemptions: task.preemptions,
      },
    });
    return true;
  }

  /** Stream modes: every queue advances on its own; the device arbitrates. */
  #stepConcurrent(): boolean {
    let progressed = false;
    for (const queue of this.#queues) {
      if (this.#advanceHead(queue)) progressed = true;
    }
    return progressed;
  }

  /** Modes where RT work has the device to itself (apart from BE work being preempted). */
  #stepExclusive(): boolean {
    let progressed = false;
    const preemption = this.#preemption;
    if (preemption !== undefined && this.#noteQuiesced(preemption)) progressed = true;
    if (this.#phase === "be") {
      const rtHead = this.#rtQueue?.tasks.peek();
      if (rtHead === undefined) return this.#runBe() || progressed;
      // The RT task's inputs are staged before BE work is stopped: BE kernels run on while they
      // are copied, and a preemption's critical path is only the flag and the RT launches.
      if (Number.isNaN(rtHead.startedUs)) this.#start(rtHead);
      const kind = this.#traits.preemption;
      if (kind !== "drain" && this.#beRunning()) this.#preempt(rtHead.id);
      this.#phase = kind === "flag-reset" || this.#beIdle() ? "rt" : "drain";
      progressed = true;
    }
    if (this.#phase === "drain") {
      if (!this.#beIdle()) return progressed;
      this.#phase = "rt";
      progressed = true;
    }
    const rtQueue = this.#rtQueue!;
    const head = rtQueue.tasks.peek();
    if (head !== undefined) {
      const current = this.#preemption;
      if (
        head.next === 0 && !Number.isNaN(head.startedUs) && current !== undefined &&
        Number.isNaN(current.rtLaunchUs)
      ) {
        // The preemption's critical path is the flag and the RT task's first launch. Querying a
        // BE stream costs microseconds (evaluation/results/h100/preempt-trace-*.json), so
        // quiescence is looked at only after that launch, and the other kernels go after the look.
        const launchUs = this.#device.now();
        if (this.#launchMore(head, 1)) {
          current.rtLaunchUs = launchUs;
          this.#noteQuiesced(current);
          progressed = true;
        }
      }
      if (this.#advanceHead(rtQueue)) progressed = true;
      // Padding restores preempted tasks as soon as they quiesced, but only once RT kernels are
      // launched: reading the stop marks waits for a copy, which must not delay the RT launch.
      if (
        this.#padder !== undefined && current !== undefined && !current.restored &&
        !Number.isNaN(current.quiescedUs) && head.next > 0
      ) {
        this.#restore(current);
        progressed = true;
      }
      // BE tasks are started for padding after the RT launches: starting one uploads its inputs,
      // host time that would otherwise delay the RT task's kernels.
      if (
        this.#padder !== undefined && this.#rtKernelsAhead(rtQueue, head) &&
        this.#startForPadding(head)
      ) {
        progressed = true;
      }
      return progressed;
    }
    if (this.#preemption !== undefined) {
      if (!this.#beIdle()) return progressed;
      this.#resume();
    }
    this.#releaseHeld();
    this.#phase = "be";
    this.#runBe();
    return true;
  }

  #runBe(): boolean {
    let progressed = false;
    for (const queue of this.#beQueues) {
      if (this.#advanceHead(queue)) progressed = true;
    }
    return progressed;
  }

  /** Starts the queue's head task if needed and launches as many kernels as its cap allows. */
  #advanceHead(queue: QueueState): boolean {
    const task = queue.tasks.peek();
    if (task === undefined || task.held) return false;
    let progressed = false;
    if (Number.isNaN(task.startedUs)) {
      this.#start(task);
      progressed = true;
    }
    return this.#launchMore(task) || progressed;
  }

  /** The queue's instance of a model, made on first use (a queue runs one task at a time). */
  #instanceFor(queue: QueueState, model: DeviceModel): InstanceState {
    let instance = queue.instances.get(model.info.id);
    if (instance === undefined) {
      instance = { id: this.#device.createInstance(model.info.id), marksDirty: false };
      queue.instances.set(model.info.id, instance);
    }
    return instance;
  }

  /** Uploads the inputs (and zeroes stale stop marks) ahead of the first launch. */
  #start(task: TaskState): void {
    const device = this.#device;
    const queue = task.queue;
    const instance = task.instance;
    for (const slot of task.model.inputs) {
      device.upload(queue.stream, instance.id, slot.storage, task.inputs.get(slot.name)!);
    }
    if (queue.build === "be") {
      if (instance.marksDirty) {
        device.resetStopMarks(queue.stream, instance.id, 0, task.model.info.kernels.length);
      }
      instance.marksDirty = true;
    }
    task.startedUs = device.now();
  }

  /** Launches the task's next kernels, as many as the queue's cap allows and at most `limit`. */
  #launchMore(task: TaskState, limit = Infinity): boolean {
    const queue = task.queue;
    const count = task.model.info.kernels.length;
    if (task.next >= count) return false;
    const room = Math.min(limit, queue.cap - this.#device.inFlight(queue.stream));
    if (room <= 0) return false;
    const to = Math.min(count, task.next + room);
    const instance = task.instance.id;
    if (this.#padder !== undefined && queue === this.#rtQueue) {
      this.#launchPadded(task, to);
    } else {
      this.#device.launch(queue.stream, instance, task.next, to, queue.build);
    }
    task.next = to;
    return true;
  }

  /**
   * Launches RT kernels [task.next, to) through the padder, with the held BE tasks it may pad
   * from: those restored, not finished, whose own streams are idle (their uploads landed).
   */
  #launchPadded(task: TaskState, to: number): void {
    const padded: TaskState[] = [];
    const cursors: PaddingCursor[] = [];
    for (const queue of this.#beQueues) {
      const be = queue.tasks.peek();
      if (
        be === undefined || !be.restored || be.next >= be.model.info.kernels.length ||
        !this.#pairs(task, be) || !this.#device.idle(queue.stream)
      ) {
        continue;
      }
      padded.push(be);
      cursors.push({
        model: be.model.info,
        instance: be.instance.id,
        kernel: be.next,
        block: be.padBlock,
      });
    }
    this.#padder!.launchRtKernels({
      device: this.#device,
      stream: task.queue.stream,
      instance: task.instance.id,
      model: task.model.info,
      from: task.next,
      to,
      cursors,
    });
    padded.forEach((be, i) => {
      const cursor = cursors[i]!;
      if (cursor.kernel === be.next && cursor.block === be.padBlock) return;
      be.next = cursor.kernel;
      be.padBlock = cursor.block;
      be.padded = true;
    });
  }

  /**
   * Whether the device can pad RT kernels of `rt`'s model with BE blocks of `be`'s (the GPU pairs
   * kernels of one model only). A BE task it cannot pair is neither started for padding nor
   * offered to the padder, so that RT work pays nothing for it.
   */
  #pairs(rt: TaskState, be: TaskState): boolean {
    return this.#device.paddedOccupancy(rt.model.info.id, 0, be.model.info.id, 0) > 0;
  }

  /**
   * Whether RT kernels remain to be launched, which padding could carry BE blocks in: the head's
   * own, or a queued task's. An RT task launches all its kernels when it starts, so a BE task
   * that arrives during the last RT task has nothing to ride in; starting it then would only
   * spend host time (its input upload) while the RT task's completion waits to be noticed.
   */
  #rtKernelsAhead(rtQueue: QueueState, head: TaskState): boolean {
    return rtQueue.tasks.length > 1 || head.next < head.model.info.kernels.length;
  }

  /**
   * Padding: starts BE queue heads that arrived while RT work runs (inputs uploaded on their own
   * streams) and holds them with nothing done, so RT kernels can carry their blocks.
   */
  #startForPadding(rt: TaskState): boolean {
    let started = false;
    for (const queue of this.#beQueues) {
      const task = queue.tasks.peek();
      if (task === undefined || !Number.isNaN(task.startedUs) || !this.#pairs(rt, task)) continue;
      this.#start(task);
      task.held = true;
      task.restored = true;
      started = true;
    }
    return started;
  }

  // #beRunning and #beIdle run on every loop pass of a preemption: plain loops, because a closure
  // (over `this`) may be allocated on each call.

  /** Whether any BE queue's head task has started and not completed. */
  #beRunning(): boolean {
    for (const queue of this.#beQueues) {
      const task = queue.tasks.peek();
      if (task !== undefined && !Number.isNaN(task.startedUs)) return true;
    }
    return false;
  }

  #beIdle(): boolean {
    for (const queue of this.#beQueues) {
      if (!this.#device.idle(queue.stream)) return false;
    }
    return true;
  }

  /**
   * Reset-based and wait-based preemption: nothing more is launched for running BE tasks (their
   * host queues are dropped: `next` stays where it is and is rolled back on resume), and the flag
   * makes their kernels on the device exit at entry or at the next check point.
   */
  #preempt(rtTask: number): void {
    const tasks: TaskState[] = [];
    for (const queue of this.#beQueues) {
      const task = queue.tasks.peek();
      if (task === undefined || Number.isNaN(task.startedUs)) continue;
      task.held = true;
      task.preemptions++;
      tasks.push(task);
    }
    const preemption: MutablePreemption = {
      rtTask,
      preemptUs: this.#device.now(),
      quiescedUs: NaN,
      rtLaunchUs: NaN,
      tasks,
      restores: [],
      restored: false,
    };
    this.#preemption = preemption;
    this.#preemptions.push(preemption);
    this.#device.setPreemptFlag(1);
  }

  /** Records when BE streams were first seen idle after the preemption; true when that is now. */
  #noteQuiesced(preemption: MutablePreemption): boolean {
    if (!Number.isNaN(preemption.quiescedUs) || !this.#beIdle()) return false;
    preemption.quiescedUs = this.#device.now();
    return true;
  }

  /**
   * Reads the preempted tasks' restore points and rewinds them there (BE streams idle): with
   * padding once RT kernels are launched, so that they may be padded from there; else on resume.
   */
  #restore(preemption: MutablePreemption): void {
    const device = this.#device;
    const points = preemption.tasks.map((t) =>
      device.restorePoint(t.instance.id, t.runFrom, t.next)
    );
    preemption.tasks.forEach((task, i) => {
      const from = points[i]!;
      preemption.restores.push({ task: task.id, from, launched: task.next });
      if (from < task.next) {
        device.resetStopMarks(task.queue.stream, task.instance.id, from, task.next);
        this.#relaunched += task.next - from;
      }
      task.next = from;
      task.runFrom = from;
      task.restored = true;
    });
    preemption.restored = true;
  }

  /** With RT work done and BE streams idle: restore if not yet done, clear the flag. */
  #resume(): void {
    const preemption = this.#preemption!;
    if (!preemption.restored) this.#restore(preemption);
    this.#device.setPreemptFlag(0);
    this.#preemption = undefined;
  }

  /**
   * Lets held BE tasks run on their own streams again, each from its first kernel not done; a
   * kernel that padding ran in part runs again whole.
   */
  #releaseHeld(): void {
    for (const queue of this.#beQueues) {
      const task = queue.tasks.peek();
      if (task === undefined || !task.held) continue;
      task.held = false;
      task.restored = false;
      task.runFrom = task.next;
      task.padBlock = 0;
      task.padded = false;
    }
  }
}
