/**
 * Run results with known numbers for tests of figure data and summary files: an RT client and a
 * BE client (vgg19 and resnet152 unless told), labelled like the runs experiments plan.
 * @module
 */

import { type RequestRecord, summarizeRun } from "../../src/eval/metrics.ts";
import type { RunResult } from "../../src/eval/results.ts";

/** What a synthetic run result holds; every field has a default. */
export interface SyntheticRun {
  workload?: string;
  /** Model of the RT client; defaults to vgg19. */
  rtModel?: string;
  /** Model of the BE client; defaults to resnet152. */
  beModel?: string;
  mode: string;
  sweep?: Record<string, number | string>;
  /** RT latencies, µs; each RT request starts `queueUs` after submission. */
  rtLatenciesUs?: number[];
  queueUs?: number;
  beCount?: number;
  preemptUs?: number[];
  quiesceUs?: number[];
  selectionUs?: number[];
  wallUs?: number;
  simulated?: boolean;
}

/** A run result with known numbers, labelled as the experiment plans label runs. */
export function syntheticRun(spec: SyntheticRun): RunResult {
  const rtModel = spec.rtModel ?? "vgg19";
  const clients = [
    { name: "rt", model: rtModel, priority: "rt" as const },
    { name: "be", model: spec.beModel ?? "resnet152", priority: "be" as const },
  ];
  const requests: RequestRecord[] = [
    ...(spec.rtLatenciesUs ?? []).map((latencyUs, i): RequestRecord => ({
      client: "rt",
      model: rtModel,
      priority: "rt",
      releaseUs: i * 10_000,
      submittedUs: i * 10_000,
      startedUs: i * 10_000 + (spec.queueUs ?? 0),
      finishedUs: i * 10_000 + latencyUs,
      latencyUs,
      preemptions: 0,
    })),
    ...Array.from({ length: spec.beCount ?? 0 }, (): RequestRecord => ({
      client: "be",
      model: spec.beModel ?? "resnet152",
      priority: "be",
      releaseUs: 0,
      submittedUs: 0,
      startedUs: 0,
      finishedUs: 5_000,
      latencyUs: 5_000,
      preemptions: 1,
    })),
  ];
  const stats = {
    preemptLatenciesUs: spec.preemptUs ?? [],
    quiesceLatenciesUs: spec.quiesceUs ?? [],
    selectionTimesUs: spec.selectionUs ?? [],
  };
  return {
    label: {
      workload: spec.workload ?? "generated",
      mode: spec.mode,
      device: spec.simulated ? "simulated H100-like GPU" : "NVIDIA H100 80GB HBM3",
      simulated: spec.simulated ?? false,
      commandLine: "reef bench test",
      seed: 1,
      durationS: 1,
      startedAt: "2026-11-25T00:00:00.000Z",
      sweep: spec.sweep ?? {},
    },
    clients,
    startOffsetsUs: { rt: 0, be: 0 },
    standaloneLatencyUs: {},
    requests,
    stats,
    summary: summarizeRun(clients, requests, spec.wallUs ?? 1e6, stats),
  };
}

/**
 * A `reef` run of the DKP experiment on vgg19: RT latencies of 5 and 9 ms, each queued 4 ms (so
 * RT execution 1 and 5 ms, the RT span 4-19 ms), beside 6 BE requests that finish within it.
 */
export function dkpReefRun(extra: Partial<SyntheticRun> = {}): RunResult {
  return syntheticRun({
    mode: "reef",
    sweep: { model: "vgg19" },
    rtLatenciesUs: [5000, 9000],
    queueUs: 4000,
    beCount: 6,
    ...extra,
  });
}
