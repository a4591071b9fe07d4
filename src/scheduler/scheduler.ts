/**
 * The scheduler's main-thread API. A {@linkcode Scheduler} starts a Worker that owns the device and
 * runs the policy; tasks go to it through a SharedArrayBuffer ring (their tensors through a bounded
 * arena) and results come back through another ring.
 *
 * @example Run a model on the simulator
 * ```ts ignore
 * const scheduler = await Scheduler.create({
 *   device: { kind: "sim", modelDir: "resource/sim" },
 *   mode: "reef",
 * });
 * const model = await scheduler.loadModel("resnet152");
 * const client = await scheduler.openClient("rt", "camera");
 * const { outputs, timings } = await client.infer(model, { data: new Uint8Array(602112) });
 * await scheduler.close();
 * ```
 * @module
 */

import { ArenaAllocator, blobLayout } from "./arena.ts";
import type { DeviceModel, DeviceSpec } from "./device_handle.ts";
import { deviceFactoryUrl } from "./device_registry.ts";
import { checkInputs } from "./inputs.ts";
import { type Mode, modeTraits } from "./mode.ts";
import { DEFAULT_DEVICE_QUEUE_CAP, UNBOUNDED_DEVICE_QUEUE } from "./policy.ts";
import {
  CLOCK_BYTE_OFFSET,
  COMPLETION_FIELDS,
  Control,
  CONTROL_BYTES,
  type FromWorker,
  type ReplyValues,
  STATUS_DONE,
  SUBMISSION_FIELDS,
  type ToWorker,
  wallClockUs,
  yieldToEventLoop,
} from "./protocol.ts";
import { RecordRing } from "./ring.ts";
import type { SchedulerStats } from "./stats.ts";
import type { Priority, TaskTimings } from "./task.ts";

/** How to create a scheduler. */
export interface SchedulerOptions {
  /** The device: `{ kind: "sim", modelDir, options? }` or a kind registered with `registerDeviceFactory`. */
  readonly device: DeviceSpec;
  readonly mode: Mode;
  /** Kernels in flight per BE stream; default 2. */
  readonly deviceQueueCap?: number;
  /** Records per ring (a power of two); default 1024. Submissions beyond it wait on the main thread. */
  readonly ringCapacity?: number;
  /** Bytes of the tensor arena; default 64 MiB. A submission that does not fit is rejected. */
  readonly arenaBytes?: number;
  /** Real-time devices: how long the idle worker spins before sleeping, µs; default 200. */
  readonly idleSpinUs?: number;
  /** Real-time devices: longest idle sleep, ms; default 1. */
  readonly idleWaitMs?: number;
}

/** When a task is released. */
export interface SubmitOptions {
  /** Device-clock µs (see {@linkcode Scheduler.nowUs}); the task waits until then. */
  readonly releaseUs?: number;
}

/** Tensors by input name: a record or a map. */
export type Tensors = Readonly<Record<string, Uint8Array>> | ReadonlyMap<string, Uint8Array>;

/** A completed inference. */
export interface InferenceResult {
  readonly outputs: Map<string, Uint8Array>;
  readonly timings: TaskTimings;
}

/** A client of the scheduler: RT clients share the RT queue, each BE client has its own queue. */
export class Client {
  /** Id on the scheduler. */
  readonly id: number;
  readonly name: string;
  readonly priority: Priority;
  readonly #scheduler: Scheduler;

  /** Clients are made by {@linkcode Scheduler.openClient}. */
  constructor(scheduler: Scheduler, id: number, name: string, priority: Priority) {
    this.#scheduler = scheduler;
    this.id = id;
    this.name = name;
    this.priority = priority;
  }

  /** The scheduler the client was opened on. */
  get scheduler(): Scheduler {
    return this.#scheduler;
  }

  /** Submits one inference; see {@linkcode Scheduler.submit}. */
  infer(
    model: DeviceModel | string,
    inputs: Tensors,
    options: SubmitOptions = {},
  ): Promise<InferenceResult> {
    return this.#scheduler.submit(this, model, inputs, options);
  }
}

type RequestType = Exclude<ToWorker, { type: "start" }>["type"];
type RequestBody<K extends RequestType> = Omit<Extract<ToWorker, { type: K }>, "id">;

interface PendingTask {
  readonly model: DeviceModel;
  readonly offset: number;
  readonly resolve: (result: InferenceResult) => void;
  readonly reject: (error: Error) => void;
}

