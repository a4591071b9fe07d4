// The binding against a real GPU: modules, launches, parameter layouts, priorities, events, a
// stream-written flag seen by a running kernel, error paths, and handle leaks.
import assert from "node:assert/strict";
import { Device, KernelParams, liveHandles, ReefGpuError, Status } from "../../src/gpu/mod.ts";
import { compileCubin, gpuAvailable, gpuTest } from "./support.ts";

const source = new URL("./kernels/ffi_test_kernels.cu", import.meta.url);
const cubin = gpuAvailable ? await compileCubin(source) : new Uint8Array();

function random(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
}

gpuTest("axpy over several grid sizes matches a CPU reference", () => {
  const before = liveHandles();
  {
    using device = Device.open(0);
    using module = device.loadModule(cubin);
    const axpy = module.kernel("axpy");
    using stream = device.createStream();
    for (const n of [1, 255, 256, 257, 100_000, 1 << 22]) {
      const x = random(n), y = random(n), a = Math.random() * 4 - 2;
      using dx = device.alloc(x.byteLength);
      using dy = device.alloc(y.byteLength);
      dx.write(x);
      dy.write(y);
      const block = 256;
      stream.launch(axpy, {
        grid: Math.ceil(n / block),
        block,
        params: new KernelParams().f32(a).pointer(dx.address).pointer(dy.address).i32(n).bytes(),
      });
      stream.synchronizeSync();
      const out = new Float32Array(dy.read().buffer);
      const af = Math.fround(a);
      for (let i = 0; i < n; i++) {
        const expected = Math.fround(Math.fround(af * x[i]!) + y[i]!);
        assert.ok(
          Math.abs(out[i]! - expected) <= 1e-6 * Math.max(1, Math.abs(expected)),
          `n=${n} i=${i}`,
        );
      }
    }
  }
  assert.equal(liveHandles(), before, "every handle released");
});

gpuTest("3-D grids and blocks reach every thread", () => {
  using device = Device.open(0);
  using module = device.loadModule(cubin);
  const kernel = module.kernel("index3d");
  using stream = device.createStream();
  for (
    const [grid, block] of [[[3, 2, 2], [4, 2, 2]], [[7, 1, 1], [32, 4, 1]], [[1, 1, 9], [
      1,
      1,
      64,
    ]]] as const
  ) {
    const total = grid[0] * grid[1] * grid[2] * block[0] * block[1] * block[2];
    using out = device.alloc(total * 4);
    out.fill(0xff);
    stream.launch(kernel, { grid, block, params: new KernelParams().pointer(out.address).bytes() });
    stream.synchronizeSync();
    const ids = new Uint32Array(out.read().buffer);
    for (let i = 0; i < total; i++) assert.equal(ids[i], i);
  }
});

gpuTest("parameters of mixed sizes keep their alignment", () => {
  using device = Device.open(0);
  using module = device.loadModule(cubin);
  using stream = device.createStream();
  using out = device.alloc(32);
  const params = new KernelParams().i32(-7).u64(0x123456789abcn).f32(2.5).u32(0xfffffff0)
    .pointer(out.address).bytes();
  stream.launch(module.kernel("layout"), { grid: 1, block: 1, params });
  stream.synchronizeSync();
  assert.deepEqual([...new BigInt64Array(out.read().buffer)], [
    -7n,
    0x123456789abcn,
    2500n,
    0xfffffff0n,
  ]);
});

gpuTest("a high-priority stream's kernel overtakes a queued low-priority grid", () => {
  using device = Device.open(0);
  const { least, greatest } = device.streamPriorityRange();
  assert.ok(greatest < least, `CUDA priorities: greatest ${greatest} < least ${least}`);
  using module = device.loadModule(cubin);
  const spin = module.kernel("spin");
  using low = device.createStream({ priority: least });
  using high = device.createStream({ priority: greatest });
  using ends = device.alloc(16);
  ends.fill(0);
  // Many waves of 50 µs blocks on the low stream, then one block on the high stream.
  const blocks = device.properties.smCount * 64;
  low.launch(spin, {
    grid: blocks,
    block: 128,
    params: new KernelParams().u64(50_000n).pointer(ends.address).bytes(),
  });
  high.launch(spin, {
    grid: 1,
    block: 32,
    params: new KernelParams().u64(1_000n).pointer(ends.address + 8n).bytes(),
  });
  low.synchronizeSync();
  high.synchronizeSync();
  const [lowEnd, highEnd] = new BigUint64Array(ends.read().buffer);
  assert.ok(
    highEnd! < lowEnd!,
    `the high-priority kernel ended ${Number(highEnd! - lowEnd!) / 1000} µs after the low one`,
  );
});

