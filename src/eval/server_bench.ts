/**
 * `reef bench server`: what the inference server adds to a request. One model on one device runs
 * sequential requests, as `reef run` sends them, in-process (straight to the scheduler backend),
 * over HTTP/REST and over gRPC (to a server on loopback over that same backend), and the median
 * latency of each path is reported. The three paths alternate in rounds so that drift hits all
 * of them alike. On the simulated device the numbers describe the simulation only: the device
 * name says so, and they are never GPU results.
 * @module
 */

import type { Mode } from "../scheduler/mode.ts";
import type { Priority } from "../server/backend.ts";
import { resolveServeConfig } from "../server/config.ts";
import { type RequestRecord, runClient, type RunTarget } from "../server/run_client.ts";
import { SchedulerBackend } from "../server/scheduler_backend.ts";
import { serve } from "../server/serve.ts";
import { median } from "./metrics.ts";

/** What to measure. */
export interface ServerBenchOptions {
  /** The GPU or the simulated device. */
  device: "gpu" | "sim";
  /** Directory of the model packages. */
  modelDir: string;
  /** The model every request runs. */
  model: string;
  /** The command line that produced the result, stored with it. */
  command: string;
  /** Timed requests per path (default 300), split over the rounds. */
  count?: number;
  /** Alternations of the three paths (default 3). */
  rounds?: number;
  /** Untimed requests per path before the first round (default 20). */
  warmup?: number;
  /** Task class of every request (default "rt": the latency REEF protects). */
  priority?: Priority;
  /** Scheduling mode (default "reef"). */
  mode?: Mode;
}

/** The result file's contents: median request latency per path, in milliseconds. */
export interface ServerBenchResult {
  /** The device; a simulated one says so. */
  device: string;
  command: string;
  model: string;
  inprocess_ms_p50: number;
  http_ms_p50: number;
  grpc_ms_p50: number;
}

/** Measures the three paths; throws if any request fails. */
export async function runServerBench(options: ServerBenchOptions): Promise<ServerBenchResult> {
  const count = options.count ?? 300;
  const rounds = options.rounds ?? 3;
  const warmup = options.warmup ?? 20;
  if (!Number.isSafeInteger(rounds) || rounds < 1) {
    throw new RangeError(`Option "rounds" must be a positive integer, got "${rounds}"`);
  }
  if (!Number.isSafeInteger(count) || count < rounds) {
    throw new RangeError(
      `Option "count" must be an integer of at least "rounds" (${rounds}), got "${count}"`,
    );
  }
  if (!Number.isSafeInteger(warmup) || warmup < 0) {
    throw new RangeError(`Option "warmup" must be a non-negative integer, got "${warmup}"`);
  }
  const mode = options.mode ?? "reef";
  const backend = await SchedulerBackend.open({
    device: options.device,
    modelDir: options.modelDir,
    mode,
  });
  const server = await serve(
    resolveServeConfig({
      host: "127.0.0.1",
      port: 0,
      grpcPort: 0,
      device: options.device,
      mode,
      models: [options.model],
    }),
    backend,
    { signals: false, log: () => {} },
  );
  try {
    const paths: { name: string; target: RunTarget; latencies: number[] }[] = [
      { name: "in-process", target: { backend }, latencies: [] },
      { name: "HTTP", target: { url: server.httpUrl }, latencies: [] },
      { name: "gRPC", target: { grpc: server.grpcAddress }, latencies: [] },
    ];
    const send = async (path: (typeof paths)[number], n: number): Promise<RequestRecord[]> => {
      const { requests } = await runClient({
        target: path.target,
        model: options.model,
        priority: options.priority ?? "rt",
        count: n,
      });
      const failed = requests.find((record) => !record.ok);
      if (failed !== undefined) {
        throw new Error(
          `Server benchmark of model "${options.model}": ${path.name} request ${failed.index} failed: ${failed.error}`,
        );
      }
      return requests;
    };
    if (warmup > 0) { for (const path of paths) await send(path, warmup); }
    for (let round = 0; round < rounds; round++) {
      const n = Math.floor(count / rounds) + (round < count % rounds ? 1 : 0);
      for (const path of paths) {
        path.latencies.push(...(await send(path, n)).map((record) => record.latencyMs));
      }
    }
    const [inprocess, http, grpc] = paths.map((path) => median(path.latencies));
    return {
      device: backend.simulated
        ? `${backend.deviceName} (simulated: not a GPU result)`
        : backend.deviceName,
      command: options.command,
      model: options.model,
      inprocess_ms_p50: inprocess,
      http_ms_p50: http,
      grpc_ms_p50: grpc,
    };
  } finally {
    await server.shutdown();
  }
}
