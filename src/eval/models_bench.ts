/**
 * `reef bench models`: the zoo on the GPU, in one run.
 *
 * For every model it compiles an fp16 and an fp32 package (same seeded weights), then checks on
 * fresh random inputs that: the raw, BE and DKP builds write identical outputs; an inference
 * aborted midway by the preempt flag and resumed from its exact restore point is bit-identical;
 * and the outputs match PyTorch (torchvision or HuggingFace, the same weights, run in float64) to
 * a relative L2 error under 1e-2 (fp16) and 1e-4 (fp32). It then times the fp16 raw and BE builds
 * (all kernels back to back on one stream, GPU time from events) beside PyTorch + cuDNN fp16 with
 * CUDA-graph replay, measured by evaluation/scripts/torch_models.py in the same run, and measures
 * the fp16 BE build's check interval with its trace build (reef_kernel.cuh, `REEF_CHECK_TRACE`):
 * the longest stretch any block of any kernel ran without a flag check (issue 8: under 20 µs).
 * @module
 */

import { compileModel, compileTraceBuild } from "../compiler/compile.ts";
import { GatedTimer } from "../gpu/gated_timer.ts";
import { Device, type Stream } from "../gpu/mod.ts";
import { LoadedModel, type ModelInstance } from "../model/executor.ts";
import { packagePaths, readPackage, type TensorSpec } from "../model/package.ts";
import { packageWeights } from "../model/weights.ts";
import { leavesSmsFree } from "../scheduler/padding.ts";

/** Tolerances of the PyTorch comparison (relative L2 error). */
export const TOLERANCE = { float16: 1e-2, float32: 1e-4 } as const;

/** One model's row of models.json. */
export interface ModelRow {
  model: string;
  /** Why the model could not be checked or timed, if it failed. */
  error?: string;
  reef_ms: number;
  torch_ms: number;
  ratio: number;
  be_overhead: number;
  /**
   * The DKP build against raw as `reef` mode uses it: each kernel that padding may pad
   * (`leavesSmsFree`) as its padding launch with no BE blocks, the others raw, as `reef` mode never
   * launches them padded.
   */
  dkp_overhead: number;
  /** The DKP build against raw with every kernel as its padding launch (REEF's fig. 16). */
  dkp_overhead_all_kernels: number;
  /** The fp16 BE build's longest stretch of a block between two flag checks, µs. */
  check_interval_us_max: number;
  /** The kernel with that stretch. */
  check_interval_kernel: string;
  rel_err_fp16: number;
  rel_err_fp32: number;
  kernels: number;
  builds_identical: boolean;
  abort_restore_identical: boolean;
  aborts: number;
}

/** models.json. */
export interface ModelsBenchResult {
  device: string;
  command: string;
  torch: string;
  models: ModelRow[];
  passed: boolean;
}

/** Options of {@linkcode runModelsBench}. */
export interface ModelsBenchOptions {
  models: string[];
  /** Where packages are compiled (fp16 as `<m>`, fp32 as `<m>-fp32`). */
  root: string;
  /** Scratch folder for inputs and reference outputs. */
  work: string;
  command: string;
  /** Timed runs per build (median reported). */
  repeats: number;
  /** Aborted-and-resumed inferences per model and precision. */
  aborts: number;
  /** Writes a line of the log. */
  log: (line: string) => void;
}

const scripts = new URL("../../evaluation/scripts/", import.meta.url).pathname;

/** A standard normal sample from a uniform source (Box-Muller). */
function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A fresh (unseeded) source of uniforms in [0, 1). */
function freshRandom(): () => number {
  const words = new Uint32Array(1024);
  let next = words.length;
  return () => {
    if (next === words.length) {
      crypto.getRandomValues(words);
      next = 0;
    }
    return words[next++]! / 2 ** 32;
  };
}

/** The relative L2 error of `actual` against `reference`. */
export function relativeL2(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (actual.length !== reference.length) {
    throw new Error(`Cannot compare ${actual.length} values with ${reference.length}`);
  }
  let diff = 0, norm = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i]! - reference[i]!;
    diff += d * d;
    norm += reference[i]! * reference[i]!;
  }
  return Number.isFinite(diff) ? Math.sqrt(diff / norm) : Infinity;
}

