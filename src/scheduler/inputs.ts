/**
 * Validation of a task's inputs against its model, shared by the main-thread API (which rejects a
 * bad submission before it reaches the worker) and the policy.
 * @module
 */

import type { DeviceModel } from "./device_handle.ts";

/**
 * Checks that `inputs` holds exactly the model's inputs, each of its exact size.
 * @param where the start of the error message, e.g. `Cannot submit task 3`.
 * @throws {Error} naming the missing, unknown or wrongly sized input.
 */
export function checkInputs(
  where: string,
  model: DeviceModel,
  inputs: ReadonlyMap<string, Uint8Array>,
): void {
  for (const slot of model.inputs) {
    const data = inputs.get(slot.name);
    if (data === undefined) {
      throw new Error(`${where}: input "${slot.name}" of model "${model.info.name}" is missing`);
    }
    if (data.byteLength !== slot.bytes) {
      throw new Error(
        `${where}: input "${slot.name}" of model "${model.info.name}" must be ${slot.bytes} bytes, got ${data.byteLength}`,
      );
    }
  }
  for (const name of inputs.keys()) {
    if (!model.inputs.some((slot) => slot.name === name)) {
      throw new Error(`${where}: model "${model.info.name}" has no input "${name}"`);
    }
  }
}
