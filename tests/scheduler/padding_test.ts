import assert from "node:assert/strict";
import type { KernelInfo, ModelInfo } from "../../src/scheduler/exec_device.ts";
import type { ExecDevice } from "../../src/scheduler/exec_device.ts";
import {
  advanceCursor,
  beBlockUs,
  choosePadding,
  KernelPadder,
  PADDING_OVERRUN_SHARE,
  PADDING_SLOWDOWN_LIMIT,
  type PaddingCursor,
  type PaddingDevice,
} from "../../src/scheduler/padding.ts";

const SMS = 4;

/** Occupancy of 8 blocks per SM (256 threads on an H100 SM), less where shared memory limits. */
const device: PaddingDevice = {
  smCount: SMS,
  paddedOccupancy: (_rt, _kernel, _be, sharedMemory) =>
    Math.min(8, sharedMemory > 0 ? Math.floor(228_000 / sharedMemory) : 8),
};

function kernel(fields: Partial<KernelInfo>): KernelInfo {
  return {
    name: "k",
    blocks: 4,
    threads: 256,
    sharedMemory: 0,
    blocksPerSm: 8,
    timeUs: 10,
    waveUs: [],
    ...fields,
  };
}

function model(id: number, kernels: KernelInfo[]): ModelInfo {
  return { id, name: `m${id}`, kernels, latencyUs: 0 };
}

function cursor(m: ModelInfo, kernel = 0, block = 0): PaddingCursor {
  return { model: m, instance: m.id, kernel, block };
}

Deno.test("choosePadding: first fit over the cursors, skipping other block sizes", () => {
  const rt = model(0, [kernel({ blocks: 1, timeUs: 20 })]);
  const narrow = model(1, [kernel({ threads: 128, blocks: 100, timeUs: 5 })]);
  const fits = model(2, [kernel({ blocks: 100, timeUs: 5, blocksPerSm: 8 })]);
  const later = model(3, [kernel({ blocks: 100, timeUs: 5 })]);
  const choice = choosePadding(device, rt, 0, [cursor(narrow), cursor(fits), cursor(later)]);
  assert.equal(choice?.cursor.model, fits);
  // 3 SMs are free of RT blocks; a BE block takes 1.25 µs (100 blocks in 4 waves of 32 in 5 µs),
  // so 16 rounds of 3 fit in the RT kernel's 20 µs: 48 blocks.
  assert.deepEqual({ blocks: choice?.blocks, occupancy: choice?.occupancy }, {
    blocks: 48,
    occupancy: 8,
  });
});

Deno.test("choosePadding: the profiled time of a block alone on its SM bounds the rounds", () => {
  const rt = model(0, [kernel({ blocks: 2, timeUs: 12 })]);
  const be = model(1, [kernel({ blocks: 1000, waveUs: [5, 6, 7, 8, 9, 10, 11, 12] })]);
  const choice = choosePadding(device, rt, 0, [cursor(be, 0, 10)]);
  // Two free SMs, 5 µs per block: two rounds of two.
  assert.equal(choice?.blocks, 4);
  assert.equal(beBlockUs(be.kernels[0]!, 20, SMS), 12, "beyond the table: its last entry");
  const tail = choosePadding(device, rt, 0, [cursor(be, 0, 998)]);
  assert.equal(tail?.blocks, 2, "no more than the kernel has left");
});

Deno.test("choosePadding: nothing when RT takes every SM, the launch cannot fit, or BE is too slow", () => {
  // 64 blocks at 8 per SM: two waves of 2 µs.
  const be = model(1, [kernel({ blocks: 64, timeUs: 4 })]);
  const full = model(0, [kernel({ blocks: 4, timeUs: 50 })]);
  assert.equal(choosePadding(device, full, 0, [cursor(be)]), undefined, "no free SM");
  const huge = model(1, [kernel({ blocks: 64, timeUs: 4, sharedMemory: 300_000 })]);
  const rt = model(0, [kernel({ blocks: 1, timeUs: 50 })]);
  assert.equal(choosePadding(device, rt, 0, [cursor(huge)]), undefined, "launch does not fit");
  const short = model(0, [kernel({ blocks: 1, timeUs: 1.5 })]);
  assert.equal(choosePadding(device, short, 0, [cursor(be)]), undefined, "a BE block outlasts RT");
  const unprofiled = model(0, [kernel({ blocks: 1, timeUs: 0 })]);
  assert.equal(choosePadding(device, unprofiled, 0, [cursor(be)]), undefined, "no RT time");
  const done = cursor(be, 1);
  assert.equal(choosePadding(device, rt, 0, [done]), undefined, "task has no kernel left");
});

