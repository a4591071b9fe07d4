/**
 * Configuration of `reef serve`: a JSON config file and command-line flags (flags win), validated
 * with zod so that every error names the file or flag, the field and the value.
 * @module
 */

import { parseArgs } from "node:util";
import { z } from "zod";
import { type Mode, MODES } from "../scheduler/mode.ts";
import { describeIssue, formatPath } from "./validation.ts";

/** Scheduler policies (design.md, "Modes"): the scheduler's own list. */
export const SCHEDULER_MODES = MODES as readonly [Mode, ...Mode[]];

/** A scheduler policy name. */
export type SchedulerMode = Mode;

/** Limits that protect the server from large, slow or too many requests. */
export interface ServeLimits {
  /** Largest request body (REST) or message (gRPC) accepted, in bytes. */
  maxRequestBytes: number;
  /** Inference requests one client may have in the scheduler at once. */
  maxQueuedPerClient: number;
  /** Time from a request's arrival (body reading included) to its response, in milliseconds. */
  requestTimeoutMs: number;
}

/** A complete, validated server configuration. */
export interface ServeConfig {
  /** Interface both listeners bind to (default "127.0.0.1"). */
  host: string;
  /** HTTP/REST port; 0 picks a free one (default 8000). */
  port: number;
  /** gRPC port; 0 picks a free one (default 8001). */
  grpcPort: number;
  /** Models loaded at startup; the server is ready once they all are (default none). */
  models: string[];
  /** Where inferences run: the GPU or the simulated device (default "gpu"). */
  device: "gpu" | "sim";
  /** Scheduler policy (default "reef"). */
  mode: SchedulerMode;
  /** Best-effort kernels in flight per device stream, REEF's device-queue capacity (default 2). */
  deviceQueueDepth: number;
  /**
   * Which client queue a request without a `client` parameter or `reef-client` header joins: one
   * per connection, or one shared queue named "default" (default "connection").
   */
  clientQueue: "connection" | "shared";
  /** Time in-flight requests get to finish at shutdown before they are failed, ms (default 10000). */
  shutdownGraceMs: number;
  /** Request limits. */
  limits: ServeLimits;
}

/** A configuration with any field left out; defaults fill it. */
export type ServeConfigInput = Partial<Omit<ServeConfig, "limits">> & {
  /** Request limits, any of them left out. */
  limits?: Partial<ServeLimits>;
};

const port = z.number().int().min(0).max(65535);
const positive = z.number().int().min(1);
/** Durations feed `setTimeout`, which fires at once for anything over 2^31 - 1 ms. */
const milliseconds = z.number().int().max(2 ** 31 - 1);

const limitsSchema = z.strictObject({
  maxRequestBytes: positive.default(64 * 1024 * 1024),
  maxQueuedPerClient: positive.default(256),
  requestTimeoutMs: milliseconds.min(1).default(30_000),
});

/** The schema of {@linkcode ServeConfig}; the annotation keeps the two in step. */
const serveConfigSchema: z.ZodType<ServeConfig, ServeConfigInput> = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: port.default(8000),
  grpcPort: port.default(8001),
  models: z.array(z.string().min(1)).default([]),
  device: z.enum(["gpu", "sim"]).default("gpu"),
  mode: z.enum(SCHEDULER_MODES).default("reef"),
  deviceQueueDepth: positive.default(2),
  clientQueue: z.enum(["connection", "shared"]).default("connection"),
  shutdownGraceMs: milliseconds.min(0).default(10_000),
  limits: limitsSchema.prefault({}),
});

