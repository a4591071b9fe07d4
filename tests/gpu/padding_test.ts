// Dynamic kernel padding on the GPU (issue 5):
// - kernel level: RT and BE zoo models run kernel by kernel, every BE kernel's blocks in random
//   chunks inside RT kernels of the same block size, write exactly what unpadded runs write; two
//   different models are never paired (a proxy calling another module's body faults);
// - scheduler level: in reef mode, RT inferences queued back to back beside BE clients pad BE
//   work, and every BE inference still gives the outputs of an uninterrupted run.
import assert from "node:assert/strict";
import { compileModel } from "../../src/compiler/compile.ts";
import { packagePaths, readPackage, readProfile, storageBytes } from "../../src/model/package.ts";
import { profileModel } from "../../src/model/profiler.ts";
import { packageWeights } from "../../src/model/weights.ts";
import type { ModelInfo } from "../../src/scheduler/exec_device.ts";
import { GpuExecDevice } from "../../src/scheduler/gpu_device.ts";
import { Scheduler } from "../../src/scheduler/mod.ts";
import { gpuAvailable, gpuTest } from "./support.ts";

const MODELS = ["resnet18", "resnet50"];
const root = gpuAvailable ? await Deno.makeTempDir({ prefix: "reef-padding-gpu-" }) : "";
if (gpuAvailable) {
  for (const name of MODELS) {
    const { paths } = await compileModel(name, { root });
    const profile = await profileModel(paths, { repeats: 5, maxOccupancy: 8, command: "test" });
    await Deno.writeTextFile(paths.profile, JSON.stringify(profile) + "\n");
  }
}

/** Fresh random fp16 inputs in [-1, 1), from a printed seed. */
function randomInput(bytes: number, seed: number): Uint8Array {
  let state = seed >>> 0;
  const values = new Float16Array(bytes / 2).map(() => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  });
  return new Uint8Array(values.buffer);
}

gpuTest(
  "padded RT and BE kernels write what unpadded runs write, within and across models",
  async () => {
    const device = new GpuExecDevice();
    try {
      const infos = new Map<string, ModelInfo>();
      const slots = new Map<string, { input: string; bytes: number; outputs: string[] }>();
      for (const name of MODELS) {
        const paths = packagePaths(name, root);
        const pkg = await readPackage(paths);
        infos.set(
          name,
          await device.loadModel(paths, pkg, await packageWeights(paths, pkg), undefined),
        );
        const input = pkg.inputs![0]!;
        const entry = pkg.storage.find((s) => s.name === input.storage)!;
        slots.set(name, {
          input: input.storage,
          bytes: storageBytes(entry),
          outputs: pkg.outputs!.map((o) => o.storage),
        });
      }
      const stream = device.createStream("high");
      const seed = Date.now() % 1_000_000;
      console.log(`input seed ${seed}`);
      let state = seed;
      const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
      const pairs = [
        ["resnet18", "resnet18"],
        ["resnet50", "resnet50"],
        ["resnet18", "resnet50"],
        ["resnet50", "resnet18"],
      ];
      for (const [rtName, beName] of pairs) {
        const rt = infos.get(rtName)!, be = infos.get(beName)!;
        if (rtName !== beName) {
          // A proxy calling another module's body faulted (illegal address) on the H100, even
          // with the registers and stack of both: the device never pairs two models.
          assert.equal(device.paddedOccupancy(rt.id, 0, be.id, 0), 0, `${rtName} with ${beName}`);
          continue;
        }
        const run = (padded: boolean) => {
          const rtInstance = device.createInstance(rt.id);
          const beInstance = device.createInstance(be.id);
          device.upload(
            stream,
            rtInstance,
            slots.get(rtName)!.input,
            randomInput(slots.get(rtName)!.bytes, seed),
          );
          device.upload(
            stream,
            beInstance,
            slots.get(beName)!.input,
            randomInput(slots.get(beName)!.bytes, seed + 1),
          );
          let kernel = 0, block = 0, launches = 0;
          for (let k = 0; k < rt.kernels.length; k++) {
            let next = be.kernels[kernel];
            // A BE kernel of another block size runs on its own, in order, as it would unpadded.
            if (padded && next !== undefined && next.threads !== rt.kernels[k]!.threads) {
              device.launch(stream, beInstance, kernel, kernel + 1, "raw");
              [kernel, block] = [kernel + 1, 0];
              next = be.kernels[kernel];
            }
            if (!padded || next === undefined || next.threads !== rt.kernels[k]!.threads) {
              device.launch(stream, rtInstance, k, k + 1, "raw");
              continue;
            }
            const blocks = 1 +
              Math.floor(random() * Math.min(next.blocks - block, 2 * rt.kernels[k]!.blocks));
            device.launchPadded(stream, rtInstance, k, {
              instance: beInstance,
              kernel,
              first: block,
              blocks,
            });
            launches++;
            block += blocks;
            if (block === next.blocks) [kernel, block] = [kernel + 1, 0];
          }
          // The rest of the BE task, its partly padded kernel whole, as the scheduler resumes it.
          device.launch(stream, beInstance, kernel, be.kernels.length, "raw");
          device.synchronize(stream);
          const outputs = (name: string, instance: number) =>
            slots.get(name)!.outputs.map((o) => device.download(instance, o));
          return {
            rt: outputs(rtName, rtInstance),
            be: outputs(beName, beInstance),
            launches,
            kernel,
          };
        };
        const reference = run(false);
        const padded = run(true);
        console.log(
          `RT ${rtName}, BE ${beName}: ${padded.launches} padded launches, ${padded.kernel} of ` +
            `${be.kernels.length} BE kernels reached`,
        );
        assert.ok(padded.launches >= 10, `only ${padded.launches} padded launches`);
        assert.deepEqual(padded.rt, reference.rt, `RT ${rtName} outputs with ${beName} padded`);
        assert.deepEqual(padded.be, reference.be, `BE ${beName} outputs padded into ${rtName}`);
      }
    } finally {
      // A kernel fault leaves the context unusable: report the fault, not the failed close.
      try {
        device.close();
      } catch (error) {
        console.error(`closing the device failed too: ${error}`);
      }
    }
  },
);

