/**
 * Runs a {@linkcode BenchPlan}: builds the synthetic models it needs, makes each run on its own
 * scheduler (created in the run's mode on the GPU or the simulated device), writes every run's
 * files, then the figures (CSV, PDF, PNG) and the summary files, and a timings file that records
 * how long each piece took (the budget of `evaluation/README.md` is checked against it).
 *
 * A failed run is reported and the session goes on, so that one failure does not cost the rest of
 * a long session; figures and summaries leave its cells empty and the session reports failure.
 * @module
 */

import { compileModel } from "../compiler/compile.ts";
import { modelNames } from "../compiler/zoo/mod.ts";
import { join, resolve } from "node:path";
import { DISB_MODELS } from "./experiments.ts";
import {
  type BenchModelSpec,
  benchModelSpec,
  MICRO_RT_MODEL,
  SYNTHETIC_SIM_OPTIONS,
  writeGpuBenchModel,
  writeSimBenchModel,
} from "./bench_models.ts";
import {
  type BenchPlan,
  REPORT_GROUPS,
  reportFileName,
  type ReportKind,
  type SessionRun,
} from "./bench_plan.ts";
import { type FigureId, figureSpec } from "./figure_catalog.ts";
import {
  buildFigureTable,
  type BuildOverheadRow,
  buildOverheadTable,
  type FigureTable,
  hasPlotData,
  type ModelProfileSummary,
  restoreOverheadTable,
  writeFigureData,
} from "./figure_data.ts";
import { figureNote, renderFigure } from "./figures.ts";
import type { ProgressSink } from "./progress.ts";
import {
  disbReport,
  dkpReport,
  preemptionReport,
  type ReportHeader,
  rtLatencyReport,
  writeReport,
} from "./reports.ts";
import { readRunFile, type RunResult, simulatedCsvComment, writeRunFiles } from "./results.ts";
import { runWorkload } from "./runner.ts";
import { SchedulerTarget } from "./scheduler_target.ts";
import { packagePaths, readPackage, readProfile } from "../model/package.ts";
import { DEFAULT_DEVICE_QUEUE_CAP } from "../scheduler/policy.ts";
import type { DeviceSpec } from "../scheduler/mod.ts";

/** The device a session runs on. */
export type BenchDeviceKind = "gpu" | "sim";

/** Options of {@linkcode runBenchSession}. */
export interface BenchSessionOptions {
  plan: BenchPlan;
  device: BenchDeviceKind;
  /** The device's name before any run reports it (the GPU's, or the simulated device's). */
  deviceName: string;
  /** Root of the model packages (`<dir>/<m>/<m>.json`, and `<m>.profile.json` on the simulator). */
  modelDir: string;
  /** Where results go: `runs/`, `fig<N>/`, the summary files and the timings file. */
  outDir: string;
  /** Whether the plan uses quick-mode windows (recorded in the summaries). */
  quick: boolean;
  /** The exact command line, recorded everywhere. */
  commandLine: string;
  /** Seed of the random arrivals; defaults to each workload's. */
  seed?: number;
  /**
   * Reuses the runs whose result files are already in `<outDir>/runs/` (from an interrupted
   * session of the same plan on the same kind of device) instead of running them again.
   */
  resume?: boolean;
  /** GPU only: how the preempt flag is set; defaults to the device's (a control stream). */
  doorbell?: "stream" | "watcher";
  /** Messages about the session (one line each), for stderr. */
  log: (line: string) => void;
  /** Per-run progress; defaults to stderr, false for none. */
  progress?: ProgressSink | false;
}

/** The outcome of one run. */
export interface SessionRunOutcome {
  key: string;
  /** The result; absent when the run failed. */
  result?: RunResult;
  /** Why the run failed. */
  error?: string;
  /** Wall time of the run, model loads and scheduler start included, seconds. */
  wallS: number;
  /** True when the result was read back from an earlier session (`resume`). */
  reused?: boolean;
}

/** What happened to one figure. */
export interface FigureOutcome {
  id: FigureId;
  /** Files written (data, and PDF and PNG when drawn). */
  files: string[];
  /** Why the figure was not drawn, if it was not. */
  skipped?: string;
}

