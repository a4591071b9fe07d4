/**
 * The hand-made fixture model packages under `tests/sim/fixtures/<m>/`, loaded on a simulated
 * device.
 * - `chain6`: six single-wave kernels (264 blocks of 256 threads), 40 to 100 µs each.
 * - `rt3`: three 20 µs kernels of 132 blocks of 128 threads; input `input0`.
 * - `tiny2`: two small kernels (8 blocks), 5 and 8 µs.
 * - `wide`: two kernels of 4 224 blocks at 8 blocks per SM (4 waves of 100 µs); reef's tensor
 *   lists (input "tokens" in storage "x", output "logits" in storage "y").
 * @module
 */

import { fileURLToPath } from "node:url";
import type { DeviceModel } from "../../src/scheduler/device_handle.ts";
import { readSimPackage } from "../../src/gpu/sim/model_package.ts";
import type { SimOptions } from "../../src/gpu/sim/options.ts";
import { SimDevice } from "../../src/gpu/sim/sim_device.ts";

/** Directory of the fixture model packages. */
export const FIXTURE_DIR: string = fileURLToPath(new URL("./fixtures/", import.meta.url));

/** A simulated device with fixture models loaded, by name. */
export async function deviceWithModels(
  names: readonly string[],
  options: Partial<SimOptions> = {},
): Promise<{ device: SimDevice; models: Map<string, DeviceModel> }> {
  const device = new SimDevice(options);
  const models = new Map<string, DeviceModel>();
  for (const name of names) {
    models.set(name, device.addModel(await readSimPackage(FIXTURE_DIR, name)));
  }
  return { device, models };
}
