/**
 * The inference server's backend over the REEF scheduler, on the GPU or on the simulated device:
 * the models are the packages of a model directory, requests become scheduler tasks of one
 * scheduler client per (priority, client name), and the scheduler's counters feed `/metrics`.
 *
 * What the scheduler cannot do shapes a few rules, all reported to clients in plain words:
 * - **No unloading.** The scheduler keeps a loaded model on the device until it closes, so
 *   unloading a loaded model fails with "invalid argument" (restart the server instead);
 *   unloading a model that is not loaded succeeds and changes nothing.
 * - **No closing clients.** A scheduler client (and, for best-effort work, its queue and stream)
 *   lives as long as the scheduler. A client name holds its scheduler client while it has
 *   requests in flight; an idle one is handed to the next new name, so the number of scheduler
 *   clients is the most names ever active at once. Best-effort queues are capped at
 *   {@linkcode MAX_BE_QUEUES}, like REEF: a new best-effort name beyond it is refused with
 *   "resource exhausted" until a client's requests finish.
 * - **No cancelling.** A request's deadline is the server's to enforce; the task still runs.
 * - **Statistics cross threads.** `stats()` must answer at once, so it returns the scheduler's
 *   counters as last fetched; they are fetched again at most {@linkcode STATS_REFRESH_MS} after
 *   any inference settles and at every `stats()` call, so a scrape lags by that much at most.
 *
 * Model metadata comes from the package's `inputs` and `outputs`: datatype and the shape as
 * stored, so image tensors have the `[N, H, W, C]` shape of their NHWC storage. A package in
 * REEF's own format, without those lists, follows REEF's naming as the simulator does (storages
 * `data` and `input<N>` are the inputs, `output` and `output<N>` the outputs, one dimension each).
 * On the simulated device outputs are digests of the computation, not values (see
 * `src/gpu/sim/sim_device.ts`); they are passed through, and the platform says "reef_sim".
 * @module
 */

import {
  type ModelPackage,
  packagePaths,
  readPackage,
  type StorageTypeName,
  tensorBytes,
  type TensorSpec,
} from "../model/package.ts";
import type { DeviceModel } from "../scheduler/device_handle.ts";
import { type Mode, modeTraits } from "../scheduler/mode.ts";
import { type Client, Scheduler } from "../scheduler/scheduler.ts";
import type { SchedulerStats } from "../scheduler/stats.ts";
import type {
  BackendInferRequest,
  BackendInferResult,
  BackendStats,
  Datatype,
  InferenceBackend,
  ModelMetadata,
  ModelState,
  ModelStatus,
  Priority,
  Tensor,
  TensorMeta,
} from "./backend.ts";
import { InferenceError } from "./errors.ts";
import { elementBytes } from "./tensor.ts";

/** Best-effort queues one scheduler serves at most, as in REEF. */
export const MAX_BE_QUEUES = 32;

/** Longest time, after an inference settles, before the scheduler's counters are fetched again. */
export const STATS_REFRESH_MS = 200;

/** Model platform reported on the GPU. */
export const GPU_PLATFORM = "reef_cuda";

/** Model platform reported on the simulated device, whose outputs are digests. */
export const SIM_PLATFORM = "reef_sim";

/** How to open a {@linkcode SchedulerBackend}. */
export interface SchedulerBackendOptions {
  /** Where inferences run: the GPU or the simulated device. */
  device: "gpu" | "sim";
  /** Directory of the model packages: `<modelDir>/<m>/<m>.json` (and `<m>.profile.json`). */
  modelDir: string;
  /** Scheduling mode. */
  mode: Mode;
  /** Best-effort kernels in flight per stream (REEF's device-queue capacity); default 2. */
  deviceQueueDepth?: number;
}

/** Storage element types as the protocol's datatypes (REEF-format packages). */
const STORAGE_DATATYPES: Record<StorageTypeName, Datatype> = {
  float32: "FP32",
  float16: "FP16",
  int32: "INT32",
  int64: "INT64",
  byte: "UINT8",
  uint1: "BOOL",
};

/** REEF's tensor naming, for packages without `inputs`/`outputs` (as src/gpu/sim reads them). */
const REEF_TENSOR_NAMES = { inputs: /^(data|input\d*)$/, outputs: /^output\d*$/ } as const;

