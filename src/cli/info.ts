/**
 * `reef info`: the GPUs this machine has, or why it has none.
 * @module
 */

import { Device, LibraryLoadError, ReefGpuError } from "../gpu/mod.ts";
import { type Command, parseOptions } from "./command.ts";

function formatBytes(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** One GPU, as `reef info --json` reports it. */
export interface GpuReport {
  ordinal: number;
  name: string;
  computeCapability: string;
  smCount: number;
  memoryBytes: number;
  streamPriorities: { least: number; greatest: number };
  sharedMemoryPerBlockOptin: number;
  clockMhz: number;
}

/** Reads every GPU's report; throws the binding's errors when there is no GPU. */
export function gpuReports(): { platform: string; driverVersion: number; gpus: GpuReport[] } {
  const count = Device.count();
  const gpus: GpuReport[] = [];
  for (let ordinal = 0; ordinal < count; ordinal++) {
    using device = Device.open(ordinal);
    const p = device.properties;
    gpus.push({
      ordinal,
      name: p.name,
      computeCapability: p.computeCapability.join("."),
      smCount: p.smCount,
      memoryBytes: p.totalMemory,
      streamPriorities: device.streamPriorityRange(),
      sharedMemoryPerBlockOptin: p.sharedMemoryPerBlockOptin,
      clockMhz: Math.round(p.clockKhz / 1000),
    });
  }
  return { platform: Device.platform(), driverVersion: Device.driverVersion(), gpus };
}

function driverText(platform: string, version: number): string {
  return `${platform.toUpperCase()} ${Math.floor(version / 1000)}.${(version % 1000) / 10}`;
}

/** `reef info`. */
export const infoCommand: Command = {
  name: "info",
  summary: "Show the GPUs found, driver, SM count, memory and stream priorities",
  help: `Usage: reef info [--json]

Shows each GPU the driver sees: name, compute capability, SM count, memory, the stream priority
range, and the driver version. Exits with code 1 when this machine has no GPU or driver.

Options:
  --json    Print the report as JSON
  -h, --help`,
  run(args) {
    const { values } = parseOptions(args, { json: { type: "boolean" } });
    let report: ReturnType<typeof gpuReports>;
    try {
      report = gpuReports();
    } catch (error) {
      if (error instanceof ReefGpuError || error instanceof LibraryLoadError) {
        console.error(`reef: no usable GPU on this machine.\n${error.message}`);
        return Promise.resolve(1);
      }
      throw error;
    }
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return Promise.resolve(0);
    }
    console.log(`Driver: ${driverText(report.platform, report.driverVersion)}`);
    if (report.gpus.length === 0) {
      console.error("reef: the driver sees no GPU");
      return Promise.resolve(1);
    }
    for (const gpu of report.gpus) {
      console.log(
        `GPU ${gpu.ordinal}: ${gpu.name} (compute ${gpu.computeCapability})\n` +
          `  SMs: ${gpu.smCount}, clock ${gpu.clockMhz} MHz\n` +
          `  memory: ${formatBytes(gpu.memoryBytes)}\n` +
          `  shared memory per block (opt-in): ${gpu.sharedMemoryPerBlockOptin / 1024} KiB\n` +
          `  stream priorities: ${gpu.streamPriorities.least} (lowest) to ` +
          `${gpu.streamPriorities.greatest} (highest)`,
      );
    }
    return Promise.resolve(0);
  },
};
