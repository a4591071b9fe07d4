import assert from "node:assert/strict";
import { RecordRing, RING_HEAD, RING_TAIL } from "../../src/scheduler/ring.ts";

Deno.test("a ring returns records in order and refuses to overfill", () => {
  const ring = RecordRing.create(4, 3);
  for (let i = 0; i < 4; i++) assert.equal(ring.tryPush([i, i * 2, -i]), true);
  assert.equal(ring.tryPush([9, 9, 9]), false, "full");
  assert.equal(ring.size, 4);
  const out = new Float64Array(3);
  for (let i = 0; i < 4; i++) {
    assert.equal(ring.tryPop(out), true);
    assert.deepEqual([...out], [i, i * 2, -i]);
  }
  assert.equal(ring.tryPop(out), false, "empty");
  assert.deepEqual([...out], [3, 6, -3], "a failed pop leaves the output alone");
});

Deno.test("a ring keeps order across index and 32-bit counter wrap-around", () => {
  const ring = RecordRing.create(8, 2);
  // Start the free-running counters just below 2^32 so they wrap during the test.
  const header = new Int32Array(ring.buffer, 0, 2);
  header[RING_HEAD] = header[RING_TAIL] = (2 ** 32 - 5) | 0;
  const out = new Float64Array(2);
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 100; round++) {
    for (let i = 0; i < 1 + (round % 8); i++) {
      if (ring.tryPush([next, NaN])) next++;
    }
    assert.ok(ring.size <= 8);
    for (let i = 0; i < 1 + ((round * 3) % 8); i++) {
      if (!ring.tryPop(out)) break;
      assert.equal(out[0], expected++);
      assert.ok(Number.isNaN(out[1]!), "NaN survives (the release-time sentinel)");
    }
  }
  while (ring.tryPop(out)) assert.equal(out[0], expected++);
  assert.equal(expected, next);
  assert.ok(next > 300);
});

Deno.test("a ring is shared through its buffer", () => {
  const producer = RecordRing.create(16, 1);
  const consumer = new RecordRing(producer.buffer, 16, 1);
  producer.tryPush([42]);
  const out = new Float64Array(1);
  assert.equal(consumer.tryPop(out), true);
  assert.equal(out[0], 42);
  assert.equal(producer.size, 0);
});

Deno.test("ring shapes are validated", () => {
  assert.throws(() => RecordRing.create(6, 1), {
    message: 'Ring capacity must be a power of two, got "6"',
  });
  assert.throws(() => RecordRing.create(8, 0), {
    message: 'Ring record size must be a positive integer, got "0"',
  });
  assert.throws(() => new RecordRing(new SharedArrayBuffer(100), 8, 1), {
    message: "Ring buffer must be 128 bytes for 8 records of 1 fields, got 100",
  });
});