/** The outcome of a session. */
export interface BenchSessionResult {
  /** The device's name, as the schedulers reported it. */
  device: string;
  simulated: boolean;
  runs: SessionRunOutcome[];
  figures: FigureOutcome[];
  /** Summary files written. */
  reports: string[];
  /**
   * The timings file; none when no run was made (every one reused, or none planned), so that a
   * redraw keeps the timings of the session that made the runs.
   */
  timings?: string;
  /** True when every run succeeded. */
  ok: boolean;
}

/**
 * Options of the simulated device for a run whose models are all synthetic: a check point every
 * trip of a spin kernel (the default, a fraction of each block, models the zoo's tile loops).
 */
function simOptionsFor(run: SessionRun): Record<string, unknown> | undefined {
  const models = run.planned.workload.clients.map((c) => c.model);
  return models.every((m) => benchModelSpec(m) !== undefined) ? SYNTHETIC_SIM_OPTIONS : undefined;
}

/**
 * Builds the synthetic models in a fresh folder and links every package of `modelDir` beside
 * them, so that one model root serves runs that mix both.
 * @returns The folder.
 */
async function prepareModelRoot(
  specs: readonly BenchModelSpec[],
  device: BenchDeviceKind,
  modelDir: string,
  log: (line: string) => void,
): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "reef-bench-models-" });
  log(
    `reef: ${device === "gpu" ? "compiling (nvcc)" : "writing"} ${specs.length} synthetic ` +
      `models in ${root}`,
  );
  try {
    for (const spec of specs) {
      if (device === "gpu") await writeGpuBenchModel(root, spec);
      else await writeSimBenchModel(root, spec);
    }
    const source = resolve(modelDir);
    let entries: Deno.DirEntry[] = [];
    try {
      entries = await Array.fromAsync(Deno.readDir(source));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    for (const entry of entries) {
      if (!entry.isDirectory || specs.some((s) => s.name === entry.name)) continue;
      await Deno.symlink(join(source, entry.name), join(root, entry.name));
    }
  } catch (error) {
    await Deno.remove(root, { recursive: true });
    throw error;
  }
  return root;
}

function exists(path: string): Promise<boolean> {
  return Deno.stat(path).then(() => true, () => false);
}

/**
 * Checks that every model of the plan has a package under `root` (and, on the simulated device, a
 * profile), so that a session with a missing model fails at once with one message. A zoo model
 * without a package is compiled first: on the simulator without running nvcc (it needs only the
 * package's JSON), on the GPU with it.
 * @throws {Error} listing what is missing and how to make it.
 */
