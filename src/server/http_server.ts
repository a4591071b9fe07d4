/**
 * The Open Inference Protocol over HTTP/REST (`Deno.serve`): health, server and model metadata,
 * model readiness, inference (JSON and binary tensor data), the model repository extension and
 * Prometheus metrics. Errors use the protocol's `{"error": "..."}` body.
 * @module
 */

import { InferenceError, toInferenceError } from "./errors.ts";
import { readBody } from "./http_body.ts";
import { CLIENT_HEADER, type Parameters } from "./protocol.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";
import {
  decodeInferRequest,
  encodeInferResponse,
  errorBody,
  HEADER_LENGTH_HEADER,
  parseHeaderLength,
  parseJsonBody,
} from "./rest_codec.ts";
import type { InferContext, InferenceService } from "./service.ts";

/** What the HTTP front end needs to know. */
export interface HttpServerOptions {
  /** Interface to bind. */
  hostname: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Largest request body accepted. */
  maxRequestBytes: number;
  /** Deadline of each request from its arrival, body reading included. */
  requestTimeoutMs: number;
  /** Queue of requests that name no client: one per connection, or one shared "default". */
  clientQueue: "connection" | "shared";
  /** Aborted at shutdown, to fail requests still receiving their body. */
  shutdownSignal: AbortSignal;
}

type Handler = (request: Request, context: RequestContext) => Promise<Response> | Response;

interface RequestContext {
  arrivedAt: number;
  deadline: number;
  connectionClient: string;
  params: string[];
}

interface Route {
  /** Path segments after decoding; "*" matches any one segment, which becomes a parameter. */
  pattern: string[];
  method: "GET" | "POST";
  handle: Handler;
}

/** Starts the HTTP server; it is listening when this returns. */
export function startHttpServer(
  service: InferenceService,
  options: HttpServerOptions,
): Deno.HttpServer<Deno.NetAddr> {
  const handler = createHttpHandler(service, options);
  return Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
    onError: (error) => errorResponse(toInferenceError(error, "Handling the request")),
  }, handler);
}

