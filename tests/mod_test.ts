// The library API as a user imports it: mod.ts alone, on the simulated device.
import assert from "node:assert/strict";
import { modelNames, MODES, Scheduler, VERSION } from "../mod.ts";

const models = new URL("./eval/fixtures/models", import.meta.url).pathname;

Deno.test("mod.ts: a scheduler on the simulated device runs RT and BE inferences", async () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
  assert.ok(modelNames().includes("resnet152") && MODES.includes("reef"));
  const scheduler = await Scheduler.create({
    device: { kind: "sim", modelDir: models },
    mode: "reef",
  });
  try {
    const rtModel = await scheduler.loadModel("vgg19");
    const beModel = await scheduler.loadModel("resnet152");
    const rt = await scheduler.openClient("rt", "camera");
    const be = await scheduler.openClient("be", "batch");
    const inputs = (model: typeof rtModel) =>
      Object.fromEntries(model.inputs.map((slot) => [slot.name, new Uint8Array(slot.bytes)]));
    const background = be.infer(beModel, inputs(beModel));
    const { outputs, timings } = await rt.infer(rtModel, inputs(rtModel));
    assert.equal(outputs.size, rtModel.outputs.length);
    assert.ok(timings.finished > timings.started && timings.started >= timings.submitted);
    assert.ok((await background).outputs.size > 0);
    const stats = await scheduler.stats();
    assert.equal(stats.simulated, true);
  } finally {
    await scheduler.close();
  }
});
