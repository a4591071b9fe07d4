/**
 * `reef run`'s load generator: sends a fixed number of inferences to a server (HTTP or gRPC) or
 * straight to an in-process backend, closed-loop (`concurrency` requests outstanding) or
 * open-loop at a fixed `rate` (capped at `concurrency` outstanding), and returns each request's
 * latency with a summary.
 * @module
 */

import type { InferenceBackend, InferTimings, Priority, Tensor, TensorMeta } from "./backend.ts";
import { ReefClient } from "./client.ts";
import { elementBytes, elementCount, packElements } from "./tensor.ts";

/** Where the inferences go. */
export type RunTarget = { url: string } | { grpc: string } | { backend: InferenceBackend };

/** What to send. */
export interface RunClientOptions {
  /** Where the inferences go. */
  target: RunTarget;
  /** Model to run. */
  model: string;
  /** REEF task class (default "be"). */
  priority?: Priority;
  /** Number of inferences to send. */
  count: number;
  /** Requests per second for open-loop sending; closed-loop when absent. */
  rate?: number;
  /** Requests outstanding at once (default 1). */
  concurrency?: number;
  /** Best-effort queue name (default: the server's per-connection queue; "run-client" locally). */
  client?: string;
  /** Input tensors (default: zeros shaped by the model's metadata, -1 dimensions as 1). */
  inputs?: Tensor[];
  /** Per-request timeout in milliseconds (remote targets). */
  timeoutMs?: number;
}

/** One request as measured by the client. */
export interface RequestRecord {
  /** Position in the run, from 0. */
  index: number;
  /** When it was sent, in milliseconds since the run started. */
  sentMs: number;
  /** Time to its response, in milliseconds. */
  latencyMs: number;
  /** Whether it succeeded. */
  ok: boolean;
  /** Why it failed. */
  error?: string;
  /** The scheduler's timings, when reported. */
  timings?: InferTimings;
}

/** Latency distribution of the successful requests, in milliseconds. */
export interface LatencySummary {
  /** Fastest. */
  min: number;
  /** Arithmetic mean. */
  mean: number;
  /** Median (nearest rank). */
  p50: number;
  /** 90th percentile (nearest rank). */
  p90: number;
  /** 99th percentile (nearest rank). */
  p99: number;
  /** Slowest. */
  max: number;
}

/** What a run achieved. */
export interface RunSummary {
  /** The target: a URL, "grpc://host:port" or "local backend". */
  target: string;
  /** Model run. */
  model: string;
  /** Task class of every request. */
  priority: Priority;
  /** Requests sent. */
  count: number;
  /** Requests that succeeded. */
  succeeded: number;
  /** Requests that failed. */
  failed: number;
  /** Time from the first send to the last response, in milliseconds. */
  durationMs: number;
  /** Successful requests per second over the run. */
  throughput: number;
  /** Absent when no request succeeded. */
  latencyMs?: LatencySummary;
}

/** Every request's record, in index order, and the summary. */
export interface RunResult {
  /** One record per request, by index. */
  requests: RequestRecord[];
  /** Totals and latency distribution. */
  summary: RunSummary;
}