interface ModelEntry {
  readonly name: string;
  state: ModelState;
  reason?: string;
  /** Absent when the package could not be read. */
  readonly inputs?: TensorMeta[];
  readonly outputs?: TensorMeta[];
  loading?: Promise<void>;
}

/** One scheduler client and the name it serves now. */
interface Lane {
  readonly client: Promise<Client>;
  /** Requests of the bound name not yet settled. */
  outstanding: number;
}

/** An {@linkcode InferenceBackend} over a {@linkcode Scheduler}; see the module documentation. */
export class SchedulerBackend implements InferenceBackend {
  /** The scheduler's device name (the simulator's says so). */
  readonly deviceName: string;
  /** True on the simulated device. */
  readonly simulated: boolean;

  readonly #scheduler: Scheduler;
  readonly #models: Map<string, ModelEntry>;
  readonly #acceptsBe: boolean;
  /** Lanes by priority, then by bound client name (in Map order: least recently bound first). */
  readonly #lanes: Record<Priority, Map<string, Lane>> = { rt: new Map(), be: new Map() };
  #snapshot: SchedulerStats | undefined;
  /** Preemption records whose latency `stats()` has handed out. */
  #reportedPreemptions = 0;
  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #closing: Promise<void> | undefined;

  private constructor(scheduler: Scheduler, models: ModelEntry[]) {
    this.#scheduler = scheduler;
    this.deviceName = scheduler.deviceName;
    this.simulated = scheduler.simulated;
    this.#acceptsBe = modeTraits(scheduler.mode).acceptsBe;
    this.#models = new Map(models.map((entry) => [entry.name, entry]));
  }

  /**
   * Reads the model directory and starts the scheduler on the device. A package that cannot be
   * read is listed as "unavailable" with the reason.
   * @throws {Error} when the directory cannot be listed or the device cannot start.
   */
  static async open(options: SchedulerBackendOptions): Promise<SchedulerBackend> {
    const names = await listModelPackages(options.modelDir);
    const models = await Promise.all(names.map((name) => readEntry(options.modelDir, name)));
    const scheduler = await Scheduler.create({
      device: { kind: options.device, modelDir: options.modelDir },
      mode: options.mode,
      ...(options.deviceQueueDepth === undefined
        ? {}
        : { deviceQueueCap: options.deviceQueueDepth }),
    });
    return new SchedulerBackend(scheduler, models);
  }