Deno.test("choosePadding, random kernels: BE only on free SMs, within the RT kernel's time", () => {
  let state = 12345;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)]!;
  let chosen = 0;
  for (let trial = 0; trial < 2000; trial++) {
    const rtKernel = kernel({
      threads: pick([128, 256]),
      blocks: 1 + Math.floor(random() * 6),
      blocksPerSm: pick([1, 2, 4, 8]),
      sharedMemory: pick([0, 20_000, 80_000]),
      timeUs: random() * 50,
    });
    const beKernel = kernel({
      threads: pick([128, 256]),
      blocks: 1 + Math.floor(random() * 500),
      blocksPerSm: pick([1, 2, 4, 8]),
      sharedMemory: pick([0, 20_000, 120_000, 250_000]),
      timeUs: random() * 50,
    });
    const be = model(1, [beKernel]);
    const c = cursor(be, 0, Math.floor(random() * beKernel.blocks));
    const choice = choosePadding(device, model(0, [rtKernel]), 0, [c]);
    if (choice === undefined) continue;
    chosen++;
    const free = SMS - rtKernel.blocks;
    assert.ok(free > 0 && choice.occupancy >= 1);
    assert.equal(beKernel.threads, rtKernel.threads);
    assert.equal(choice.overrunUs, 0, "no overrun budget was given");
    const rounds = Math.ceil(choice.blocks / free);
    assert.ok(rounds * beBlockUs(beKernel, 1, SMS) <= rtKernel.timeUs + 1e-9);
    assert.ok(choice.blocks >= 1 && c.block + choice.blocks <= beKernel.blocks);
  }
  assert.ok(chosen > 100, `only ${chosen} trials padded`);
});

Deno.test("choosePadding: a BE block longer than the RT kernel rides alone within the overrun", () => {
  const rt = model(0, [kernel({ blocks: 1, timeUs: 10 })]);
  const be = model(1, [kernel({ blocks: 100, waveUs: [14, 14, 14, 14, 14, 14, 14, 14] })]);
  assert.equal(choosePadding(device, rt, 0, [cursor(be)], 3.9), undefined, "4 µs over, 3.9 left");
  const choice = choosePadding(device, rt, 0, [cursor(be)], 4);
  // One round only: a block on each of the 3 free SMs, each 4 µs past the RT kernel.
  assert.deepEqual({ blocks: choice?.blocks, overrunUs: choice?.overrunUs }, {
    blocks: 3,
    overrunUs: 4,
  });
});

Deno.test("KernelPadder: an RT inference launched in parts gets one overrun budget", () => {
  // 50 RT kernels of 10 µs: a budget of 2% of 500 µs = 10 µs, room for two 4-µs overruns.
  const rt = model(0, Array.from({ length: 50 }, () => kernel({ blocks: 1, timeUs: 10 })));
  const be = model(1, [kernel({ blocks: 3000, waveUs: [14] })]);
  const padded = (parts: [number, number][]) => {
    let count = 0;
    const exec = {
      ...device,
      launch: () => {},
      launchPadded: () => count++,
    } as unknown as ExecDevice;
    const padder = new KernelPadder();
    const cursors = [cursor(be)];
    for (const [from, to] of parts) {
      padder.launchRtKernels({
        device: exec,
        stream: 0,
        instance: 0,
        model: rt,
        from,
        to,
        cursors,
      });
    }
    return count;
  };
  assert.equal(PADDING_OVERRUN_SHARE * 500, 10);
  assert.equal(padded([[0, 50]]), 2);
  assert.equal(padded([[0, 1], [1, 50]]), 2, "the first kernel alone, then the rest");
  assert.equal(padded([[0, 25], [25, 50]]), 2);
});

Deno.test("advanceCursor moves to the next kernel once every block is done", () => {
  const be = model(1, [kernel({ blocks: 10 }), kernel({ blocks: 3 })]);
  const c = cursor(be);
  advanceCursor(c, 6);
  assert.deepEqual([c.kernel, c.block], [0, 6]);
  advanceCursor(c, 4);
  assert.deepEqual([c.kernel, c.block], [1, 0]);
  advanceCursor(c, 3);
  assert.deepEqual([c.kernel, c.block], [2, 0]);
});

Deno.test("choosePadding: an RT kernel whose measured padding cost is over the limit runs alone", () => {
  const be = model(1, [kernel({ blocks: 100, timeUs: 5 })]);
  const pad = (paddingSlowdown: number | undefined) =>
    choosePadding(device, model(0, [kernel({ blocks: 1, timeUs: 20, paddingSlowdown })]), 0, [
      cursor(be),
    ]);
  assert.equal(pad(PADDING_SLOWDOWN_LIMIT + 0.001), undefined, "over the limit");
  assert.equal(pad(PADDING_SLOWDOWN_LIMIT)?.blocks, 48, "at the limit");
  assert.equal(pad(-0.01)?.blocks, 48, "faster padded: noise");
  assert.equal(pad(undefined)?.blocks, 48, "not measured");
});
