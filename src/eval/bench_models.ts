/**
 * The synthetic models of the preemption benchmarks (REEF's `bench_kernel` and `mocked_kernel`):
 * the tiny RT model, and the BE models of the four preemption sweeps of issue 4 (BE kernel
 * duration, queued BE kernels, BE tasks, device-queue capacity). Each is a list of spin kernels
 * (`synthetic.ts`) sized for a target duration from a calibration constant.
 *
 * On the GPU they are compiled with nvcc ({@linkcode writeGpuBenchModel}); the simulated device
 * needs no binaries but a profile, which {@linkcode writeSimBenchModel} computes from the same
 * constant. Nothing measured is ever derived from the constant: the sweeps report kernel times
 * measured in the same run (standalone runs of each BE model), and the constant only decides how
 * many FMAs a kernel does.
 * @module
 */

import { H100_LIKE } from "../gpu/sim/options.ts";
import { type ModelProfile, type PackagePaths, packagePaths } from "../model/package.ts";
import {
  buildSyntheticModel,
  type SyntheticKernel,
  syntheticPackage,
  type SyntheticPackageOptions,
} from "./synthetic.ts";

/**
 * Calibration constant: nanoseconds per dependent FP32 FMA of one thread of a spin kernel. It
 * assumes 4 cycles of FMA latency at the H100 SXM's 1.755 GHz boost clock with at most 4 warps per
 * SM sub-partition (so issue never limits a dependent chain): 4 / 1.755 = 2.3 ns. This is an
 * assumption from the data sheet, not a measurement; it sizes kernels on the GPU and is the whole
 * kernel time model of the simulated device.
 */
export const SYNTHETIC_NS_PER_FMA = 2.3;

/**
 * Target time of one trip of a spin kernel, µs: each trip ends at a check point, so this is how
 * long a running BE block may take to notice the preempt flag. The simulated device is given the
 * same interval for runs whose BE models are all synthetic.
 */
export const CHECK_INTERVAL_US = 5;

/** The options of the simulated device for runs whose BE work is all synthetic. */
export const SYNTHETIC_SIM_OPTIONS = {
  checkPoints: { kind: "interval", us: CHECK_INTERVAL_US },
} as const;

/** A synthetic benchmark model: its name, kernels and what it stands for. */
export interface BenchModelSpec {
  name: string;
  kernels: SyntheticKernel[];
  description: string;
}

/** The launch shape of a spin kernel. */
export interface SpinShape {
  blocks: number;
  threads: number;
}

/** BE kernels: 264 blocks of 256 threads, 2 per SM on 132 SMs, one wave. */
export const BE_SHAPE: SpinShape = { blocks: 264, threads: 256 };

/** RT kernels: 132 blocks of 128 threads, one per SM. */
export const RT_SHAPE: SpinShape = { blocks: 132, threads: 128 };

/**
 * A spin kernel of about `targetUs` per block (one wave): trips of about
 * {@linkcode CHECK_INTERVAL_US}, and FMAs per trip from {@linkcode SYNTHETIC_NS_PER_FMA}.
 */
export function spinKernel(targetUs: number, shape: SpinShape): SyntheticKernel {
  if (!(targetUs > 0)) {
    throw new RangeError(`Spin kernel duration "${targetUs}" µs must be positive`);
  }
  const trips = Math.max(1, Math.round(targetUs / CHECK_INTERVAL_US));
  const work = Math.max(1, Math.round((targetUs * 1e3) / (trips * SYNTHETIC_NS_PER_FMA)));
  return { ...shape, trips, work };
}

/** The time of one block of a spin kernel under the calibration constant, µs. */
export function nominalBlockUs(kernel: SyntheticKernel): number {
  return (kernel.trips * kernel.work * SYNTHETIC_NS_PER_FMA) / 1e3;
}

/** Name of the tiny RT model of the preemption benchmarks. */
export const MICRO_RT_MODEL = "micro_rt";

/**
 * The tiny RT model: two 15-µs kernels, standing in for REEF's `mocked_kernel` (two element-wise
 * kernels of about 30 µs in all), so that what is measured is the preemption, not the RT model.
 */
export const MICRO_RT: BenchModelSpec = {
  name: MICRO_RT_MODEL,
  kernels: [spinKernel(15, RT_SHAPE), spinKernel(15, RT_SHAPE)],
  description: "tiny RT model: 2 spin kernels of 15 µs (REEF's mocked_kernel)",
};

/** BE kernel durations of the kernel-duration sweep (fig. 13a), µs. */
export const KERNEL_SWEEP_US = [10, 30, 100, 300, 1000, 3000, 10000] as const;

/** Queued BE kernels of the queue sweep (fig. 13b). */
export const QUEUE_SWEEP_KERNELS = [1, 10, 100, 200, 300, 400, 500] as const;

/** BE tasks of the BE-task sweep (fig. 12a). */
export const BE_TASKS_SWEEP = [1, 2, 4, 6, 8] as const;

/** Device-queue capacities of the capacity sweep (fig. 14a). */
export const DQ_SWEEP = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const;

