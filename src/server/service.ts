/**
 * The protocol's semantics, shared by the REST and gRPC transports: health, metadata, repository
 * operations, and inference with its checks (model state, tensor names, datatypes, shapes and
 * sizes), per-client queue limits, deadlines, metrics and shutdown draining.
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };
import type {
  BackendInferResult,
  InferenceBackend,
  ModelStatus,
  Priority,
  Tensor,
  TensorMeta,
} from "./backend.ts";
import { InferenceError, toInferenceError } from "./errors.ts";
import type { ServerMetrics } from "./metrics.ts";
import {
  CLIENT_PARAMETER,
  type InferCall,
  type InferReply,
  MODEL_VERSION,
  type ModelMetadataReply,
  type Parameters,
  priorityOf,
  REPOSITORY_STATES,
  type RepositoryEntry,
  type ServerMetadata,
  TIMING_PARAMETERS,
} from "./protocol.ts";
import { checkTensorSize } from "./tensor.ts";

/** Extensions of the protocol the server implements, as listed in server metadata. */
const EXTENSIONS = ["binary_tensor_data", "model_repository", "reef_priority"];

/** Model label used in metrics for requests naming a model the backend does not know. */
const UNKNOWN_MODEL_LABEL = "_unknown_";

/** Admission limits of the service. */
export interface ServiceLimits {
  /** Inference requests one client may have in the scheduler at once. */
  maxQueuedPerClient: number;
}

/** What a transport knows about an inference request besides its contents. */
export interface InferContext {
  /** `performance.now()` when the request arrived. */
  arrivedAt: number;
  /** `performance.now()` after which the request fails with "deadline exceeded". */
  deadline: number;
  /** Client queue named by the transport (header or metadata), if any. */
  clientHint?: string;
  /** Client queue used when neither the request nor the transport names one (the connection). */
  connectionClient: string;
}

interface PendingRequest {
  model: string;
  fail(error: InferenceError): void;
}

/** The transport-independent inference service over one backend. */
export class InferenceService {
  readonly #backend: InferenceBackend;
  readonly #metrics: ServerMetrics;
  readonly #limits: ServiceLimits;
  readonly #pending = new Set<PendingRequest>();
  readonly #queuedPerClient = new Map<string, number>();
  #scheduled = 0;
  #started = false;
  #draining = false;
  #idleWaiters: (() => void)[] = [];

  /** Creates the service; it reports not ready until {@linkcode InferenceService.markStarted}. */
  constructor(backend: InferenceBackend, metrics: ServerMetrics, limits: ServiceLimits) {
    this.#backend = backend;
    this.#metrics = metrics;
    this.#limits = limits;
    metrics.setInflight(0);
  }

  /** Marks startup (loading the configured models) as done. */
  markStarted(): void {
    this.#started = true;
  }

  /** Liveness: the process answers requests. */
  live(): boolean {
    return true;
  }

  /** Readiness: started and not shutting down. */
  ready(): boolean {
    return this.#started && !this.#draining;
  }

  /** Server metadata, with the device the backend runs on. */
  serverMetadata(): ServerMetadata & { device: string; simulated: boolean } {
    return {
      name: "reef",
      version: denoConfig.version,
      extensions: [...EXTENSIONS],
      device: this.#backend.deviceName,
      simulated: this.#backend.simulated,
    };
  }

  /** Whether a model is ready; throws "not found" for an unknown model or version. */
  modelReady(name: string, version?: string): boolean {
    return this.#status(name, version).state === "ready";
  }

  /** A model's metadata; throws "not found" for an unknown model or version. */
  modelMetadata(name: string, version?: string): ModelMetadataReply {
    this.#status(name, version);
    const meta = this.#metadata(name);
    return {
      name: meta.name,
      versions: [MODEL_VERSION],
      platform: meta.platform,
      inputs: meta.inputs.map(copyMeta),
      outputs: meta.outputs.map(copyMeta),
    };
  }

  /** The repository index: every model, or only the ready ones. */
  repositoryIndex(readyOnly: boolean): RepositoryEntry[] {
    return this.#backend.models()
      .filter((model) => !readyOnly || model.state === "ready")
      .map((model) => ({
        name: model.name,
        version: MODEL_VERSION,
        state: REPOSITORY_STATES[model.state],
        ...(model.reason === undefined ? {} : { reason: model.reason }),
      }));
  }

  /** Loads a model of the repository; throws "not found" for an unknown one. */
  async load(name: string): Promise<void> {
    this.#refuseWhileDraining(`Loading model "${name}"`);
    this.#status(name);
    try {
      await this.#backend.load(name);
    } catch (error) {
      throw toInferenceError(error, `Loading model "${name}"`);
    }
  }

  /** Unloads a model of the repository; throws "not found" for an unknown one. */
  async unload(name: string): Promise<void> {
    this.#refuseWhileDraining(`Unloading model "${name}"`);
    this.#status(name);
    try {
      await this.#backend.unload(name);
    } catch (error) {
      throw toInferenceError(error, `Unloading model "${name}"`);
    }
  }