gpuTest("timing events measure a 2 ms kernel", () => {
  using device = Device.open(0);
  using module = device.loadModule(cubin);
  using stream = device.createStream();
  using end = device.alloc(8);
  using start = device.createEvent({ timing: true });
  using stop = device.createEvent({ timing: true });
  start.record(stream);
  stream.launch(module.kernel("spin"), {
    grid: 1,
    block: 32,
    params: new KernelParams().u64(2_000_000n).pointer(end.address).bytes(),
  });
  stop.record(stream);
  stop.synchronize();
  assert.ok(stop.query());
  const ms = stop.elapsedSince(start);
  assert.ok(ms >= 1.9 && ms < 10, `measured ${ms} ms`);
});

gpuTest("a flag written from a high-priority stream is seen by a running kernel", async () => {
  using device = Device.open(0);
  using module = device.loadModule(cubin);
  const { least, greatest } = device.streamPriorityRange();
  using worker = device.createStream({ priority: least });
  using control = device.createStream({ priority: greatest });
  using flag = device.alloc(4);
  using seen = device.alloc(4);
  flag.fill(0);
  seen.fill(0);
  worker.launch(module.kernel("wait_flag"), {
    grid: 1,
    block: 1,
    params: new KernelParams().pointer(flag.address).pointer(seen.address).bytes(),
  });
  assert.equal(worker.query(), false, "the kernel waits for the flag");
  control.writeU32(flag.address, 42);
  await worker.synchronize();
  assert.equal(new Int32Array(seen.read().buffer)[0], 42);
});

gpuTest("error paths name the problem and leave the device usable", () => {
  const before = liveHandles();
  {
    using device = Device.open(0);
    assert.throws(
      () => device.loadModule(new TextEncoder().encode("not a module")),
      (e) =>
        e instanceof ReefGpuError && e.status === Status.INVALID_IMAGE && /module/.test(e.message),
    );
    using module = device.loadModule(cubin);
    assert.throws(
      () => module.kernel("no_such_kernel"),
      (e) =>
        e instanceof ReefGpuError && e.status === Status.NOT_FOUND &&
        /no_such_kernel/.test(e.message),
    );
    const axpy = module.kernel("axpy");
    using stream = device.createStream();
    using x = device.alloc(4096);
    using y = device.alloc(4096);
    const params = new KernelParams().f32(1).pointer(x.address).pointer(y.address).i32(1024)
      .bytes();
    assert.throws(
      () => stream.launch(axpy, { grid: 1, block: 4096, params }),
      (e) =>
        e instanceof ReefGpuError && e.status === Status.LAUNCH && /axpy/.test(e.message) &&
        /block \(4096, 1, 1\)/.test(e.message),
    );
    assert.throws(
      () => Device.open(99),
      (e) => e instanceof ReefGpuError && e.status === Status.NO_DEVICE,
    );
    // Still usable: a correct launch works after the failures.
    x.write(new Float32Array(1024).fill(1));
    y.write(new Float32Array(1024).fill(2));
    stream.launch(axpy, { grid: 4, block: 256, params });
    stream.synchronizeSync();
    assert.ok(new Float32Array(y.read().buffer).every((v) => v === 3));
  }
  assert.equal(liveHandles(), before, "every handle released after the failures");
});

gpuTest("pinned mapped memory is visible to the device", () => {
  using device = Device.open(0);
  using host = device.allocHost(4096, { mapped: true });
  assert.notEqual(host.deviceAddress, 0n);
  using stream = device.createStream();
  using dev = device.alloc(4096);
  new Uint32Array(host.bytes.buffer).fill(7);
  stream.copyOnDevice(dev.address, host.deviceAddress, 4096);
  stream.synchronizeSync();
  assert.ok(new Uint32Array(dev.read().buffer).every((v) => v === 7));
});

gpuTest("closing the device closes everything made on it", () => {
  const before = liveHandles();
  const device = Device.open(0);
  const module = device.loadModule(cubin);
  module.kernel("axpy");
  device.alloc(1024);
  device.createStream();
  device.createEvent();
  assert.ok(liveHandles() >= before + 6);
  device.close();
  assert.equal(liveHandles(), before);
});

gpuTest("a preempt flag is 16 cleared bytes, as conv_mma's 16-byte flag copy reads", () => {
  using device = Device.open(0);
  using flag = device.allocPreemptFlag();
  assert.equal(flag.size, 16);
  assert.deepEqual(flag.read(), new Uint8Array(16));
});
