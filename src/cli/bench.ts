/**
 * `reef bench`: runs a benchmark and writes its results under evaluation/results/: the FFI and
 * model benchmarks, and the evaluation (DISB workloads, the preemption sweeps, every figure) on
 * the GPU or on the simulated device.
 * @module
 */

import { resolve } from "node:path";
import { modelNames } from "../compiler/zoo/mod.ts";
import {
  type BenchPlan,
  estimatePlanSeconds,
  estimateRunSeconds,
  planBench,
  UnknownTargetError,
  WORKLOAD_GROUP,
} from "../eval/bench_plan.ts";
import { type BenchDeviceKind, runBenchSession, storedRunsDevice } from "../eval/bench_session.ts";
import { MODE_SPECS } from "../eval/experiments.ts";
import { runFfiBench } from "../eval/ffi_bench.ts";
import { runModelsBench } from "../eval/models_bench.ts";
import { runServerBench } from "../eval/server_bench.ts";
import { disbRows, formatDisbTable } from "../eval/reports.ts";
import { Device, LibraryLoadError, ReefGpuError } from "../gpu/mod.ts";
import { SIM_DEVICE_NAME } from "../gpu/sim/sim_device.ts";
import { defaultResourceRoot } from "../model/package.ts";
import { MODES } from "../scheduler/mode.ts";
import { type Command, numberOption, parseOptions, UsageError } from "./command.ts";

/**
 * The results folder for a device: `evaluation/results/h100` for an H100, and so on; always
 * `evaluation/results/sim` for the simulated device, whose name also mentions the H100 it imitates.
 */
export function resultsDir(deviceName: string): string {
  if (/\bsimulated\b/i.test(deviceName)) return "evaluation/results/sim";
  const known = deviceName.toLowerCase().match(/\b(h100|h200|a100|v100|l40s?|mi\d+)\b/);
  const slug = known
    ? known[1]!
    : deviceName.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  return `evaluation/results/${slug}`;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(value, null, 2) + "\n");
  console.error(`reef: wrote ${path}`);
}

/** The first GPU's name, or why this machine has none. */
function probeGpu(): { name: string } | { reason: string } {
  try {
    if (Device.count() === 0) return { reason: "the driver sees no GPU" };
    using device = Device.open(0);
    return { name: device.properties.name };
  } catch (error) {
    if (error instanceof ReefGpuError || error instanceof LibraryLoadError) {
      return { reason: error.message.split("\n")[0]! };
    }
    throw error;
  }
}

/** Modes `--mode` accepts: the scheduler's, and `reset-raw` (reset, a 256-kernel device queue). */
const MODE_NAMES: readonly string[] = [...MODES, MODE_SPECS.resetRaw.label];

function parseModes(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const modes = value.split(",").map((m) => m.trim());
  const unknown = modes.find((m) => !MODE_NAMES.includes(m));
  if (unknown !== undefined) {
    throw new UsageError(
      `Unknown mode "${unknown}" in --mode (known: ${MODE_NAMES.join(", ")})`,
    );
  }
  return modes;
}

/** Refuses to mix simulated and GPU results in one results folder. */
function checkOutDir(out: string, device: BenchDeviceKind): void {
  const folder = resolve(out).match(/\/evaluation\/results\/([^/]+)/)?.[1];
  if (folder === undefined) return;
  if (device === "sim" && folder !== "sim") {
    throw new UsageError(
      `Simulated results go to evaluation/results/sim/, not "${out}": they are never GPU results`,
    );
  }
  if (device === "gpu" && folder === "sim") {
    throw new UsageError(`GPU results do not go to "${out}", the simulated device's folder`);
  }
}