  /**
   * Runs one inference: checks the request against the model, admits it under the client's queue
   * limit, waits for the backend until the deadline, and returns the requested outputs with REEF's
   * timings as response parameters. Every outcome is counted in the metrics.
   */
  async infer(call: InferCall, context: InferContext): Promise<InferReply> {
    let priority: Priority = "be";
    try {
      this.#refuseWhileDraining(`Inference request for model "${call.model}"`);
      priority = priorityOf(call.parameters);
      const reply = await this.#infer(call, priority, context);
      this.#record(call.model, priority, "success", context.arrivedAt);
      return reply;
    } catch (error) {
      this.#record(call.model, priority, "failure", context.arrivedAt);
      throw toInferenceError(error, `Inference of model "${call.model}"`);
    }
  }

  /** Counts an inference request that failed in the transport, before reaching the service. */
  recordRejected(model: string, parameters: Parameters | undefined, arrivedAt: number): void {
    let priority: Priority = "be";
    try {
      if (parameters !== undefined) priority = priorityOf(parameters);
    } catch {
      // A bad priority is why some requests are rejected; they are counted as best-effort.
    }
    this.#record(model, priority, "failure", arrivedAt);
  }

  /** The metrics document, with a fresh snapshot of the backend's counters. */
  metricsText(): string {
    return this.#metrics.render(this.#backend.stats());
  }

  /** Starts shutting down: readiness turns false and new requests are refused. */
  beginDrain(): void {
    this.#draining = true;
  }

  /** Resolves once no inference request is waiting for the backend. */
  whenIdle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Fails every request still waiting for the backend, telling its client the server stopped. */
  abortPending(): void {
    for (const request of [...this.#pending]) {
      request.fail(
        new InferenceError(
          "unavailable",
          `Server shut down before the inference of model "${request.model}" finished`,
        ),
      );
    }
  }

  async #infer(call: InferCall, priority: Priority, context: InferContext): Promise<InferReply> {
    const status = this.#status(call.model, call.version);
    if (status.state !== "ready") {
      const why = status.reason === undefined ? "" : ` (${status.reason})`;
      throw new InferenceError(
        "unavailable",
        status.state === "loading"
          ? `Model "${call.model}" is loading; retry when it is ready`
          : `Model "${call.model}" is not loaded${why}; load it through the repository API`,
      );
    }
    const meta = this.#metadata(call.model);
    const inputs = checkInputs(call, meta.inputs);
    const outputNames = selectOutputs(call, meta.outputs);
    const client = this.#clientOf(call.parameters, context);

    const queued = this.#queuedPerClient.get(client) ?? 0;
    if (queued >= this.#limits.maxQueuedPerClient) {
      throw new InferenceError(
        "resource_exhausted",
        `Client "${client}" already has ${queued} queued inference requests (limit ${this.#limits.maxQueuedPerClient})`,
      );
    }
    const remainingMs = context.deadline - performance.now();
    if (remainingMs <= 0) throw deadlineError(call.model);

    this.#queuedPerClient.set(client, queued + 1);
    this.#setScheduled(+1);
    let task: Promise<BackendInferResult>;
    try {
      task = this.#backend.infer({
        model: call.model,
        inputs,
        priority,
        client,
        deadlineMs: remainingMs,
      });
    } catch (error) {
      // A backend that throws instead of rejecting must still give the queue slot back.
      task = Promise.reject(error);
    }
    // The backend cannot cancel a task, so the client's queue slot is held until the task
    // itself settles, even when the request has already failed on its deadline.
    const release = () => {
      const left = (this.#queuedPerClient.get(client) ?? 1) - 1;
      if (left === 0) this.#queuedPerClient.delete(client);
      else this.#queuedPerClient.set(client, left);
      this.#setScheduled(-1);
    };
    task.then(release, release);

    const result = await this.#awaitTask(call.model, task, remainingMs);
    const outputs: Tensor[] = outputNames.map((name) => {
      const tensor = result.outputs.get(name);
      if (tensor === undefined) {
        throw new InferenceError(
          "internal",
          `Backend returned no output "${name}" for model "${call.model}"`,
        );
      }
      try {
        checkTensorSize(`Output "${name}" of model "${call.model}"`, tensor);
      } catch (error) {
        throw new InferenceError(
          "internal",
          `Backend returned a malformed tensor: ${(error as Error).message}`,
        );
      }
      return tensor;
    });
    const { timings } = result;
    return {
      model: call.model,
      version: MODEL_VERSION,
      ...(call.id === undefined ? {} : { id: call.id }),
      parameters: {
        [TIMING_PARAMETERS.submittedUs]: timings.submittedUs,
        [TIMING_PARAMETERS.startedUs]: timings.startedUs,
        [TIMING_PARAMETERS.finishedUs]: timings.finishedUs,
        [TIMING_PARAMETERS.preemptions]: timings.preemptions,
      },
      outputs,
    };
  }

  /** Waits for a backend task, failing at the deadline or when shutdown aborts pending requests. */
  #awaitTask<T>(model: string, task: Promise<T>, remainingMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: PendingRequest = {
        model,
        fail: (error) => settle(() => reject(error)),
      };
      const timer = setTimeout(() => pending.fail(deadlineError(model)), remainingMs);
      const settle = (finish: () => void) => {
        if (!this.#pending.delete(pending)) return;
        clearTimeout(timer);
        finish();
        if (this.#pending.size === 0) {
          for (const wake of this.#idleWaiters.splice(0)) wake();
        }
      };
      this.#pending.add(pending);
      task.then(
        (value) => settle(() => resolve(value)),
        (error) => settle(() => reject(toInferenceError(error, `Inference of model "${model}"`))),
      );
    });
  }

  #clientOf(parameters: Parameters, context: InferContext): string {
    const named = parameters[CLIENT_PARAMETER];
    if (named !== undefined) {
      if (typeof named !== "string" || named === "") {
        throw new InferenceError(
          "invalid_argument",
          `Parameter "${CLIENT_PARAMETER}" must be a non-empty string, got ${
            JSON.stringify(named)
          }`,
        );
      }
      return named;
    }
    return context.clientHint || context.connectionClient;
  }

  #status(name: string, version?: string): ModelStatus {
    const status = this.#backend.models().find((model) => model.name === name);
    if (status === undefined) {
      throw new InferenceError("not_found", `Unknown model "${name}"`);
    }
    if (version !== undefined && version !== "" && version !== MODEL_VERSION) {
      throw new InferenceError(
        "not_found",
        `Model "${name}" has no version "${version}" (only "${MODEL_VERSION}")`,
      );
    }
    return status;
  }

  #metadata(name: string) {
    const meta = this.#backend.metadata(name);
    if (meta === undefined) {
      throw new InferenceError("not_found", `Model "${name}" has no metadata`);
    }
    return meta;
  }

  #refuseWhileDraining(what: string): void {
    if (this.#draining) {
      throw new InferenceError("unavailable", `${what} refused: the server is shutting down`);
    }
  }

  #setScheduled(delta: number): void {
    this.#scheduled += delta;
    this.#metrics.setInflight(this.#scheduled);
  }

  #record(model: string, priority: Priority, outcome: "success" | "failure", arrivedAt: number) {
    const known = this.#backend.models().some((entry) => entry.name === model);
    this.#metrics.recordRequest(
      known ? model : UNKNOWN_MODEL_LABEL,
      priority,
      outcome,
      (performance.now() - arrivedAt) / 1000,
    );
  }
}