/**
 * Kernels of every kernel-duration model: the same at every point, so that only the kernel length
 * changes (a wait-based preemption also drains the queued kernels, which fig. 13b varies).
 */
export const KERNEL_SWEEP_KERNELS = 8;

/** A kernel-duration point's BE model: {@linkcode KERNEL_SWEEP_KERNELS} kernels of `kernelUs`. */
export function kernelSweepModel(kernelUs: number): BenchModelSpec {
  const count = KERNEL_SWEEP_KERNELS;
  return {
    name: `syn_k${kernelUs}us`,
    kernels: Array.from({ length: count }, () => spinKernel(kernelUs, BE_SHAPE)),
    description: `BE model: ${count} spin kernels of ${kernelUs} µs`,
  };
}

/** The BE model of one queue point: `kernels` spin kernels of 20 µs (REEF: N copies of `loop`). */
export function queueSweepModel(kernels: number): BenchModelSpec {
  return {
    name: `syn_q${kernels}`,
    kernels: Array.from({ length: kernels }, () => spinKernel(20, BE_SHAPE)),
    description: `BE model: ${kernels} spin kernels of 20 µs`,
  };
}

/** The BE model of the BE-task sweep: 32 kernels of 100 µs (REEF used resnet152). */
export const BE_TASKS_MODEL: BenchModelSpec = {
  name: "syn_be",
  kernels: Array.from({ length: 32 }, () => spinKernel(100, BE_SHAPE)),
  description: "BE model: 32 spin kernels of 100 µs",
};

/**
 * The BE model of the device-queue sweep: 64 kernels of 20 µs, short enough that the host's
 * launch gaps show when the device queue is small (REEF used resnet152).
 */
export const DQ_MODEL: BenchModelSpec = {
  name: "syn_dq",
  kernels: Array.from({ length: 64 }, () => spinKernel(20, BE_SHAPE)),
  description: "BE model: 64 spin kernels of 20 µs",
};

const BENCH_MODELS: ReadonlyMap<string, BenchModelSpec> = new Map(
  [
    MICRO_RT,
    ...KERNEL_SWEEP_US.map(kernelSweepModel),
    ...QUEUE_SWEEP_KERNELS.map(queueSweepModel),
    BE_TASKS_MODEL,
    DQ_MODEL,
  ].map((spec) => [spec.name, spec]),
);

/** Every synthetic benchmark model. */
export function benchModelSpecs(): BenchModelSpec[] {
  return [...BENCH_MODELS.values()];
}

/** The synthetic benchmark model of this name, or undefined for any other model. */
export function benchModelSpec(name: string): BenchModelSpec | undefined {
  return BENCH_MODELS.get(name);
}

const PACKAGE_OPTIONS: SyntheticPackageOptions = { outputs: "last" };

/**
 * The profile the simulated device uses for a synthetic model: each kernel's time is its waves
 * times {@linkcode nominalBlockUs} on the simulator's H100-like SMs. Labelled as computed.
 */
export function simProfile(spec: BenchModelSpec): ModelProfile {
  const pkg = syntheticPackage(spec.name, spec.kernels, PACKAGE_OPTIONS);
  const kernelLatency: ModelProfile["kernel_latency"] = {};
  let modelUs = 0;
  spec.kernels.forEach((kernel, i) => {
    const perSm = Math.min(
      H100_LIKE.maxBlocksPerSm,
      Math.floor(H100_LIKE.maxThreadsPerSm / kernel.threads),
    );
    const waves = Math.ceil(kernel.blocks / (H100_LIKE.sms * perSm));
    const blockUs = nominalBlockUs(kernel);
    kernelLatency[pkg.kernels[i]!.name] = { total_latency: waves * blockUs, latency: [blockUs] };
    modelUs += waves * blockUs;
  });
  return {
    model_latency: modelUs,
    kernel_latency: kernelLatency,
    device: `simulated: computed from SYNTHETIC_NS_PER_FMA = ${SYNTHETIC_NS_PER_FMA} ns ` +
      "(src/eval/bench_models.ts), not measured",
    command: "reef bench (synthetic model for the simulated device)",
  };
}

/**
 * Writes a synthetic model for the simulated device under `root`: its package and the profile
 * of {@linkcode simProfile} (no binaries, so no nvcc).
 */
export async function writeSimBenchModel(
  root: string,
  spec: BenchModelSpec,
): Promise<PackagePaths> {
  const paths = packagePaths(spec.name, root);
  await Deno.mkdir(paths.dir, { recursive: true });
  const pkg = syntheticPackage(spec.name, spec.kernels, PACKAGE_OPTIONS);
  await Deno.writeTextFile(paths.json, JSON.stringify(pkg, null, 2) + "\n");
  await Deno.writeTextFile(paths.profile, JSON.stringify(simProfile(spec), null, 2) + "\n");
  return paths;
}

/** Writes and compiles (nvcc) a synthetic model for the GPU under `root`. */
export async function writeGpuBenchModel(
  root: string,
  spec: BenchModelSpec,
): Promise<PackagePaths> {
  const model = await buildSyntheticModel(root, spec.name, spec.kernels, PACKAGE_OPTIONS);
  return model.paths;
}