  /** Every package of the model directory, by name. */
  models(): ModelStatus[] {
    return [...this.#models.values()].map((entry) => ({
      name: entry.name,
      state: entry.state,
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
    }));
  }

  /** Loads a model on the device; concurrent calls share one load. */
  load(name: string): Promise<void> {
    let entry: ModelEntry;
    try {
      entry = this.#entry(name);
    } catch (error) {
      return Promise.reject(error);
    }
    if (entry.state === "ready") return Promise.resolve();
    if (entry.loading !== undefined) return entry.loading;
    if (entry.inputs === undefined || entry.outputs === undefined) {
      return Promise.reject(new Error(`Cannot load model "${name}": ${entry.reason}`));
    }
    const expected = { inputs: entry.inputs, outputs: entry.outputs };
    entry.state = "loading";
    delete entry.reason;
    entry.loading = (async () => {
      try {
        checkDeviceTensors(name, await this.#scheduler.loadModel(name), expected);
        entry.state = "ready";
      } catch (error) {
        entry.state = "unavailable";
        entry.reason = `loading failed: ${(error as Error).message}`;
        throw error;
      } finally {
        delete entry.loading;
      }
    })();
    return entry.loading;
  }

  /** Succeeds for a model that is not loaded; the scheduler cannot unload a loaded one. */
  unload(name: string): Promise<void> {
    try {
      if (this.#entry(name).state === "unavailable") return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.reject(
      new InferenceError(
        "invalid_argument",
        `Cannot unload model "${name}": the scheduler keeps a loaded model on the device until it closes; restart the server to unload it`,
      ),
    );
  }

  /** The model's tensors as stored (NHWC images as `[N, H, W, C]`). */
  metadata(name: string): ModelMetadata | undefined {
    const entry = this.#models.get(name);
    if (entry?.inputs === undefined || entry.outputs === undefined) return undefined;
    return {
      name,
      platform: this.simulated ? SIM_PLATFORM : GPU_PLATFORM,
      inputs: entry.inputs.map(copyMeta),
      outputs: entry.outputs.map(copyMeta),
    };
  }

  /** Runs one inference as a task of the client's scheduler client. */
  async infer(request: BackendInferRequest): Promise<BackendInferResult> {
    const entry = this.#entry(request.model);
    if (entry.state !== "ready" || entry.outputs === undefined) {
      throw new InferenceError("unavailable", `Model "${request.model}" is not loaded`);
    }
    const outputs = entry.outputs;
    const lane = this.#laneFor(request.priority, request.client);
    lane.outstanding++;
    try {
      const client = await lane.client;
      const inputs = new Map([...request.inputs].map(([name, tensor]) => [name, tensor.data]));
      const result = await client.infer(request.model, inputs);
      const tensors = new Map<string, Tensor>();
      for (const meta of outputs) {
        const data = result.outputs.get(meta.name);
        if (data === undefined) {
          throw new Error(`The scheduler returned no output "${meta.name}"`);
        }
        tensors.set(meta.name, { ...copyMeta(meta), data });
      }
      const { timings } = result;
      return {
        outputs: tensors,
        timings: {
          submittedUs: timings.submitted,
          startedUs: timings.started,
          finishedUs: timings.finished,
          preemptions: timings.preemptions,
        },
      };
    } finally {
      lane.outstanding--;
      this.#scheduleRefresh();
    }
  }

  /**
   * Preemptions and their latencies from the last fetched scheduler counters (fetching them again
   * in the background), and the requests in flight per client.
   */
  stats(): BackendStats {
    this.#refreshStats();
    const preemptions = this.#snapshot?.preemptions ?? [];
    const latencies: number[] = [];
    // Records are appended in order; one whose RT task has not launched yet is handed out later.
    while (this.#reportedPreemptions < preemptions.length) {
      const record = preemptions[this.#reportedPreemptions];
      if (Number.isNaN(record.rtLaunchUs)) break;
      latencies.push(record.rtLaunchUs - record.preemptUs);
      this.#reportedPreemptions++;
    }
    const queueDepths: Record<string, number> = {};
    for (const priority of ["rt", "be"] as const) {
      for (const [name, lane] of this.#lanes[priority]) {
        queueDepths[`${priority}:${name}`] = lane.outstanding;
      }
    }
    return {
      preemptions: preemptions.length,
      preemptLatenciesUs: latencies,
      queueDepths,
      loopStalls: this.#snapshot?.loopStallsRecorded ?? 0,
    };
  }

  /** Closes the scheduler: tasks not started fail, started ones finish. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#refreshTimer);
      await this.#refreshing;
      await this.#scheduler.close();
    })();
    return this.#closing;
  }

  /** Closes the backend (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #entry(name: string): ModelEntry {
    const entry = this.#models.get(name);
    if (entry === undefined) throw new InferenceError("not_found", `Unknown model "${name}"`);
    return entry;
  }

  /** The lane of a client name: its own, an idle one rebound to it, or a new one. */
  #laneFor(priority: Priority, name: string): Lane {
    const lanes = this.#lanes[priority];
    const bound = lanes.get(name);
    if (bound !== undefined) return bound;
    if (priority === "be" && !this.#acceptsBe) {
      throw new InferenceError(
        "invalid_argument",
        `Mode "${this.#scheduler.mode}" runs real-time requests only: set parameter "priority" to "rt"`,
      );
    }
    for (const [other, lane] of lanes) {
      if (lane.outstanding > 0) continue;
      lanes.delete(other);
      lanes.set(name, lane);
      return lane;
    }
    if (priority === "be" && lanes.size >= MAX_BE_QUEUES) {
      throw new InferenceError(
        "resource_exhausted",
        `Cannot give best-effort client "${name}" a queue: all ${MAX_BE_QUEUES} best-effort queues are in use by clients with requests in flight; retry when one finishes`,
      );
    }
    const lane: Lane = { client: this.#scheduler.openClient(priority, name), outstanding: 0 };
    // A client that cannot be opened frees its slot; its requests see the error.
    lane.client.catch(() => {
      if (lanes.get(name) === lane) lanes.delete(name);
    });
    lanes.set(name, lane);
    return lane;
  }

  #scheduleRefresh(): void {
    if (this.#refreshTimer !== undefined || this.#closing !== undefined) return;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      this.#refreshStats();
    }, STATS_REFRESH_MS);
  }

  /** Fetches the scheduler's counters; one fetch at a time, repeated once if asked meanwhile. */
  #refreshStats(): void {
    if (this.#closing !== undefined) return;
    if (this.#refreshing !== undefined) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = this.#scheduler.stats().then(
      (snapshot) => {
        this.#snapshot = snapshot;
      },
      // A failed scheduler fails every request too; the metrics keep the last counters.
      () => {},
    ).finally(() => {
      this.#refreshing = undefined;
      if (this.#refreshAgain) {
        this.#refreshAgain = false;
        this.#refreshStats();
      }
    });
  }
}