function createHttpHandler(
  service: InferenceService,
  options: HttpServerOptions,
): (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response> {
  const routes = buildRoutes(service, options);
  return async (request, info) => {
    const arrivedAt = performance.now();
    const url = new URL(request.url);
    let segments: string[];
    try {
      segments = url.pathname.split("/").filter((part) => part !== "").map(decodeURIComponent);
    } catch {
      return errorResponse(
        new InferenceError("invalid_argument", `Malformed URL path "${url.pathname}"`),
      );
    }
    const matching = routes.filter((route) => matchParams(route.pattern, segments) !== undefined);
    if (matching.length === 0) {
      return errorResponse(
        new InferenceError("not_found", `No endpoint at "${url.pathname}"`),
      );
    }
    const route = matching.find((candidate) => candidate.method === request.method);
    if (route === undefined) {
      const allowed = matching.map((candidate) => candidate.method).join(", ");
      return new Response(
        errorBody(`Method ${request.method} is not allowed on "${url.pathname}" (use ${allowed})`),
        { status: 405, headers: { "content-type": "application/json", allow: allowed } },
      );
    }
    const connectionClient = options.clientQueue === "shared"
      ? "default"
      : `http:${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    try {
      return await route.handle(request, {
        arrivedAt,
        deadline: arrivedAt + options.requestTimeoutMs,
        connectionClient,
        params: matchParams(route.pattern, segments) as string[],
      });
    } catch (error) {
      return errorResponse(toInferenceError(error, `${request.method} ${url.pathname}`));
    }
  };
}

function buildRoutes(service: InferenceService, options: HttpServerOptions): Route[] {
  const body = (request: Request, context: RequestContext) =>
    readBody(request, {
      maxBytes: options.maxRequestBytes,
      deadline: context.deadline,
      signal: options.shutdownSignal,
    });
  const modelReady = (name: string, version?: string) => {
    const ready = service.modelReady(name, version);
    return json(ready ? 200 : 503, { name, ready });
  };
  const metadata = (name: string, version?: string) =>
    json(200, service.modelMetadata(name, version));
  const infer = async (
    request: Request,
    context: RequestContext,
    model: string,
    version?: string,
  ): Promise<Response> => {
    let parameters: Parameters | undefined;
    let reachedService = false;
    try {
      const bytes = await body(request, context);
      const headerLength = parseHeaderLength(
        request.headers.get(HEADER_LENGTH_HEADER),
        bytes.byteLength,
      );
      const call = decodeInferRequest(model, version, bytes, headerLength);
      parameters = call.parameters;
      const inferContext: InferContext = {
        arrivedAt: context.arrivedAt,
        deadline: context.deadline,
        connectionClient: context.connectionClient,
        ...(request.headers.has(CLIENT_HEADER)
          ? { clientHint: request.headers.get(CLIENT_HEADER) as string }
          : {}),
      };
      reachedService = true;
      const reply = await service.infer(call, inferContext);
      const encoded = encodeInferResponse(reply, call.outputs, call.binaryOutputs);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (encoded.headerLength !== undefined) {
        headers["content-type"] = "application/octet-stream";
        headers[HEADER_LENGTH_HEADER] = String(encoded.headerLength);
      }
      return new Response(encoded.body, { status: 200, headers });
    } catch (error) {
      if (!reachedService) service.recordRejected(model, parameters, context.arrivedAt);
      throw error;
    }
  };
  const repositoryChange = async (
    request: Request,
    context: RequestContext,
    change: (name: string) => Promise<void>,
  ) => {
    parseJsonBody(await body(request, context), "repository request");
    await change(context.params[0]);
    return new Response(null, { status: 200 });
  };

  return [
    {
      pattern: ["v2"],
      method: "GET",
      handle: () => json(200, service.serverMetadata()),
    },
    {
      pattern: ["v2", "health", "live"],
      method: "GET",
      handle: () => json(service.live() ? 200 : 503, { live: service.live() }),
    },
    {
      pattern: ["v2", "health", "ready"],
      method: "GET",
      handle: () => json(service.ready() ? 200 : 503, { ready: service.ready() }),
    },
    {
      pattern: ["v2", "models", "*"],
      method: "GET",
      handle: (_, { params: [m] }) => metadata(m),
    },
    {
      pattern: ["v2", "models", "*", "versions", "*"],
      method: "GET",
      handle: (_, { params: [m, v] }) => metadata(m, v),
    },
    {
      pattern: ["v2", "models", "*", "ready"],
      method: "GET",
      handle: (_, { params: [m] }) => modelReady(m),
    },
    {
      pattern: ["v2", "models", "*", "versions", "*", "ready"],
      method: "GET",
      handle: (_, { params: [m, v] }) => modelReady(m, v),
    },
    {
      pattern: ["v2", "models", "*", "infer"],
      method: "POST",
      handle: (request, context) => infer(request, context, context.params[0]),
    },
    {
      pattern: ["v2", "models", "*", "versions", "*", "infer"],
      method: "POST",
      handle: (request, context) => infer(request, context, context.params[0], context.params[1]),
    },
    {
      pattern: ["v2", "repository", "index"],
      method: "POST",
      handle: async (request, context) => {
        const query = parseJsonBody(await body(request, context), "repository index request");
        const ready = typeof query === "object" && query !== null && "ready" in query
          ? query.ready
          : false;
        if (typeof ready !== "boolean") {
          throw new InferenceError(
            "invalid_argument",
            `Invalid repository index request: field "ready" must be a boolean, got ${
              JSON.stringify(ready)
            }`,
          );
        }
        return json(200, service.repositoryIndex(ready));
      },
    },
    {
      pattern: ["v2", "repository", "models", "*", "load"],
      method: "POST",
      handle: (request, context) =>
        repositoryChange(request, context, (name) => service.load(name)),
    },
    {
      pattern: ["v2", "repository", "models", "*", "unload"],
      method: "POST",
      handle: (request, context) =>
        repositoryChange(request, context, (name) => service.unload(name)),
    },
    {
      pattern: ["metrics"],
      method: "GET",
      handle: () =>
        new Response(service.metricsText(), {
          headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
        }),
    },
  ];
}

function matchParams(pattern: readonly string[], segments: readonly string[]) {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (const [i, part] of pattern.entries()) {
    if (part === "*") params.push(segments[i]);
    else if (part !== segments[i]) return undefined;
  }
  return params;
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function errorResponse(error: InferenceError): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  // The body of a refused upload may still be arriving; closing keeps it off the next request.
  if (error.kind === "payload_too_large" || error.kind === "request_timeout") {
    headers.connection = "close";
  }
  return new Response(errorBody(error.message), { status: error.httpStatus, headers });
}
