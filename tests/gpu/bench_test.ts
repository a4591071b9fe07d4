// One point of the kernel-duration preemption sweep on the GPU, as `reef bench 13a` runs it:
// synthetic models compiled with nvcc, one scheduler per run (the BE model alone, the tiny RT
// model alone, then wait, stream-prio and reset), and the points of preemption.json built from
// them. The numbers must be plausible, not good: the goals are checked on the full sweeps.
import assert from "node:assert/strict";
import {
  kernelSweepModel,
  MICRO_RT,
  MICRO_RT_MODEL,
  writeGpuBenchModel,
} from "../../src/eval/bench_models.ts";
import {
  MODE_SPECS,
  type ModeSpec,
  soloWorkload,
  sweepWorkload,
} from "../../src/eval/experiments.ts";
import { preemptionReport } from "../../src/eval/reports.ts";
import type { RunResult } from "../../src/eval/results.ts";
import { runWorkload } from "../../src/eval/runner.ts";
import { SchedulerTarget } from "../../src/eval/scheduler_target.ts";
import type { Workload } from "../../src/eval/workload.ts";
import { gpuTest } from "./support.ts";

const KERNEL_US = 100;

gpuTest("a point of the preemption sweep runs on the GPU with plausible numbers", async () => {
  const root = await Deno.makeTempDir({ prefix: "reef-bench-gpu-" });
  try {
    const be = kernelSweepModel(KERNEL_US);
    await writeGpuBenchModel(root, MICRO_RT);
    await writeGpuBenchModel(root, be);
    const run = async (
      workload: Workload,
      mode: ModeSpec,
      sweep: Record<string, number>,
    ): Promise<RunResult> => {
      await using target = await SchedulerTarget.create({
        device: { kind: "gpu", modelDir: root },
        mode,
      });
      assert.equal(target.simulated, false);
      return await runWorkload(workload, target, {
        mode: mode.label,
        commandLine: "tests/gpu/bench_test.ts",
        durationS: 0.5,
        sweep,
        progress: false,
      });
    };
    const point = sweepWorkload(`sweep-kernel${KERNEL_US}us`, be.name, 1, { min: 0.3, max: 0.5 });
    const runs = [
      await run(soloWorkload(MICRO_RT_MODEL), MODE_SPECS.rtOnly, {}),
      await run(soloWorkload(be.name), MODE_SPECS.rtOnly, { kernel_us: KERNEL_US }),
      await run(point, MODE_SPECS.wait, { kernel_us: KERNEL_US }),
      await run(point, MODE_SPECS.streamPrio, { kernel_us: KERNEL_US }),
      await run(point, MODE_SPECS.reset, { kernel_us: KERNEL_US }),
    ];
    const report = preemptionReport(
      { device: runs[0]!.label.device, simulated: false, command: "test", quick: true },
      runs,
      MICRO_RT_MODEL,
    );
    console.log(JSON.stringify({ rt_alone_p50_us: report.rt_alone_p50_us, points: report.points }));
    // The tiny RT model: two 15-µs kernels plus launch and completion costs.
    assert.ok(report.rt_alone_p50_us! > 20 && report.rt_alone_p50_us! < 2000);
    for (const p of report.points) {
      assert.ok(p.n >= 50, `${p.mode} ${p.metric}: only ${p.n} samples`);
      assert.ok(p.p50_us! <= p.p99_us!, `${p.mode} ${p.metric}`);
      assert.ok(p.p99_us! < 10_000, `${p.mode} ${p.metric}: p99 ${p.p99_us} µs`);
    }
    const reset = report.points.find((p) => p.mode === "reset" && p.metric === "preempt")!;
    assert.ok(reset.p50_us! > 0, "a preemption takes time");
    // The calibration constant sized the BE kernels for 100 µs: the measured time must be near.
    const measured = reset.kernel_us_measured!;
    assert.ok(measured > KERNEL_US / 4 && measured < KERNEL_US * 4, `kernel took ${measured} µs`);
    assert.ok(report.points.some((p) => p.mode === "stream-prio" && p.metric === "rt_delay"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