async function checkModels(
  plan: BenchPlan,
  root: string,
  device: BenchDeviceKind,
  log: (line: string) => void,
): Promise<void> {
  const models = new Set(plan.runs.flatMap((r) => r.planned.workload.clients.map((c) => c.model)));
  const missing: string[] = [];
  for (const model of models) {
    const paths = packagePaths(model, root);
    if (!await exists(paths.json) && modelNames().includes(model)) {
      log(`reef: compiling ${model} into ${paths.dir} (first use)`);
      await compileModel(model, { root, build: device === "gpu" });
    }
    if (!await exists(paths.json)) {
      missing.push(`${paths.json} (run \`reef compile ${model}\`)`);
    } else if (device === "sim" && !await exists(paths.profile)) {
      missing.push(`${paths.profile} (measured on the GPU by \`reef profile ${model}\`)`);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `Cannot run "${plan.target}" on the ${device === "sim" ? "simulated device" : "GPU"}: ` +
        `missing ${missing.join(", ")}`,
    );
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function makeRun(
  run: SessionRun,
  spec: DeviceSpec,
  options: BenchSessionOptions,
): Promise<RunResult> {
  await using target = await SchedulerTarget.create({ device: spec, mode: run.planned.mode });
  if (target.simulated !== (options.device === "sim")) {
    throw new Error(
      `Device "${target.deviceName}" is ${target.simulated ? "" : "not "}simulated, but the ` +
        `session asked for --device ${options.device}`,
    );
  }
  const result = await runWorkload(run.planned.workload, target, {
    mode: run.planned.mode.label,
    commandLine: options.commandLine,
    durationS: run.durationS,
    ...(run.minSamples === undefined ? {} : { minSamples: run.minSamples }),
    sweep: run.planned.sweep,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.progress === undefined ? {} : { progress: options.progress }),
  });
  await writeRunFiles(result, join(options.outDir, "runs"), run.key);
  return result;
}

/**
 * The result of a run from an earlier session in the output folder, for `resume`; undefined when
 * there is none.
 * @throws {Error} if the file cannot be read, or holds a run of the other kind of device.
 */
async function earlierRun(
  run: SessionRun,
  options: BenchSessionOptions,
): Promise<RunResult | undefined> {
  const path = join(options.outDir, "runs", `${run.key}.json`);
  if (!await exists(path)) return undefined;
  const result = await readRunFile(path);
  if (result.label.simulated !== (options.device === "sim")) {
    throw new Error(
      `Cannot resume from "${path}": it holds a run on ${result.label.device}, not on the ` +
        `${options.device === "sim" ? "simulated device" : "GPU"}`,
    );
  }
  options.log(`reef: reusing ${path} (${result.label.startedAt})`);
  return result;
}

/** Restore-overhead inputs from the DISB models' profiles under `root`, and their sources. */
async function profileSummaries(
  root: string,
): Promise<{ summaries: ModelProfileSummary[]; sources: string[] }> {
  const summaries: ModelProfileSummary[] = [];
  const sources = new Set<string>();
  for (const { model } of DISB_MODELS) {
    const paths = packagePaths(model, root);
    const profile = await readProfile(paths);
    if (profile === undefined) continue;
    const pkg = await readPackage(paths);
    summaries.push({
      name: model,
      latencyUs: profile.model_latency,
      kernelTimesUs: pkg.kernels.map((k) => profile.kernel_latency[k.name]?.total_latency ?? 0),
    });
    sources.add(profile.device ?? "device not recorded");
  }
  return { summaries, sources: [...sources] };
}

/** models.json's rows and where they came from, for dkp.json's fig16; undefined without one. */
async function modelsBenchRows(
  outDir: string,
): Promise<{ source: string; rows: BuildOverheadRow[] } | undefined> {
  const report = await modelsBenchReport(outDir);
  return report === undefined
    ? undefined
    : { source: `${join(outDir, "models.json")} (${report.device})`, rows: report.models };
}

/** The rows of models.json (`reef bench models`) in the output folder, or undefined. */
async function modelsBenchReport(
  outDir: string,
): Promise<{ device: string; models: BuildOverheadRow[] } | undefined> {
  const path = join(outDir, "models.json");
  let report: { device?: unknown; models?: unknown };
  try {
    report = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read "${path}" (reef bench models): ${errorText(error)}`);
  }
  if (!Array.isArray(report.models)) {
    throw new Error(`Cannot read "${path}" (reef bench models): field "models" must be an array`);
  }
  return { device: String(report.device), models: report.models as BuildOverheadRow[] };
}

/** A figure's data and the note under its title, or why it has none. */
async function figureTable(
  id: FigureId,
  results: readonly RunResult[],
  modelRoot: string,
  outDir: string,
): Promise<{ table: FigureTable; note: string } | string> {
  if (id === "14b") {
    const { summaries, sources } = await profileSummaries(modelRoot);
    if (summaries.length === 0) {
      return `no profile of a DISB model under "${modelRoot}" (<m>/<m>.profile.json)`;
    }
    // reef restores exactly and re-runs at most the kernels in flight on the BE stream.
    return {
      table: restoreOverheadTable(summaries, DEFAULT_DEVICE_QUEUE_CAP),
      note: `from the models' profiles (${sources.join(", ")})`,
    };
  }
  if (id === "16a") {
    const report = await modelsBenchReport(outDir);
    return report === undefined
      ? `no models.json in "${outDir}": run \`reef bench models --out ${outDir}\` first`
      : { table: buildOverheadTable(report.models), note: `${report.device} (reef bench models)` };
  }
  if (results.length === 0) return "none of its runs succeeded";
  return { table: buildFigureTable(id, results), note: figureNote(results) };
}

