/**
 * A client for reef's Open Inference Protocol server over HTTP/REST or gRPC: health, metadata,
 * model repository operations and inference (binary tensors by default: the REST binary tensor
 * data extension, or gRPC raw contents).
 *
 * ```ts
 * const client = ReefClient.http("http://127.0.0.1:8000");
 * const reply = await client.infer("resnet50", [input], { priority: "rt" });
 * client.close();
 * ```
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { InferTimings, Priority, Tensor } from "./backend.ts";
import { GrpcStatus } from "./errors.ts";
import { decodeGrpcInferResponse, encodeGrpcInferRequest } from "./grpc_codec.ts";
import {
  type GrpcInferResponse,
  type GrpcModelMetadata,
  type GrpcRepositoryIndex,
  inferenceServiceDefinition,
} from "./grpc_proto.ts";
import {
  CLIENT_PARAMETER,
  type InferCall,
  type InferReply,
  type ModelMetadataReply,
  type Parameters,
  PRIORITY_PARAMETER,
  type RepositoryEntry,
  type ServerMetadata,
  TIMING_PARAMETERS,
} from "./protocol.ts";
import {
  decodeInferResponse,
  encodeInferRequest,
  HEADER_LENGTH_HEADER,
  parseHeaderLength,
} from "./rest_codec.ts";
import { isDatatype } from "./tensor.ts";

/** A request the server refused or that could not be completed. */
export class ReefClientError extends Error {
  /** The transport the request used. */
  readonly transport: "http" | "grpc";
  /** HTTP status or gRPC status code; 0 when no response arrived. */
  readonly status: number;

  /** Creates a client error. */
  constructor(
    transport: "http" | "grpc",
    status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ReefClientError";
    this.transport = transport;
    this.status = status;
  }
}

/** Options of one inference. */
export interface InferOptions {
  /** REEF task class (default "be"). */
  priority?: Priority;
  /** Best-effort queue name (default: the server's choice, one queue per connection). */
  client?: string;
  /** Request id, echoed in the response. */
  id?: string;
  /** Outputs to return (default all). */
  outputs?: string[];
  /**
   * Binary tensors both ways (default true). False sends JSON `data` (REST) or typed contents
   * (gRPC), which cannot carry FP16 or BF16 tensors over gRPC.
   */
  binary?: boolean;
  /** Gives up after this many milliseconds. */
  timeoutMs?: number;
  /** Further request parameters. */
  parameters?: Parameters;
}

/** The result of one inference. */
export interface InferResponse {
  /** Model name. */
  model: string;
  /** Model version that ran. */
  version: string;
  /** The request's id, if it had one. */
  id?: string;
  /** Output tensors by name. */
  outputs: Map<string, Tensor>;
  /** The scheduler's timings for this request, when the server reported them. */
  timings?: InferTimings;
  /** All response parameters. */
  parameters: Parameters;
}

/** What both transports implement. */
interface Transport {
  live(): Promise<boolean>;
  ready(): Promise<boolean>;
  serverMetadata(): Promise<ServerMetadata>;
  modelReady(name: string, version?: string): Promise<boolean>;
  modelMetadata(name: string, version?: string): Promise<ModelMetadataReply>;
  repositoryIndex(readyOnly: boolean): Promise<RepositoryEntry[]>;
  load(name: string): Promise<void>;
  unload(name: string): Promise<void>;
  infer(call: InferCall, binary: boolean, timeoutMs?: number): Promise<InferReply>;
  close(): void;
}

/** A client of one server over one transport. Close it when done. */
export class ReefClient {
  readonly #transport: Transport;

  private constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** A client over HTTP/REST, e.g. `ReefClient.http("http://127.0.0.1:8000")`. */
  static http(url: string): ReefClient {
    return new ReefClient(new HttpTransport(url));
  }

  /** A client over gRPC (plaintext), e.g. `ReefClient.grpc("127.0.0.1:8001")`. */
  static grpc(address: string): ReefClient {
    return new ReefClient(new GrpcTransport(address));
  }

  /** Whether the server is live. */
  live(): Promise<boolean> {
    return this.#transport.live();
  }

  /** Whether the server is ready for inference. */
  ready(): Promise<boolean> {
    return this.#transport.ready();
  }

  /** Server name, version and extensions. */
  serverMetadata(): Promise<ServerMetadata> {
    return this.#transport.serverMetadata();
  }

  /** Whether a model is ready; rejects for an unknown model. */
  modelReady(name: string, version?: string): Promise<boolean> {
    return this.#transport.modelReady(name, version);
  }

  /** A model's metadata. */
  modelMetadata(name: string, version?: string): Promise<ModelMetadataReply> {
    return this.#transport.modelMetadata(name, version);
  }