function formatPlan(plan: BenchPlan, command: string): string {
  const estimate = estimatePlanSeconds(plan);
  const minutes = (s: number) => `${(s / 60).toFixed(1)} min`;
  const lines = [
    `${command}: ${plan.runs.length} runs; figures: ${plan.figures.join(", ") || "none"}; ` +
    `summaries: ${plan.reports.map((r) => `${r}.json`).join(", ") || "none"}`,
    `estimated on the GPU: ${minutes(estimate.total)} (runs ${minutes(estimate.runs)}, ` +
    `${plan.benchModels.length} synthetic models ${minutes(estimate.build)}); ` +
    "see evaluation/README.md",
    "window_s  estimate_s  run",
    ...plan.runs.map((run) => {
      const samples = run.minSamples;
      const window = samples === undefined
        ? `${run.durationS}`
        : `${run.durationS}-${Math.max(run.durationS, samples.maxDurationS)}`;
      return `${window.padStart(8)}  ${
        estimateRunSeconds(run).toFixed(1).padStart(10)
      }  ${run.key}`;
    }),
  ];
  if (plan.runs.some((run) => run.minSamples !== undefined)) {
    lines.push(
      "A window shown as a range runs on until it has its samples (1 000 preemptions, or RT " +
        "requests where the mode does not preempt); the estimate counts its shortest window.",
    );
  }
  return lines.join("\n");
}

/** `reef bench <workload|figure|group|all|demo>`: runs a plan and writes its results. */
async function runSuite(
  target: string,
  values: Record<string, string | boolean | undefined>,
  command: string,
): Promise<number> {
  const demo = target === "demo";
  const option = (name: string) => values[name] as string | undefined;
  const device = option("device");
  if (device !== undefined && device !== "gpu" && device !== "sim") {
    throw new UsageError(`Option --device must be "gpu" or "sim", got "${device}"`);
  }
  const doorbell = option("doorbell");
  if (doorbell !== undefined && doorbell !== "stream" && doorbell !== "watcher") {
    throw new UsageError(`Option --doorbell must be "stream" or "watcher", got "${doorbell}"`);
  }
  if (doorbell !== undefined && device === "sim") {
    throw new UsageError("Option --doorbell applies to the GPU only, not to --device sim");
  }
  const durationS = values.duration === undefined
    ? undefined
    : numberOption("duration", option("duration"), 0, (n) => Number.isFinite(n) && n > 0);
  const seed = values.seed === undefined
    ? undefined
    : numberOption("seed", option("seed"), 0, (n) => Number.isInteger(n) && n >= 0);
  const quick = demo || values.quick === true;
  let plan: BenchPlan;
  try {
    plan = await planBench(demo ? "A" : target, {
      quick,
      ...(durationS === undefined ? {} : { durationS }),
      ...(values.mode === undefined ? {} : { modes: parseModes(option("mode")) }),
    });
  } catch (error) {
    if (error instanceof UnknownTargetError) throw new UsageError(error.message);
    throw error;
  }
  if (plan.runs.length === 0 && plan.figures.length === 0) {
    throw new UsageError(`Option --mode "${values.mode}" leaves no run of "${target}"`);
  }
  if (values.plan === true) {
    console.log(formatPlan(plan, command));
    return 0;
  }

  let kind: BenchDeviceKind = "sim";
  let gpuName = "";
  if (device !== "sim") {
    const gpu = probeGpu();
    // Without a GPU, a resumed session whose runs are all stored only redraws.
    const stored = !("name" in gpu) && values.resume === true && values.out !== undefined
      ? await storedRunsDevice(plan, option("out")!)
      : undefined;
    if ("name" in gpu) {
      kind = "gpu";
      gpuName = gpu.name;
    } else if (stored !== undefined && !stored.simulated) {
      // Every run is stored: the session only redraws figures and rewrites summaries.
      kind = "gpu";
      gpuName = stored.device;
    } else if (plan.runs.length === 0 && values.out !== undefined) {
      // Figures drawn from files measured earlier (14b from profiles, 16a from models.json).
      kind = "gpu";
    } else if (demo && device === undefined) {
      // Without --device, the demo falls back to the simulated device; nothing else does.
      console.log(`reef demo: no GPU here (${gpu.reason})`);
    } else {
      console.error(
        `reef: no usable GPU on this machine (${gpu.reason}); ` +
          "`--device sim` runs on the simulated device instead",
      );
      return 1;
    }
  }
  if (demo) {
    console.log(
      kind === "gpu"
        ? `reef demo: DISB workload A, quick mode, every mode, on the GPU (${gpuName})`
        : "reef demo: DISB workload A, quick mode, every mode, on the SIMULATED device: " +
          "its numbers are not GPU results",
    );
  }
  const out = option("out") ??
    (demo
      ? await Deno.makeTempDir({ prefix: "reef-demo-" })
      : resultsDir(kind === "sim" ? SIM_DEVICE_NAME : gpuName));
  checkOutDir(out, kind);
  const result = await runBenchSession({
    plan,
    device: kind,
    deviceName: kind === "sim" ? SIM_DEVICE_NAME : gpuName,
    modelDir: option("model-dir") ?? defaultResourceRoot(),
    outDir: out,
    quick,
    commandLine: command,
    ...(seed === undefined ? {} : { seed }),
    ...(doorbell === undefined ? {} : { doorbell }),
    resume: values.resume === true,
    log: (line) => console.error(line),
  }).catch(async (error) => {
    // The demo's temporary folder is still empty when a session cannot start.
    if (demo && option("out") === undefined) await Deno.remove(out).catch(() => {});
    throw error;
  });
  const workloadRows = disbRows(
    plan.runs.flatMap((run, i) =>
      run.groups.includes(WORKLOAD_GROUP) && result.runs[i]!.result ? [result.runs[i]!.result!] : []
    ),
  );
  if (workloadRows.length > 0) {
    console.log(formatDisbTable(workloadRows, result.device, result.simulated));
  }
  const failed = result.runs.filter((r) => r.error !== undefined);
  console.error(
    `reef: ${result.runs.length - failed.length} of ${result.runs.length} runs done, results in ` +
      `${out}${result.simulated ? " (SIMULATED: not GPU results)" : ""}`,
  );
  for (const run of failed) console.error(`reef: failed: ${run.key}: ${run.error}`);
  return result.ok ? 0 : 1;
}

