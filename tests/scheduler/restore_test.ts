import assert from "node:assert/strict";
import type { SimOptions } from "../../src/gpu/sim/options.ts";
import { runVirtual } from "../../src/scheduler/drive.ts";
import type { Mode } from "../../src/scheduler/mode.ts";
import { SchedulerPolicy } from "../../src/scheduler/policy.ts";
import { deviceWithModels, inputsFor, ReferenceRunner } from "./_harness.ts";

const reference = await ReferenceRunner.create(["chain6"]);

/** Runs one chain6 BE task and RT tasks released at `rtReleases`; returns results and stats. */
async function preemptAt(mode: Mode, rtReleases: number[], sim: Partial<SimOptions> = {}) {
  const { device, models } = await deviceWithModels(["chain6", "rt3"], { trace: true, ...sim });
  const policy = new SchedulerPolicy(device, { mode });
  for (const model of models.values()) policy.addModel(model);
  const chain = models.get("chain6")!;
  const rt3 = models.get("rt3")!;
  const be = policy.openClient("be", "be");
  const rt = policy.openClient("rt", "rt");
  policy.submit({ id: 0, model: chain.info.id, client: be, inputs: inputsFor(chain, 42) });
  rtReleases.forEach((releaseUs, i) => {
    policy.submit({
      id: i + 1,
      model: rt3.info.id,
      client: rt,
      inputs: inputsFor(rt3, i),
      releaseUs,
    });
  });
  const results = runVirtual(policy, device);
  const be0 = results.find((r) => r.id === 0)!;
  assert.deepEqual(be0.outputs, reference.outputs("chain6", inputsFor(chain, 42)));
  return { be: be0, stats: policy.stats(), device };
}

/** Where each chain6 kernel runs when the BE task is alone: [start, end) in µs. */
const alone = (await preemptAt("reset", [])).device.kernelTrace.map((r) => [r.startUs, r.endUs]);

for (const mode of ["reset", "wait", "reef"] as const) {
  Deno.test(`${mode}: a preemption at any kernel restores exactly that kernel`, async () => {
    for (let k = 0; k < 6; k++) {
      for (const fraction of [0.1, 0.5]) {
        const [start, end] = alone[k]!;
        const release = start! + fraction * (end! - start!);
        const { be, stats } = await preemptAt(mode, [release]);
        const what = `preempted at ${release} µs, in kernel ${k}`;
        assert.equal(be.timings.preemptions, 1, what);
        const [restore] = stats.preemptions[0]!.restores;
        assert.equal(restore!.from, k, what);
        assert.equal(stats.relaunchedKernels, restore!.launched - k, what);
      }
    }
  });
}

Deno.test("with checks at block entry only, running blocks finish and the next kernel is restored", async () => {
  for (let k = 0; k < 6; k++) {
    const [start, end] = alone[k]!;
    const { be, stats } = await preemptAt("reset", [(start! + end!) / 2], {
      checkPoints: { kind: "entry-only" },
    });
    assert.equal(be.timings.preemptions, 1);
    assert.equal(stats.preemptions[0]!.restores[0]!.from, k + 1, `preempted in kernel ${k}`);
  }
});

Deno.test("a task preempted many times still produces an uninterrupted run's outputs", async () => {
  const releases = Array.from({ length: 12 }, (_, i) => 30 + i * 150);
  const { be, stats } = await preemptAt("reset", releases);
  assert.ok(be.timings.preemptions >= 5, `preempted ${be.timings.preemptions} times`);
  assert.equal(
    stats.preemptions.filter((p) => p.preemptedTasks.includes(0)).length,
    be.timings.preemptions,
  );
});
