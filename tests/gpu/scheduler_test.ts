// The scheduler on the GPU with a real zoo model: BE inferences preempted at random points by RT
// arrivals (at least 1 000 preemptions) write outputs bit-identical to an uninterrupted run, and
// 10 000 tasks leave neither device nor host memory growing.
import assert from "node:assert/strict";
import { compileModel } from "../../src/compiler/compile.ts";
import { Device } from "../../src/gpu/mod.ts";
import { type Client, Scheduler } from "../../src/scheduler/mod.ts";
import type { DeviceModel } from "../../src/scheduler/device_handle.ts";
import { gpuAvailable, gpuTest } from "./support.ts";

const root = gpuAvailable ? await Deno.makeTempDir({ prefix: "reef-scheduler-gpu-" }) : "";
if (gpuAvailable) {
  await compileModel("resnet18", { root });
  await compileModel("mobilenet_v2", { root });
}

function inputFor(model: DeviceModel, seed: number): Record<string, Uint8Array> {
  const inputs: Record<string, Uint8Array> = {};
  for (const slot of model.inputs) {
    // Small fp16 values (exponent bits kept low) with a pattern that depends on the seed.
    const halves = new Uint16Array(slot.bytes / 2).map((_, i) => 0x3000 + ((i * 7 + seed) % 1024));
    inputs[slot.name] = new Uint8Array(halves.buffer);
  }
  return inputs;
}

function equal(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, bytes] of a) {
    const other = b.get(name);
    if (!other || other.length !== bytes.length || other.some((v, i) => v !== bytes[i])) {
      return false;
    }
  }
  return true;
}

async function withScheduler(fn: (s: Scheduler) => Promise<void>): Promise<void> {
  const scheduler = await Scheduler.create({
    device: { kind: "gpu", modelDir: root },
    mode: "reset",
  });
  try {
    await fn(scheduler);
  } finally {
    await scheduler.close();
  }
}

gpuTest(
  "a BE inference preempted at random points 1 000 times gives bit-identical outputs",
  async () => {
    await withScheduler(async (scheduler) => {
      const be = await scheduler.loadModel("resnet18");
      const rt = await scheduler.loadModel("mobilenet_v2");
      const beClient: Client = await scheduler.openClient("be", "batch");
      const rtClient: Client = await scheduler.openClient("rt", "camera");
      const input = inputFor(be, 1);
      const reference = (await beClient.infer(be, input)).outputs;
      const alone = (await beClient.infer(be, input)).timings;
      const beUs = alone.finished - alone.started;
      // Each batch queues a backlog of BE inferences (the BE queue runs them back to back) and RT
      // inferences released at random points across the backlog's run, so most land mid-kernel:
      // the previous design, one BE task with RT releases near it, saw 4 preemptions in 13 996
      // inferences on the H100, because the worker often picked the tasks up after those releases.
      const backlog = 8;
      let preemptions = 0, batches = 0, inferences = 0;
      const t0 = performance.now();
      const deadline = t0 + 100_000;
      while (preemptions < 1000 && performance.now() < deadline) {
        const start = scheduler.nowUs() + 200;
        const beTasks = Array.from(
          { length: backlog },
          () => beClient.infer(be, input, { releaseUs: start }),
        );
        const rtTasks = Array.from(
          { length: backlog },
          (_, k) =>
            rtClient.infer(rt, inputFor(rt, batches + k), {
              releaseUs: start + (k + Math.random()) * beUs,
            }),
        );
        const results = await Promise.all(beTasks);
        await Promise.all(rtTasks);
        for (const [i, result] of results.entries()) {
          assert.ok(equal(result.outputs, reference), `batch ${batches}, BE ${i}: outputs differ`);
          preemptions += result.timings.preemptions;
        }
        inferences += backlog;
        batches++;
        if (batches % 20 === 0) {
          console.log(
            `${inferences} BE inferences, ${preemptions} preemptions, ${
              (performance.now() - t0) | 0
            } ms`,
          );
        }
      }
      console.log(`${inferences} BE inferences, ${preemptions} preemptions, all bit-identical`);
      assert.ok(
        preemptions >= 1000,
        `only ${preemptions} preemptions in ${inferences} BE inferences`,
      );
    });
  },
);

gpuTest("10 000 tasks leave neither device nor host memory growing", async () => {
  await withScheduler(async (scheduler) => {
    using probe = Device.open(0);
    const be = await scheduler.loadModel("resnet18");
    const rt = await scheduler.loadModel("mobilenet_v2");
    const clients = [
      await scheduler.openClient("be", "a"),
      await scheduler.openClient("be", "b"),
      await scheduler.openClient("rt", "r"),
    ];
    const run = async (count: number) => {
      for (let i = 0; i < count; i += 30) {
        await Promise.all(Array.from({ length: 30 }, (_, j) => {
          const client = clients[j % 3]!;
          const model = j % 3 === 2 ? rt : be;
          return client.infer(model, inputFor(model, i + j));
        }));
      }
    };
    // Warm-up: instances, staging buffers, JIT, and the heaps growing to their working size.
    await run(2_000);
    const deviceBefore = probe.memoryInfo().free;
    const rss = [Deno.memoryUsage().rss];
    for (let round = 0; round < 5; round++) {
      await run(2_000);
      rss.push(Deno.memoryUsage().rss);
    }
    const deviceAfter = probe.memoryInfo().free;
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(
      `device free ${deviceBefore} -> ${deviceAfter} B; host rss every 2 000 tasks: ` +
        `${rss.map(mib).join(", ")} MiB`,
    );
    assert.equal(deviceAfter, deviceBefore, "device memory grew");
    // A leak grows with every round; a heap settling does not.
    assert.ok(rss.at(-1)! - rss[0]! < 64 * 2 ** 20, "host memory grew by more than 64 MiB");
  });
});