/** A model input: NCHW (or token) values for PyTorch, and the bytes of the package's storage. */
interface Input {
  torch: Float32Array | Int32Array;
  torchShape: number[];
  bytes: (stype: TensorSpec["datatype"]) => Uint8Array<ArrayBuffer>;
}

function makeInput(spec: TensorSpec, random: () => number): Input {
  if (spec.datatype === "INT32") {
    // Token ids: BERT's vocabulary has 30 522 entries.
    const ids = Int32Array.from(
      { length: spec.shape.reduce((a, b) => a * b) },
      () => Math.floor(random() * 30522),
    );
    return { torch: ids, torchShape: spec.shape, bytes: () => new Uint8Array(ids.buffer) };
  }
  const [n, h, w, c] = spec.shape as [number, number, number, number];
  // Values exactly representable in fp16, so both precisions and PyTorch see the same input.
  const nhwc = new Float16Array(n * h * w * c).map(() => gaussian(random));
  const nchw = new Float32Array(nhwc.length);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          nchw[((b * c + k) * h + y) * w + x] = nhwc[((b * h + y) * w + x) * c + k]!;
        }
      }
    }
  }
  return {
    torch: nchw,
    torchShape: [n, c, h, w],
    bytes: (datatype) =>
      datatype === "FP16"
        ? new Uint8Array(nhwc.buffer)
        : new Uint8Array(Float32Array.from(nhwc).buffer),
  };
}

function decode(bytes: Uint8Array, datatype: TensorSpec["datatype"]): Float64Array {
  const values = datatype === "FP16"
    ? new Float16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)
    : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return Float64Array.from(values);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compiles the fp16 and fp32 packages of every model, several models at a time. */
async function compileAll(options: ModelsBenchOptions): Promise<void> {
  const jobs = options.models.flatMap((model) => [
    async () => {
      const { paths } = await compileModel(model, { root: options.root, saveWeights: true });
      await compileTraceBuild(paths);
    },
    () =>
      compileModel(model, {
        root: options.root,
        precision: "float32",
        packageName: `${model}-fp32`,
      }),
  ]);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: 6 }, worker));
}

interface Loaded {
  model: LoadedModel;
  instance: ModelInstance;
  input: TensorSpec;
  outputs: TensorSpec[];
}

async function load(device: Device, root: string, name: string, flag: bigint): Promise<Loaded> {
  const paths = packagePaths(name, root);
  const pkg = await readPackage(paths);
  const model = await LoadedModel.load(device, paths, pkg, await packageWeights(paths, pkg), {
    be: true,
    dkp: true,
  });
  return {
    model,
    instance: model.createInstance(flag),
    input: pkg.inputs![0]!,
    outputs: pkg.outputs!,
  };
}

/**
 * How an inference is launched: a build, or the DKP build's padding launches (with no BE blocks)
 * for the kernels `reef` mode may pad (`dkp`) or for all of them (`dkp-all`).
 */
type Launches = "raw" | "be" | "dkp" | "dkp-all";

/** Enqueues every kernel of one inference. */
function launchAll(instance: ModelInstance, stream: Stream, how: Launches): void {
  const kernels = instance.model.kernels;
  if (how === "raw" || how === "be") return instance.launch(stream, 0, kernels.length, how);
  const sms = instance.model.device.properties.smCount;
  kernels.forEach((kernel, i) => {
    if (how === "dkp-all" || leavesSmsFree(kernel.blocks, sms)) {
      instance.launchDkp(stream, i, i + 1);
    } else instance.launch(stream, i, i + 1, "raw");
  });
}

function runOnce(
  loaded: Loaded,
  stream: Stream,
  build: Launches,
  input: Uint8Array<ArrayBuffer>,
): Uint8Array[] {
  const { instance } = loaded;
  const n = loaded.model.kernels.length;
  instance.upload(stream, loaded.input, input);
  if (build === "be") instance.resetStopMarks(stream, 0, n);
  launchAll(instance, stream, build);
  stream.synchronizeSync();
  return loaded.outputs.map((o) => instance.download(stream, o.storage));
}