async function drawFigure(
  id: FigureId,
  results: readonly RunResult[],
  modelRoot: string,
  options: BenchSessionOptions,
): Promise<FigureOutcome> {
  const figure = await figureTable(id, results, modelRoot, options.outDir).catch(errorText);
  if (typeof figure === "string") return { id, files: [], skipped: figure };
  const { table, note } = figure;
  const dir = join(options.outDir, `fig${id.replace(/[a-z]$/, "")}`);
  await Deno.mkdir(dir, { recursive: true });
  const data = join(dir, `fig${id}.csv`);
  const simulated = results.find((r) => r.label.simulated);
  await writeFigureData(data, table, simulated ? simulatedCsvComment(simulated.label.device) : "");
  if (!hasPlotData(table)) {
    const why = id === "17a"
      ? "the scheduler reports no kernel-selection times (they come with dynamic kernel padding)"
      : "every value is empty";
    return { id, files: [data], skipped: `no data to plot: ${why}` };
  }
  // A GPU host without gnuplot still keeps the figure's data (and the summaries written after
  // the figures); the PDF and PNG can be drawn from the CSV anywhere.
  const rendered = await renderFigure(id, data, dir, { note }).catch(errorText);
  if (typeof rendered === "string") {
    return { id, files: [data], skipped: `not rendered: ${rendered}` };
  }
  for (const warning of rendered.warnings) options.log(`reef: figure ${id}: gnuplot: ${warning}`);
  return { id, files: [data, rendered.pdf, rendered.png] };
}

/**
 * The device of the plan's runs when every run's result is stored under `<outDir>/runs/` (so that
 * `resume` runs nothing and needs no device), read from the first run's label; undefined when a
 * file is missing or the first is unreadable. Each run is checked against the session's device
 * when it is read back (`earlierRun`), so the other files are only looked for here.
 */
export async function storedRunsDevice(
  plan: BenchPlan,
  outDir: string,
): Promise<{ device: string; simulated: boolean } | undefined> {
  const paths = plan.runs.map((run) => join(outDir, "runs", `${run.key}.json`));
  if (paths.length === 0) return undefined;
  for (const path of paths) if (!await exists(path)) return undefined;
  let label: { simulated?: unknown; device?: unknown };
  try {
    label = JSON.parse(await Deno.readTextFile(paths[0]!)).label ?? {};
  } catch {
    return undefined;
  }
  if (typeof label.simulated !== "boolean" || typeof label.device !== "string") return undefined;
  return { device: label.device, simulated: label.simulated };
}

/** Runs a plan; see the module documentation. */
export async function runBenchSession(options: BenchSessionOptions): Promise<BenchSessionResult> {
  const { plan, log } = options;
  const startedAt = new Date().toISOString();
  const sessionStart = performance.now();
  // With every run stored, nothing runs: no model is needed.
  if (options.resume && await storedRunsDevice(plan, options.outDir) !== undefined) {
    await Deno.mkdir(options.outDir, { recursive: true });
    return await runPlan(options, resolve(options.modelDir), {
      startedAt,
      sessionStart,
      buildS: 0,
    });
  }
  const workRoot = plan.benchModels.length > 0
    ? await prepareModelRoot(plan.benchModels, options.device, options.modelDir, log)
    : undefined;
  try {
    const modelRoot = workRoot ?? resolve(options.modelDir);
    await checkModels(plan, modelRoot, options.device, options.log);
    await Deno.mkdir(options.outDir, { recursive: true });
    return await runPlan(options, modelRoot, {
      startedAt,
      sessionStart,
      buildS: (performance.now() - sessionStart) / 1e3,
    });
  } finally {
    if (workRoot !== undefined) await Deno.remove(workRoot, { recursive: true });
  }
}

