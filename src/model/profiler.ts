/**
 * `reef profile`: measures a model package on the GPU and writes `<m>.profile.json` in REEF's
 * format:
 * - `kernel_latency[name].total_latency`: the kernel's standalone time, µs;
 * - `kernel_latency[name].latency[j]`: the time of one wave with j+1 blocks resident per SM, µs:
 *   the DKP build run by its proxy on (j+1) blocks per SM, each looping over the virtual grid
 *   (REEF's persistent-loop iteration), divided by the number of waves;
 * - `model_latency`: one whole inference, µs;
 * plus `blocks_per_sm` (occupancy of each kernel), the device and the command.
 *
 * Every time is GPU time from a {@linkcode GatedTimer} (host launch cost not measured), the median of
 * repeats.
 * @module
 */

import { Device } from "../gpu/mod.ts";
import { GatedTimer } from "../gpu/gated_timer.ts";
import { KernelParams } from "../gpu/params.ts";
import { LoadedModel, type ModelInstance } from "./executor.ts";
import type { ModelProfile, PackagePaths } from "./package.ts";
import { readPackage } from "./package.ts";
import { packageWeights } from "./weights.ts";

/** Options of {@linkcode profileModel}. */
export interface ProfileOptions {
  /** Timed repeats per measurement (median). */
  repeats: number;
  /** Most occupancy levels measured per kernel (REEF's arrays are at most 32 long). */
  maxOccupancy: number;
  command: string;
}

function round(us: number): number {
  return Math.round(us * 100) / 100;
}

/** Profiles a compiled package on GPU 0. */
export async function profileModel(
  paths: PackagePaths,
  options: ProfileOptions,
): Promise<ModelProfile> {
  const pkg = await readPackage(paths);
  using device = Device.open(0);
  const sms = device.properties.smCount;
  using flag = device.allocPreemptFlag();
  using timer = new GatedTimer(device);
  const stream = timer.stream;
  using model = await LoadedModel.load(device, paths, pkg, await packageWeights(paths, pkg), {
    dkp: true,
  });
  const instance: ModelInstance = model.createInstance(flag.address);
  const proxy = model.dkpProxy!;
  const n = model.kernels.length;

  const modelLatency = timer.time(options.repeats, () => instance.launch(stream, 0, n, "raw"));
  const kernelLatency: ModelProfile["kernel_latency"] = {};
  const blocksPerSm: Record<string, number> = {};
  model.kernels.forEach((k, index) => {
    const name = k.call.name;
    if (name in kernelLatency) return;
    const total = timer.time(
      options.repeats,
      () => instance.launch(stream, index, index + 1, "raw"),
    );
    const latency: number[] = [];
    const occupancy = Math.min(k.blocksPerSm, options.maxOccupancy);
    const dkpArgs = instance.dkpArguments(index);
    for (let j = 1; j <= occupancy; j++) {
      const grid = Math.min(k.blocks, sms * j);
      const waves = Math.ceil(k.blocks / grid);
      const params = new KernelParams().pointer(k.dkpBody!).pointer(dkpArgs)
        .u32(k.grid[0]).u32(k.grid[1]).u32(k.grid[2]).bytes();
      const t = timer.time(
        options.repeats,
        () =>
          stream.launchPacked(
            proxy,
            grid,
            1,
            1,
            k.block[0],
            k.block[1],
            k.block[2],
            k.sharedMemory,
            params,
          ),
      );
      latency.push(round(t / waves));
      if (grid === k.blocks) break; // more residency changes nothing: every block has an SM
    }
    kernelLatency[name] = { total_latency: round(total), latency };
    blocksPerSm[name] = k.blocksPerSm;
  });
  return {
    model_latency: round(modelLatency),
    kernel_latency: kernelLatency,
    blocks_per_sm: blocksPerSm,
    device: device.properties.name,
    command: options.command,
  };
}