/**
 * The fp16 BE build's check interval: the model loaded with its trace build runs `runs`
 * inferences; each kernel's slot keeps the longest stretch any of its finished blocks ran without
 * a flag check. The traced outputs must equal the raw build's, like the BE build's.
 */
async function measureCheckInterval(
  device: Device,
  root: string,
  name: string,
  flag: bigint,
  stream: Stream,
  input: Uint8Array<ArrayBuffer>,
  expected: Uint8Array[],
  runs = 3,
): Promise<{ us: number; kernel: string }> {
  const paths = packagePaths(name, root);
  const pkg = await readPackage(paths);
  using model = await LoadedModel.load(device, paths, pkg, await packageWeights(paths, pkg), {
    traceBinary: `${name}.trace.fatbin`,
  });
  using instance = model.createInstance(flag);
  const loaded: Loaded = { model, instance, input: pkg.inputs![0]!, outputs: pkg.outputs! };
  // runOnce zeroes the stop marks (and slots) before the first run only, so the slots keep the
  // longest stretch of all runs.
  const outputs = runOnce(loaded, stream, "be", input);
  if (!outputs.every((o, i) => equalBytes(o, expected[i]!))) {
    throw new Error(`${name}: the check-interval trace build's outputs differ from raw`);
  }
  for (let run = 1; run < runs; run++) instance.launch(stream, 0, model.kernels.length, "be");
  stream.synchronizeSync();
  const intervals = instance.readCheckIntervalsUs(stream);
  let worst = 0;
  intervals.forEach((us, i) => {
    if (us > intervals[worst]!) worst = i;
  });
  return { us: intervals[worst]!, kernel: model.kernels[worst]!.call.name };
}

/**
 * Launches the BE build, sets the flag after a random delay within the model's run time, and
 * resumes from the exact restore point. Returns the outputs and whether the run was cut short.
 */
function abortAndResume(
  loaded: Loaded,
  stream: Stream,
  control: Stream,
  flag: bigint,
  input: Uint8Array<ArrayBuffer>,
  delayUs: number,
): { outputs: Uint8Array[]; aborted: boolean } {
  const { instance } = loaded;
  const n = loaded.model.kernels.length;
  instance.upload(stream, loaded.input, input);
  instance.resetStopMarks(stream, 0, n);
  instance.launch(stream, 0, n, "be");
  const until = performance.now() + delayUs / 1000;
  while (performance.now() < until) { /* let part of the inference run */ }
  control.writeU32(flag, 1);
  stream.synchronizeSync();
  const marks = instance.readStopMarks(stream);
  const stopped = marks.findIndex((mark) => mark !== 0);
  const restore = stopped === -1 ? n : stopped;
  control.writeU32(flag, 0);
  control.synchronizeSync();
  instance.resetStopMarks(stream, restore, n);
  instance.launch(stream, restore, n, "be");
  stream.synchronizeSync();
  return {
    outputs: loaded.outputs.map((o) => instance.download(stream, o.storage)),
    aborted: restore < n,
  };
}

/** GPU time of one inference (ms) with the given build, from the gated timer. */
function timeBuild(
  loaded: Loaded,
  timer: GatedTimer,
  build: Launches,
  repeats: number,
): number {
  return timer.time(repeats, () => launchAll(loaded.instance, timer.stream, build)) / 1000;
}

/** One model's input for PyTorch and where its reference outputs go. */
interface ReferenceJob {
  model: string;
  weights: string;
  input: Input;
  out: string;
}

/**
 * Runs every model's PyTorch reference in one Python process (torch is imported once) and reads
 * the outputs back: model -> output name -> float64 values.
 */