gpuTest(
  "reef mode pads BE work into back-to-back RT inferences; BE outputs stay exact",
  async () => {
    for (const name of MODELS) {
      assert.ok(await readProfile(packagePaths(name, root)), `${name} has a profile`);
    }
    const scheduler = await Scheduler.create({
      device: { kind: "gpu", modelDir: root },
      mode: "reef",
    });
    try {
      // One model for both: the device pads kernels of one model only (see the test above).
      const rtModel = await scheduler.loadModel("resnet50");
      const beModel = rtModel;
      const rt = await scheduler.openClient("rt", "rt");
      const beClients = await Promise.all(
        [0, 1, 2].map((i) => scheduler.openClient("be", `be${i}`)),
      );
      const input = (model: typeof rtModel, seed: number) =>
        Object.fromEntries(model.inputs.map((s) => [s.name, randomInput(s.bytes, seed)]));
      const beInput = input(beModel, 7);
      const reference = (await beClients[0]!.infer(beModel, beInput)).outputs;
      // As in fig. 15: closed-loop BE clients, and RT inferences all queued at once.
      const distinct = Array.from({ length: 10 }, (_, i) => input(rtModel, i));
      // 150 RT inputs of 301 KB stay within the scheduler's 64 MiB tensor arena.
      const rtInputs = Array.from({ length: 150 }, (_, i) => distinct[i % 10]!);
      let rtDone = false;
      const beLoops = beClients.map(async (client) => {
        const results = [];
        while (!rtDone) results.push(await client.infer(beModel, beInput));
        return results;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      // The BE loops end before the scheduler closes, whatever the RT work does.
      const rtRun = Promise.all(rtInputs.map((data) => rt.infer(rtModel, data)));
      const [rtOutcome] = await Promise.allSettled([rtRun.finally(() => rtDone = true)]);
      const beResults = (await Promise.all(beLoops)).flat();
      if (rtOutcome.status === "rejected") throw rtOutcome.reason;
      const rtResults = rtOutcome.value;
      for (const [i, result] of beResults.entries()) {
        assert.deepEqual(result.outputs, reference, `BE inference ${i}: outputs differ`);
      }
      const rtStart = Math.min(...rtResults.map((r) => r.timings.started));
      const rtEnd = Math.max(...rtResults.map((r) => r.timings.finished));
      const during = beResults.filter((r) =>
        r.timings.finished > rtStart && r.timings.finished < rtEnd
      ).length;
      const stats = await scheduler.stats();
      const selection = [...stats.selectionTimesUs].sort((a, b) => a - b);
      console.log(
        `${stats.paddedKernels} RT kernels padded; ${during} of ${beResults.length} BE ` +
          `inferences finished while RT work ran; selection median ` +
          `${
            selection[selection.length >> 1]
          } µs per RT kernel over ${selection.length} RT inferences`,
      );
      assert.ok(stats.paddedKernels > 0, "no RT kernel was padded");
    } finally {
      await scheduler.close();
    }
  },
);
