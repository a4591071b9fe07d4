import assert from "node:assert/strict";
import { deviceFactoryUrl, registerDeviceFactory } from "../../src/scheduler/device_registry.ts";
import type { BackendInferRequest, Priority, Tensor } from "../../src/server/backend.ts";
import { InferenceError } from "../../src/server/errors.ts";
import {
  listModelPackages,
  MAX_BE_QUEUES,
  SchedulerBackend,
  SIM_PLATFORM,
} from "../../src/server/scheduler_backend.ts";
import { cnn3Inputs, digestOf, MODEL_DIR, openSimBackend, wide6Inputs } from "./sim_helpers.ts";
import { delay, waitFor } from "./helpers.ts";

function request(
  model: string,
  inputs: Tensor[],
  priority: Priority,
  client: string,
): BackendInferRequest {
  return { model, inputs: new Map(inputs.map((t) => [t.name, t])), priority, client };
}

/** A copy of the fixture models plus `extra` packages (name to JSON text), in a temp dir. */
async function modelDirWith(extra: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "reef-backend-test-" });
  for (const name of await listModelPackages(MODEL_DIR)) {
    await Deno.mkdir(`${dir}/${name}`);
    for (const file of [`${name}.json`, `${name}.profile.json`]) {
      await Deno.copyFile(`${MODEL_DIR}/${name}/${file}`, `${dir}/${name}/${file}`);
    }
  }
  for (const [name, json] of Object.entries(extra)) {
    await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeTextFile(`${dir}/${name}/${name}.json`, json);
  }
  return dir;
}

async function assertRejectsKind(
  promise: Promise<unknown>,
  kind: InferenceError["kind"],
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InferenceError, String(error));
    assert.equal(error.kind, kind);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("the backend lists the packages and describes their tensors as stored", async () => {
  await using backend = await openSimBackend();
  assert.equal(backend.simulated, true);
  assert.match(backend.deviceName, /simulated/);
  assert.deepEqual(backend.models(), [
    { name: "cnn3", state: "unavailable" },
    { name: "plain2", state: "unavailable" },
    { name: "wide6", state: "unavailable" },
  ]);
  assert.deepEqual(backend.metadata("cnn3"), {
    name: "cnn3",
    platform: SIM_PLATFORM,
    inputs: [{ name: "image", datatype: "FP16", shape: [1, 16, 16, 3] }],
    outputs: [{ name: "scores", datatype: "FP32", shape: [1, 10] }],
  });
  // REEF's own format: storages named like inputs and outputs, one dimension each.
  assert.deepEqual(backend.metadata("plain2"), {
    name: "plain2",
    platform: SIM_PLATFORM,
    inputs: [{ name: "data", datatype: "FP32", shape: [16] }],
    outputs: [{ name: "output", datatype: "INT32", shape: [4] }],
  });
  assert.equal(backend.metadata("nope"), undefined);
  await assertRejectsKind(backend.load("nope"), "not_found", /Unknown model "nope"/);
});

