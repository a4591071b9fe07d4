/**
 * The result of one benchmark run and its files: `<base>.json` (label, per-request records,
 * the target's statistics and the summary) and `<base>.csv` (one row per request).
 * @module
 */

import { join } from "node:path";
import { z } from "zod";
import type { LoopStall } from "../scheduler/stats.ts";
import { formatCsv } from "./csv.ts";
import {
  type ClientInfo,
  type RequestRecord,
  type RunSummary,
  summarizeRun,
  type TargetStats,
} from "./metrics.ts";

/** What a run was: enough to tell results apart and to reproduce them. */
export interface RunLabel {
  /** The workload's name. */
  workload: string;
  /** The scheduler mode's label (`reef`, `reset`, `reset-raw`, `stream`, ...). */
  mode: string;
  /** The device, as the target names it. */
  device: string;
  /** True when the target is the simulated device: never report such results as GPU results. */
  simulated: boolean;
  /** The exact command line that produced the run. */
  commandLine: string;
  /** The seed of the random arrival processes. */
  seed: number;
  /** The measured window, seconds. */
  durationS: number;
  /** Wall-clock start, ISO 8601. */
  startedAt: string;
  /** Values of the swept parameters of an experiment (for example `{ "n_be": 4 }`). */
  sweep: Record<string, number | string>;
}

/** The complete result of a run. */
export interface RunResult {
  label: RunLabel;
  clients: ClientInfo[];
  /** When each client's arrivals started, µs after the start of the measured run. */
  startOffsetsUs: Record<string, number>;
  /** Standalone latency of each RT client's model, µs, when the run measured it (stagger). */
  standaloneLatencyUs: Record<string, number>;
  requests: RequestRecord[];
  stats: TargetStats;
  /**
   * Preempt latencies of the excluded warm-up, µs: empty where the mode never preempts, and
   * where it does, the evidence that the measured run's first preemption was not the scheduler's
   * first (absent from runs made before session 14).
   */
  warmupPreemptLatenciesUs?: number[];
  /**
   * Stalls of the scheduler's loop that overlap the measured run, µs after its start like the
   * request times: where an RT request waited on the host, whether the loop was held (absent from
   * runs made before session 15 and from targets that do not record them).
   */
  loopStalls?: LoopStall[];
  summary: RunSummary;
}

/** Header of the per-request CSV file. */
export const REQUEST_CSV_HEADER = [
  "client",
  "model",
  "priority",
  "submitted_us",
  "started_us",
  "finished_us",
  "latency_us",
  "preemptions",
  "release_us",
] as const;

/**
 * Formats request records as CSV (see {@linkcode REQUEST_CSV_HEADER}); times are µs from the
 * start of the measured run.
 */
export function formatRequestsCsv(records: readonly RequestRecord[]): string {
  return formatCsv(
    REQUEST_CSV_HEADER,
    records.map((r) => [
      r.client,
      r.model,
      r.priority,
      r.submittedUs,
      r.startedUs,
      r.finishedUs,
      r.latencyUs,
      r.preemptions,
      r.releaseUs,
    ]),
  );
}

/** Formats a run result as indented JSON. */
export function formatRunJson(result: RunResult): string {
  return JSON.stringify(result, null, 1) + "\n";
}

/**
 * The base file name of a run: `<workload>-<mode>` plus `-<key><value>` per swept parameter,
 * with characters other than letters, digits, `.`, `_` and `-` replaced by `_`.
 */
export function runFileBaseName(label: Pick<RunLabel, "workload" | "mode" | "sweep">): string {
  const parts = [label.workload, label.mode];
  for (const [key, value] of Object.entries(label.sweep)) parts.push(`${key}${value}`);
  return parts.join("-").replace(/[^A-Za-z0-9._-]/g, "_");
}

/**
 * The first line of every CSV file made from simulated runs: a comment (gnuplot and most CSV
 * readers skip it) saying that the numbers are not GPU results.
 */
export function simulatedCsvComment(device: string): string {
  return `# SIMULATED device (${device}): not GPU results\n`;
}

/**
 * Writes `<dir>/<base>.json` and `<dir>/<base>.csv`, creating the directory. The CSV of a
 * simulated run starts with {@linkcode simulatedCsvComment}.
 * @returns The two paths.
 */
export async function writeRunFiles(
  result: RunResult,
  dir: string,
  baseName: string = runFileBaseName(result.label),
): Promise<{ json: string; csv: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const json = join(dir, `${baseName}.json`);
  const csv = join(dir, `${baseName}.csv`);
  await Deno.writeTextFile(json, formatRunJson(result));
  const comment = result.label.simulated ? simulatedCsvComment(result.label.device) : "";
  await Deno.writeTextFile(csv, comment + formatRequestsCsv(result.requests));
  return { json, csv };
}

const finite = z.number().refine(Number.isFinite, { error: "must be a finite number" });
const priority = z.enum(["rt", "be"]);
const runFileSchema = z.object({
  label: z.object({
    workload: z.string(),
    mode: z.string(),
    device: z.string(),
    simulated: z.boolean(),
    commandLine: z.string(),
    seed: finite,
    durationS: finite,
    startedAt: z.string(),
    sweep: z.record(z.string(), z.union([z.string(), finite])),
  }),
  clients: z.array(z.object({ name: z.string(), model: z.string(), priority })),
  startOffsetsUs: z.record(z.string(), finite),
  standaloneLatencyUs: z.record(z.string(), finite),
  requests: z.array(z.object({
    client: z.string(),
    model: z.string(),
    priority,
    releaseUs: finite,
    submittedUs: finite,
    startedUs: finite,
    finishedUs: finite,
    latencyUs: finite,
    preemptions: finite,
  })),
  stats: z.object({
    preemptLatenciesUs: z.array(finite),
    quiesceLatenciesUs: z.array(finite),
    selectionTimesUs: z.array(finite),
  }),
  warmupPreemptLatenciesUs: z.array(finite).optional(),
  loopStalls: z.array(z.object({ atUs: finite, durationUs: finite })).optional(),
  summary: z.object({ wallUs: finite }).passthrough(),
});

/**
 * Reads a run's JSON file. The summary is recomputed from the records, so a file edited by hand
 * cannot carry a summary that disagrees with its requests.
 * @throws {Error} naming the file and the first invalid field.
 */
export async function readRunFile(path: string): Promise<RunResult> {
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new Error(
      `Cannot read run result "${path}": ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const parsed = runFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join(".");
    throw new Error(`Cannot read run result "${path}": field "${field}" ${issue.message}`);
  }
  const data = parsed.data;
  return {
    label: data.label,
    clients: data.clients,
    startOffsetsUs: data.startOffsetsUs,
    standaloneLatencyUs: data.standaloneLatencyUs,
    ...(data.warmupPreemptLatenciesUs === undefined
      ? {}
      : { warmupPreemptLatenciesUs: data.warmupPreemptLatenciesUs }),
    ...(data.loopStalls === undefined ? {} : { loopStalls: data.loopStalls }),
    requests: data.requests,
    stats: data.stats,
    summary: summarizeRun(data.clients, data.requests, data.summary.wallUs, data.stats),
  };
}