interface PendingRequest {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

const DEFAULT_RING_CAPACITY = 1024;
const DEFAULT_ARENA_BYTES = 64 * 1024 * 1024;

/** The scheduler: a Worker-owned device driven by the REEF policy in one of its modes. */
export class Scheduler {
  /** Scheduling mode. */
  readonly mode: Mode;
  /** The device's name (simulated devices say so). */
  readonly deviceName: string;
  /** True on the simulated device: never report its numbers as GPU results. */
  readonly simulated: boolean;

  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #clock: Float64Array;
  readonly #virtual: boolean;
  readonly #clockOffsetUs: number;
  readonly #submissions: RecordRing;
  readonly #completions: RecordRing;
  readonly #arena: Uint8Array;
  readonly #allocator: ArenaAllocator;
  readonly #models = new Map<string, DeviceModel>();
  readonly #tasks = new Map<number, PendingTask>();
  readonly #requests = new Map<number, PendingRequest>();
  readonly #overflow: number[][] = [];
  readonly #record = new Float64Array(COMPLETION_FIELDS);
  #nextTask = 0;
  #nextRequest = 0;
  #handled = 0;
  #ackScheduled = false;
  #gateOpen = false;
  #closing: Promise<void> | undefined;
  #failure: string | undefined;

  /**
   * Starts the worker, creates the device and returns once it is ready.
   * @throws {Error} for invalid options, an unregistered device kind, or a device that fails to start.
   */
  static async create(options: SchedulerOptions): Promise<Scheduler> {
    modeTraits(options.mode);
    const cap = options.deviceQueueCap ?? DEFAULT_DEVICE_QUEUE_CAP;
    if (!Number.isInteger(cap) || cap < 1 || cap > UNBOUNDED_DEVICE_QUEUE) {
      throw new RangeError(
        `Option "deviceQueueCap" must be an integer from 1 to ${UNBOUNDED_DEVICE_QUEUE}, got "${cap}"`,
      );
    }
    const ringCapacity = options.ringCapacity ?? DEFAULT_RING_CAPACITY;
    const allocator = new ArenaAllocator(options.arenaBytes ?? DEFAULT_ARENA_BYTES);
    const factoryUrl = deviceFactoryUrl(options.device.kind);
    const buffers = {
      control: new SharedArrayBuffer(CONTROL_BYTES),
      submissions: RecordRing.create(ringCapacity, SUBMISSION_FIELDS).buffer,
      completions: RecordRing.create(ringCapacity, COMPLETION_FIELDS).buffer,
      arena: new SharedArrayBuffer(allocator.size),
      ringCapacity,
    };
    const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
    const started = await new Promise<Extract<FromWorker, { type: "started" }>>(
      (resolve, reject) => {
        worker.onmessage = (event: MessageEvent<FromWorker>) => {
          const message = event.data;
          if (message.type === "started") resolve(message);
          else if (message.type === "fatal") {
            reject(new Error(`Cannot start the scheduler's device: ${message.message}`));
          }
        };
        worker.onerror = (event) => {
          event.preventDefault();
          reject(new Error(`Cannot start the scheduler's worker: ${event.message}`));
        };
        const start: ToWorker = {
          type: "start",
          spec: options.device,
          factoryUrl,
          mode: options.mode,
          deviceQueueCap: cap,
          buffers,
          idle: { idleSpinUs: options.idleSpinUs ?? 200, idleWaitMs: options.idleWaitMs ?? 1 },
        };
        worker.postMessage(start);
      },
    ).catch((error) => {
      worker.terminate();
      throw error;
    });
    return new Scheduler(worker, options.mode, started, buffers, allocator);
  }

