import assert from "node:assert/strict";
import type { SimPackage } from "../../src/gpu/sim/model_package.ts";
import { SIM_DEVICE_NAME, SimDevice } from "../../src/gpu/sim/sim_device.ts";
import type { DeviceModel } from "../../src/scheduler/device_handle.ts";
import { deviceWithModels } from "./_fixtures.ts";

const bytesOf = (length: number, seed: number) =>
  Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 17) & 0xff);

/** wide: 4 224 blocks, 8 per SM: 4 waves of 100 µs per kernel. */
async function wide(options = {}) {
  const { device, models } = await deviceWithModels(["wide", "rt3"], { trace: true, ...options });
  const model = models.get("wide")!;
  const instance = device.createInstance(model.info.id);
  return { device, models, model, instance };
}

/**
 * Launches kernel 0 of each model on a stream of its own (normal priority, `a` first), runs both
 * to the end, and returns the streams and the kernel trace.
 */
function launchSideBySide(device: SimDevice, a: DeviceModel, b: DeviceModel) {
  const streams = [device.createStream("normal"), device.createStream("normal")];
  device.launch(streams[0]!, device.createInstance(a.info.id), 0, 1, "raw");
  device.launch(streams[1]!, device.createInstance(b.info.id), 0, 1, "raw");
  for (const stream of streams) device.synchronize(stream);
  return { streams, trace: device.kernelTrace };
}

Deno.test("the simulated device says it is simulated", () => {
  const device = new SimDevice();
  assert.equal(device.simulated, true);
  assert.equal(device.name, SIM_DEVICE_NAME);
  assert.match(device.name, /simulated/);
});

Deno.test("a lone kernel runs its profiled time after launch cost and latency", async () => {
  const { device, model, instance } = await wide();
  assert.equal(model.info.kernels[0]!.blocksPerSm, 8);
  const stream = device.createStream("low");
  device.launch(stream, instance, 0, 1, "raw");
  assert.equal(device.now(), 4, "one launch costs 4 µs of host time");
  assert.equal(device.inFlight(stream), 1);
  device.synchronize(stream);
  const [run] = device.kernelTrace;
  assert.equal(run!.launchUs, 4);
  assert.equal(run!.startUs, 7);
  assert.equal(run!.firstBlockUs, 7);
  assert.equal(run!.endUs, 407);
  assert.equal(run!.completedBlocks, 4224);
  assert.equal(device.idle(stream), true);
});

Deno.test("kernels of one stream run in order, each after the previous one ends", async () => {
  const { device, models } = await deviceWithModels(["chain6"], { trace: true });
  const chain = models.get("chain6")!;
  const stream = device.createStream("normal");
  const instance = device.createInstance(chain.info.id);
  device.launch(stream, instance, 0, 6, "raw");
  assert.equal(device.now(), 24);
  assert.equal(device.maxInFlight(stream), 6);
  device.synchronize(stream);
  const runs = device.kernelTrace;
  assert.deepEqual(runs.map((r) => r.kernel), [0, 1, 2, 3, 4, 5]);
  for (let k = 1; k < runs.length; k++) {
    assert.equal(runs[k]!.startUs, runs[k - 1]!.endUs + 1, `kernel ${k} waits for kernel ${k - 1}`);
    assert.equal(runs[k]!.endUs - runs[k]!.startUs, chain.info.kernels[k]!.timeUs);
  }
});

Deno.test("pending high-priority blocks go first, but running blocks are never evicted", async () => {
  const { device, models, instance } = await wide();
  const low = device.createStream("low");
  const high = device.createStream("high");
  device.launch(low, instance, 0, 1, "raw");
  device.advanceTo(50);
  const rt = device.createInstance(models.get("rt3")!.info.id);
  device.launch(high, rt, 0, 1, "raw");
  device.synchronize(high);
  device.synchronize(low);
  const rtRun = device.kernelTrace.find((r) => r.priority === "high")!;
  const beRun = device.kernelTrace.find((r) => r.priority === "low")!;
  assert.equal(rtRun.startUs, 57);
  assert.equal(rtRun.firstBlockUs, 107, "RT blocks wait for the first BE wave to end");
  assert.equal(rtRun.endUs, 127);
  assert.ok(beRun.endUs > 407, "BE lost slots to RT blocks");
  assert.equal(beRun.completedBlocks, 4224);
  assert.equal(beRun.stoppedBlocks, 0);
});

