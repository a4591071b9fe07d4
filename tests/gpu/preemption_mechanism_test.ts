// The preemption mechanism on the GPU, below the scheduler: BE kernels abort when the flag is set
// (at their check points), the stop marks give the exact restore point, and a task resumed from it
// writes outputs bit-identical to an uninterrupted run.
import assert from "node:assert/strict";
import { liveHandles } from "../../src/gpu/mod.ts";
import { buildSyntheticModel } from "../../src/eval/synthetic.ts";
import { GpuExecDevice } from "../../src/scheduler/gpu_device.ts";
import { gpuAvailable, gpuTest } from "./support.ts";

const root = gpuAvailable ? await Deno.makeTempDir({ prefix: "reef-synthetic-" }) : "";
const kernels = [
  { blocks: 4224, threads: 256, trips: 64, work: 64 },
  { blocks: 1056, threads: 128, trips: 256, work: 32 },
  { blocks: 4224, threads: 256, trips: 16, work: 256 },
  { blocks: 264, threads: 256, trips: 512, work: 16 },
  { blocks: 8448, threads: 128, trips: 8, work: 64 },
  { blocks: 132, threads: 256, trips: 1024, work: 32 },
];

function outputsOf(device: GpuExecDevice, instance: number): Uint8Array[] {
  return kernels.map((_, i) => device.download(instance, `out${i}`));
}

for (const doorbell of ["stream", "watcher"] as const) {
  gpuTest(
    `BE work preempted at random points resumes bit-identically (${doorbell} doorbell)`,
    async () => {
      const before = liveHandles();
      const model = await buildSyntheticModel(root, `mechanism_${doorbell}`, kernels);
      {
        using device = new GpuExecDevice({ doorbell });
        const info = await device.loadModel(model.paths, model.pkg, model.weights, undefined);
        const rt = device.createStream("high");
        const be = device.createStream("low");
        const reference = device.createInstance(info.id);
        device.launch(rt, reference, 0, kernels.length, "raw");
        device.synchronize(rt);
        const expected = outputsOf(device, reference);

        const task = device.createInstance(info.id);
        const n = kernels.length;
        let preemptions = 0;
        const quiesceUs: number[] = [];
        for (let run = 0; run < 100; run++) {
          device.resetStopMarks(be, task, 0, n);
          let next = 0;
          const preemptAfter = Math.floor(Math.random() * n * 2);
          let launchedKernels = 0;
          while (true) {
            while (next < n && device.inFlight(be) < 2) {
              device.launch(be, task, next, next + 1, "be");
              next++;
              launchedKernels++;
            }
            if (launchedKernels === preemptAfter) {
              const t0 = device.now();
              device.setPreemptFlag(1);
              while (!device.idle(be)) { /* the BE kernels exit */ }
              quiesceUs.push(device.now() - t0);
              const restore = device.restorePoint(task, 0, next);
              device.setPreemptFlag(0);
              device.resetStopMarks(be, task, restore, n);
              next = restore;
              preemptions++;
              launchedKernels++;
              continue;
            }
            if (next === n && device.idle(be)) break;
          }
          assert.equal(device.restorePoint(task, 0, n), n, "no kernel left a stop mark");
          const actual = outputsOf(device, task);
          for (let i = 0; i < n; i++) {
            assert.deepEqual(actual[i], expected[i], `run ${run}: output ${i} differs`);
          }
        }
        assert.ok(preemptions > 30, `only ${preemptions} preemptions happened`);
        quiesceUs.sort((a, b) => a - b);
        console.log(
          `${doorbell}: ${preemptions} preemptions, quiesce p50 ${
            quiesceUs[quiesceUs.length >> 1]!.toFixed(1)
          } µs, ` +
            `max ${quiesceUs.at(-1)!.toFixed(1)} µs`,
        );
      }
      assert.equal(liveHandles(), before, "every handle released");
    },
  );
}