  private constructor(
    worker: Worker,
    mode: Mode,
    started: Extract<FromWorker, { type: "started" }>,
    buffers: {
      control: SharedArrayBuffer;
      submissions: SharedArrayBuffer;
      completions: SharedArrayBuffer;
      arena: SharedArrayBuffer;
      ringCapacity: number;
    },
    allocator: ArenaAllocator,
  ) {
    this.#worker = worker;
    this.mode = mode;
    this.deviceName = started.deviceName;
    this.simulated = started.simulated;
    this.#virtual = started.virtual;
    this.#clockOffsetUs = started.clockOffsetUs;
    this.#control = new Int32Array(buffers.control, 0, CLOCK_BYTE_OFFSET / 4);
    this.#clock = new Float64Array(buffers.control, CLOCK_BYTE_OFFSET, 1);
    this.#submissions = new RecordRing(
      buffers.submissions,
      buffers.ringCapacity,
      SUBMISSION_FIELDS,
    );
    this.#completions = new RecordRing(
      buffers.completions,
      buffers.ringCapacity,
      COMPLETION_FIELDS,
    );
    this.#arena = new Uint8Array(buffers.arena);
    this.#allocator = allocator;
    worker.onmessage = (event: MessageEvent<FromWorker>) => this.#onMessage(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(`Scheduler worker failed: ${event.message}`);
      worker.terminate();
    };
  }

  /** The device clock in µs: virtual time on the simulator, the host clock on a GPU. */
  nowUs(): number {
    return this.#virtual ? this.#clock[0]! : wallClockUs() + this.#clockOffsetUs;
  }

  /** Loads a model on the device (once per name) and returns its description. */
  async loadModel(name: string): Promise<DeviceModel> {
    const known = this.#models.get(name);
    if (known !== undefined) return known;
    const model = await this.#request<"load">({ type: "load", name });
    this.#models.set(name, model);
    return model;
  }

  /**
   * Opens a client.
   * @throws {Error} for a BE client in `rt-only` mode.
   */
  async openClient(priority: Priority, name: string): Promise<Client> {
    const id = await this.#request<"client">({ type: "client", priority, name });
    return new Client(this, id, name, priority);
  }

  /**
   * Submits one inference of a loaded model. The promise resolves with the outputs and timings, or
   * rejects if the task cannot be accepted (unknown model or client, inputs of the wrong names or
   * sizes, a full tensor arena, a closed scheduler) or is not run (the scheduler closed first).
   */
  submit(
    client: Client,
    model: DeviceModel | string,
    inputs: Tensors,
    options: SubmitOptions = {},
  ): Promise<InferenceResult> {
    const id = this.#nextTask++;
    const where = `Cannot submit task ${id}`;
    try {
      if (this.#closing !== undefined) throw new Error(`${where}: the scheduler is closed`);
      if (this.#failure !== undefined) throw new Error(`${where}: ${this.#failure}`);
      if (client.scheduler !== this) {
        throw new Error(`${where}: client "${client.name}" belongs to another scheduler`);
      }
      const name = typeof model === "string" ? model : model.info.name;
      const loaded = this.#models.get(name);
      if (loaded === undefined) throw new Error(`${where}: model "${name}" is not loaded`);
      const tensors = inputs instanceof Map ? inputs : new Map(Object.entries(inputs));
      checkInputs(where, loaded, tensors);
      const release = options.releaseUs;
      if (release !== undefined && !Number.isFinite(release)) {
        throw new RangeError(
          `${where}: option "releaseUs" must be a finite number, got "${release}"`,
        );
      }
      const layout = blobLayout(loaded);
      let offset: number;
      try {
        offset = this.#allocator.alloc(layout.bytes);
      } catch (error) {
        throw new Error(`${where} to model "${name}": ${(error as Error).message}`);
      }
      loaded.inputs.forEach((slot, i) =>
        this.#arena.set(tensors.get(slot.name)!, offset + layout.inputs[i]!)
      );
      const result = new Promise<InferenceResult>((resolve, reject) => {
        this.#tasks.set(id, { model: loaded, offset, resolve, reject });
      });
      this.#openGate();
      this.#overflow.push([id, loaded.info.id, client.id, release ?? NaN, offset]);
      this.#flushSubmissions();
      return result;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The scheduler's counters and preemption records. */
  stats(): Promise<SchedulerStats> {
    return this.#request<"stats">({ type: "stats" });
  }

  /**
   * Closes the scheduler: tasks not yet started fail with an error saying so, started tasks
   * (preempted ones included) complete, then the device is released and the worker ends.
   * Every task promise is settled when this resolves.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  async #shutDown(): Promise<void> {
    while (this.#overflow.length > 0 && this.#failure === undefined) {
      this.#flushSubmissions();
      if (this.#overflow.length > 0) await yieldToEventLoop();
    }
    try {
      if (this.#failure === undefined) await this.#request<"close">({ type: "close" });
    } finally {
      this.#drainCompletions();
      this.#fail("the scheduler closed before the task completed");
      this.#failure = "The scheduler is closed";
      this.#worker.terminate();
    }
  }

  #request<K extends RequestType>(message: RequestBody<K>): Promise<ReplyValues[K]> {
    if (this.#failure !== undefined) return Promise.reject(new Error(this.#failure));
    const id = this.#nextRequest++;
    return new Promise<ReplyValues[K]>((resolve, reject) => {
      this.#requests.set(id, { resolve: resolve as (value: unknown) => void, reject });
      Atomics.add(this.#control, Control.pendingMessages, 1);
      this.#worker.postMessage({ ...message, id } as ToWorker);
      this.#ring();
    });
  }

  #onMessage(message: FromWorker): void {
    switch (message.type) {
      case "completed":
        this.#drainCompletions();
        return;
      case "reply":
      case "error": {
        // Completions posted before this reply must settle first (a close reply comes last).
        this.#drainCompletions();
        const request = this.#requests.get(message.id);
        this.#requests.delete(message.id);
        if (message.type === "reply") request?.resolve(message.value);
        else request?.reject(new Error(message.message));
        return;
      }
      case "fatal":
        this.#fail(`Scheduler worker failed: ${message.message}`);
        this.#worker.terminate();
        return;
      case "started":
        return;
    }
  }

  #drainCompletions(): void {
    const record = this.#record;
    let count = 0;
    while (this.#completions.tryPop(record)) {
      count++;
      const id = record[0]!;
      const task = this.#tasks.get(id);
      if (task === undefined) continue;
      this.#tasks.delete(id);
      if (record[1] === STATUS_DONE) {
        const layout = blobLayout(task.model);
        const outputs = new Map<string, Uint8Array>();
        task.model.outputs.forEach((slot, i) => {
          const at = task.offset + layout.outputs[i]!;
          outputs.set(slot.name, this.#arena.slice(at, at + slot.bytes));
        });
        task.resolve({
          outputs,
          timings: {
            submitted: record[2]!,
            started: record[3]!,
            finished: record[4]!,
            preemptions: record[5]!,
          },
        });
      } else {
        task.reject(
          new Error(
            `Task ${id} of model "${task.model.info.name}" was not run: the scheduler closed before it started`,
          ),
        );
      }
      this.#allocator.free(task.offset);
    }
    if (count === 0) return;
    this.#handled += count;
    this.#scheduleAck();
  }

  /**
   * Tells the worker, after a turn of the event loop (so that code awaiting the results has run and
   * submitted any follow-up task), that the completions were handled; a virtual clock may move on.
   */
  #scheduleAck(): void {
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    yieldToEventLoop().then(() => {
      this.#ackScheduled = false;
      Atomics.store(this.#control, Control.acknowledged, this.#handled);
      this.#ring();
    });
  }

  /**
   * Holds a virtual clock while the caller submits a burst of tasks in one synchronous run, so that
   * release times later in the burst are not overtaken; released once the burst is in the ring.
   */
  #openGate(): void {
    if (this.#gateOpen) return;
    this.#gateOpen = true;
    Atomics.add(this.#control, Control.submitGate, 1);
    queueMicrotask(() => this.#closeGate());
  }

  async #closeGate(): Promise<void> {
    while (this.#overflow.length > 0 && this.#failure === undefined) {
      this.#flushSubmissions();
      if (this.#overflow.length > 0) await yieldToEventLoop();
    }
    this.#gateOpen = false;
    Atomics.sub(this.#control, Control.submitGate, 1);
    this.#ring();
  }

  #flushSubmissions(): void {
    let pushed = false;
    while (this.#overflow.length > 0 && this.#submissions.tryPush(this.#overflow[0]!)) {
      this.#overflow.shift();
      pushed = true;
    }
    if (pushed) this.#ring();
  }

  #ring(): void {
    Atomics.add(this.#control, Control.doorbell, 1);
    Atomics.notify(this.#control, Control.doorbell);
  }

  /** Settles everything still pending with an error; later calls fail with it too. */
  #fail(message: string): void {
    this.#failure ??= message;
    for (const [id, task] of this.#tasks) {
      task.reject(new Error(`Task ${id} of model "${task.model.info.name}" failed: ${message}`));
    }
    this.#tasks.clear();
    for (const request of this.#requests.values()) request.reject(new Error(message));
    this.#requests.clear();
  }
}
