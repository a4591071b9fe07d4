/**
 * Benchmark workloads in DISB's form: a named set of clients, each sending inferences of one
 * model at one priority with one arrival process, for a duration.
 *
 * A workload file is JSON:
 * ```json
 * { "name": "A", "duration_s": 30, "clients": [
 *   { "name": "rt-vgg19", "model": "vgg19", "priority": "rt",
 *     "arrival": { "type": "uniform", "rate_per_s": 100 } },
 *   { "name": "be-resnet152", "model": "resnet152", "priority": "be",
 *     "arrival": { "type": "closed_loop", "rate_per_s": 100 } } ] }
 * ```
 * Arrival processes: `uniform` and `poisson` (open loop, `rate_per_s`), `closed_loop` (the next
 * request is sent when one completes; optional `concurrency`, a `rate_per_s` cap and a uniformly
 * drawn `think_time_ms`), and `trace` (`times_ms`, or `file` naming a JSON array or a text file
 * of one time per line, relative to the workload file; optional `repeat_every_ms` and
 * `time_scale`). Every client may start late by `start_offset_ms`. Optional top-level fields:
 * `description`, `seed` (for Poisson arrivals and think times) and `stagger_rt_starts`.
 * @module
 */

import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** A request's priority: real-time (preempts) or best-effort (is preempted). */
export type Priority = "rt" | "be";

/** Open-loop arrivals at a fixed period of 1 / `rate_per_s`. */
export interface UniformArrival {
  type: "uniform";
  rate_per_s: number;
}

/** Open-loop arrivals with exponentially distributed gaps of mean 1 / `rate_per_s`. */
export interface PoissonArrival {
  type: "poisson";
  rate_per_s: number;
}

/** Bounds of a think time drawn uniformly from [min, max) ms. */
export interface ThinkTime {
  min: number;
  max: number;
}

/**
 * Closed-loop arrivals: each of `concurrency` (default 1) outstanding requests is replaced when it
 * completes. With `rate_per_s`, request k is not sent before k / rate (REEF's synchronous periodic
 * client: late requests catch up). With `think_time_ms`, each replacement waits a random delay.
 */
export interface ClosedLoopArrival {
  type: "closed_loop";
  concurrency?: number;
  rate_per_s?: number;
  think_time_ms?: ThinkTime;
}

/** Trace arrivals as written in a workload file: inline times or a file of times. */
export interface TraceArrivalSpec {
  type: "trace";
  times_ms?: number[];
  file?: string;
  repeat_every_ms?: number;
  time_scale?: number;
}

/** Trace arrivals after loading: the times are always present; `file` records where they came from. */
export interface TraceArrival {
  type: "trace";
  times_ms: number[];
  file?: string;
  /** Repeat the pattern every this many ms until the run ends. */
  repeat_every_ms?: number;
  /** Multiplies every time and the repeat period (0.5 plays the trace twice as fast). */
  time_scale?: number;
}

/** Any arrival process of a loaded workload. */
export type Arrival = UniformArrival | PoissonArrival | ClosedLoopArrival | TraceArrival;

/** One client of a loaded workload. */
export interface WorkloadClient {
  name: string;
  model: string;
  priority: Priority;
  arrival: Arrival;
  start_offset_ms?: number;
}

/** A loaded, validated workload. */
export interface Workload {
  name: string;
  description?: string;
  duration_s: number;
  /** Base seed for random arrivals; the runner's seed option overrides it. */
  seed?: number;
  /**
   * Staggers the starts of uniform RT clients of equal rate as REEF's artifact does: client i
   * starts after the standalone latencies of clients 0..i-1 plus i equal gaps that spread the
   * remaining period (see `artifactStaggerOffsetsUs` in the runner).
   */
  stagger_rt_starts?: boolean;
  clients: WorkloadClient[];
}