/** Names of the model packages in `dir`: every folder `<m>` holding `<m>/<m>.json`, sorted. */
export async function listModelPackages(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) continue;
      const json = packagePaths(entry.name, dir).json;
      const info = await Deno.stat(json).catch(() => undefined);
      if (info?.isFile) names.push(entry.name);
    }
  } catch (error) {
    throw new Error(`Cannot list the model packages in "${dir}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  return names.sort();
}

/** Reads a package's tensors; an unreadable package becomes an unavailable entry with the reason. */
async function readEntry(dir: string, name: string): Promise<ModelEntry> {
  const paths = packagePaths(name, dir);
  try {
    const pkg = await readPackage(paths);
    return {
      name,
      state: "unavailable",
      inputs: packageTensors(pkg, "inputs", paths.json),
      outputs: packageTensors(pkg, "outputs", paths.json),
    };
  } catch (error) {
    return { name, state: "unavailable", reason: (error as Error).message };
  }
}

/** The package's inputs or outputs with the stored shape, checked against their storage size. */
function packageTensors(
  pkg: ModelPackage,
  list: "inputs" | "outputs",
  file: string,
): TensorMeta[] {
  const specs: TensorSpec[] | undefined = pkg[list];
  if (specs === undefined) {
    return pkg.storage.filter((entry) => REEF_TENSOR_NAMES[list].test(entry.name)).map((entry) => ({
      name: entry.name,
      datatype: STORAGE_DATATYPES[entry.stype],
      shape: [entry.size],
    }));
  }
  return specs.map((spec, i) => {
    const meta: TensorMeta = { name: spec.name, datatype: spec.datatype, shape: [...spec.shape] };
    const held = tensorBytes(pkg, spec);
    if (metaBytes(meta) !== held) {
      throw new Error(
        `Invalid ${file}: field "${list}[${i}].shape" [${
          spec.shape.join(",")
        }] of ${spec.datatype} needs ${
          metaBytes(meta)
        } bytes, but storage "${spec.storage}" holds ${held}`,
      );
    }
    return meta;
  });
}

/** Checks that the device loaded the tensors the metadata promises, by name, order and size. */
function checkDeviceTensors(
  name: string,
  model: DeviceModel,
  expected: { inputs: readonly TensorMeta[]; outputs: readonly TensorMeta[] },
): void {
  for (const list of ["inputs", "outputs"] as const) {
    const want = expected[list].map((meta) => `"${meta.name}" (${metaBytes(meta)} bytes)`);
    const got = model[list].map((slot) => `"${slot.name}" (${slot.bytes} bytes)`);
    if (want.join(", ") !== got.join(", ")) {
      throw new Error(
        `Model "${name}" has ${list} [${want.join(", ")}] in its package, but the device loaded [${
          got.join(", ")
        }]`,
      );
    }
  }
}

function metaBytes(meta: TensorMeta): number {
  return meta.shape.reduce((product, dim) => product * dim, 1) * elementBytes(meta.datatype)!;
}

function copyMeta(meta: TensorMeta): TensorMeta {
  return { name: meta.name, datatype: meta.datatype, shape: [...meta.shape] };
}
