/**
 * Model packages for the simulator. Packages are read and validated by the project's package
 * module (src/model/package.ts: `<root>/<m>/<m>.json` in REEF's format with reef's optional
 * additions, and `<m>.profile.json`), so the simulator loads exactly what the GPU loads; this module
 * keeps what the simulator needs and adds its own requirement: a profile time for every kernel.
 *
 * Inputs and outputs are the package's `inputs` and `outputs` tensors; a package without them
 * (REEF's own files) follows REEF's naming: storages `data` and `input<N>` are inputs, `output` and
 * `output<N>` outputs, each tensor named after its storage.
 * @module
 */

import {
  launchDimensions,
  type ModelPackage,
  type ModelProfile,
  packagePaths,
  readPackage,
  readProfile,
  storageBytes,
  type TensorSpec,
} from "../../model/package.ts";
import type { TensorSlot } from "../../scheduler/device_handle.ts";

/** One kernel call as the simulator models it. */
export interface SimKernelSpec {
  readonly name: string;
  readonly grid: readonly [number, number, number];
  readonly block: readonly [number, number, number];
  /** Shared memory per block, bytes. */
  readonly sharedMemory: number;
  /** Standalone time of the whole kernel, µs (the profile's `total_latency`). */
  readonly timeUs: number;
  /** One wave's time with j + 1 blocks per SM at index j (the profile's `latency`), µs. */
  readonly waveUs: readonly number[];
  /** Resident blocks per SM from the profile's `blocks_per_sm`, if given. */
  readonly blocksPerSm: number | undefined;
  /** The profile's `padding_slowdown`, if given. */
  readonly paddingSlowdown?: number;
}

/** What the simulator needs of a model package. */
export interface SimPackage {
  readonly name: string;
  /** Bytes of every storage, by name. */
  readonly storage: ReadonlyMap<string, number>;
  readonly kernels: readonly SimKernelSpec[];
  /** Standalone time of one inference, µs (`model_latency`). */
  readonly latencyUs: number;
  readonly inputs: readonly TensorSlot[];
  readonly outputs: readonly TensorSlot[];
}

/**
 * Reads model `name` from `<root>/<name>/`.
 * @throws {Error} naming the file and field for an invalid package, or a missing profile entry.
 */
export async function readSimPackage(root: string, name: string): Promise<SimPackage> {
  const paths = packagePaths(name, root);
  const pkg = await readPackage(paths);
  const profile = await readProfile(paths);
  if (profile === undefined) {
    throw new Error(
      `Cannot load model "${name}" on the simulated device: it needs kernel times from "${paths.profile}", which does not exist`,
    );
  }
  return toSimPackage(name, pkg, profile, paths.profile);
}

/**
 * Reduces a validated package and its profile to a {@linkcode SimPackage}.
 * @param profileFile names the profile in errors.
 * @throws {Error} for a kernel without a profile entry.
 */
export function toSimPackage(
  name: string,
  pkg: ModelPackage,
  profile: ModelProfile,
  profileFile: string,
): SimPackage {
  const kernels = pkg.kernels.map((kernel, i): SimKernelSpec => {
    const time = Object.hasOwn(profile.kernel_latency, kernel.name)
      ? profile.kernel_latency[kernel.name]!
      : undefined;
    if (time === undefined) {
      throw new Error(
        `Cannot load model "${name}" on the simulated device: field "kernel_latency" of "${profileFile}" has no entry for kernel "${kernel.name}" (kernels[${i}])`,
      );
    }
    const { grid, block } = launchDimensions(kernel);
    return {
      name: kernel.name,
      grid,
      block,
      sharedMemory: pkg.shared_memory[kernel.name] ?? 0,
      timeUs: time.total_latency,
      waveUs: time.latency,
      blocksPerSm: profile.blocks_per_sm?.[kernel.name],
      paddingSlowdown: profile.padding_slowdown?.[kernel.name],
    };
  });
  const storage = new Map(pkg.storage.map((entry) => [entry.name, storageBytes(entry)]));
  const slots = (tensors: readonly TensorSpec[] | undefined, fallback: RegExp): TensorSlot[] =>
    tensors !== undefined
      ? tensors.map((t) => ({ name: t.name, storage: t.storage, bytes: storage.get(t.storage)! }))
      : pkg.storage.filter((entry) => fallback.test(entry.name))
        .map((entry) => ({ name: entry.name, storage: entry.name, bytes: storageBytes(entry) }));
  return {
    name,
    storage,
    kernels,
    latencyUs: profile.model_latency,
    inputs: slots(pkg.inputs, /^(data|input\d*)$/),
    outputs: slots(pkg.outputs, /^output\d*$/),
  };
}