const positiveNumber = z.number({ error: "must be a number" }).refine(
  (v) => Number.isFinite(v) && v > 0,
  { error: "must be a positive number" },
);
const nonNegativeNumber = z.number({ error: "must be a number" }).refine(
  (v) => Number.isFinite(v) && v >= 0,
  { error: "must be a non-negative number" },
);
const name = z.string({ error: "must be a string" }).min(1, { error: "must not be empty" });

const uniformSchema = z.strictObject({ type: z.literal("uniform"), rate_per_s: positiveNumber });
const poissonSchema = z.strictObject({ type: z.literal("poisson"), rate_per_s: positiveNumber });
const closedLoopSchema = z.strictObject({
  type: z.literal("closed_loop"),
  concurrency: z.number({ error: "must be a number" }).int({ error: "must be an integer" })
    .min(1, { error: "must be at least 1" }).optional(),
  rate_per_s: positiveNumber.optional(),
  think_time_ms: z.strictObject({ min: nonNegativeNumber, max: nonNegativeNumber })
    .refine((t) => t.min <= t.max, { error: "must have min <= max", path: ["max"] })
    .optional(),
});
const traceSchema = z.strictObject({
  type: z.literal("trace"),
  times_ms: z.array(nonNegativeNumber, { error: "must be an array of numbers" }).optional(),
  file: name.optional(),
  repeat_every_ms: positiveNumber.optional(),
  time_scale: positiveNumber.optional(),
}).superRefine((trace, ctx) => {
  if ((trace.times_ms === undefined) === (trace.file === undefined)) {
    ctx.addIssue({ code: "custom", message: 'must have exactly one of "times_ms" and "file"' });
  }
  if (trace.times_ms !== undefined) {
    const issue = checkTraceTimes(trace.times_ms, trace.repeat_every_ms);
    if (issue !== undefined) ctx.addIssue({ code: "custom", path: ["times_ms"], message: issue });
  }
});
const arrivalSchema = z.discriminatedUnion("type", [
  uniformSchema,
  poissonSchema,
  closedLoopSchema,
  traceSchema,
]);
const clientSchema = z.strictObject({
  name,
  model: name,
  priority: z.enum(["rt", "be"]),
  arrival: arrivalSchema,
  start_offset_ms: nonNegativeNumber.optional(),
});
const workloadSchema = z.strictObject({
  name,
  description: z.string({ error: "must be a string" }).optional(),
  duration_s: positiveNumber,
  seed: z.number({ error: "must be a number" }).int({ error: "must be an integer" })
    .min(0, { error: "must be non-negative" }).optional(),
  stagger_rt_starts: z.boolean({ error: "must be true or false" }).optional(),
  clients: z.array(clientSchema, { error: "must be an array of clients" })
    .min(1, { error: "must list at least one client" }),
}).superRefine((workload, ctx) => {
  const seen = new Set<string>();
  workload.clients.forEach((client, i) => {
    if (seen.has(client.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["clients", i, "name"],
        message: `must be unique ("${client.name}" is used twice)`,
      });
    }
    seen.add(client.name);
  });
});

/** The parsed form of a workload file, before trace files are read. */
export type WorkloadSpec = z.infer<typeof workloadSchema>;

/** Returns why trace times are invalid, or undefined if they are valid. */
function checkTraceTimes(times: readonly number[], repeatEveryMs?: number): string | undefined {
  if (times.length === 0) return "must not be empty";
  for (let i = 1; i < times.length; i++) {
    if (times[i] < times[i - 1]) {
      return `must be in non-decreasing order (item ${i} is ${times[i]}, after ${times[i - 1]})`;
    }
  }
  if (repeatEveryMs !== undefined && times[times.length - 1] >= repeatEveryMs) {
    return `must all be less than "repeat_every_ms" (${repeatEveryMs}) when the trace repeats`;
  }
  return undefined;
}

/** Thrown when a workload file or value is invalid; the message names the source and field. */
export class WorkloadError extends Error {
  /** Creates the error; `source` is the file path or the label of an in-memory workload. */
  constructor(readonly source: string, detail: string) {
    super(`Cannot load workload "${source}": ${detail}`);
    this.name = "WorkloadError";
  }
}

