import assert from "node:assert/strict";
import type { KernelInfo, ModelInfo } from "../../src/scheduler/exec_device.ts";
import {
  advanceCursor,
  beBlockUs,
  choosePadding,
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
  const rt = model(0, [kernel({ blocks: 4, timeUs: 20 })]);
  const narrow = model(1, [kernel({ threads: 128, blocks: 100, timeUs: 5 })]);
  const fits = model(2, [kernel({ blocks: 100, timeUs: 5, blocksPerSm: 8 })]);
  const later = model(3, [kernel({ blocks: 100, timeUs: 5 })]);
  const choice = choosePadding(device, rt, 0, [cursor(narrow), cursor(fits), cursor(later)]);
  assert.equal(choice?.cursor.model, fits);
  // 8 blocks per SM x 4 SMs = 32 slots, 4 taken by RT: 28 idle. 100 BE blocks take 4 waves of
  // 1.25 µs, so 16 rounds fit in the RT kernel's 20 µs: all 100 blocks ride.
  assert.equal(choice?.occupancy, 8);
  assert.equal(choice?.blocks, 100);
});

Deno.test("choosePadding: the profiled wave time at the padded occupancy bounds the rounds", () => {
  const rt = model(0, [kernel({ blocks: 8, timeUs: 12 })]);
  const be = model(1, [kernel({ blocks: 1000, waveUs: [1, 2, 3, 4, 5, 6, 7, 8] })]);
  const choice = choosePadding(device, rt, 0, [cursor(be, 0, 10)]);
  // Occupancy 8: a block takes waveUs[7] = 8 µs, one round fits in 12 µs: 32 - 8 = 24 blocks.
  assert.deepEqual({ blocks: choice?.blocks, occupancy: choice?.occupancy }, {
    blocks: 24,
    occupancy: 8,
  });
  assert.equal(beBlockUs(be.kernels[0]!, 20, SMS), 8, "beyond the table: its last entry");
});

Deno.test("choosePadding: nothing when the RT kernel fills the GPU, needs waves, or BE is too slow", () => {
  // 64 blocks at 8 per SM: two waves of 2 µs.
  const be = model(1, [kernel({ blocks: 64, timeUs: 4 })]);
  const full = model(0, [kernel({ blocks: 32, timeUs: 50 })]);
  assert.equal(choosePadding(device, full, 0, [cursor(be)]), undefined, "no idle slot");
  const waves = model(0, [kernel({ blocks: 40, blocksPerSm: 8, timeUs: 50 })]);
  assert.equal(choosePadding(device, waves, 0, [cursor(be)]), undefined, "RT needs two waves");
  const short = model(0, [kernel({ blocks: 4, timeUs: 1.5 })]);
  assert.equal(choosePadding(device, short, 0, [cursor(be)]), undefined, "a BE block outlasts RT");
  const unprofiled = model(0, [kernel({ blocks: 4, timeUs: 0 })]);
  assert.equal(choosePadding(device, unprofiled, 0, [cursor(be)]), undefined, "no RT time");
  const done = cursor(be, 1);
  assert.equal(choosePadding(device, short, 0, [done]), undefined, "task has no kernel left");
});

Deno.test("choosePadding: shared memory limits the padded occupancy", () => {
  const rt = model(0, [kernel({ blocks: 4, timeUs: 20, sharedMemory: 1000 })]);
  const be = model(1, [kernel({ blocks: 1000, timeUs: 2, sharedMemory: 100_000 })]);
  const choice = choosePadding(device, rt, 0, [cursor(be)]);
  // 228 000 / 100 000 = 2 blocks per SM: 8 slots, 4 for RT.
  assert.equal(choice?.occupancy, 2);
  assert.equal(choice!.blocks % 4, 0);
});

Deno.test("choosePadding, random kernels: RT keeps one wave, BE time stays within RT time", () => {
  let state = 12345;
  const random = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)]!;
  let chosen = 0;
  for (let trial = 0; trial < 2000; trial++) {
    const threads = pick([128, 256]);
    const rtKernel = kernel({
      threads,
      blocks: 1 + Math.floor(random() * 64),
      blocksPerSm: pick([1, 2, 4, 8]),
      sharedMemory: pick([0, 20_000, 80_000]),
      timeUs: random() * 50,
    });
    const beKernel = kernel({
      threads: pick([128, 256]),
      blocks: 1 + Math.floor(random() * 500),
      blocksPerSm: pick([1, 2, 4, 8]),
      sharedMemory: pick([0, 20_000, 120_000]),
      timeUs: random() * 50,
    });
    const be = model(1, [beKernel]);
    const c = cursor(be, 0, Math.floor(random() * beKernel.blocks));
    const choice = choosePadding(device, model(0, [rtKernel]), 0, [c]);
    if (choice === undefined) continue;
    chosen++;
    const slots = SMS * choice.occupancy;
    assert.ok(rtKernel.blocks < slots && rtKernel.blocks <= SMS * rtKernel.blocksPerSm);
    assert.equal(
      choice.occupancy,
      device.paddedOccupancy(0, 0, 1, Math.max(rtKernel.sharedMemory, beKernel.sharedMemory)),
    );
    assert.equal(beKernel.threads, rtKernel.threads);
    const rounds = Math.ceil(choice.blocks / (slots - rtKernel.blocks));
    assert.equal(choice.overrunUs, 0, "no overrun budget was given");
    assert.ok(rounds * beBlockUs(beKernel, choice.occupancy, SMS) <= rtKernel.timeUs + 1e-9);
    assert.ok(choice.blocks >= 1 && c.block + choice.blocks <= beKernel.blocks);
  }
  assert.ok(chosen > 100, `only ${chosen} trials padded`);
});

Deno.test("choosePadding: a BE block longer than the RT kernel rides alone within the overrun", () => {
  const rt = model(0, [kernel({ blocks: 4, timeUs: 10 })]);
  const be = model(1, [kernel({ blocks: 100, waveUs: [14, 14, 14, 14, 14, 14, 14, 14] })]);
  assert.equal(choosePadding(device, rt, 0, [cursor(be)], 3.9), undefined, "4 µs over, 3.9 left");
  const choice = choosePadding(device, rt, 0, [cursor(be)], 4);
  // One round only: the 28 idle slots, each block 4 µs past the RT kernel.
  assert.deepEqual({ blocks: choice?.blocks, overrunUs: choice?.overrunUs }, {
    blocks: 28,
    overrunUs: 4,
  });
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