async function torchReferences(
  jobs: ReferenceJob[],
  work: string,
): Promise<Map<string, Map<string, Float64Array>>> {
  const list = [];
  for (const job of jobs) {
    await Deno.mkdir(job.out, { recursive: true });
    await Deno.writeFile(`${job.out}/input.bin`, new Uint8Array(job.input.torch.buffer));
    list.push({
      model: job.model,
      weights: job.weights,
      input: `${job.out}/input.bin`,
      shape: job.input.torchShape,
      dtype: job.input.torch instanceof Int32Array ? "int32" : "float32",
      out: job.out,
    });
  }
  await Deno.writeTextFile(`${work}/jobs.json`, JSON.stringify(list));
  const result = await new Deno.Command("python3", {
    args: [`${scripts}torch_reference.py`, `${work}/jobs.json`],
    stderr: "piped",
  }).output();
  if (result.code !== 0) {
    throw new Error(
      `torch_reference.py failed: ${new TextDecoder().decode(result.stderr).trim()}`,
    );
  }
  const references = new Map<string, Map<string, Float64Array>>();
  const lines = new TextDecoder().decode(result.stdout).trim().split("\n");
  for (const [index, line] of lines.entries()) {
    const { model, outputs } = JSON.parse(line) as {
      model: string;
      outputs: Record<string, number[]>;
    };
    const outputsByName = new Map<string, Float64Array>();
    for (const name of Object.keys(outputs)) {
      const bytes = await Deno.readFile(`${jobs[index]!.out}/${name}.bin`);
      outputsByName.set(
        name,
        new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8),
      );
    }
    references.set(model, outputsByName);
  }
  return references;
}

async function torchTimings(
  models: string[],
): Promise<{ version: string; ms: Map<string, number> }> {
  const result = await new Deno.Command("python3", {
    args: [`${scripts}torch_models.py`, "--models", models.join(","), "--precision", "float16"],
    stderr: "piped",
  }).output();
  if (result.code !== 0) {
    throw new Error(`torch_models.py failed: ${new TextDecoder().decode(result.stderr).trim()}`);
  }
  const report = JSON.parse(new TextDecoder().decode(result.stdout));
  const ms = new Map<string, number>();
  for (const [name, entry] of Object.entries(report.models as Record<string, { ms_p50: number }>)) {
    ms.set(name, entry.ms_p50);
  }
  return { version: `torch ${report.torch}, cuDNN ${report.cudnn}`, ms };
}