Deno.test("packages that cannot be read are listed unavailable with the reason", async () => {
  const cnn3 = JSON.parse(await Deno.readTextFile(`${MODEL_DIR}/cnn3/cnn3.json`));
  cnn3.inputs[0].shape = [1, 16, 16, 4];
  const dir = await modelDirWith({ broken: "{ not json", misshapen: JSON.stringify(cnn3) });
  try {
    await using backend = await openSimBackend({ modelDir: dir });
    const status = (name: string) => backend.models().find((entry) => entry.name === name);
    assert.match(status("broken")?.reason ?? "", /broken\.json: it is not valid JSON/);
    assert.match(
      status("misshapen")?.reason ?? "",
      /field "inputs\[0\]\.shape" \[1,16,16,4\] of FP16 needs 2048 bytes, but storage "image" holds 1536/,
    );
    assert.equal(backend.metadata("broken"), undefined);
    await assert.rejects(backend.load("misshapen"), /Cannot load model "misshapen": Invalid /);
    assert.equal(status("misshapen")?.state, "unavailable");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a model directory that cannot be listed is named in the error", async () => {
  await assert.rejects(
    openSimBackend({ modelDir: "/nonexistent/reef-models" }),
    /Cannot list the model packages in "\/nonexistent\/reef-models"/,
  );
});

Deno.test("loading reports the states, and a failed load says why", async () => {
  const dir = await modelDirWith({});
  await Deno.remove(`${dir}/plain2/plain2.profile.json`);
  try {
    await using backend = await openSimBackend({ modelDir: dir });
    const loading = backend.load("cnn3");
    assert.equal(backend.models()[0].state, "loading");
    assert.equal(backend.load("cnn3"), loading, "concurrent loads share one");
    await loading;
    assert.equal(backend.models()[0].state, "ready");
    await backend.load("cnn3");

    await assert.rejects(backend.load("plain2"), /needs kernel times from/);
    const plain2 = backend.models().find((entry) => entry.name === "plain2");
    assert.equal(plain2?.state, "unavailable");
    assert.match(plain2?.reason ?? "", /^loading failed: .*needs kernel times/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a device that loads other tensors than the package describes fails the load", async () => {
  const gpuFactory = deviceFactoryUrl("gpu");
  registerDeviceFactory("gpu", new URL("./fixtures/tensorless_device.ts", import.meta.url));
  try {
    await using backend = await SchedulerBackend.open({
      device: "gpu",
      modelDir: MODEL_DIR,
      mode: "reef",
    });
    await assert.rejects(
      backend.load("cnn3"),
      /Model "cnn3" has inputs \["image" \(1536 bytes\)\] in its package, but the device loaded \[\]/,
    );
  } finally {
    registerDeviceFactory("gpu", gpuFactory);
  }
});

Deno.test("unloading a loaded model is refused: the scheduler cannot unload", async () => {
  await using backend = await openSimBackend();
  await backend.unload("cnn3");
  await backend.load("cnn3");
  await assertRejectsKind(
    backend.unload("cnn3"),
    "invalid_argument",
    /Cannot unload model "cnn3": the scheduler keeps a loaded model on the device until it closes/,
  );
  assert.equal(backend.models()[0].state, "ready");
  await assertRejectsKind(backend.unload("nope"), "not_found", /Unknown model/);
});

Deno.test("inferences pass the simulator's digests through, with the scheduler's timings", async () => {
  await using backend = await openSimBackend();
  await assertRejectsKind(
    backend.infer(request("cnn3", cnn3Inputs(), "rt", "a")),
    "unavailable",
    /not loaded/,
  );
  await backend.load("cnn3");
  const first = await backend.infer(request("cnn3", cnn3Inputs(1), "rt", "a"));
  const again = await backend.infer(request("cnn3", cnn3Inputs(1), "be", "b"));
  const other = await backend.infer(request("cnn3", cnn3Inputs(2), "rt", "a"));
  const scores = first.outputs.get("scores")!;
  assert.deepEqual([scores.name, scores.datatype, scores.shape], ["scores", "FP32", [1, 10]]);
  assert.equal(scores.data.byteLength, 40);
  assert.equal(digestOf(scores), digestOf(again.outputs.get("scores")));
  assert.notEqual(digestOf(scores), digestOf(other.outputs.get("scores")));
  // The digest fills the output, word after word.
  const words = new Uint32Array(scores.data.slice().buffer);
  assert.ok(words.every((word) => word === words[0]));
  const t = first.timings;
  assert.ok(t.submittedUs <= t.startedUs && t.startedUs < t.finishedUs, JSON.stringify(t));
  assert.equal(t.preemptions, 0);
});

Deno.test("real-time inferences preempt best-effort ones; stats hand out each latency once", async () => {
  await using backend = await openSimBackend();
  await backend.load("cnn3");
  await backend.load("wide6");
  const be = Array.from(
    { length: 4 },
    (_, i) => backend.infer(request("wide6", wide6Inputs(i), "be", `batch${i}`)),
  );
  const depths = backend.stats().queueDepths;
  assert.deepEqual(depths, { "be:batch0": 1, "be:batch1": 1, "be:batch2": 1, "be:batch3": 1 });
  let pending = be.length;
  for (const task of be) task.then(() => pending--);
  // Real-time requests keep arriving (in wall-clock time) while the simulated BE work runs.
  while (pending > 0) {
    const rt = await backend.infer(request("cnn3", cnn3Inputs(), "rt", "camera"));
    assert.equal(rt.timings.preemptions, 0);
    await delay(1);
  }
  const done = await Promise.all(be);
  assert.ok(done.some((result) => result.timings.preemptions > 0));

  // The counters are fetched in the background: poll until they arrive.
  let preemptions = 0;
  const latencies: number[] = [];
  await waitFor(() => {
    const stats = backend.stats();
    preemptions = stats.preemptions;
    latencies.push(...stats.preemptLatenciesUs);
    return latencies.length > 0;
  }, "the preemption counters");
  assert.ok(preemptions >= 1);
  assert.ok(latencies.every((us) => us > 0 && us < 1000), String(latencies));
  const later = backend.stats();
  assert.equal(later.preemptions, preemptions);
  assert.deepEqual(later.preemptLatenciesUs, []);
  assert.equal(later.queueDepths["rt:camera"], 0);
});

Deno.test(`best-effort queues are capped at ${MAX_BE_QUEUES} busy clients; idle ones are reused`, async () => {
  await using backend = await openSimBackend();
  await backend.load("wide6");
  const running = Array.from(
    { length: MAX_BE_QUEUES },
    (_, i) => backend.infer(request("wide6", wide6Inputs(i), "be", `client${i}`)),
  );
  // A client that already has a queue may add requests to it.
  running.push(backend.infer(request("wide6", wide6Inputs(), "be", "client0")));
  await assertRejectsKind(
    backend.infer(request("wide6", wide6Inputs(), "be", "one-too-many")),
    "resource_exhausted",
    /Cannot give best-effort client "one-too-many" a queue: all 32 best-effort queues are in use/,
  );
  // Real-time clients do not take best-effort queues.
  await backend.infer(request("wide6", wide6Inputs(), "rt", "urgent"));
  await Promise.all(running);
  const late = await backend.infer(request("wide6", wide6Inputs(), "be", "one-too-many"));
  assert.equal(late.outputs.get("y")?.data.byteLength, 256);
  const queues = Object.keys(backend.stats().queueDepths).filter((q) => q.startsWith("be:"));
  assert.equal(queues.length, MAX_BE_QUEUES);
  assert.ok(queues.includes("be:one-too-many"));
});

Deno.test("in rt-only mode best-effort requests are refused, real-time ones run", async () => {
  await using backend = await openSimBackend({ mode: "rt-only" });
  await backend.load("cnn3");
  await assertRejectsKind(
    backend.infer(request("cnn3", cnn3Inputs(), "be", "a")),
    "invalid_argument",
    /Mode "rt-only" runs real-time requests only: set parameter "priority" to "rt"/,
  );
  const result = await backend.infer(request("cnn3", cnn3Inputs(), "rt", "a"));
  assert.equal(result.outputs.size, 1);
});

Deno.test("closing fails tasks not started and settles every inference", async () => {
  const backend = await openSimBackend({ mode: "seq" });
  await backend.load("wide6");
  const tasks = Array.from(
    { length: 6 },
    (_, i) => backend.infer(request("wide6", wide6Inputs(i), "be", `c${i}`)),
  );
  // Let the tasks reach the scheduler; in "seq" mode they run one after another.
  await waitFor(() => backend.stats().queueDepths["be:c5"] === 1, "the submissions");
  await delay(0);
  const settling = Promise.allSettled(tasks);
  await backend.close();
  const settled = await settling;
  assert.ok(settled.some((s) => s.status === "rejected"), "some tasks had not started");
  for (const s of settled) {
    if (s.status === "rejected") assert.match(String(s.reason), /closed before/);
  }
  await assert.rejects(
    backend.infer(request("wide6", wide6Inputs(), "be", "late")),
    /scheduler is closed|The scheduler is closed/,
  );
});
