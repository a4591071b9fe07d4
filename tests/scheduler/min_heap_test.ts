import assert from "node:assert/strict";
import { MinHeap } from "../../src/scheduler/min_heap.ts";

interface Item {
  key: number;
  seq: number;
}

const before = (a: Item, b: Item) => a.key < b.key || (a.key === b.key && a.seq < b.seq);

Deno.test("MinHeap pops in order, ties by sequence, under interleaved pushes", () => {
  const heap = new MinHeap<Item>(before);
  const model: Item[] = [];
  let seq = 0;
  let state = 12345;
  const random = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let round = 0; round < 300; round++) {
    for (let i = 0; i < 3; i++) {
      const item = { key: Math.floor(random() * 20), seq: seq++ };
      heap.push(item);
      model.push(item);
    }
    model.sort((a, b) => a.key - b.key || a.seq - b.seq);
    for (let i = 0; i < 2; i++) assert.equal(heap.pop(), model.shift());
    assert.equal(heap.size, model.length);
    assert.equal(heap.peek(), model[0]);
  }
  while (model.length > 0) assert.equal(heap.pop(), model.shift());
  assert.equal(heap.pop(), undefined);
});

Deno.test("MinHeap.removeWhere takes the matches and keeps the heap ordered", () => {
  const heap = new MinHeap<Item>(before);
  for (let i = 0; i < 50; i++) heap.push({ key: (i * 7) % 50, seq: i });
  const removed = heap.removeWhere((item) => item.key % 2 === 1);
  assert.equal(removed.length, 25);
  const keys: number[] = [];
  for (let item = heap.pop(); item !== undefined; item = heap.pop()) keys.push(item.key);
  assert.deepEqual(keys, Array.from({ length: 25 }, (_, i) => 2 * i));
});
