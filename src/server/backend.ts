/**
 * The contract between the inference server and whatever runs inferences: the REEF scheduler on a
 * GPU or on the simulated device (bound by `serve`'s caller), or a fake in tests. The server only
 * speaks the Open Inference Protocol; everything it knows about models, devices and preemption
 * comes through {@linkcode InferenceBackend}.
 * @module
 */

/**
 * Tensor element types of the Open Inference Protocol. Every type but `BYTES` has a fixed element
 * size; a `BYTES` element is a 4-byte little-endian length followed by that many bytes.
 */
export type Datatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP16"
  | "BF16"
  | "FP32"
  | "FP64"
  | "BYTES";

/** Name, element type and shape of a tensor. In model metadata a dimension of -1 means "any". */
export interface TensorMeta {
  /** Tensor name, unique among a model's inputs (or outputs). */
  name: string;
  /** Element type. */
  datatype: Datatype;
  /** Dimensions, outermost first. */
  shape: number[];
}

/** A tensor with its contents: row-major, little-endian, no padding (the binary data format). */
export interface Tensor extends TensorMeta {
  /** The elements, row-major and little-endian. */
  data: Uint8Array;
}

/** Lifecycle state of a model known to the backend. */
export type ModelState = "loading" | "ready" | "unavailable";

/** One entry of the backend's model repository. */
export interface ModelStatus {
  /** Model name, as requests address it. */
  name: string;
  /** Whether the model can serve inferences now. */
  state: ModelState;
  /** Why the model is in this state (a failed load, for example). */
  reason?: string;
}

/** What the backend knows about a model's interface. */
export interface ModelMetadata {
  /** Model name. */
  name: string;
  /** Where the model runs, e.g. "reef_cuda" or "reef_sim". */
  platform: string;
  /** Inputs every request must give, in the model's order. */
  inputs: TensorMeta[];
  /** Outputs every inference produces, in the model's order. */
  outputs: TensorMeta[];
}

/** REEF's two task classes: real-time tasks preempt best-effort ones. */
export type Priority = "rt" | "be";

/** One inference handed to the backend; the server has already checked it against the metadata. */
export interface BackendInferRequest {
  /** The model to run; it is "ready". */
  model: string;
  /** One tensor per model input, by name, checked against the metadata. */
  inputs: Map<string, Tensor>;
  /** Real-time or best-effort. */
  priority: Priority;
  /** Names the client's queue: REEF gives each best-effort client a queue of its own. */
  client: string;
  /**
   * Time left for this request, in milliseconds from the call. The server answers "deadline
   * exceeded" when it passes, whatever the backend does; a backend may use it to drop the task.
   */
  deadlineMs?: number;
}

/** Per-request times on the backend's clock, in microseconds. */
export interface InferTimings {
  /** When the task reached the scheduler. */
  submittedUs: number;
  /** When its first kernel was launched. */
  startedUs: number;
  /** When its last kernel finished. */
  finishedUs: number;
  /** How many times the task was preempted (best-effort tasks only). */
  preemptions: number;
}

/** The outcome of one inference. */
export interface BackendInferResult {
  /** Every output of the model, by name. */
  outputs: Map<string, Tensor>;
  /** When the task ran. */
  timings: InferTimings;
}

/** Scheduler counters read when `/metrics` is scraped. */
export interface BackendStats {
  /** Preemptions since the backend started (a running total). */
  preemptions: number;
  /**
   * Latencies of the preemptions recorded since the previous `stats()` call, in microseconds. The
   * server is the only caller and drains them into a histogram, so the backend keeps no history.
   */
  preemptLatenciesUs: number[];
  /** Tasks waiting or running, per scheduler queue. */
  queueDepths: Record<string, number>;
  /** Stalls of the scheduler's polling loop since the backend started (a running total). */
  loopStalls: number;
}

/** What the inference server needs from the scheduler it serves. */
export interface InferenceBackend {
  /** Device name shown in server metadata. */
  readonly deviceName: string;
  /** True when inferences run on the simulated device (its timings are not GPU results). */
  readonly simulated: boolean;
  /** Every model the backend can serve, loaded or not. */
  models(): ModelStatus[];
  /** Loads a model; rejects with a clear error for unknown models or failed loads. */
  load(name: string): Promise<void>;
  /** Unloads a model; its state becomes "unavailable". */
  unload(name: string): Promise<void>;
  /** The model's interface, or `undefined` for an unknown model. */
  metadata(name: string): ModelMetadata | undefined;
  /** Runs one inference; rejects if the inference fails. */
  infer(request: BackendInferRequest): Promise<BackendInferResult>;
  /** Current scheduler counters (see {@linkcode BackendStats} for the draining rule). */
  stats(): BackendStats;
  /** Releases the device; called once, after the last inference has settled or been abandoned. */
  close(): Promise<void>;
}