Deno.test("within one priority the older kernel's pending blocks go first", async () => {
  const { device, model } = await wide();
  const { streams, trace: [first, second] } = launchSideBySide(device, model, model);
  assert.equal(first!.stream, streams[0]);
  assert.equal(first!.endUs, 407);
  assert.equal(second!.firstBlockUs, 407, "B gets SMs only once A has no pending blocks left");
  assert.equal(second!.endUs, 807);
});

Deno.test("with the flag set, running BE blocks stop at their next check point and queued ones skip", async () => {
  const { device, instance } = await wide();
  const low = device.createStream("low");
  device.launch(low, instance, 0, 2, "be");
  device.advanceTo(145);
  device.setPreemptFlag(1);
  assert.equal(device.now(), 152, "the flag write takes 7 µs");
  device.synchronize(low);
  const [k0, k1] = device.kernelTrace;
  assert.equal(k0!.completedBlocks, 1056, "the first wave finished");
  assert.equal(k0!.stoppedBlocks, 1056, "the second wave stopped");
  assert.equal(k0!.skippedBlocks, 2112);
  // Wave two started at 107; check points every 100/8 µs: the next after 152 is 157.
  assert.ok(Math.abs(k0!.endUs - 159.5344) < 1e-9, `kernel 0 ended at ${k0!.endUs}`);
  assert.equal(k1!.skippedBlocks, 4224);
  assert.ok(Math.abs(k1!.endUs - k1!.startUs - 4224 * 0.0012) < 1e-9, "4 224 skips take ~5 µs");
  assert.equal(device.restorePoint(instance, 0, 2), 0);
  assert.deepEqual(device.flagTrace, [{ us: 152, value: 1 }]);
});

Deno.test("entry-only check points let running blocks finish", async () => {
  const { device, instance } = await wide({ checkPoints: { kind: "entry-only" } });
  const low = device.createStream("low");
  device.launch(low, instance, 0, 2, "be");
  device.advanceTo(145);
  device.setPreemptFlag(1);
  device.synchronize(low);
  const [k0] = device.kernelTrace;
  assert.equal(k0!.completedBlocks, 2112);
  assert.equal(k0!.stoppedBlocks, 0);
  // The second wave ends at 207; then the pending blocks find slots and skip.
  assert.ok(Math.abs(k0!.endUs - (207 + 2112 * 0.0012)) < 1e-9, `ended ${k0!.endUs}`);
});

Deno.test("interval check points stop blocks on the interval grid", async () => {
  const { device, instance } = await wide({ checkPoints: { kind: "interval", us: 20 } });
  const low = device.createStream("low");
  device.launch(low, instance, 0, 1, "be");
  device.advanceTo(145);
  device.setPreemptFlag(1);
  device.synchronize(low);
  const [k0] = device.kernelTrace;
  assert.equal(k0!.stoppedBlocks, 1056);
  const stopUs = 107 + 3 * 20;
  assert.ok(Math.abs(k0!.endUs - (stopUs + 2112 * 0.0012)) < 1e-9, `ended ${k0!.endUs}`);
});

Deno.test("raw kernels ignore the flag", async () => {
  const { device, instance } = await wide();
  const low = device.createStream("low");
  device.launch(low, instance, 0, 1, "raw");
  device.advanceTo(145);
  device.setPreemptFlag(1);
  device.synchronize(low);
  const [k0] = device.kernelTrace;
  assert.equal(k0!.completedBlocks, 4224);
  assert.equal(k0!.endUs, 407);
  assert.equal(device.restorePoint(instance, 0, 1), 1, "raw kernels set no stop marks");
});