/** A configuration that could not be read or is invalid; the CLI reports it as a usage error. */
export class ConfigError extends Error {
  /** Creates a configuration error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** The configuration field (dotted path) and value kind behind each flag. */
const FLAGS: Record<string, { field: string; kind: "string" | "integer" | "list" }> = {
  "host": { field: "host", kind: "string" },
  "port": { field: "port", kind: "integer" },
  "grpc-port": { field: "grpcPort", kind: "integer" },
  "model": { field: "models", kind: "list" },
  "device": { field: "device", kind: "string" },
  "mode": { field: "mode", kind: "string" },
  "device-queue-depth": { field: "deviceQueueDepth", kind: "integer" },
  "client-queue": { field: "clientQueue", kind: "string" },
  "shutdown-grace-ms": { field: "shutdownGraceMs", kind: "integer" },
  "max-request-bytes": { field: "limits.maxRequestBytes", kind: "integer" },
  "max-queued-per-client": { field: "limits.maxQueuedPerClient", kind: "integer" },
  "request-timeout-ms": { field: "limits.requestTimeoutMs", kind: "integer" },
};

/** Usage text for the flags {@linkcode parseServeArgs} accepts. */
export const SERVE_FLAGS_HELP = `Options:
  --config <file>                 JSON config file (fields as below, camelCase; flags override it)
  --host <addr>                   interface to bind (default 127.0.0.1)
  --port <n>                      HTTP/REST port, 0 for any free port (default 8000)
  --grpc-port <n>                 gRPC port, 0 for any free port (default 8001)
  --model <name>                  model to load at startup; repeat or separate with commas
  --device gpu|sim                run on the GPU or the simulated device (default gpu)
  --mode <mode>                   ${SCHEDULER_MODES.join("|")} (default reef)
  --device-queue-depth <n>        best-effort kernels in flight per stream (default 2)
  --client-queue connection|shared  queue of requests that name no client (default connection)
  --shutdown-grace-ms <n>         time in-flight requests get at shutdown (default 10000)
  --max-request-bytes <n>         largest request accepted (default 67108864)
  --max-queued-per-client <n>     requests one client may have queued (default 256)
  --request-timeout-ms <n>        request deadline from arrival (default 30000)`;

/**
 * Validates a configuration object and fills defaults. `source` names where it came from in
 * errors (a file path, or "config").
 */
export function resolveServeConfig(input: unknown, source = "config"): ServeConfig {
  const parsed = serveConfigSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(`Invalid ${source}: ${describeIssue(parsed.error)}`);
  }
  return parsed.data;
}

/** Reads and validates a JSON config file. */
export async function loadServeConfigFile(path: string): Promise<ServeConfig> {
  return resolveServeConfig(await readJsonFile(path), `config "${path}"`);
}

/**
 * Builds the configuration from `reef serve` arguments: the `--config` file if given, overridden
 * by flags. Throws {@linkcode ConfigError} naming the flag, file and field at fault.
 */
export async function parseServeArgs(args: readonly string[]): Promise<ServeConfig> {
  let values: Record<string, string | string[] | undefined>;
  try {
    const options = Object.fromEntries(
      Object.entries(FLAGS).map(([flag, { kind }]) => [
        flag,
        { type: "string" as const, multiple: kind === "list" },
      ]),
    );
    ({ values } = parseArgs({
      args: [...args],
      options: { ...options, config: { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(`Invalid arguments: ${(error as Error).message}`, { cause: error });
  }

  const configPath = values.config as string | undefined;
  const base: Record<string, unknown> = configPath === undefined ? {} : {
    ...await loadServeConfigFile(configPath),
  };
  const merged = structuredClone(base);
  for (const [flag, { field, kind }] of Object.entries(FLAGS)) {
    const raw = values[flag];
    if (raw === undefined) continue;
    setField(merged, field, flagValue(flag, kind, raw));
  }
  const parsed = serveConfigSchema.safeParse(merged, { reportInput: true });
  if (!parsed.success) {
    const field = formatPath(parsed.error.issues[0].path);
    const flag = Object.entries(FLAGS).find(([, spec]) =>
      field === spec.field || field.startsWith(`${spec.field}[`)
    )?.[0];
    const detail = describeIssue(parsed.error);
    throw new ConfigError(
      flag === undefined ? `Invalid config: ${detail}` : `Invalid flag "--${flag}": ${detail}`,
    );
  }
  return parsed.data;
}

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`Cannot read config "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `Cannot load config "${path}": invalid JSON (${(error as Error).message})`,
      {
        cause: error,
      },
    );
  }
}

function flagValue(flag: string, kind: string, raw: string | string[]): unknown {
  if (kind === "list") {
    return (raw as string[]).flatMap((entry) => entry.split(",")).map((name) => name.trim());
  }
  const text = raw as string;
  if (kind === "string") return text;
  if (!/^-?\d+$/.test(text.trim())) {
    throw new ConfigError(`Invalid flag "--${flag}": must be an integer, got "${text}"`);
  }
  return Number(text);
}

function setField(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const child = node[key];
    node = typeof child === "object" && child !== null
      ? child as Record<string, unknown>
      : (node[key] = {}) as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}
