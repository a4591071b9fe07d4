/**
 * The scheduler's Worker thread. It owns the device and runs a busy-polling loop: take submissions
 * from the ring, step the policy, push completions to the ring, and then either poll again (work in
 * flight on a real device), jump to the next event (a virtual device), or back off (spin briefly,
 * then `Atomics.wait` on the doorbell with a short timeout, so an idle server does not burn a core).
 *
 * On a virtual device, time must not run ahead of the main thread: it holds still while the main
 * thread is mid-way through a burst of submissions (`submitGate`) and until it has handled, and
 * reacted to, every completion pushed (`acknowledged`). A closed-loop client's next request then
 * arrives at the virtual time its previous one finished, and runs are reproducible.
 *
 * Control messages (load a model, open a client, statistics, close) arrive as worker messages; the
 * main thread counts them in `pendingMessages` and rings the doorbell, and the loop yields to the
 * event loop until they are delivered, then awaits their handling.
 *
 * On a real-time device the loop also logs its stalls (stall_log.ts): passes that began
 * {@linkcode LOOP_STALL_THRESHOLD_US} or more after the previous one, which the `stats` reply
 * carries; its deliberate waits (the backoff, control messages) are excluded.
 *
 * With `REEF_WORKER_HEAP_PROFILE=<prefix>` in the environment, the worker samples what it allocates
 * from start to close and writes `<prefix>-<pid>-<ms>.heapprofile` (see heap_sampler.ts).
 * @module
 */

import { type BlobLayout, blobLayout } from "./arena.ts";
import type { CreateDevice, DeviceHandle, DeviceModel } from "./device_handle.ts";
import { createPolicy, nextWakeUs, settle } from "./drive.ts";
import type { SchedulerPolicy } from "./policy.ts";
import {
  CLOCK_BYTE_OFFSET,
  COMPLETION_FIELDS,
  Control,
  type FromWorker,
  type IdleOptions,
  STATUS_CLOSED,
  STATUS_DONE,
  SUBMISSION_FIELDS,
  type ToWorker,
  wallClockUs,
  yieldToEventLoop,
} from "./protocol.ts";
import { RecordRing } from "./ring.ts";
import { HeapSampler } from "./heap_sampler.ts";
import { StallLog } from "./stall_log.ts";
import { LOOP_STALL_CAPACITY, LOOP_STALL_THRESHOLD_US, type SchedulerStats } from "./stats.ts";
import type { TaskResult } from "./task.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;

interface Model {
  readonly loaded: DeviceModel;
  readonly layout: BlobLayout;
}

/** Everything the loop owns once the device is up. */
class WorkerState {
  readonly handle: DeviceHandle;
  readonly policy: SchedulerPolicy;
  readonly control: Int32Array;
  readonly clock: Float64Array;
  readonly submissions: RecordRing;
  readonly completions: RecordRing;
  readonly arena: Uint8Array;
  readonly idle: IdleOptions;
  readonly models = new Map<number, Model>();
  /** Blob offset of every task accepted and not completed. */
  readonly blobs = new Map<number, { offset: number; model: Model }>();
  /** Completion records the ring had no room for yet. */
  readonly backlog: Float64Array[] = [];
  readonly stalls = new StallLog(LOOP_STALL_THRESHOLD_US, LOOP_STALL_CAPACITY);
  closeRequest: number | undefined;

  constructor(handle: DeviceHandle, start: Extract<ToWorker, { type: "start" }>) {
    const b = start.buffers;
    this.handle = handle;
    this.policy = createPolicy(handle.device, start.mode, start.deviceQueueCap);
    this.control = new Int32Array(b.control, 0, CLOCK_BYTE_OFFSET / 4);
    this.clock = new Float64Array(b.control, CLOCK_BYTE_OFFSET, 1);
    this.submissions = new RecordRing(b.submissions, b.ringCapacity, SUBMISSION_FIELDS);
    this.completions = new RecordRing(b.completions, b.ringCapacity, COMPLETION_FIELDS);
    this.arena = new Uint8Array(b.arena);
    this.idle = start.idle;
  }
}

/** How long before a task's release an idle loop stops waiting and spins, ms. */
const RELEASE_WAKE_MARGIN_MS = 0.25;

let state: WorkerState | undefined;

/**
 * Control messages being handled. While one is (a model load takes seconds), the loop awaits it
 * instead of yielding pass after pass: each yield makes a MessageChannel, and that spinning was a
 * fifth of the worker's garbage.
 */