Deno.test("be kernels that stop are marked, finished ones are not; resetStopMarks clears", async () => {
  const { device, models } = await deviceWithModels(["chain6"]);
  const chain = models.get("chain6")!;
  const stream = device.createStream("low");
  const instance = device.createInstance(chain.info.id);
  device.launch(stream, instance, 0, 6, "be");
  device.synchronize(stream);
  assert.equal(device.restorePoint(instance, 0, 6), 6, "a whole run leaves no mark");
  device.setPreemptFlag(1);
  device.launch(stream, instance, 0, 6, "be");
  device.synchronize(stream);
  device.setPreemptFlag(0);
  assert.equal(device.restorePoint(instance, 0, 6), 0, "every block skipped");
  device.resetStopMarks(stream, instance, 0, 4);
  device.synchronize(stream);
  assert.equal(device.restorePoint(instance, 0, 6), 4);
  assert.equal(device.restorePoint(instance, 0, 4), 4);
});

Deno.test("outputs follow the data: inputs matter, and a skipped kernel corrupts them until re-run", async () => {
  const { device, models } = await deviceWithModels(["chain6"]);
  const chain = models.get("chain6")!;
  const stream = device.createStream("low");
  const run = (seed: number) => {
    const instance = device.createInstance(chain.info.id);
    device.upload(stream, instance, "data", bytesOf(4096, seed));
    device.launch(stream, instance, 0, 6, "be");
    device.synchronize(stream);
    return { instance, output: device.download(instance, "output") };
  };
  const a = run(1);
  const b = run(2);
  assert.equal(a.output.length, 4000);
  assert.notDeepEqual(a.output, b.output);
  assert.deepEqual(run(1).output, a.output, "same input, same output");

  const instance = device.createInstance(chain.info.id);
  device.upload(stream, instance, "data", bytesOf(4096, 1));
  device.launch(stream, instance, 0, 6, "be");
  // Kernel 1 runs over [50, 110); the flag lands at 83, and its blocks stop at 87.5.
  device.advanceTo(device.now() + 50);
  device.setPreemptFlag(1);
  device.synchronize(stream);
  device.setPreemptFlag(0);
  assert.notDeepEqual(device.download(instance, "output"), a.output);
  const from = device.restorePoint(instance, 0, 6);
  assert.equal(from, 1);
  // Restoring one kernel too late leaves kernel 1's output stale.
  device.resetStopMarks(stream, instance, 2, 6);
  device.launch(stream, instance, 2, 6, "be");
  device.synchronize(stream);
  assert.notDeepEqual(device.download(instance, "output"), a.output);
  device.resetStopMarks(stream, instance, from, 6);
  device.launch(stream, instance, from, 6, "be");
  device.synchronize(stream);
  assert.deepEqual(device.download(instance, "output"), a.output);
});

Deno.test("a seeded jitter repeats exactly and stays within its bounds", async () => {
  const ends = async (seed: number) => {
    const { device, models } = await deviceWithModels(["chain6"], {
      trace: true,
      jitter: 0.2,
      seed,
    });
    const stream = device.createStream("normal");
    device.launch(stream, device.createInstance(models.get("chain6")!.info.id), 0, 6, "raw");
    device.synchronize(stream);
    return device.kernelTrace.map((r) => r.endUs - r.startUs);
  };
  const first = await ends(7);
  assert.deepEqual(await ends(7), first);
  assert.notDeepEqual(await ends(8), first);
  [40, 60, 80, 100, 50, 70].forEach((time, k) => {
    assert.ok(first[k]! >= 0.8 * time && first[k]! <= 1.2 * time, `kernel ${k}: ${first[k]}`);
  });
});

