/**
 * The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, served with
 * `@grpc/grpc-js` on Deno's `node:http2`). Failures carry the gRPC status code of their
 * {@linkcode InferenceError} and its message as details.
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { toInferenceError } from "./errors.ts";
import {
  decodeGrpcInferRequest,
  encodeGrpcInferResponse,
  parametersFromGrpc,
  typedContentsFit,
} from "./grpc_codec.ts";
import {
  type GrpcInferRequest,
  type GrpcModelMetadata,
  type GrpcRepositoryIndex,
  inferenceServiceDefinition,
} from "./grpc_proto.ts";
import { CLIENT_HEADER } from "./protocol.ts";
import type { InferenceService } from "./service.ts";

/** What the gRPC front end needs to know. */
export interface GrpcServerOptions {
  /** Interface to bind. */
  hostname: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Largest request message accepted. */
  maxRequestBytes: number;
  /** Deadline of each call from its arrival (a shorter client deadline wins). */
  requestTimeoutMs: number;
  /** Queue of requests that name no client: one per connection, or one shared "default". */
  clientQueue: "connection" | "shared";
}

/** A started gRPC server and the port it listens on. */
export interface StartedGrpcServer {
  /** The grpc-js server. */
  server: grpc.Server;
  /** The port it listens on. */
  port: number;
}

type UnaryCall<Request> = grpc.ServerUnaryCall<Request, unknown>;

/** Starts the gRPC server; resolves once it listens. */
export async function startGrpcServer(
  service: InferenceService,
  options: GrpcServerOptions,
): Promise<StartedGrpcServer> {
  const server = new grpc.Server({
    // grpc-js refuses a larger message from its length prefix, before buffering it.
    "grpc.max_receive_message_length": options.maxRequestBytes,
  });
  server.addService(inferenceServiceDefinition(), buildHandlers(service, options));
  const host = options.hostname.includes(":") ? `[${options.hostname}]` : options.hostname;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${host}:${options.port}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => error ? reject(error) : resolve(bound),
    );
  });
  return { server, port };
}

function buildHandlers(
  service: InferenceService,
  options: GrpcServerOptions,
): grpc.UntypedServiceImplementation {
  return {
    ServerLive: unary(() => ({ live: service.live() })),
    ServerReady: unary(() => ({ ready: service.ready() })),
    ServerMetadata: unary(() => {
      const { name, version, extensions } = service.serverMetadata();
      return { name, version, extensions };
    }),
    ModelReady: unary((call: UnaryCall<{ name: string; version: string }>) => ({
      ready: service.modelReady(call.request.name, call.request.version),
    })),
    ModelMetadata: unary((call: UnaryCall<{ name: string; version: string }>) => {
      const meta: GrpcModelMetadata = service.modelMetadata(
        call.request.name,
        call.request.version,
      );
      return meta;
    }),
    RepositoryIndex: unary((call: UnaryCall<{ ready: boolean }>) => {
      const index: GrpcRepositoryIndex = {
        models: service.repositoryIndex(call.request.ready).map((entry) => ({
          name: entry.name,
          version: entry.version ?? "",
          state: entry.state,
          reason: entry.reason ?? "",
        })),
      };
      return index;
    }),
    RepositoryModelLoad: unary(async (call: UnaryCall<{ model_name: string }>) => {
      await service.load(call.request.model_name);
      return { model_name: call.request.model_name, isLoaded: true };
    }),
    RepositoryModelUnload: unary(async (call: UnaryCall<{ model_name: string }>) => {
      await service.unload(call.request.model_name);
      return { model_name: call.request.model_name, isUnloaded: true };
    }),
    ModelInfer: unary((call: UnaryCall<GrpcInferRequest>) => infer(service, options, call)),
  };
}

async function infer(
  service: InferenceService,
  options: GrpcServerOptions,
  call: UnaryCall<GrpcInferRequest>,
) {
  const arrivedAt = performance.now();
  let deadline = arrivedAt + options.requestTimeoutMs;
  const clientDeadline = call.getDeadline();
  const clientDeadlineMs = clientDeadline instanceof Date
    ? clientDeadline.getTime()
    : Number(clientDeadline);
  if (Number.isFinite(clientDeadlineMs)) {
    deadline = Math.min(deadline, arrivedAt + (clientDeadlineMs - Date.now()));
  }
  let request;
  try {
    request = decodeGrpcInferRequest(call.request);
  } catch (error) {
    const parameters = parametersFromGrpc(call.request.parameters);
    service.recordRejected(call.request.model_name, parameters, arrivedAt);
    throw error;
  }
  const hint = call.metadata.get(CLIENT_HEADER)[0];
  const reply = await service.infer(request, {
    arrivedAt,
    deadline,
    connectionClient: options.clientQueue === "shared" ? "default" : `grpc:${call.getPeer()}`,
    ...(typeof hint === "string" && hint !== "" ? { clientHint: hint } : {}),
  });
  // Outputs mirror the request's choice; typed contents are impossible for FP16 and BF16.
  const raw = request.raw || !typedContentsFit(reply.outputs);
  return encodeGrpcInferResponse(reply, raw);
}

/** Adapts a function returning a response (or a promise of one) to a unary gRPC handler. */
function unary<Request>(
  handle: (call: UnaryCall<Request>) => unknown,
): grpc.handleUnaryCall<Request, unknown> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handle(call))
      .then(
        (response) => callback(null, response),
        (error) => {
          const failure = toInferenceError(error, `gRPC call ${call.getPath()}`);
          callback({ code: failure.grpcStatus, details: failure.message });
        },
      );
  };
}