function deadlineError(model: string): InferenceError {
  return new InferenceError(
    "deadline_exceeded",
    `Inference of model "${model}" did not finish before the request deadline`,
  );
}

function copyMeta(meta: TensorMeta): TensorMeta {
  return { name: meta.name, datatype: meta.datatype, shape: [...meta.shape] };
}

/** Checks the request's inputs against the model's: names, datatypes, shapes and byte sizes. */
function checkInputs(call: InferCall, expected: readonly TensorMeta[]): Map<string, Tensor> {
  const byName = new Map<string, Tensor>();
  const names = expected.map((meta) => `"${meta.name}"`).join(", ");
  for (const tensor of call.inputs) {
    const what = `Input "${tensor.name}" of model "${call.model}"`;
    if (byName.has(tensor.name)) {
      throw new InferenceError("invalid_argument", `${what} is given more than once`);
    }
    const meta = expected.find((candidate) => candidate.name === tensor.name);
    if (meta === undefined) {
      throw new InferenceError(
        "invalid_argument",
        `Model "${call.model}" has no input "${tensor.name}" (inputs: ${names})`,
      );
    }
    if (tensor.datatype !== meta.datatype) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: datatype must be "${meta.datatype}", got "${tensor.datatype}"`,
      );
    }
    const fits = tensor.shape.length === meta.shape.length &&
      meta.shape.every((dim, i) => dim === -1 || dim === tensor.shape[i]);
    if (!fits) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: shape [${tensor.shape.join(",")}] does not match [${meta.shape.join(",")}]`,
      );
    }
    checkTensorSize(what, tensor);
    byName.set(tensor.name, tensor);
  }
  const missing = expected.filter((meta) => !byName.has(meta.name));
  if (missing.length > 0) {
    throw new InferenceError(
      "invalid_argument",
      `Inference request for model "${call.model}" lacks input ${
        missing.map((meta) => `"${meta.name}"`).join(", ")
      }`,
    );
  }
  return byName;
}

/** The names of the outputs to return, in the order requested (model order if none named). */
function selectOutputs(call: InferCall, expected: readonly TensorMeta[]): string[] {
  if (call.outputs === undefined || call.outputs.length === 0) {
    return expected.map((meta) => meta.name);
  }
  const seen = new Set<string>();
  for (const { name } of call.outputs) {
    if (!expected.some((meta) => meta.name === name)) {
      throw new InferenceError(
        "invalid_argument",
        `Model "${call.model}" has no output "${name}" (outputs: ${
          expected.map((meta) => `"${meta.name}"`).join(", ")
        })`,
      );
    }
    if (seen.has(name)) {
      throw new InferenceError(
        "invalid_argument",
        `Output "${name}" of model "${call.model}" is requested more than once`,
      );
    }
    seen.add(name);
  }
  return [...seen];
}