const handling = new Set<Promise<void>>();

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === "start") {
    start(message).catch(fatal);
    return;
  }
  const handled: Promise<void> = handleControl(message).catch(fatal).finally(() =>
    handling.delete(handled)
  );
  handling.add(handled);
};

async function start(message: Extract<ToWorker, { type: "start" }>): Promise<void> {
  const factory: { createDevice?: CreateDevice } = await import(message.factoryUrl);
  if (typeof factory.createDevice !== "function") {
    throw new Error(
      `Device factory module "${message.factoryUrl}" must export a function "createDevice"`,
    );
  }
  const profilePrefix = heapProfilePrefix();
  const sampler = profilePrefix === undefined ? undefined : await HeapSampler.start();
  const handle = await factory.createDevice(message.spec);
  const s = new WorkerState(handle, message);
  state = s;
  const device = handle.device;
  s.clock[0] = device.now();
  scope.postMessage({
    type: "started",
    deviceName: device.name,
    simulated: device.simulated,
    virtual: handle.clock !== undefined,
    clockOffsetUs: device.now() - wallClockUs(),
  });
  await loop(s);
  if (sampler !== undefined) {
    const file = `${profilePrefix}-${Deno.pid}-${Date.now()}.heapprofile`;
    await Deno.writeTextFile(file, JSON.stringify(await sampler.stop()));
  }
  scope.postMessage({ type: "reply", id: s.closeRequest!, value: null });
  scope.close();
}

/** `REEF_WORKER_HEAP_PROFILE`, where the environment may be read. */
function heapProfilePrefix(): string | undefined {
  const variable = "REEF_WORKER_HEAP_PROFILE";
  const permission = Deno.permissions.querySync({ name: "env", variable }).state;
  return permission === "granted" ? Deno.env.get(variable) || undefined : undefined;
}

async function handleControl(message: Exclude<ToWorker, { type: "start" }>): Promise<void> {
  const s = state!;
  try {
    switch (message.type) {
      case "load": {
        const loaded = await s.handle.loadModel(message.name);
        s.policy.addModel(loaded);
        s.models.set(loaded.info.id, { loaded, layout: blobLayout(loaded) });
        scope.postMessage({ type: "reply", id: message.id, value: loaded });
        break;
      }
      case "client":
        scope.postMessage({
          type: "reply",
          id: message.id,
          value: s.policy.openClient(message.priority, message.name),
        });
        break;
      case "stats": {
        const stats: SchedulerStats = {
          ...s.policy.stats(),
          loopStalls: s.stalls.stalls(),
          loopStallsRecorded: s.stalls.recorded,
        };
        scope.postMessage({ type: "reply", id: message.id, value: stats });
        break;
      }
      case "close":
        // Submissions pushed before the close request are taken first, so none is lost.
        drainSubmissions(s);
        s.closeRequest = message.id;
        for (const id of s.policy.failUnstarted()) finishRecord(s, id, STATUS_CLOSED);
        break;
    }
  } catch (error) {
    scope.postMessage({
      type: "error",
      id: message.id,
      message: error instanceof Error ? error.message : String(error),
    });
  } finally {
    Atomics.sub(s.control, Control.pendingMessages, 1);
  }
}

