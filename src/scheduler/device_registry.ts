/**
 * The device registry: which module creates the device for each `DeviceSpec.kind`. Modules are
 * registered by path and imported by the worker only when a scheduler asks for that kind, so the
 * GPU binding is never loaded on a machine that only simulates. `sim` and `gpu` are built in.
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const factories = new Map<string, string>([
  ["sim", new URL("../gpu/sim/factory.ts", import.meta.url).href],
  ["gpu", new URL("./gpu_factory.ts", import.meta.url).href],
]);

/**
 * Registers (or replaces) the factory module for a device kind. The module must export
 * `createDevice` (see `CreateDevice` in device_handle.ts).
 * @param modulePath a URL, or a file path (relative paths resolve against the working directory).
 * @throws {TypeError} for an empty kind.
 */
export function registerDeviceFactory(kind: string, modulePath: string | URL): void {
  if (kind === "") throw new TypeError("Cannot register a device factory: the kind is empty");
  factories.set(kind, toModuleUrl(modulePath));
}

/**
 * The module URL registered for a device kind.
 * @throws {Error} listing the registered kinds when `kind` has none.
 */
export function deviceFactoryUrl(kind: string): string {
  const url = factories.get(kind);
  if (url === undefined) {
    const known = [...factories.keys()].map((k) => `"${k}"`).join(", ");
    throw new Error(`No device factory is registered for kind "${kind}" (registered: ${known})`);
  }
  return url;
}

function toModuleUrl(path: string | URL): string {
  if (path instanceof URL) return path.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) && !isAbsolute(path)) return new URL(path).href;
  return pathToFileURL(resolve(path)).href;
}
