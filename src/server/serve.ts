/**
 * `reef serve`: starts the HTTP/REST and gRPC front ends over one backend, loads the configured
 * models, and shuts down gracefully on SIGINT or SIGTERM (or {@linkcode ReefServer.shutdown}):
 * the listeners stop accepting connections and new requests are refused, in-flight inferences
 * get `shutdownGraceMs` to finish and are then failed with "unavailable", connections close, and
 * the backend is closed. A second signal skips the grace period. After a signal the process
 * exits 0 by itself once everything is closed; if an HTTP client stalled mid-upload keeps its
 * connection open (Deno.serve cannot cut it), the process exits 0 explicitly 1 s later.
 * @module
 */

import type { InferenceBackend } from "./backend.ts";
import type { ServeConfig } from "./config.ts";
import { type StartedGrpcServer, startGrpcServer } from "./grpc_server.ts";
import { startHttpServer } from "./http_server.ts";
import { ServerMetrics } from "./metrics.ts";
import { InferenceService } from "./service.ts";

/**
 * How long, once every in-flight request has its response, the listeners get to close their
 * connections before gRPC streams are cut and lingering HTTP connections are left behind.
 */
const CLOSE_TIMEOUT_MS = 1000;

/** How `serve` runs, besides its configuration. */
export interface ServeOptions {
  /** Shut down on SIGINT and SIGTERM (default true). Tests that stop the server turn it off. */
  signals?: boolean;
  /** Receives progress lines (default: standard error). */
  log?: (line: string) => void;
}

/** A running server. */
export interface ReefServer {
  /** Base URL of the HTTP/REST front end, e.g. `http://127.0.0.1:8000`. */
  readonly httpUrl: string;
  /** Address of the gRPC front end, e.g. `127.0.0.1:8001`. */
  readonly grpcAddress: string;
  /** Settles when shutdown has finished (rejects if closing the backend failed). */
  readonly finished: Promise<void>;
  /** Shuts down (see the module documentation); calling it again returns the same promise. */
  shutdown(): Promise<void>;
}

/**
 * Serves `backend` as configured. Resolves once both front ends listen and the configured models
 * are loaded (health and metadata are answered while they load); rejects, after closing
 * everything, if a listener cannot start or a model cannot be loaded.
 */
export async function serve(
  config: ServeConfig,
  backend: InferenceBackend,
  options: ServeOptions = {},
): Promise<ReefServer> {
  const log = options.log ?? ((line: string) => console.error(line));
  const service = new InferenceService(backend, new ServerMetrics(), {
    maxQueuedPerClient: config.limits.maxQueuedPerClient,
  });
  const uploads = new AbortController();
  const common = {
    hostname: config.host,
    maxRequestBytes: config.limits.maxRequestBytes,
    requestTimeoutMs: config.limits.requestTimeoutMs,
    clientQueue: config.clientQueue,
  };
  let http: Deno.HttpServer<Deno.NetAddr>;
  try {
    http = startHttpServer(service, {
      ...common,
      port: config.port,
      shutdownSignal: uploads.signal,
    });
  } catch (error) {
    await backend.close();
    throw new Error(
      `Cannot start the HTTP server on ${config.host}:${config.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let grpc: StartedGrpcServer;
  try {
    grpc = await startGrpcServer(service, { ...common, port: config.grpcPort });
  } catch (error) {
    await http.shutdown();
    await backend.close();
    throw new Error(
      `Cannot start the gRPC server on ${config.host}:${config.grpcPort}: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }

  let forceNow: () => void = () => {};
  const forced = new Promise<void>((resolve) => (forceNow = resolve));
  let stopping: Promise<{ lingering: boolean }> | undefined;
  const finished = Promise.withResolvers<void>();
  // Callers may never await `finished`; its failure is also reported by `shutdown()` itself.
  finished.promise.catch(() => {});
  const signals: Deno.Signal[] = options.signals === false ? [] : ["SIGINT", "SIGTERM"];
  const onSignal = () => {
    if (stopping !== undefined) {
      log("reef serve: second signal, failing in-flight requests now");
      forceNow();
      return;
    }
    log("reef serve: shutting down");
    stop().then(
      // A stalled client's connection would keep the process alive: exit without it.
      ({ lingering }) => lingering && Deno.exit(0),
      (error) => {
        log(`reef serve: shutdown failed: ${(error as Error).message}`);
        Deno.exit(1);
      },
    );
  };
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);

  const stop = () => {
    stopping ??= (async () => {
      service.beginDrain();
      uploads.abort();
      // Both listeners close now; their open requests and connections are waited for below.
      const httpClosed = http.shutdown();
      const grpcClosed = new Promise<void>((resolve) => grpc.server.tryShutdown(() => resolve()));
      await settlesWithin(Promise.race([service.whenIdle(), forced]), config.shutdownGraceMs);
      service.abortPending();
      const [httpDone, grpcDone] = await Promise.all([
        settlesWithin(httpClosed, CLOSE_TIMEOUT_MS),
        settlesWithin(grpcClosed, CLOSE_TIMEOUT_MS),
      ]);
      if (!grpcDone) grpc.server.forceShutdown();
      if (!httpDone) {
        // Deno.serve keeps a connection whose request body never completed, and offers no way
        // to cut it once shutdown has begun.
        log(
          `reef serve: HTTP connections still open ${CLOSE_TIMEOUT_MS} ms after the last response (a client stopped mid-upload); not waiting for them`,
        );
      }
      for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
      await backend.close();
      log("reef serve: stopped");
      return { lingering: !httpDone };
    })();
    stopping.then(() => finished.resolve(), finished.reject);
    return stopping;
  };
  const shutdown = async (): Promise<void> => {
    await stop();
  };

  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host;
  const server: ReefServer = {
    httpUrl: `http://${hostForUrl}:${http.addr.port}`,
    grpcAddress: `${hostForUrl}:${grpc.port}`,
    finished: finished.promise,
    shutdown,
  };

  for (const model of config.models) {
    try {
      await service.load(model);
    } catch (error) {
      await shutdown();
      throw new Error(`Cannot start: ${(error as Error).message}`, { cause: error });
    }
  }
  service.markStarted();
  const device = `${backend.deviceName}${backend.simulated ? " (simulated)" : ""}`;
  log(`reef serve: HTTP on ${server.httpUrl}, gRPC on ${server.grpcAddress}, device ${device}`);
  return server;
}

/** Whether `promise` settles within `ms` milliseconds (the timer is cleared either way). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    promise.then(() => true, () => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}
