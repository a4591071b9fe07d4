import assert from "node:assert/strict";
import { ArenaAllocator, blobLayout } from "../../src/scheduler/arena.ts";
import type { DeviceModel } from "../../src/scheduler/device_handle.ts";

Deno.test("the arena allocates aligned blobs first-fit and coalesces freed neighbours", () => {
  const arena = new ArenaAllocator(64);
  const a = arena.alloc(10);
  const b = arena.alloc(8);
  const c = arena.alloc(20);
  assert.deepEqual([a, b, c], [0, 16, 24]);
  assert.equal(arena.used, 48);
  arena.free(b);
  assert.equal(arena.alloc(3), 16, "the hole is reused");
  arena.free(16);
  arena.free(a);
  arena.free(c);
  assert.equal(arena.used, 0);
  assert.equal(arena.alloc(64), 0, "all extents merged back into one");
});

Deno.test("a full arena says how full it is", () => {
  const arena = new ArenaAllocator(64);
  arena.alloc(24);
  const middle = arena.alloc(16);
  arena.alloc(8);
  arena.free(middle);
  assert.throws(() => arena.alloc(24), {
    message:
      'The tensor arena is full: 24 bytes needed, 32 of 64 free, largest free extent 16; raise option "arenaBytes" or submit fewer tasks at once',
  });
});

Deno.test("the arena refuses bad sizes and unknown frees", () => {
  assert.throws(() => new ArenaAllocator(12), {
    message: 'Arena size must be a positive multiple of 8, got "12"',
  });
  assert.throws(() => new ArenaAllocator(64).free(8), {
    message: "Cannot free arena offset 8: nothing is allocated there",
  });
});

Deno.test("a blob holds inputs then outputs, each aligned", () => {
  const model = {
    info: { id: 0, name: "m", kernels: [], latencyUs: 0 },
    inputs: [{ name: "a", storage: "a", bytes: 5 }, { name: "b", storage: "b", bytes: 16 }],
    outputs: [{ name: "y", storage: "y", bytes: 3 }],
  } satisfies DeviceModel;
  assert.deepEqual(blobLayout(model), { inputs: [0, 8], outputs: [24], bytes: 32 });
  assert.equal(blobLayout({ ...model, inputs: [], outputs: [] }).bytes, 8);
});