Deno.test("occupancy follows threads and shared memory; a block too large is refused", () => {
  const pkg = (threads: number, sharedMemory: number): SimPackage => ({
    name: "big",
    storage: new Map([["output", 4]]),
    kernels: [{
      name: "k",
      grid: [264, 1, 1],
      block: [threads, 1, 1],
      sharedMemory,
      timeUs: 10,
      waveUs: [],
      blocksPerSm: undefined,
    }],
    latencyUs: 10,
    inputs: [],
    outputs: [{ name: "output", storage: "output", bytes: 4 }],
  });
  const device = new SimDevice({ trace: true });
  const smem = device.addModel(pkg(128, 120_000));
  assert.equal(smem.info.kernels[0]!.blocksPerSm, 1);
  assert.equal(device.addModel(pkg(512, 0)).info.kernels[0]!.blocksPerSm, 4);
  // 264 blocks at one per SM: two waves of 5 µs.
  const stream = device.createStream("normal");
  device.launch(stream, device.createInstance(smem.info.id), 0, 1, "raw");
  device.synchronize(stream);
  assert.equal(device.kernelTrace[0]!.endUs - device.kernelTrace[0]!.startUs, 10);
  assert.throws(() => device.addModel(pkg(4096, 0)), {
    message: /Cannot load model "big": kernel 0 \("k"\) does not fit on an SM \(4096 threads/,
  });
});

Deno.test("blocks spread over the SMs take no SM beyond its room", () => {
  const pkg = (name: string, blocks: number, threads: number): SimPackage => ({
    name,
    storage: new Map([["output", 4]]),
    kernels: [{
      name: "k",
      grid: [blocks, 1, 1],
      block: [threads, 1, 1],
      sharedMemory: 0,
      timeUs: 100,
      waveUs: [],
      blocksPerSm: undefined,
    }],
    latencyUs: 100,
    inputs: [],
    outputs: [{ name: "output", storage: "output", bytes: 4 }],
  });
  const device = new SimDevice({ sms: 3, trace: true });
  // Four blocks at two per SM go 2, 1, 1; the 32 small blocks then fit at once, 16 on each SM with
  // room left. Placing the four once moved the round-robin start mid-way and put three on one SM,
  // whose negative room then held half the small blocks back a wave (and corrupted the counts).
  const four = device.addModel(pkg("four", 4, 1024));
  const small = device.addModel(pkg("small", 32, 32));
  const { trace: [first, second] } = launchSideBySide(device, four, small);
  assert.deepEqual([first!.model, first!.startUs, first!.endUs], ["four", 7, 107]);
  assert.deepEqual([second!.model, second!.firstBlockUs, second!.endUs], ["small", 11, 111]);
});

Deno.test("misuse is refused with a message naming what is wrong", async () => {
  const { device, models } = await deviceWithModels(["chain6"]);
  const chain = models.get("chain6")!;
  const stream = device.createStream("low");
  const instance = device.createInstance(chain.info.id);
  assert.throws(() => device.upload(stream, instance, "data", new Uint8Array(3)), {
    message: 'Cannot upload to storage "data" of model "chain6": expected 4096 bytes, got 3',
  });
  assert.throws(() => device.upload(stream, instance, "weights", new Uint8Array(3)), {
    message: /has no storage "weights"/,
  });
  assert.throws(() => device.launch(stream, instance, 4, 7, "be"), {
    message: "Cannot launch instance 0: kernel range [4, 7) is not within [0, 6)",
  });
  assert.throws(() => device.launch(9, instance, 0, 1, "be"), { message: /no such stream/ });
  assert.throws(() => device.setPreemptFlag(2 as 0), { message: /must be 0 or 1/ });
  device.launch(stream, instance, 0, 1, "be");
  assert.throws(() => device.restorePoint(instance, 0, 1), { message: /still in flight/ });
  assert.throws(() => device.download(instance, "output"), { message: /still in flight/ });
  device.synchronize(stream);
  assert.throws(() => device.download(instance, "data"), {
    message: 'Cannot download storage "data" of model "chain6": it is not an output',
  });
  assert.throws(() => new SimDevice({ sms: 0 }), {
    message: 'Invalid simulated device option "sms": must be positive',
  });
  assert.throws(() => new SimDevice({ smz: 1 } as never), {
    message: 'Invalid simulated device option "options": has unknown field "smz"',
  });
});
