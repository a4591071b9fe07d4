/**
 * The benchmark target over the real scheduler: one {@linkcode Scheduler}, created in the run's
 * mode on the GPU or on the simulated device, labelled with the device's name and whether it is
 * simulated. `reef bench` creates one per run.
 *
 * Open-loop workloads hand the runner's whole schedule to the target up front, but every task
 * submitted to the scheduler holds its tensors in the scheduler's arena. So the target passes at
 * most {@linkcode SchedulerTargetOptions.maxAheadPerClient} requests of a client to the scheduler
 * and submits the next one, in release order, as each completes. The scheduler takes a request's
 * release time as its submission time even when it gets the request late, so a request held back
 * only behind a backlog of its own client keeps its latency, counted from its release.
 * @module
 */

import { Scheduler } from "../scheduler/scheduler.ts";
import type { Client, DeviceModel, DeviceSpec } from "../scheduler/mod.ts";
import type { ModeSpec } from "./experiments.ts";
import type { TargetStats } from "./metrics.ts";
import type { BenchTarget, InferenceTimings } from "./runner.ts";
import type { Priority } from "./workload.ts";

/** Options of {@linkcode SchedulerTarget.create}. */
export interface SchedulerTargetOptions {
  /** `{ kind: "gpu", modelDir, doorbell? }` or `{ kind: "sim", modelDir, options? }`. */
  device: DeviceSpec;
  /** The scheduler configuration of the run. */
  mode: ModeSpec;
  /** Bytes of the scheduler's tensor arena; defaults to 256 MiB. */
  arenaBytes?: number;
  /** Requests of one client in the scheduler at once; defaults to 32. */
  maxAheadPerClient?: number;
}

interface HeldRequest {
  model: string;
  releaseAtUs: number | undefined;
  resolve: (timings: InferenceTimings) => void;
  reject: (error: unknown) => void;
}

interface ClientState {
  client: Promise<Client>;
  inScheduler: number;
  held: HeldRequest[];
}

const DEFAULT_ARENA_BYTES = 256 * 2 ** 20;
const DEFAULT_MAX_AHEAD = 32;

/** A {@linkcode BenchTarget} that runs every inference on a {@linkcode Scheduler}. */
export class SchedulerTarget implements BenchTarget, AsyncDisposable {
  /** True on the simulated device: its numbers are never GPU results. */
  readonly simulated: boolean;
  /** The device's name, as the scheduler reports it. */
  readonly deviceName: string;
  /** The scheduler configuration the target was created in. */
  readonly mode: ModeSpec;
  readonly #scheduler: Scheduler;
  readonly #maxAhead: number;
  readonly #inputs = new Map<string, Map<string, Uint8Array>>();
  readonly #clients = new Map<string, ClientState>();

  /**
   * Creates the scheduler in `options.mode` on `options.device`.
   * @throws {Error} if the scheduler or its device cannot start.
   */
  static async create(options: SchedulerTargetOptions): Promise<SchedulerTarget> {
    const maxAhead = options.maxAheadPerClient ?? DEFAULT_MAX_AHEAD;
    if (!Number.isInteger(maxAhead) || maxAhead < 1) {
      throw new RangeError(
        `Option "maxAheadPerClient" must be a positive integer, got "${maxAhead}"`,
      );
    }
    const scheduler = await Scheduler.create({
      device: options.device,
      mode: options.mode.mode,
      arenaBytes: options.arenaBytes ?? DEFAULT_ARENA_BYTES,
      ...(options.mode.deviceQueueCap === undefined
        ? {}
        : { deviceQueueCap: options.mode.deviceQueueCap }),
    });
    return new SchedulerTarget(scheduler, options.mode, maxAhead);
  }

  private constructor(scheduler: Scheduler, mode: ModeSpec, maxAhead: number) {
    this.#scheduler = scheduler;
    this.mode = mode;
    this.deviceName = scheduler.deviceName;
    this.simulated = scheduler.simulated;
    this.#maxAhead = maxAhead;
  }

  /** Loads a model and prepares its inputs (zeros: dense inference takes the same time on any). */
  async loadModel(name: string): Promise<void> {
    const model: DeviceModel = await this.#scheduler.loadModel(name);
    this.#inputs.set(
      name,
      new Map(model.inputs.map((slot) => [slot.name, new Uint8Array(slot.bytes)])),
    );
  }

  /** Submits one inference, or holds it until fewer of its client's requests are in flight. */
  submit(
    client: string,
    priority: Priority,
    model: string,
    releaseAtUs?: number,
  ): Promise<InferenceTimings> {
    let state = this.#clients.get(client);
    if (state === undefined) {
      // Opened on first use; every request of the client waits for the same promise.
      state = { client: this.#scheduler.openClient(priority, client), inScheduler: 0, held: [] };
      this.#clients.set(client, state);
    }
    const clientState = state;
    return new Promise<InferenceTimings>((resolve, reject) => {
      clientState.held.push({ model, releaseAtUs, resolve, reject });
      this.#pass(clientState);
    });
  }

  /** Passes held requests of a client to the scheduler while it has room for them. */
  #pass(state: ClientState): void {
    while (state.inScheduler < this.#maxAhead && state.held.length > 0) {
      const request = state.held.shift()!;
      state.inScheduler++;
      this.#infer(state, request).then(request.resolve, request.reject).finally(() => {
        state.inScheduler--;
        this.#pass(state);
      });
    }
  }

  async #infer(state: ClientState, request: HeldRequest): Promise<InferenceTimings> {
    const inputs = this.#inputs.get(request.model);
    if (inputs === undefined) {
      throw new Error(`Cannot submit to model "${request.model}": it is not loaded`);
    }
    const client = await state.client;
    const { timings } = await client.infer(
      request.model,
      inputs,
      request.releaseAtUs === undefined ? {} : { releaseUs: request.releaseAtUs },
    );
    return {
      submittedUs: timings.submitted,
      startedUs: timings.started,
      finishedUs: timings.finished,
      preemptions: timings.preemptions,
    };
  }

  /** The scheduler's device clock, µs. */
  nowUs(): number {
    return this.#scheduler.nowUs();
  }

  /** Preemption, quiesce and (`reef` mode) kernel-selection times, and the loop's stalls. */
  async stats(): Promise<TargetStats> {
    const stats = await this.#scheduler.stats();
    return {
      preemptLatenciesUs: [...stats.preemptLatenciesUs],
      quiesceLatenciesUs: [...stats.quiesceLatenciesUs],
      selectionTimesUs: [...stats.selectionTimesUs],
      loopStalls: [...stats.loopStalls],
    };
  }

  /** Closes the scheduler: every task settles, the device is released. */
  close(): Promise<void> {
    return this.#scheduler.close();
  }

  /** {@linkcode SchedulerTarget.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
