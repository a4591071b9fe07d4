/**
 * Where the BE build's GPU time goes (issue 8: the BE build within 2% of raw). For each model it
 * compiles variants of the BE build (reef_kernel.cuh's switches: `REEF_ABLATE_POLL`, no flag load
 * at check points; `REEF_ABLATE_EXIT`, the flag loaded but its answer never read;
 * `REEF_MMA_CHECK_SCALE=2`, conv_mma checking half as often), checks that they give the raw
 * build's outputs, and times raw, BE and the variants: the whole inference (all kernels queued
 * behind a gate, rounds interleaved, median of the per-round ratios to raw) and each kernel alone
 * (median of repeats). What an ablation saves is the GPU time of the part it drops; what `sparse`
 * saves, that of half the convolutions' checks.
 *
 * Usage: deno run -A evaluation/scripts/be_overhead.ts <out.json> <model>... [--models resource]
 *        [--rounds 7] [--repeats 15]
 * @module
 */

import { isDeepStrictEqual, parseArgs } from "node:util";
import { compileBeVariant } from "../../src/compiler/compile.ts";
import { percentile } from "../../src/eval/metrics.ts";
import { Device } from "../../src/gpu/device.ts";
import { GatedTimer } from "../../src/gpu/gated_timer.ts";
import { LoadedModel, type ModelInstance } from "../../src/model/executor.ts";
import { packagePaths, readPackage, type TensorSpec } from "../../src/model/package.ts";
import { packageWeights } from "../../src/model/weights.ts";

/** The BE build and its ablations: name -> the switches it is built with. */
const VARIANTS: Record<string, string[] | undefined> = {
  be: undefined,
  no_poll: ["REEF_ABLATE_POLL"],
  no_exit: ["REEF_ABLATE_EXIT"],
  sparse: ["REEF_MMA_CHECK_SCALE=2"],
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    models: { type: "string", default: "resource" },
    rounds: { type: "string", default: "7" },
    repeats: { type: "string", default: "15" },
  },
});
const [out, ...models] = positionals;
if (out === undefined || models.length === 0) {
  console.error("Usage: be_overhead.ts <out.json> <model>... (see the module notes)");
  Deno.exit(2);
}
const rounds = Number(values.rounds);
const repeats = Number(values.repeats);
const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

using device = Device.open(0);
using flag = device.allocPreemptFlag();
using timer = new GatedTimer(device);
const stream = timer.stream;

/** Fresh random input values: token ids for integer tensors (BERT), else uniform in [-1, 1). */
function randomInput(tensor: TensorSpec): Uint8Array<ArrayBuffer> {
  const count = tensor.shape.reduce((a, b) => a * b, 1);
  const values = tensor.datatype === "INT32"
    ? Int32Array.from({ length: count }, () => Math.floor(Math.random() * 30522))
    : tensor.datatype === "INT64"
    ? BigInt64Array.from({ length: count }, () => BigInt(Math.floor(Math.random() * 30522)))
    : tensor.datatype === "FP16"
    ? Float16Array.from({ length: count }, () => Math.random() * 2 - 1)
    : Float32Array.from({ length: count }, () => Math.random() * 2 - 1);
  return new Uint8Array(values.buffer);
}

/** Runs one inference of `build` and returns its outputs. */
function outputsOf(instance: ModelInstance, build: "raw" | "be", inputs: string[]): Uint8Array[] {
  const n = instance.model.kernels.length;
  if (build === "be") instance.resetStopMarks(stream, 0, n);
  instance.launch(stream, 0, n, build);
  stream.synchronizeSync();
  return inputs.map((name) => instance.download(stream, name));
}

const report: Record<string, unknown>[] = [];
for (const name of models) {
  const paths = packagePaths(name, values.models);
  const pkg = await readPackage(paths);
  const files = await Promise.all(
    Object.entries(VARIANTS).map(async ([variant, defines]) =>
      [variant, defines && await compileBeVariant(paths, `ablate-${variant}`, defines)] as const
    ),
  );
  const weights = await packageWeights(paths, pkg);
  const loaded = new Map<string, { model: LoadedModel; instance: ModelInstance }>();
  for (const [variant, file] of files) {
    const model = await LoadedModel.load(device, paths, pkg, weights, {
      be: true,
      beBinary: file,
    });
    loaded.set(variant, { model, instance: model.createInstance(flag.address) });
  }
  try {
    const first = loaded.get("be")!.instance;
    const outputs = pkg.outputs!.map((o) => o.storage);
    for (const input of pkg.inputs!) {
      const bytes = randomInput(input);
      for (const { instance } of loaded.values()) instance.upload(stream, input, bytes);
    }
    const expected = outputsOf(first, "raw", outputs);
    const identical = [...loaded.values()].every(({ instance }) =>
      isDeepStrictEqual(outputsOf(instance, "be", outputs), expected)
    );

    const n = first.model.kernels.length;
    const whole: Record<string, number[]> = { raw: [] };
    for (const variant of loaded.keys()) whole[variant] = [];
    for (let r = 0; r < rounds; r++) {
      whole.raw!.push(timer.time(repeats, () => first.launch(stream, 0, n, "raw")));
      for (const [variant, { instance }] of loaded) {
        whole[variant]!.push(timer.time(repeats, () => instance.launch(stream, 0, n, "be")));
      }
    }
    const overhead: Record<string, number> = {};
    for (const variant of loaded.keys()) {
      const ratios = whole[variant]!.map((us, r) => us / whole.raw![r]! - 1);
      overhead[variant] = round4(percentile(ratios, 50));
    }

    const kernels = first.model.kernels.map((kernel, k) => {
      const row: Record<string, number | string> = {
        name: pkg.kernels[k]!.name,
        blocks: kernel.blocks,
        raw_us: round4(timer.time(repeats, () => first.launch(stream, k, k + 1, "raw"))),
      };
      for (const [variant, { instance }] of loaded) {
        row[`${variant}_us`] = round4(
          timer.time(repeats, () => instance.launch(stream, k, k + 1, "be")),
        );
      }
      return row;
    });
    // Per kind of kernel (the name's suffix: conv, pool, gemv, ...): summed GPU time per build.
    const kinds: Record<string, Record<string, number>> = {};
    for (const row of kernels) {
      const kind = String(row.name).replace(/^k\d+_/, "");
      const sums = kinds[kind] ??= { count: 0 };
      sums.count! += 1;
      for (const [key, value] of Object.entries(row)) {
        if (key.endsWith("_us")) sums[key] = round4((sums[key] ?? 0) + Number(value));
      }
    }
    const raw = percentile(whole.raw!, 50);
    const row = {
      model: name,
      kernels: n,
      outputs_identical: identical,
      raw_us: round4(raw),
      overhead,
      per_kernel_fixed_us: round4(
        (overhead.be! * raw) / n,
      ),
      kinds,
      kernels_alone: kernels,
    };
    console.log(JSON.stringify({ model: name, identical, overhead, kinds }));
    report.push(row);
  } finally {
    for (const { model } of loaded.values()) model.close();
  }
}
await Deno.writeTextFile(
  out,
  JSON.stringify(
    {
      device: device.properties.name,
      command: `deno run -A evaluation/scripts/be_overhead.ts ${Deno.args.join(" ")}`,
      models: report,
    },
    null,
    1,
  ) + "\n",
);