/** Formats a zod issue path the way fields are written in source: `clients[1].arrival.type`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const EXPECTED_TYPE: Record<string, string> = {
  array: "an array",
  boolean: "true or false",
  int: "an integer",
  number: "a number",
  object: "an object",
  string: "a string",
};

/** Turns one zod issue into `field "x" must ... (got ...)`. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = issue.path.length === 0 ? "the workload" : `field "${formatPath(issue.path)}"`;
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      return `${where} has unknown ${issue.keys.length > 1 ? "keys" : "key"} ${
        issue.keys.map((k) => `"${k}"`).join(", ")
      }`;
    case "invalid_type":
      if (value === undefined) return `${where} is required`;
      return `${where} must be ${EXPECTED_TYPE[issue.expected] ?? issue.expected} ` +
        `(got ${describeValue(value)})`;
    case "invalid_value":
      return `${where} must be one of ${issue.values.map((v) => `"${String(v)}"`).join(", ")} ` +
        `(got ${describeValue(value)})`;
    case "invalid_union":
      if ("options" in issue && Array.isArray(issue.options)) {
        return `${where} must be one of ${issue.options.map((v) => `"${String(v)}"`).join(", ")} ` +
          `(got ${describeValue(value)})`;
      }
      return `${where} does not match any allowed form (got ${describeValue(value)})`;
    default:
      return value === undefined || typeof value === "object"
        ? `${where} ${issue.message}`
        : `${where} ${issue.message} (got ${describeValue(value)})`;
  }
}

/**
 * Validates a parsed workload value.
 *
 * @param value The parsed JSON.
 * @param source The file path or a label, used in error messages.
 * @returns The workload as written (trace files are not read here; see {@linkcode resolveWorkload}).
 * @throws {WorkloadError} naming the source and every invalid field.
 */
export function parseWorkloadSpec(value: unknown, source: string): WorkloadSpec {
  const result = workloadSchema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => describeIssue(issue, value));
  throw new WorkloadError(source, details.join("; "));
}

/**
 * Parses the text of a trace file: a JSON array of ms, or one number per line (blank lines and
 * lines starting with `#` are ignored).
 */