/** Sends the inferences and measures them. */
export async function runClient(options: RunClientOptions): Promise<RunResult> {
  if (!Number.isSafeInteger(options.count) || options.count < 1) {
    throw new RangeError(`Option "count" must be a positive integer, got ${options.count}`);
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`Option "concurrency" must be a positive integer, got ${concurrency}`);
  }
  if (options.rate !== undefined && !(options.rate > 0)) {
    throw new RangeError(`Option "rate" must be a positive number, got ${options.rate}`);
  }
  const priority = options.priority ?? "be";
  const sender = await openSender(options, priority);
  try {
    const inputs = options.inputs ?? zeroInputs(await sender.inputMeta());
    const requests: RequestRecord[] = new Array(options.count);
    const start = performance.now();
    let next = 0;
    const sendOne = async (index: number) => {
      const sentAt = performance.now();
      const record: RequestRecord = { index, sentMs: sentAt - start, latencyMs: 0, ok: false };
      try {
        const timings = await sender.infer(inputs, index);
        record.ok = true;
        if (timings !== undefined) record.timings = timings;
      } catch (error) {
        record.error = (error as Error).message;
      }
      record.latencyMs = performance.now() - sentAt;
      requests[index] = record;
    };
    const worker = async () => {
      while (next < options.count) {
        const index = next++;
        if (options.rate !== undefined) {
          const due = start + (index * 1000) / options.rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        await sendOne(index);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, options.count) }, worker));
    const durationMs = performance.now() - start;
    return {
      requests,
      summary: summarize(sender.name, options.model, priority, requests, durationMs),
    };
  } finally {
    sender.close();
  }
}

interface Sender {
  name: string;
  inputMeta(): Promise<TensorMeta[]>;
  infer(inputs: Tensor[], index: number): Promise<InferTimings | undefined>;
  close(): void;
}

async function openSender(options: RunClientOptions, priority: Priority): Promise<Sender> {
  const { target, model } = options;
  if ("backend" in target) {
    const backend = target.backend;
    const status = backend.models().find((entry) => entry.name === model);
    if (status === undefined) throw new Error(`Unknown model "${model}"`);
    if (status.state !== "ready") await backend.load(model);
    return {
      name: "local backend",
      inputMeta: () => {
        const meta = backend.metadata(model);
        if (meta === undefined) throw new Error(`Model "${model}" has no metadata`);
        return Promise.resolve(meta.inputs);
      },
      infer: async (inputs) => {
        const result = await backend.infer({
          model,
          inputs: new Map(inputs.map((tensor) => [tensor.name, tensor])),
          priority,
          client: options.client ?? "run-client",
        });
        return result.timings;
      },
      close: () => {},
    };
  }
  const client = "url" in target ? ReefClient.http(target.url) : ReefClient.grpc(target.grpc);
  return {
    name: "url" in target ? target.url : `grpc://${target.grpc}`,
    inputMeta: async () => (await client.modelMetadata(model)).inputs,
    infer: async (inputs, index) => {
      const reply = await client.infer(model, inputs, {
        priority,
        id: String(index),
        ...(options.client === undefined ? {} : { client: options.client }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      });
      return reply.timings;
    },
    close: () => client.close(),
  };
}

/** Zero-filled inputs for the model's input metadata; a -1 dimension becomes 1. */
function zeroInputs(metas: readonly TensorMeta[]): Tensor[] {
  return metas.map((meta) => {
    const shape = meta.shape.map((dim) => (dim === -1 ? 1 : dim));
    const size = elementBytes(meta.datatype);
    const count = elementCount(`Input "${meta.name}"`, shape);
    const data = size === undefined
      ? packElements(`Input "${meta.name}"`, meta.datatype, shape, new Array(count).fill(""))
      : new Uint8Array(count * size);
    return { name: meta.name, datatype: meta.datatype, shape, data };
  });
}

function summarize(
  target: string,
  model: string,
  priority: Priority,
  requests: readonly RequestRecord[],
  durationMs: number,
): RunSummary {
  const latencies = requests.filter((record) => record.ok).map((record) => record.latencyMs)
    .sort((a, b) => a - b);
  const summary: RunSummary = {
    target,
    model,
    priority,
    count: requests.length,
    succeeded: latencies.length,
    failed: requests.length - latencies.length,
    durationMs,
    throughput: durationMs > 0 ? (latencies.length * 1000) / durationMs : 0,
  };
  if (latencies.length > 0) {
    summary.latencyMs = {
      min: latencies[0],
      mean: latencies.reduce((sum, value) => sum + value, 0) / latencies.length,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1],
    };
  }
  return summary;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
