/**
 * Synthetic models for the preemption benchmarks (REEF's `bench_kernel`): packages of kernels
 * whose blocks run a chosen number of trips of serial FMA work, with a check point per trip. They
 * are real model packages (JSON, raw and BE binaries) that the GPU device loads like any model.
 * @module
 */

import type { Weights } from "../model/executor.ts";
import { type ModelPackage, type PackagePaths, packagePaths } from "../model/package.ts";
import { VERSION } from "../version.ts";

/** One synthetic kernel call. */
export interface SyntheticKernel {
  /** Blocks in the grid. */
  blocks: number;
  /** Threads per block. */
  threads: number;
  /** Trips per block: each ends at a check point. */
  trips: number;
  /** FMAs per thread per trip (sets how long a trip takes). */
  work: number;
}

/** A built synthetic package. */
export interface SyntheticModel {
  paths: PackagePaths;
  pkg: ModelPackage;
  weights: Weights;
}

const kernelsDir = new URL("../kernels", import.meta.url).pathname;

function kernelName(k: SyntheticKernel): string {
  return `syn_t${k.threads}_r${k.trips}_w${k.work}`;
}

/** The CUDA source of the kernels, for one build (the wrappers of reef_kernel.cuh). */
export function syntheticSource(kernels: SyntheticKernel[]): string {
  const distinct = new Map(kernels.map((k) => [kernelName(k), k]));
  const wrappers = [...distinct].map(([name, k]) => {
    const body = `synthetic_body<${k.threads}, ${k.trips}, ${k.work}>`;
    return `#if defined(REEF_BUILD_RAW)
extern "C" __global__ void __launch_bounds__(${k.threads}) ${name}(const float* in, float* out) {
  ${body}(reef::launch_block(), in, out);
}
#elif defined(REEF_BUILD_BE)
extern "C" __global__ void __launch_bounds__(${k.threads})
${name}(const int* reef_flag, unsigned* reef_mark, const float* in, float* out) {
  reef::block_end(reef_mark, ${body}(reef::launch_block(reef_flag), in, out));
}
#endif`;
  });
  return `#include "synthetic.cuh"\n${wrappers.join("\n")}\n`;
}

async function nvcc(source: string, build: "RAW" | "BE", output: string): Promise<void> {
  const result = await new Deno.Command("nvcc", {
    args: [
      "-fatbin",
      "-gencode=arch=compute_90,code=sm_90",
      "-O3",
      `-DREEF_BUILD_${build}`,
      "-I",
      kernelsDir,
      source,
      "-o",
      output,
    ],
  }).output();
  if (result.code !== 0) {
    throw new Error(
      `nvcc failed on ${source} (${build} build):\n${new TextDecoder().decode(result.stderr)}`,
    );
  }
}

/** Options of {@linkcode syntheticPackage} and {@linkcode buildSyntheticModel}. */
export interface SyntheticPackageOptions {
  /**
   * Which kernel outputs are the model's outputs: `all` (default; every call's output, so each
   * call can be checked) or `last` (only the last call's, so that a benchmark of a model with
   * hundreds of calls does not copy every buffer back after each inference).
   */
  outputs?: "all" | "last";
}

/**
 * The package of a synthetic model `name` (no file is written): storage `in` (32 floats, a
 * weight) and one output storage per kernel call, so every call can be re-run independently.
 */
export function syntheticPackage(
  name: string,
  kernels: SyntheticKernel[],
  options: SyntheticPackageOptions = {},
): ModelPackage {
  const outputs = kernels.map((k, i) => ({
    name: `out${i}`,
    storage: `out${i}`,
    shape: [k.blocks * k.threads],
    datatype: "FP32" as const,
    layout: "ROW_MAJOR" as const,
  }));
  return {
    storage: [
      { name: "in", size: 32, stype: "float32" },
      ...kernels.map((k, i) => ({
        name: `out${i}`,
        size: k.blocks * k.threads,
        stype: "float32" as const,
      })),
    ],
    kernels: kernels.map((k, i) => ({
      name: kernelName(k),
      launch_params: [k.blocks, 1, 1, k.threads, 1, 1],
      args: [0, i + 1],
    })),
    shared_memory: Object.fromEntries(kernels.map((k) => [kernelName(k), 0])),
    outputs: options.outputs === "last" ? outputs.slice(-1) : outputs,
    // No DKP build: the synthetic models stand for BE work that is preempted, never padded.
    binaries: { raw: `${name}.fatbin`, be: `${name}.be.fatbin` },
    model: {
      zoo: "synthetic",
      batch: 1,
      precision: "float32",
      seed: 0,
      reef_version: VERSION,
    },
  };
}

/**
 * Writes and compiles (with nvcc) the synthetic package `name` under `root`; see
 * {@linkcode syntheticPackage}.
 */
export async function buildSyntheticModel(
  root: string,
  name: string,
  kernels: SyntheticKernel[],
  options: SyntheticPackageOptions = {},
): Promise<SyntheticModel> {
  const paths = packagePaths(name, root);
  await Deno.mkdir(paths.dir, { recursive: true });
  const source = `${paths.dir}/${name}.cu`;
  await Deno.writeTextFile(source, syntheticSource(kernels));
  await Promise.all([
    nvcc(source, "RAW", `${paths.dir}/${name}.fatbin`),
    nvcc(source, "BE", `${paths.dir}/${name}.be.fatbin`),
  ]);
  const pkg = syntheticPackage(name, kernels, options);
  await Deno.writeTextFile(paths.json, JSON.stringify(pkg, null, 2));
  return { paths, pkg, weights: syntheticWeights() };
}

/** The weights of every synthetic model: the 32 input values its kernels read. */
export function syntheticWeights(): Weights {
  const input = new Float32Array(32).map((_, i) => 1 + i / 32);
  return new Map([["in", new Uint8Array(input.buffer)]]);
}
