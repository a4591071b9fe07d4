/**
 * `reef bench ffi`: the host cost of a kernel launch and of a flag write through the binding,
 * beside the same calls made from C (`ffi/bench/launch_bench.c`) on the same GPU in the same run.
 * @module
 */

import { Device, KernelParams } from "../gpu/mod.ts";
import { median } from "./metrics.ts";

/** The result file's contents (medians, µs per call). */
export interface FfiBenchResult {
  device: string;
  command: string;
  launch_us_binding: number;
  launch_us_c: number;
  flag_write_us_binding: number;
  flag_write_us_c: number;
  rounds: number;
  batch: number;
  repeats: number;
}

const build = new URL("../../build/", import.meta.url);

function measureBinding(rounds: number, batch: number): { launch: number[]; write: number[] } {
  using device = Device.open(0);
  using module = device.loadModule(Deno.readFileSync(new URL("bench_kernels.cubin", build)));
  const kernel = module.kernel("empty");
  const { least, greatest } = device.streamPriorityRange();
  using stream = device.createStream({ priority: least });
  using control = device.createStream({ priority: greatest });
  using flag = device.alloc(4);
  const noParams = new KernelParams().bytes();
  const launch: number[] = [];
  const write: number[] = [];
  for (let round = -5; round < rounds; round++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) stream.launchPacked(kernel, 1, 1, 1, 32, 1, 1, 0, noParams);
    const t1 = performance.now();
    stream.synchronizeSync();
    const t2 = performance.now();
    for (let i = 0; i < batch; i++) control.writeU32(flag.address, i);
    const t3 = performance.now();
    control.synchronizeSync();
    if (round >= 0) {
      launch.push((t1 - t0) * 1000 / batch);
      write.push((t3 - t2) * 1000 / batch);
    }
  }
  return { launch, write };
}

async function measureC(
  rounds: number,
  batch: number,
): Promise<{ launch_us: number; flag_write_us: number }> {
  const harness = new URL("launch_bench", build).pathname;
  const cubin = new URL("bench_kernels.cubin", build).pathname;
  const output = await new Deno.Command(harness, {
    args: [cubin, String(rounds), String(batch)],
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    throw new Error(
      `The C harness ${harness} failed: ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/**
 * Alternates C and binding measurements `repeats` times (so drift hits both alike) and reports
 * the median of each side's per-round medians.
 */
export async function runFfiBench(
  options: { rounds: number; batch: number; repeats: number; command: string },
): Promise<FfiBenchResult> {
  const deviceName = (() => {
    using device = Device.open(0);
    return device.properties.name;
  })();
  const c = { launch: [] as number[], write: [] as number[] };
  const binding = { launch: [] as number[], write: [] as number[] };
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    const fromC = await measureC(options.rounds, options.batch);
    c.launch.push(fromC.launch_us);
    c.write.push(fromC.flag_write_us);
    const fromBinding = measureBinding(options.rounds, options.batch);
    binding.launch.push(median(fromBinding.launch));
    binding.write.push(median(fromBinding.write));
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    device: deviceName,
    command: options.command,
    launch_us_binding: round(median(binding.launch)),
    launch_us_c: round(median(c.launch)),
    flag_write_us_binding: round(median(binding.write)),
    flag_write_us_c: round(median(c.write)),
    rounds: options.rounds,
    batch: options.batch,
    repeats: options.repeats,
  };
}
