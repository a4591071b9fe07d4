/**
 * The device factory for `{ kind: "sim" }` specs: a {@linkcode SimDevice} that loads models from a
 * directory of model packages. The scheduler's worker imports this module through the device
 * registry.
 * @module
 */

import type { DeviceHandle, DeviceModel, DeviceSpec } from "../../scheduler/device_handle.ts";
import { readSimPackage } from "./model_package.ts";
import type { SimOptions } from "./options.ts";
import { SimDevice } from "./sim_device.ts";

/** Spec of a simulated device. */
export interface SimDeviceSpec extends DeviceSpec {
  readonly kind: "sim";
  /** Root of the model packages: `<modelDir>/<m>/<m>.json` and `<m>.profile.json` per model. */
  readonly modelDir: string;
  /** Overrides of the H100-like parameters. */
  readonly options?: Partial<SimOptions>;
}

/**
 * Creates a simulated device. Loading a model twice returns the first load.
 * @throws {TypeError} for a spec without a `modelDir` string, or with invalid options.
 */
export function createDevice(spec: DeviceSpec): DeviceHandle {
  const { modelDir, options } = spec;
  if (typeof modelDir !== "string" || modelDir === "") {
    throw new TypeError(
      'Device spec of kind "sim" needs field "modelDir": the directory of its model packages',
    );
  }
  const device = new SimDevice((options ?? {}) as Partial<SimOptions>);
  const loaded = new Map<string, DeviceModel>();
  return {
    device,
    clock: device,
    async loadModel(name: string): Promise<DeviceModel> {
      if (name === "" || /[/\\]/.test(name) || name === "." || name === "..") {
        throw new Error(`Cannot load model "${name}": a model name must be a plain file name`);
      }
      const known = loaded.get(name);
      if (known !== undefined) return known;
      const model = device.addModel(await readSimPackage(modelDir, name));
      loaded.set(name, model);
      return model;
    },
    // The simulator holds no resources beyond garbage-collected memory.
    close(): void {},
  };
}