/** `reef bench`. */
export const benchCommand: Command = {
  name: "bench",
  summary: "Run a benchmark or reproduce the evaluation's figures, on the GPU or simulated",
  help: `Usage: reef bench <benchmark> [options]

Benchmarks:
  A, B, C, D, E, REAL  A DISB workload under every mode: runs/, disb-<workload>.json, a table on
                       stdout
  <file>.json          A workload file, the same way (disb-<file name>.json)
  1a ... 17a           A figure (and the figures drawn from the same runs): fig<N>/ (CSV, PDF,
                       PNG), runs/, and the summary files the runs feed, named for the figure
                       (preemption-13a.json): only disb, preemption, rt-latency, dkp and all
                       write the full summaries
  disb                 DISB A-E and REAL, every mode: disb.json, figures 10a, 10b, 11a, 17a
  preemption           The four preemption sweeps: preemption.json, figures 12a, 13a, 13b, 14a
  rt-latency           Each DISB model as RT beside a BE model, every mode: rt-latency.json
  dkp                  Padding: queued RT + 5 BE clients per DISB model: dkp.json, figures 15a, 15b
  all                  Everything above: every figure and the four summary files
  demo                 DISB A in quick mode, on the GPU if there is one, else simulated
  ffi                  Host cost of a kernel launch and a flag write through the binding and from C
  server               Request latency of one model in-process, over HTTP and over gRPC:
                       server.json (--models names the model, default resnet18)
  models               Every zoo model: correctness against PyTorch (fp16 and fp32), raw = BE =
                       DKP, abort-and-restore bit-identity, and GPU time beside PyTorch + cuDNN

Evaluation options:
  --mode <m[,m]>     Only these modes (and the reference runs others are compared with):
                     ${MODE_NAMES.join(", ")}
  --quick            Quick-mode windows (\`reef bench all --quick\`: about 36 min on the H100)
  --duration <s>     One window for every run, seconds
  --device <d>       gpu (default) or sim, the simulated device (results labelled simulated)
  --model-dir <dir>  Model packages (default: resource/); sim needs <m>.profile.json too
  --doorbell <d>     GPU: how the preempt flag is set, watcher (default) or stream
  --seed <n>         Seed of the random arrivals (default: each workload's)
  --plan             Print the runs and the estimated duration, run nothing
  --resume           Reuse the runs already in <out>/runs/ (an interrupted session's); with
                     every run stored there, redraws the figures on a machine without a GPU
  --out <dir>        Default: evaluation/results/<gpu>/, or evaluation/results/sim/

Options of ffi and models:
  --out <path>       ffi: the JSON file; models: the folder (default: evaluation/results/<gpu>/)
  --rounds <n>       ffi: timed rounds per measurement (default 200)
  --batch <n>        ffi: calls per round (default 100)
  --repeats <n>      ffi: alternations of C and binding measurements (default 3);
                     models: timed runs per build (default 50)
  --models <list>    models: comma-separated zoo models (default: all)
  --aborts <n>       models: aborted-and-resumed inferences per model and precision (default 5)
  --root <dir>       models: where packages are compiled (default: resource/)`,
  async run(args) {
    const { values, positionals } = parseOptions(args, {
      out: { type: "string" },
      rounds: { type: "string" },
      batch: { type: "string" },
      repeats: { type: "string" },
      models: { type: "string" },
      aborts: { type: "string" },
      root: { type: "string" },
      mode: { type: "string" },
      quick: { type: "boolean" },
      duration: { type: "string" },
      device: { type: "string" },
      "model-dir": { type: "string" },
      doorbell: { type: "string" },
      seed: { type: "string" },
      plan: { type: "boolean" },
      resume: { type: "boolean" },
    }, true);
    const [target] = positionals;
    const command = `reef bench ${args.join(" ")}`;
    const positive = (n: number) => Number.isInteger(n) && n > 0;
    switch (target) {
      case "ffi": {
        const result = await runFfiBench({
          rounds: numberOption("rounds", values.rounds, 200, positive),
          batch: numberOption("batch", values.batch, 100, positive),
          repeats: numberOption("repeats", values.repeats, 3, positive),
          command,
        });
        console.log(JSON.stringify(result, null, 2));
        await writeJson(values.out ?? `${resultsDir(result.device)}/ffi-bench.json`, result);
        return 0;
      }
      case "server": {
        const device = values.device ?? "gpu";
        if (device !== "gpu" && device !== "sim") {
          throw new UsageError(`Option --device must be gpu or sim, got "${device}"`);
        }
        const model = values.models ?? "resnet18";
        const result = await runServerBench({
          device,
          modelDir: values["model-dir"] ?? defaultResourceRoot(),
          model,
          command,
          ...(values.repeats
            ? { rounds: numberOption("repeats", values.repeats, 3, positive) }
            : {}),
        });
        console.log(JSON.stringify(result, null, 2));
        const dir = values.out ??
          (device === "sim" ? "evaluation/results/sim" : resultsDir(result.device));
        await writeJson(`${dir}/server.json`, result);
        return 0;
      }
      case "models": {
        const models = values.models ? values.models.split(",") : modelNames();
        const unknown = models.find((m) => !modelNames().includes(m));
        if (unknown) throw new UsageError(`Unknown model "${unknown}" in --models`);
        const lines: string[] = [`$ ${command}`];
        const log = (line: string) => {
          lines.push(line);
          console.error(line);
        };
        const result = await runModelsBench({
          models,
          root: values.root ?? defaultResourceRoot(),
          work: await Deno.makeTempDir({ prefix: "reef-models-" }),
          command,
          repeats: numberOption("repeats", values.repeats, 50, positive),
          aborts: numberOption("aborts", values.aborts, 5, positive),
          log,
        });
        const dir = values.out ?? resultsDir(result.device);
        await writeJson(`${dir}/models.json`, result);
        await Deno.writeTextFile(`${dir}/models-correctness.log`, lines.join("\n") + "\n");
        console.error(`reef: wrote ${dir}/models-correctness.log`);
        return result.passed ? 0 : 1;
      }
      case undefined:
        throw new UsageError("Name a benchmark, e.g. `reef bench demo`");
      default:
        if (positionals.length > 1) {
          throw new UsageError(
            `Name one benchmark, got ${positionals.length}: ${positionals.join(" ")}`,
          );
        }
        return await runSuite(target, values, command);
    }
  },
};