/** Runs the whole benchmark; see the module notes. */
export async function runModelsBench(options: ModelsBenchOptions): Promise<ModelsBenchResult> {
  const { log } = options;
  log(`compiling ${options.models.length} models (fp16 and fp32) into ${options.root}`);
  await compileAll(options);
  const torch = await torchTimings(options.models);
  log(`PyTorch baseline: ${torch.version}`);
  using device = Device.open(0);
  using timer = new GatedTimer(device);
  const { stream, control } = timer;
  using flag = device.allocPreemptFlag();
  const random = freshRandom();
  const inputs = new Map<string, Input>();
  for (const model of options.models) {
    const pkg = await readPackage(packagePaths(model, options.root));
    inputs.set(model, makeInput(pkg.inputs![0]!, random));
  }
  const references = await torchReferences(
    options.models.map((model) => ({
      model,
      weights: `${packagePaths(model, options.root).dir}/${model}.safetensors`,
      input: inputs.get(model)!,
      out: `${options.work}/${model}`,
    })),
    options.work,
  );
  log(`PyTorch float64 references computed for ${references.size} models`);
  const rows: ModelRow[] = [];
  const checkModel = async (model: string): Promise<ModelRow> => {
    const errors: Record<"float16" | "float32", number> = { float16: NaN, float32: NaN };
    let identical = true, restored = true, aborts = 0, reefMs = NaN, beMs = NaN, dkpMs = NaN;
    let dkpAllMs = NaN;
    let kernels = 0;
    let interval = { us: NaN, kernel: "" };
    const input = inputs.get(model)!;
    const reference = references.get(model);
    if (!reference) throw new Error(`PyTorch gave no reference for ${model}`);
    for (const precision of ["float16", "float32"] as const) {
      const name = precision === "float16" ? model : `${model}-fp32`;
      const loaded = await load(device, options.root, name, flag.address);
      try {
        const bytes = input.bytes(loaded.input.datatype);
        const raw = runOnce(loaded, stream, "raw", bytes);
        const be = runOnce(loaded, stream, "be", bytes);
        const dkp = runOnce(loaded, stream, "dkp-all", bytes);
        const same = raw.every((r, i) => equalBytes(r, be[i]!) && equalBytes(r, dkp[i]!));
        identical &&= same;
        const latencyUs = timeBuild(loaded, timer, "raw", 3) *
          1000;
        for (let a = 0; a < options.aborts; a++) {
          const resumed = abortAndResume(
            loaded,
            stream,
            control,
            flag.address,
            bytes,
            random() * latencyUs,
          );
          if (resumed.aborted) aborts++;
          restored &&= resumed.outputs.every((o, i) => equalBytes(o, raw[i]!));
        }
        let worst = 0;
        loaded.outputs.forEach((spec, i) => {
          const ref = reference.get(spec.name);
          if (!ref) throw new Error(`PyTorch gave no output "${spec.name}" for ${model}`);
          worst = Math.max(worst, relativeL2(decode(raw[i]!, spec.datatype), ref));
        });
        errors[precision] = worst;
        if (precision === "float16") {
          kernels = loaded.model.kernels.length;
          reefMs = timeBuild(loaded, timer, "raw", options.repeats);
          beMs = timeBuild(loaded, timer, "be", options.repeats);
          dkpMs = timeBuild(loaded, timer, "dkp", options.repeats);
          dkpAllMs = timeBuild(loaded, timer, "dkp-all", options.repeats);
          interval = await measureCheckInterval(
            device,
            options.root,
            name,
            flag.address,
            stream,
            bytes,
            raw,
          );
        }
        log(
          `${name}: rel_err ${worst.toExponential(2)} (limit ${TOLERANCE[precision]}), ` +
            `raw=BE=DKP ${same ? "yes" : "NO"}, abort+restore bit-identical ${
              restored ? "yes" : "NO"
            }`,
        );
      } finally {
        loaded.model.close();
      }
    }
    const torchMs = torch.ms.get(model) ?? NaN;
    const row: ModelRow = {
      model,
      reef_ms: round(reefMs),
      torch_ms: round(torchMs),
      ratio: round(reefMs / torchMs),
      be_overhead: round(beMs / reefMs - 1),
      dkp_overhead: round(dkpMs / reefMs - 1),
      dkp_overhead_all_kernels: round(dkpAllMs / reefMs - 1),
      check_interval_us_max: round(interval.us),
      check_interval_kernel: interval.kernel,
      rel_err_fp16: errors.float16,
      rel_err_fp32: errors.float32,
      kernels,
      builds_identical: identical,
      abort_restore_identical: restored,
      aborts,
    };
    log(
      `${model}: reef ${row.reef_ms} ms, torch ${row.torch_ms} ms, ratio ${row.ratio}, ` +
        `BE overhead ${(row.be_overhead * 100).toFixed(1)}%, DKP overhead ` +
        `${(row.dkp_overhead * 100).toFixed(1)}% (every kernel padded: ` +
        `${(row.dkp_overhead_all_kernels * 100).toFixed(1)}%), check interval ` +
        `${row.check_interval_us_max} µs (${row.check_interval_kernel}), ${kernels} kernels, ` +
        `${aborts} aborts`,
    );
    return row;
  };
  for (const model of options.models) {
    try {
      rows.push(await checkModel(model));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`${model}: FAILED: ${message}`);
      rows.push({
        model,
        error: message,
        reef_ms: NaN,
        torch_ms: torch.ms.get(model) ?? NaN,
        ratio: NaN,
        be_overhead: NaN,
        dkp_overhead: NaN,
        dkp_overhead_all_kernels: NaN,
        check_interval_us_max: NaN,
        check_interval_kernel: "",
        rel_err_fp16: NaN,
        rel_err_fp32: NaN,
        kernels: 0,
        builds_identical: false,
        abort_restore_identical: false,
        aborts: 0,
      });
    }
  }
  const passed = rows.every((r) =>
    r.error === undefined && r.rel_err_fp16 < TOLERANCE.float16 &&
    r.rel_err_fp32 < TOLERANCE.float32 &&
    r.builds_identical && r.abort_restore_identical
  );
  return {
    device: device.properties.name,
    command: options.command,
    torch: torch.version,
    models: rows,
    passed,
  };
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
