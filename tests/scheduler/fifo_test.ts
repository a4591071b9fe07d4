import assert from "node:assert/strict";
import { Fifo } from "../../src/scheduler/fifo.ts";

Deno.test("Fifo keeps order across wrap-around and growth", () => {
  const fifo = new Fifo<number>();
  const model: number[] = [];
  let next = 0;
  // Interleaved pushes and shifts move the head around the ring; bursts make it grow.
  for (let round = 0; round < 200; round++) {
    const pushes = round % 7 === 0 ? 40 : 3;
    for (let i = 0; i < pushes; i++) {
      fifo.push(next);
      model.push(next++);
    }
    const shifts = round % 5 === 0 ? 30 : 2;
    for (let i = 0; i < shifts; i++) assert.equal(fifo.shift(), model.shift());
    assert.equal(fifo.length, model.length);
    assert.equal(fifo.peek(), model[0]);
    assert.deepEqual([...fifo], model);
  }
  while (model.length > 0) assert.equal(fifo.shift(), model.shift());
  assert.equal(fifo.shift(), undefined);
  assert.equal(fifo.peek(), undefined);
  assert.equal(fifo.length, 0);
});

Deno.test("Fifo.removeWhere returns the matches in queue order and keeps the rest", () => {
  const fifo = new Fifo<number>();
  for (let i = 0; i < 40; i++) fifo.push(i);
  for (let i = 0; i < 10; i++) fifo.shift(); // head in the middle of the ring
  for (let i = 40; i < 50; i++) fifo.push(i);
  const removed = fifo.removeWhere((n) => n % 3 === 0);
  assert.deepEqual(removed, [12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45, 48]);
  const kept = [...fifo];
  assert.deepEqual(kept, Array.from({ length: 40 }, (_, i) => i + 10).filter((n) => n % 3 !== 0));
  fifo.push(99);
  assert.equal(fifo.length, kept.length + 1);
  assert.equal(fifo.shift(), 10);
});
