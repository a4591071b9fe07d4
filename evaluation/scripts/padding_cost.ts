/**
 * What padding costs an RT kernel on the GPU, kernel by kernel. For each kernel of a model that
 * leaves SMs free, and BE kernels of the same model sampled across it, it times the RT kernel
 * alone and padded as `choosePadding` pads it (all its rounds), and padded with one round only
 * (one BE block per free SM): GPU time, median of repeats. A ratio above 1 is what the padding
 * added to the RT kernel; the prediction is the profile's RT time plus the overrun selection
 * allowed.
 *
 * Usage: deno run -A evaluation/scripts/padding_cost.ts <out.json> <model>... [--models resource]
 *        [--repeats 7] [--samples 12]
 * @module
 */

import { parseArgs } from "node:util";
import { percentile } from "../../src/eval/metrics.ts";
import { GatedTimer } from "../../src/gpu/gated_timer.ts";
import { packagePaths, readPackage, readProfile } from "../../src/model/package.ts";
import { packageWeights } from "../../src/model/weights.ts";
import { GpuExecDevice } from "../../src/scheduler/gpu_device.ts";
import {
  choosePadding,
  leavesSmsFree,
  PADDING_OVERRUN_SHARE,
} from "../../src/scheduler/padding.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    models: { type: "string", default: "resource" },
    repeats: { type: "string", default: "7" },
    samples: { type: "string", default: "12" },
  },
});
const [out, ...models] = positionals;
if (out === undefined || models.length === 0) {
  console.error("Usage: padding_cost.ts <out.json> <model>... (see the module notes)");
  Deno.exit(2);
}
const repeats = Number(values.repeats);
const samples = Number(values.samples);

using device = new GpuExecDevice();
using timer = new GatedTimer(device.device);
const stream = timer.stream;
const summary = (list: number[]) => ({
  n: list.length,
  p50: percentile(list, 50),
  p90: percentile(list, 90),
  max: Math.max(...list),
});
const report: Record<string, unknown>[] = [];
for (const name of models) {
  const paths = packagePaths(name, values.models);
  const pkg = await readPackage(paths);
  const profile = await readProfile(paths);
  if (profile === undefined) throw new Error(`${name} has no profile: run reef profile first`);
  const info = await device.loadModel(paths, pkg, await packageWeights(paths, pkg), profile);
  const rtId = device.createInstance(info.id);
  const beId = device.createInstance(info.id);
  const rt = device.instance(rtId);
  const be = device.instance(beId);
  const budgetUs = PADDING_OVERRUN_SHARE * info.latencyUs;
  const pairs = [];
  for (let k = 0; k < info.kernels.length; k++) {
    const rtKernel = info.kernels[k]!;
    if (!leavesSmsFree(rtKernel.blocks, device.smCount) || !(rtKernel.timeUs > 0)) continue;
    const aloneUs = timer.time(repeats, () => rt.launch(stream, k, k + 1, "raw"));
    const step = Math.max(1, Math.floor(info.kernels.length / samples));
    for (let j = k % step; j < info.kernels.length; j += step) {
      const cursor = { model: info, instance: beId, kernel: j, block: 0 };
      const choice = choosePadding(device, info, k, [cursor], budgetUs);
      if (choice === undefined) continue;
      const time = (blocks: number) =>
        timer.time(
          repeats,
          () => rt.launchPadded(stream, k, { instance: be, index: j, first: 0, blocks }),
        );
      const free = device.smCount - rtKernel.blocks;
      const paddedUs = time(choice.blocks);
      const oneRoundUs = time(Math.min(choice.blocks, free));
      pairs.push({
        rt: rtKernel.name,
        be: info.kernels[j]!.name,
        be_blocks: choice.blocks,
        rounds: Math.ceil(choice.blocks / free),
        alone_us: aloneUs,
        padded_us: paddedUs,
        one_round_us: oneRoundUs,
        predicted_us: rtKernel.timeUs + choice.overrunUs,
      });
    }
  }
  const ratios = pairs.map((p) => p.padded_us / p.alone_us);
  const row = {
    model: name,
    padded_over_alone: summary(ratios),
    one_round_over_alone: summary(pairs.map((p) => p.one_round_us / p.alone_us)),
    padded_over_predicted: summary(pairs.map((p) => p.padded_us / p.predicted_us)),
    share_over_1_1: ratios.filter((r) => r > 1.1).length / ratios.length,
    worst: pairs.toSorted((a, b) => b.padded_us / b.alone_us - a.padded_us / a.alone_us)
      .slice(0, 8),
  };
  console.log(JSON.stringify(row));
  report.push(row);
}
await Deno.writeTextFile(
  out,
  JSON.stringify(
    {
      device: device.name,
      command: `deno run -A evaluation/scripts/padding_cost.ts ${Deno.args.join(" ")}`,
      models: report,
    },
    null,
    1,
  ) + "\n",
);