async function loop(s: WorkerState): Promise<void> {
  const { control, policy, handle, stalls } = s;
  const virtual = handle.clock;
  const results: TaskResult[] = [];
  let idleSinceUs = NaN;
  for (;;) {
    // First, so that the gap before a pass that then waits for a message still counts.
    if (virtual === undefined) stalls.pass(handle.device.now());
    if (Atomics.load(control, Control.pendingMessages) > 0) {
      // A message counted and not yet delivered needs the event loop to run; one delivered is
      // waited for.
      stalls.pause();
      await (handling.size > 0 ? Promise.race(handling) : yieldToEventLoop());
      continue;
    }
    const bell = Atomics.load(control, Control.doorbell);
    drainSubmissions(s);
    flushBacklog(s);
    if (s.closeRequest !== undefined && !policy.busy() && s.backlog.length === 0) break;
    if (virtual !== undefined && clockHeld(control)) {
      Atomics.wait(control, Control.doorbell, bell, s.idle.idleWaitMs);
      continue;
    }
    const progressed = settle(policy, results);
    for (const result of results) complete(s, result);
    const completed = results.length > 0;
    results.length = 0;
    if (virtual !== undefined) {
      s.clock[0] = handle.device.now();
      // Let the main thread react to the completions before time moves on.
      if (progressed || completed) continue;
      const wake = nextWakeUs(policy, virtual);
      if (wake !== undefined) {
        virtual.advanceTo(wake);
        continue;
      }
      if (policy.busy()) {
        throw new Error(
          `Scheduler stalled at ${handle.device.now()} µs: tasks remain but nothing is pending on the device`,
        );
      }
      Atomics.wait(control, Control.doorbell, bell, s.idle.idleWaitMs);
      continue;
    }
    if (progressed || policy.hasReleasedWork()) {
      idleSinceUs = NaN;
      continue;
    }
    const now = handle.device.now();
    if (Number.isNaN(idleSinceUs)) idleSinceUs = now;
    if (now - idleSinceUs < s.idle.idleSpinUs) continue;
    // A timed wait can wake a tenth of a millisecond late: it ends early enough before the next
    // release for the loop to spin up to it.
    const release = policy.nextReleaseUs();
    const untilReleaseMs = release === undefined
      ? Infinity
      : (release - now) / 1000 - RELEASE_WAKE_MARGIN_MS;
    const timeout = Math.min(s.idle.idleWaitMs, untilReleaseMs);
    if (timeout > 0) {
      stalls.pause();
      Atomics.wait(control, Control.doorbell, bell, timeout);
    }
  }
  handle.close();
}

function clockHeld(control: Int32Array): boolean {
  return Atomics.load(control, Control.submitGate) > 0 ||
    Atomics.load(control, Control.acknowledged) !== Atomics.load(control, Control.published);
}

const submission = new Float64Array(SUBMISSION_FIELDS);

// The loop calls this on every pass. It holds no closure: a closure over `s` made V8 allocate a
// context on every call, empty ring or not, which was most of the worker's garbage (85 of 193 MB
// sampled over DISB B on the H100, evaluation/results/h100/worker-heap-B-reef.json).
function drainSubmissions(s: WorkerState): void {
  while (s.submissions.tryPop(submission)) {
    const id = submission[0]!;
    const modelId = submission[1]!;
    const client = submission[2]!;
    const releaseUs = submission[3]!;
    const offset = submission[4]!;
    const model = s.models.get(modelId);
    if (model === undefined) throw new Error(`Task ${id} names model ${modelId}, never loaded`);
    const inputs = new Map<string, Uint8Array>();
    const slots = model.loaded.inputs;
    for (let i = 0; i < slots.length; i++) {
      const at = offset + model.layout.inputs[i]!;
      inputs.set(slots[i]!.name, s.arena.subarray(at, at + slots[i]!.bytes));
    }
    s.blobs.set(id, { offset, model });
    if (s.closeRequest !== undefined) {
      finishRecord(s, id, STATUS_CLOSED);
      continue;
    }
    s.policy.submit({
      id,
      model: modelId,
      client,
      inputs,
      ...(Number.isNaN(releaseUs) ? {} : { releaseUs }),
    });
  }
}

function complete(s: WorkerState, result: TaskResult): void {
  const blob = s.blobs.get(result.id)!;
  blob.model.loaded.outputs.forEach((slot, i) => {
    s.arena.set(result.outputs.get(slot.name)!, blob.offset + blob.model.layout.outputs[i]!);
  });
  const t = result.timings;
  pushRecord(s, [result.id, STATUS_DONE, t.submitted, t.started, t.finished, t.preemptions]);
  s.blobs.delete(result.id);
}

function finishRecord(s: WorkerState, id: number, status: number): void {
  s.blobs.delete(id);
  pushRecord(s, [id, status, NaN, NaN, NaN, 0]);
}

function pushRecord(s: WorkerState, record: number[]): void {
  s.backlog.push(Float64Array.from(record));
  flushBacklog(s);
}

function flushBacklog(s: WorkerState): void {
  let pushed = 0;
  while (s.backlog.length > 0 && s.completions.tryPush(s.backlog[0]!)) {
    s.backlog.shift();
    pushed++;
  }
  if (pushed === 0) return;
  Atomics.add(s.control, Control.published, pushed);
  scope.postMessage({ type: "completed" });
}

function fatal(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  scope.postMessage({ type: "fatal", message });
  try {
    state?.handle.close();
  } finally {
    scope.close();
  }
}