function parseTraceText(text: string, file: string, source: string): number[] {
  const trimmed = text.trim();
  const isTime = (t: unknown) => typeof t === "number" && Number.isFinite(t) && t >= 0;
  if (trimmed.startsWith("[")) {
    let times: unknown;
    try {
      times = JSON.parse(trimmed);
    } catch (error) {
      throw new WorkloadError(
        source,
        `trace file "${file}" is not valid JSON: ${errorText(error)}`,
      );
    }
    if (!Array.isArray(times)) {
      throw new WorkloadError(source, `trace file "${file}" must hold an array of times in ms`);
    }
    const bad = times.findIndex((t) => !isTime(t));
    if (bad >= 0) {
      throw new WorkloadError(
        source,
        `trace file "${file}" item ${bad} must be a non-negative number (got ${
          describeValue(times[bad])
        })`,
      );
    }
    return times as number[];
  }
  const times: number[] = [];
  for (const [i, raw] of trimmed.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const t = Number(line);
    if (!isTime(t)) {
      throw new WorkloadError(
        source,
        `trace file "${file}" line ${i + 1} must be a non-negative number (got "${line}")`,
      );
    }
    times.push(t);
  }
  return times;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads the trace files a workload names, resolving them relative to `baseDir`, and returns the
 * loaded workload.
 *
 * @param spec A validated workload.
 * @param source The workload's file path or label, for error messages.
 * @param baseDir Where relative trace paths start; undefined forbids trace files.
 */
export async function resolveWorkload(
  spec: WorkloadSpec,
  source: string,
  baseDir?: string,
): Promise<Workload> {
  const clients: WorkloadClient[] = [];
  for (const [i, client] of spec.clients.entries()) {
    const arrival = client.arrival;
    if (arrival.type !== "trace") {
      clients.push({ ...client, arrival });
      continue;
    }
    let times = arrival.times_ms;
    if (times === undefined) {
      const file = arrival.file as string;
      if (baseDir === undefined && !isAbsolute(file)) {
        throw new WorkloadError(
          source,
          `field "clients[${i}].arrival.file" is relative ("${file}") but the workload has no directory`,
        );
      }
      const path = isAbsolute(file) ? file : join(baseDir as string, file);
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (error) {
        throw new WorkloadError(
          source,
          `field "clients[${i}].arrival.file": cannot read "${path}": ${errorText(error)}`,
        );
      }
      times = parseTraceText(text, path, source);
      const issue = checkTraceTimes(times, arrival.repeat_every_ms);
      if (issue !== undefined) {
        throw new WorkloadError(source, `trace file "${path}": times ${issue}`);
      }
    }
    const resolved: TraceArrival = { ...arrival, times_ms: times };
    clients.push({ ...client, arrival: resolved });
  }
  const { clients: _, ...rest } = spec;
  return { ...rest, clients };
}

/**
 * Validates an in-memory workload whose traces are inline (`times_ms`), as the experiment
 * builders make them.
 *
 * @param value The workload, in the file format.
 * @param source A label for error messages.
 * @throws {WorkloadError} when the value is invalid or a trace names a file.
 */
export function defineWorkload(value: unknown, source: string): Workload {
  const spec = parseWorkloadSpec(value, source);
  const clients = spec.clients.map((client, i): WorkloadClient => {
    const arrival = client.arrival;
    if (arrival.type !== "trace") return { ...client, arrival };
    if (arrival.times_ms === undefined) {
      throw new WorkloadError(
        source,
        `field "clients[${i}].arrival.file" is not allowed here: give the times inline`,
      );
    }
    return { ...client, arrival: { ...arrival, times_ms: arrival.times_ms } };
  });
  return { ...spec, clients };
}

/**
 * Loads and validates a workload from a JSON file, reading any trace files it names.
 *
 * @example
 * ```ts
 * const workload = await loadWorkload("evaluation/workloads/A.json");
 * console.log(workload.clients.length);
 * ```
 * @throws {WorkloadError} when the file cannot be read, is not JSON, or is invalid.
 */
export async function loadWorkload(path: string): Promise<Workload> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new WorkloadError(
      path,
      `cannot read the file: ${errorText(error)}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new WorkloadError(
      path,
      `the file is not valid JSON: ${errorText(error)}`,
    );
  }
  return await resolveWorkload(parseWorkloadSpec(value, path), path, dirname(path));
}

/** Names of the built-in DISB workloads, stored in `evaluation/workloads/<name>.json`. */
export const BUILTIN_WORKLOADS = ["A", "B", "C", "D", "E", "REAL"] as const;

/** One of {@linkcode BUILTIN_WORKLOADS}. */
export type BuiltinWorkloadName = typeof BUILTIN_WORKLOADS[number];

/** Directory holding the built-in workload files. */
export const BUILTIN_WORKLOAD_DIR: string = fileURLToPath(
  new URL("../../evaluation/workloads/", import.meta.url),
);

/**
 * Loads a built-in DISB workload (A-E or REAL; see `evaluation/README.md`).
 * @throws {WorkloadError} if the name is unknown.
 */
export async function loadBuiltinWorkload(workloadName: string): Promise<Workload> {
  if (!(BUILTIN_WORKLOADS as readonly string[]).includes(workloadName)) {
    throw new WorkloadError(
      workloadName,
      `no built-in workload has this name (known: ${BUILTIN_WORKLOADS.join(", ")})`,
    );
  }
  return await loadWorkload(join(BUILTIN_WORKLOAD_DIR, `${workloadName}.json`));
}
