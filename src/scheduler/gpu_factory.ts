/**
 * The device factory for `{ kind: "gpu" }` specs: a {@linkcode GpuExecDevice} that loads model
 * packages from a directory, with their weights. The scheduler's worker imports this module through
 * the device registry only when a GPU scheduler is created.
 * @module
 */

import { packageWeights } from "../model/weights.ts";
import {
  packagePaths,
  readPackage,
  readProfile,
  tensorBytes,
  type TensorSpec,
} from "../model/package.ts";
import type { DeviceHandle, DeviceModel, DeviceSpec, TensorSlot } from "./device_handle.ts";
import { type Doorbell, GpuExecDevice } from "./gpu_device.ts";

/** Spec of a GPU device. */
export interface GpuDeviceSpec extends DeviceSpec {
  readonly kind: "gpu";
  /** Root of the model packages: `<modelDir>/<m>/<m>.json`. */
  readonly modelDir: string;
  /** GPU ordinal; default 0. */
  readonly ordinal?: number;
  /** How the preempt flag is set; default "watcher". */
  readonly doorbell?: Doorbell;
}

/**
 * Opens the GPU. Loading a model twice returns the first load.
 * @throws {TypeError} for a spec without a `modelDir` string.
 */
export function createDevice(spec: DeviceSpec): DeviceHandle {
  const { modelDir, ordinal, doorbell } = spec as Partial<GpuDeviceSpec>;
  if (typeof modelDir !== "string" || modelDir === "") {
    throw new TypeError(
      'Device spec of kind "gpu" needs field "modelDir": the directory of its model packages',
    );
  }
  const device = new GpuExecDevice({
    ...(ordinal === undefined ? {} : { ordinal }),
    ...(doorbell === undefined ? {} : { doorbell }),
  });
  const loaded = new Map<string, DeviceModel>();
  return {
    device,
    async loadModel(name: string): Promise<DeviceModel> {
      const known = loaded.get(name);
      if (known !== undefined) return known;
      const paths = packagePaths(name, modelDir);
      const pkg = await readPackage(paths);
      const info = await device.loadModel(
        paths,
        pkg,
        await packageWeights(paths, pkg),
        await readProfile(paths),
      );
      const slot = (tensor: TensorSpec): TensorSlot => ({
        name: tensor.name,
        storage: tensor.storage,
        bytes: tensorBytes(pkg, tensor),
      });
      const model: DeviceModel = {
        info,
        inputs: (pkg.inputs ?? []).map(slot),
        outputs: (pkg.outputs ?? []).map(slot),
      };
      loaded.set(name, model);
      device.startWatcher();
      return model;
    },
    close(): void {
      device.close();
    },
  };
}
