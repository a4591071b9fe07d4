/**
 * `reef compile`: a zoo model to a model package. Builds the graph, lowers it (structure only:
 * weights are reproduced at load time from the seed or weights file recorded in the package),
 * emits the raw, BE and DKP sources of its kernels, writes `<m>.json` in REEF's format, and
 * compiles the three builds with nvcc (or hipcc for AMD, portable kernels only).
 * @module
 */

import { emitModel, type EmittedModel } from "../kernels/emit.ts";
import {
  buildModel as buildBinaries,
  compile as compileSource,
  type ModelBuild,
} from "../kernels/nvcc.ts";
import type { Precision } from "../kernels/ops.ts";
import {
  defaultResourceRoot,
  type ModelPackage,
  type PackagePaths,
  packagePaths,
  packagePathsIn,
  parsePackage,
  type TensorSpec,
} from "../model/package.ts";
import { VERSION } from "../version.ts";
import { type LoweredStructure, planLowering } from "./lower.ts";
import { loadWeights, saveWeights, synthesizeWeights } from "./weights.ts";
import { buildModel } from "./zoo/mod.ts";

/** Options of {@linkcode compileModel}. */
export interface CompileModelOptions {
  /** Default 1. */
  batch?: number;
  /** Default `float16`. */
  precision?: Precision;
  /** Seed of the synthetic weights; default 0. */
  seed?: number;
  /** A safetensors file in PyTorch naming to use instead of synthetic weights. */
  weightsFile?: string;
  /** Where packages go (`<root>/<m>/`); default `resource/`. */
  root?: string;
  /** Package folder name; default the model name (e.g. `resnet50-fp32` for a second precision). */
  packageName?: string;
  /** `cuda` (nvcc) or `hip` (hipcc, gfx906; written to `<package>/hip/`); default `cuda`. */
  target?: "cuda" | "hip";
  /** Run the compiler (default true); false writes the sources and JSON only. */
  build?: boolean;
  /** Also write the weights as `<package>/<m>.safetensors` (for PyTorch comparisons). */
  saveWeights?: boolean;
}

/** What {@linkcode compileModel} produced. */
export interface CompiledModel {
  paths: PackagePaths;
  pkg: ModelPackage;
  emitted: EmittedModel;
  build: ModelBuild | undefined;
}

const DATATYPE = { float16: "FP16", float32: "FP32", int32: "INT32" } as const;

function tensorSpecs(tensors: LoweredStructure["inputs"]): TensorSpec[] {
  return tensors.map((t) => ({
    name: t.name,
    storage: t.name,
    shape: [...t.shape],
    datatype: DATATYPE[t.stype],
    layout: t.layout === "nhwc" ? "NHWC" : "ROW_MAJOR",
  }));
}

/** The model package (REEF's JSON plus reef's fields) for an emitted model. */
export function packageOf(
  lowered: LoweredStructure,
  emitted: EmittedModel,
  compiled: ModelPackage["model"],
): ModelPackage {
  const storage = [
    ...lowered.storage.map(({ name, size, stype }) => ({ name, size, stype })),
    ...emitted.workspaces.map(({ name, size, stype }) => ({ name, size, stype })),
  ];
  const index = new Map(storage.map((s, i) => [s.name, i]));
  const argIndex = (name: string, kernel: string): number => {
    const i = index.get(name);
    if (i === undefined) {
      throw new Error(`Kernel "${kernel}" of "${lowered.name}" uses unknown storage "${name}"`);
    }
    return i;
  };
  const ext = emitted.target === "hip" ? "co" : "fatbin";
  return {
    storage,
    kernels: emitted.launches.map((launch) => ({
      name: launch.name,
      launch_params: launch.launch_params,
      args: launch.args.map((name) => argIndex(name, launch.name)),
    })),
    args: lowered.storage.flatMap((s, i) => s.role === "activation" ? [] : [i]),
    shared_memory: Object.fromEntries(emitted.launches.map((l) => [l.name, l.shared_memory])),
    model: compiled,
    inputs: tensorSpecs(lowered.inputs),
    outputs: tensorSpecs(lowered.outputs),
    binaries: {
      raw: `${emitted.model}.${ext}`,
      be: `${emitted.model}.be.${ext}`,
      // CUDA: a linked sm_90 cubin (src/kernels/nvcc.ts, CompileJob.relocatable).
      dkp: `${emitted.model}.trans.${emitted.target === "hip" ? "co" : "cubin"}`,
    },
  };
}

/** Compiles zoo model `name` into a package; see {@linkcode CompileModelOptions}. */
export async function compileModel(
  name: string,
  options: CompileModelOptions = {},
): Promise<CompiledModel> {
  const batch = options.batch ?? 1;
  const precision = options.precision ?? "float16";
  const seed = options.seed ?? 0;
  const target = options.target ?? "cuda";
  const graph = buildModel(name, { batch });
  const lowered = planLowering(graph, { precision });
  const packageName = options.packageName ?? name;
  const base = packagePaths(packageName, options.root ?? defaultResourceRoot());
  const out = target === "hip" ? packagePathsIn(`${base.dir}/hip`, packageName) : base;
  const emitted = emitModel(packageName, lowered.ops, { precision, target });
  const compiled: ModelPackage["model"] = {
    zoo: name,
    batch,
    precision,
    seed,
    ...(options.weightsFile ? { weights_file: options.weightsFile } : {}),
    reef_version: VERSION,
  };
  const pkg = packageOf(lowered, emitted, compiled);
  // Validate what we write with the same schema the loader uses.
  parsePackage(JSON.stringify(pkg), out.json);
  await Deno.mkdir(out.dir, { recursive: true });
  if (options.weightsFile) await loadWeights(options.weightsFile, graph);
  if (options.saveWeights) {
    const weights = options.weightsFile
      ? await loadWeights(options.weightsFile, graph)
      : synthesizeWeights(graph, seed);
    await saveWeights(`${out.dir}/${packageName}.safetensors`, graph, weights);
  }
  let build: ModelBuild | undefined;
  if (options.build ?? true) {
    build = await buildBinaries(emitted, out.dir);
  } else {
    for (const file of Object.values(emitted.files)) {
      await Deno.writeTextFile(`${out.dir}/${file.fileName}`, file.text);
    }
  }
  await Deno.writeTextFile(out.json, JSON.stringify(pkg, null, 1) + "\n");
  return { paths: out, pkg, emitted, build };
}

/**
 * Compiles a variant of a compiled CUDA package's BE build (its BE source with `defines`, the
 * macros of reef_kernel.cuh) into `<m>.<variant>.fatbin` beside it, for `LoadedModel.load`'s
 * `beBinary` or `traceBinary`. A variant is a measuring tool, not part of the package.
 * @returns The binary's file name, relative to the package's folder.
 * @throws {Error} naming the source when nvcc fails or the BE source is missing.
 */
export async function compileBeVariant(
  paths: PackagePaths,
  variant: string,
  defines: readonly string[],
): Promise<string> {
  const file = `${paths.name}.${variant}.fatbin`;
  await compileSource({
    source: `${paths.dir}/${paths.name}.be.cu`,
    output: `${paths.dir}/${file}`,
    flags: defines.map((name) => `-D${name}`),
  });
  return file;
}

/** The check-interval trace build (`REEF_CHECK_TRACE`): `<m>.trace.fatbin`, see compileBeVariant. */
export function compileTraceBuild(paths: PackagePaths): Promise<string> {
  return compileBeVariant(paths, "trace", ["REEF_CHECK_TRACE"]);
}