async function runPlan(
  options: BenchSessionOptions,
  modelRoot: string,
  times: { startedAt: string; sessionStart: number; buildS: number },
): Promise<BenchSessionResult> {
  const { plan, log } = options;
  let device = options.deviceName;
  const outcomes: SessionRunOutcome[] = [];
  for (const [i, run] of plan.runs.entries()) {
    log(`reef: run ${i + 1}/${plan.runs.length}: ${run.key} (${run.durationS} s)`);
    const simOptions = options.device === "sim" ? simOptionsFor(run) : undefined;
    const spec: DeviceSpec = options.device === "sim"
      ? { kind: "sim", modelDir: modelRoot, ...(simOptions ? { options: simOptions } : {}) }
      : {
        kind: "gpu",
        modelDir: modelRoot,
        ...(options.doorbell ? { doorbell: options.doorbell } : {}),
      };
    const start = performance.now();
    try {
      const earlier = options.resume ? await earlierRun(run, options) : undefined;
      const result = earlier ?? await makeRun(run, spec, options);
      device = result.label.device;
      outcomes.push({
        key: run.key,
        result,
        wallS: (performance.now() - start) / 1e3,
        ...(earlier === undefined ? {} : { reused: true }),
      });
    } catch (error) {
      log(`reef: run ${run.key} failed: ${errorText(error)}`);
      outcomes.push({
        key: run.key,
        error: errorText(error),
        wallS: (performance.now() - start) / 1e3,
      });
    }
  }

  const simulated = options.device === "sim";
  const results = (groups: readonly string[]) =>
    plan.runs.flatMap((run, i) =>
      run.groups.some((g) => groups.includes(g)) && outcomes[i]!.result
        ? [outcomes[i]!.result!]
        : []
    );
  const figuresStart = performance.now();
  const figures: FigureOutcome[] = [];
  for (const id of plan.figures) {
    const figure = await drawFigure(id, results([figureSpec(id).experiment]), modelRoot, options);
    log(
      figure.skipped === undefined
        ? `reef: figure ${id}: ${figure.files.join(", ")}`
        : `reef: figure ${id} not drawn: ${figure.skipped}`,
    );
    figures.push(figure);
  }
  const figuresS = (performance.now() - figuresStart) / 1e3;

  const header: ReportHeader = {
    device,
    simulated,
    command: options.commandLine,
    quick: options.quick,
  };
  const reports: string[] = [];
  for (const kind of plan.reports) {
    const path = join(options.outDir, reportFileName(kind, plan.target));
    const runs = results(REPORT_GROUPS[kind]);
    const report = kind === "dkp"
      ? dkpReport(header, runs, await modelsBenchRows(options.outDir))
      : summary(kind, header, runs);
    await writeReport(path, report);
    log(`reef: wrote ${path}`);
    reports.push(path);
  }

  const ok = outcomes.every((o) => o.error === undefined);
  if (outcomes.every((o) => o.reused)) {
    return { device, simulated, runs: outcomes, figures, reports, ok };
  }
  const timings = join(
    options.outDir,
    `timings-${plan.target.replace(/[^A-Za-z0-9._-]/g, "_")}.json`,
  );
  await Deno.writeTextFile(
    timings,
    JSON.stringify(
      {
        device,
        simulated,
        command: options.commandLine,
        started_at: times.startedAt,
        total_s: (performance.now() - times.sessionStart) / 1e3,
        build_s: times.buildS,
        figures_s: figuresS,
        runs: plan.runs.map((run, i) => ({
          key: run.key,
          groups: run.groups,
          window_s: run.durationS,
          wall_s: outcomes[i]!.wallS,
          ...(outcomes[i]!.reused ? { reused: true } : {}),
          ...(outcomes[i]!.error === undefined ? {} : { error: outcomes[i]!.error }),
        })),
      },
      null,
      2,
    ) + "\n",
  );
  return {
    device,
    simulated,
    runs: outcomes,
    figures,
    reports,
    timings,
    ok,
  };
}

function summary(
  kind: Exclude<ReportKind, "dkp">,
  header: ReportHeader,
  runs: RunResult[],
): ReportHeader {
  switch (kind) {
    case "disb":
      return disbReport(header, runs);
    case "preemption":
      return preemptionReport(header, runs, MICRO_RT_MODEL);
    case "rt-latency":
      return rtLatencyReport(header, runs);
  }
}
