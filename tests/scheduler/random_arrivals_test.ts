import assert from "node:assert/strict";
import { SeededRandom } from "../../src/gpu/sim/rng.ts";
import { runVirtual } from "../../src/scheduler/drive.ts";
import { type Mode, MODES } from "../../src/scheduler/mode.ts";
import { SchedulerPolicy } from "../../src/scheduler/policy.ts";
import type { Priority, TaskResult } from "../../src/scheduler/task.ts";
import { deviceWithModels, inputsFor, ReferenceRunner } from "./_harness.ts";

const NAMES = ["chain6", "rt3", "tiny2"];
const reference = await ReferenceRunner.create(NAMES);

interface Arrival {
  readonly id: number;
  readonly client: number;
  readonly model: string;
  readonly releaseUs: number;
}

/**
 * Submits `count` seeded random arrivals (Poisson, mean gap `gapUs`; one in five RT) from three BE
 * and two RT clients, runs them all, and checks that each completes exactly once, in FIFO order per
 * client, with an uninterrupted run's outputs.
 */
async function randomRun(mode: Mode, count: number, gapUs: number, seed: number) {
  const { device, models } = await deviceWithModels(NAMES);
  const policy = new SchedulerPolicy(device, { mode });
  for (const model of models.values()) policy.addModel(model);
  const clients: { id: number; priority: Priority }[] = [];
  for (const priority of ["be", "be", "be", "rt", "rt"] as const) {
    if (priority === "be" && mode === "rt-only") continue;
    clients.push({ id: policy.openClient(priority, `${priority}${clients.length}`), priority });
  }
  const random = new SeededRandom(seed);
  const arrivals: Arrival[] = [];
  let at = 0;
  for (let id = 0; id < count; id++) {
    at += -Math.log(1 - random.next()) * gapUs;
    const client = clients[Math.floor(random.next() * clients.length)]!;
    const pick = random.next();
    const model = client.priority === "rt"
      ? (pick < 0.7 ? "rt3" : "tiny2")
      : (pick < 0.9 ? "tiny2" : "chain6");
    arrivals.push({ id, client: client.id, model, releaseUs: at });
    const loaded = models.get(model)!;
    policy.submit({
      id,
      model: loaded.info.id,
      client: client.id,
      inputs: inputsFor(loaded, id),
      releaseUs: at,
    });
  }
  const results = runVirtual(policy, device);
  assert.equal(results.length, count, "no task lost");
  const byId = new Map<number, TaskResult>();
  for (const result of results) {
    assert.ok(!byId.has(result.id), `task ${result.id} completed twice`);
    byId.set(result.id, result);
  }
  const lastStart = new Map<number, number>();
  for (const arrival of arrivals) {
    const result = byId.get(arrival.id)!;
    const t = result.timings;
    assert.equal(t.submitted, arrival.releaseUs);
    assert.ok(t.submitted <= t.started && t.started <= t.finished, `timings of ${arrival.id}`);
    assert.ok(t.started >= (lastStart.get(arrival.client) ?? -Infinity), "FIFO per client");
    lastStart.set(arrival.client, t.started);
    const expected = reference.outputs(
      arrival.model,
      inputsFor(models.get(arrival.model)!, arrival.id),
    );
    assert.deepEqual(result.outputs, expected, `outputs of task ${arrival.id}`);
  }
  const stats = policy.stats();
  assert.equal(stats.completed.rt + stats.completed.be, count);
  return stats;
}

Deno.test("reset: 10 000 random RT and BE arrivals, none lost or duplicated", async () => {
  const stats = await randomRun("reset", 10_000, 40, 2024);
  assert.ok(stats.preemptions.length > 100, `${stats.preemptions.length} preemptions`);
  assert.ok(stats.relaunchedKernels > 0);
});

for (const mode of MODES.filter((m) => m !== "reset")) {
  Deno.test(`${mode}: 10 000 random arrivals, none lost or duplicated`, async () => {
    await randomRun(mode, 10_000, 40, 7);
  });
}