  /** The repository index, optionally only the ready models. */
  repositoryIndex(readyOnly = false): Promise<RepositoryEntry[]> {
    return this.#transport.repositoryIndex(readyOnly);
  }

  /** Loads a model of the server's repository. */
  load(name: string): Promise<void> {
    return this.#transport.load(name);
  }

  /** Unloads a model. */
  unload(name: string): Promise<void> {
    return this.#transport.unload(name);
  }

  /** Runs one inference. */
  async infer(model: string, inputs: Tensor[], options: InferOptions = {}): Promise<InferResponse> {
    const parameters: Parameters = { ...options.parameters };
    if (options.priority !== undefined) parameters[PRIORITY_PARAMETER] = options.priority;
    if (options.client !== undefined) parameters[CLIENT_PARAMETER] = options.client;
    const call: InferCall = {
      model,
      parameters,
      inputs,
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.outputs === undefined
        ? {}
        : { outputs: options.outputs.map((name) => ({ name })) }),
    };
    const reply = await this.#transport.infer(call, options.binary ?? true, options.timeoutMs);
    return {
      model: reply.model,
      version: reply.version,
      ...(reply.id === undefined ? {} : { id: reply.id }),
      outputs: new Map(reply.outputs.map((tensor) => [tensor.name, tensor])),
      ...timingsOf(reply.parameters),
      parameters: reply.parameters,
    };
  }

  /** Releases the client's connections. */
  close(): void {
    this.#transport.close();
  }

  /** Closes the client (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

function timingsOf(parameters: Parameters): { timings?: InferTimings } {
  const read = (name: string) => {
    const value = parameters[name];
    return typeof value === "number" ? value : undefined;
  };
  const submittedUs = read(TIMING_PARAMETERS.submittedUs);
  const startedUs = read(TIMING_PARAMETERS.startedUs);
  const finishedUs = read(TIMING_PARAMETERS.finishedUs);
  const preemptions = read(TIMING_PARAMETERS.preemptions);
  if (
    submittedUs === undefined || startedUs === undefined || finishedUs === undefined ||
    preemptions === undefined
  ) {
    return {};
  }
  return { timings: { submittedUs, startedUs, finishedUs, preemptions } };
}

class HttpTransport implements Transport {
  readonly #base: string;
  readonly #client = Deno.createHttpClient({});

  constructor(url: string) {
    this.#base = url.replace(/\/+$/, "");
  }

  async live() {
    return await this.#health("/v2/health/live");
  }

  async ready() {
    return await this.#health("/v2/health/ready");
  }

  async serverMetadata() {
    const response = await this.#request("GET", "/v2");
    return await this.#json<ServerMetadata>(response);
  }

  async modelReady(name: string, version?: string) {
    return await this.#health(`${modelPath(name, version)}/ready`);
  }

  async modelMetadata(name: string, version?: string) {
    const response = await this.#request("GET", modelPath(name, version));
    return await this.#json<ModelMetadataReply>(response);
  }

  async repositoryIndex(readyOnly: boolean) {
    const response = await this.#request(
      "POST",
      "/v2/repository/index",
      JSON.stringify({ ready: readyOnly }),
    );
    return await this.#json<RepositoryEntry[]>(response);
  }

  async load(name: string) {
    await this.#discard(
      await this.#request("POST", `/v2/repository/models/${encodeURIComponent(name)}/load`),
    );
  }

  async unload(name: string) {
    await this.#discard(
      await this.#request("POST", `/v2/repository/models/${encodeURIComponent(name)}/unload`),
    );
  }

  async infer(call: InferCall, binary: boolean, timeoutMs?: number) {
    const encoded = encodeInferRequest(call, { binaryInputs: binary, binaryOutputs: binary });
    const headers: Record<string, string> = {
      "content-type": encoded.headerLength === undefined
        ? "application/json"
        : "application/octet-stream",
    };
    if (encoded.headerLength !== undefined) {
      headers[HEADER_LENGTH_HEADER] = String(encoded.headerLength);
    }
    const response = await this.#request(
      "POST",
      `${modelPath(call.model, call.version)}/infer`,
      encoded.body,
      headers,
      timeoutMs,
    );
    if (!response.ok) throw await this.#failure(response);
    const body = new Uint8Array(await response.arrayBuffer());
    try {
      return decodeInferResponse(
        body,
        parseHeaderLength(response.headers.get(HEADER_LENGTH_HEADER), body.byteLength),
      );
    } catch (error) {
      throw new ReefClientError(
        "http",
        response.status,
        `Unreadable inference response: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  close() {
    this.#client.close();
  }

  async #request(
    method: string,
    path: string,
    body?: BodyInit,
    headers: Record<string, string> = {},
    timeoutMs?: number,
  ): Promise<Response> {
    try {
      return await fetch(this.#base + path, {
        method,
        body,
        headers,
        client: this.#client,
        ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
      });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      throw new ReefClientError(
        "http",
        0,
        timedOut
          ? `${method} ${path} timed out after ${timeoutMs} ms`
          : `${method} ${this.#base + path} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async #health(path: string): Promise<boolean> {
    const response = await this.#request("GET", path);
    if (response.status === 200 || response.status === 503) {
      await response.body?.cancel();
      return response.status === 200;
    }
    throw await this.#failure(response);
  }

  async #json<T>(response: Response): Promise<T> {
    if (!response.ok) throw await this.#failure(response);
    return await response.json() as T;
  }

  async #discard(response: Response): Promise<void> {
    if (!response.ok) throw await this.#failure(response);
    await response.body?.cancel();
  }

  async #failure(response: Response): Promise<ReefClientError> {
    const text = await response.text();
    let message = text;
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed?.error === "string") message = parsed.error;
    } catch {
      // Not the protocol's JSON error body: report the text as it came.
    }
    return new ReefClientError("http", response.status, `HTTP ${response.status}: ${message}`);
  }
}

function modelPath(name: string, version?: string): string {
  const base = `/v2/models/${encodeURIComponent(name)}`;
  return version === undefined ? base : `${base}/versions/${encodeURIComponent(version)}`;
}

type GrpcMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => void;

let grpcClientClass: grpc.ServiceClientConstructor | undefined;

class GrpcTransport implements Transport {
  readonly #client: grpc.Client;

  constructor(address: string) {
    grpcClientClass ??= grpc.makeClientConstructor(
      inferenceServiceDefinition(),
      "GRPCInferenceService",
    );
    this.#client = new grpcClientClass(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
    });
  }

  async live() {
    return (await this.#call<{ live: boolean }>("ServerLive", {})).live;
  }

  async ready() {
    return (await this.#call<{ ready: boolean }>("ServerReady", {})).ready;
  }

  async serverMetadata() {
    return await this.#call<ServerMetadata>("ServerMetadata", {});
  }

  async modelReady(name: string, version?: string) {
    const reply = await this.#call<{ ready: boolean }>("ModelReady", {
      name,
      version: version ?? "",
    });
    return reply.ready;
  }

  async modelMetadata(name: string, version?: string) {
    const reply = await this.#call<GrpcModelMetadata>("ModelMetadata", {
      name,
      version: version ?? "",
    });
    const tensors = (list: GrpcModelMetadata["inputs"]) =>
      list.map((meta) => {
        if (!isDatatype(meta.datatype)) {
          throw new ReefClientError(
            "grpc",
            GrpcStatus.INTERNAL,
            `Model "${name}" metadata names an unknown datatype "${meta.datatype}"`,
          );
        }
        return { name: meta.name, datatype: meta.datatype, shape: meta.shape.map(Number) };
      });
    return {
      name: reply.name,
      versions: reply.versions,
      platform: reply.platform,
      inputs: tensors(reply.inputs),
      outputs: tensors(reply.outputs),
    };
  }

  async repositoryIndex(readyOnly: boolean) {
    const reply = await this.#call<GrpcRepositoryIndex>("RepositoryIndex", { ready: readyOnly });
    return reply.models.map((entry) => ({
      name: entry.name,
      state: entry.state,
      ...(entry.version === "" ? {} : { version: entry.version }),
      ...(entry.reason === "" ? {} : { reason: entry.reason }),
    }));
  }

  async load(name: string) {
    await this.#call("RepositoryModelLoad", { model_name: name });
  }

  async unload(name: string) {
    await this.#call("RepositoryModelUnload", { model_name: name });
  }

  async infer(call: InferCall, binary: boolean, timeoutMs?: number) {
    const response = await this.#call<GrpcInferResponse>(
      "ModelInfer",
      encodeGrpcInferRequest(call, binary),
      timeoutMs,
    );
    try {
      return decodeGrpcInferResponse(response);
    } catch (error) {
      throw new ReefClientError(
        "grpc",
        GrpcStatus.INTERNAL,
        `Unreadable inference response: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  close() {
    this.#client.close();
  }

  #call<T>(method: string, request: unknown, timeoutMs?: number): Promise<T> {
    const invoke = (this.#client as unknown as Record<string, GrpcMethod>)[method].bind(
      this.#client,
    );
    const options: grpc.CallOptions = timeoutMs === undefined
      ? {}
      : { deadline: Date.now() + timeoutMs };
    return new Promise<T>((resolve, reject) => {
      invoke(request, new grpc.Metadata(), options, (error, response) => {
        if (error === null) {
          resolve(response as T);
          return;
        }
        reject(
          new ReefClientError(
            "grpc",
            error.code,
            `gRPC ${method}: ${grpc.status[error.code] ?? error.code}: ${error.details}`,
            { cause: error },
          ),
        );
      });
    });
  }
}
