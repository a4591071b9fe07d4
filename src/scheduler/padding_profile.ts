/**
 * What padding costs each RT kernel on the GPU: the profile's `padding_slowdown`, which selection
 * reads to choose, kernel by kernel, between padding and none (`PADDING_SLOWDOWN_LIMIT` in
 * padding.ts).
 *
 * For every kernel that padding may pad, the kernel is timed alone and padded as
 * {@linkcode choosePadding} pads it with BE blocks that fit in its profiled time (no overrun), for
 * distinct BE kernels of the same model sampled across it; its slowdown is the worst padded time
 * over its time alone, minus 1. The profile's times predict a padded launch's length well (within
 * 1% at the median, 3% at the 90th percentile: evaluation/results/h100/padding-cost.json); what
 * they miss is how much the BE blocks slow the RT blocks beside them, which depends on the pair
 * and is measured here.
 *
 * Each timing queues `launches` launches back to back behind a gate, so that the timing events'
 * resolution is small against it, and takes the median of repeats.
 * @module
 */

import { GatedTimer } from "../gpu/gated_timer.ts";
import type { ModelPackage, ModelProfile, PackagePaths } from "../model/package.ts";
import { packageWeights } from "../model/weights.ts";
import { GpuExecDevice } from "./gpu_device.ts";
import { choosePadding } from "./padding.ts";

/** Options of {@linkcode measurePaddingSlowdown}. */
export interface PaddingProfileOptions {
  /** Timed repeats per measurement (median). */
  repeats: number;
  /** BE kernels sampled per RT kernel, spread evenly over the model's distinct kernels. */
  partners: number;
  /** Launches queued back to back per timing. */
  launches: number;
}

/**
 * Measures the padding slowdown of every kernel of a compiled package that padding may pad, on
 * GPU 0, with `profile`'s times for selection: kernel name -> slowdown. Kernels that no sampled
 * BE kernel can pad without overrun are left out (selection pads them only within its overrun
 * budget, which the profile's times predict). Empty for a package without a DKP build.
 */
export async function measurePaddingSlowdown(
  paths: PackagePaths,
  pkg: ModelPackage,
  profile: ModelProfile,
  options: PaddingProfileOptions,
): Promise<Record<string, number>> {
  if (pkg.binaries?.dkp === undefined) return {};
  using device = new GpuExecDevice();
  using timer = new GatedTimer(device.device);
  const stream = timer.stream;
  const weights = await packageWeights(paths, pkg);
  // Without an earlier measurement, so that selection pads every kernel it may.
  const info = await device.loadModel(paths, pkg, weights, {
    ...profile,
    padding_slowdown: undefined,
  });
  const rt = device.instance(device.createInstance(info.id));
  const beId = device.createInstance(info.id);
  const be = device.instance(beId);
  const time = (enqueue: () => void) =>
    timer.time(options.repeats, () => {
      for (let i = 0; i < options.launches; i++) enqueue();
    });

  // Partners among the model's distinct kernels (a kernel launched many times counts once).
  const distinct = [...new Map(info.kernels.map((kernel, j) => [kernel.name, j])).values()];
  const step = Math.max(1, Math.floor(distinct.length / options.partners));
  const slowdown: Record<string, number> = {};
  info.kernels.forEach((kernel, k) => {
    if (kernel.name in slowdown) return;
    let aloneUs: number | undefined;
    let worst = -Infinity;
    for (let p = k % step; p < distinct.length; p += step) {
      const j = distinct[p]!;
      const cursor = { model: info, instance: beId, kernel: j, block: 0 };
      const choice = choosePadding(device, info, k, [cursor], 0);
      if (choice === undefined) continue;
      aloneUs ??= time(() => rt.launch(stream, k, k + 1, "raw"));
      const paddedUs = time(() =>
        rt.launchPadded(stream, k, { instance: be, index: j, first: 0, blocks: choice.blocks })
      );
      worst = Math.max(worst, paddedUs / aloneUs - 1);
    }
    if (aloneUs !== undefined) slowdown[kernel.name] = Math.round(worst * 1e4) / 1e4;
  });
  return slowdown;
}
