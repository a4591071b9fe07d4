/**
 * Shared helpers for scheduler tests: fixture models on a simulated device, seeded inputs, and
 * reference outputs from an uninterrupted run.
 * @module
 */

import type { DeviceModel } from "../../src/scheduler/device_handle.ts";
import type { SimDevice } from "../../src/gpu/sim/sim_device.ts";
import { deviceWithModels } from "../sim/_fixtures.ts";

export { deviceWithModels, FIXTURE_DIR } from "../sim/_fixtures.ts";

/** Seeded input bytes for every input of the model. */
export function inputsFor(model: DeviceModel, seed: number): Map<string, Uint8Array> {
  const inputs = new Map<string, Uint8Array>();
  let state = (seed * 2654435761) >>> 0;
  for (const slot of model.inputs) {
    const bytes = new Uint8Array(slot.bytes);
    for (let i = 0; i < bytes.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      bytes[i] = state >>> 24;
    }
    inputs.set(slot.name, bytes);
  }
  return inputs;
}

/** Runs models uninterrupted on a device of its own, for reference outputs. */
export class ReferenceRunner {
  readonly #device: SimDevice;
  readonly #models: Map<string, DeviceModel>;
  readonly #stream: number;

  private constructor(device: SimDevice, models: Map<string, DeviceModel>) {
    this.#device = device;
    this.#models = models;
    this.#stream = device.createStream("normal");
  }

  /** A runner for the named fixture models. */
  static async create(names: readonly string[]): Promise<ReferenceRunner> {
    const { device, models } = await deviceWithModels(names);
    return new ReferenceRunner(device, models);
  }

  /** Outputs of one uninterrupted raw run of the model on the inputs. */
  outputs(name: string, inputs: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array> {
    const device = this.#device;
    const model = this.#models.get(name)!;
    const instance = device.createInstance(model.info.id);
    for (const slot of model.inputs) {
      device.upload(this.#stream, instance, slot.storage, inputs.get(slot.name)!);
    }
    device.launch(this.#stream, instance, 0, model.info.kernels.length, "raw");
    device.synchronize(this.#stream);
    return new Map(model.outputs.map((o) => [o.name, device.download(instance, o.storage)]));
  }
}
