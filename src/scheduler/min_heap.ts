/**
 * A binary min-heap with a caller-supplied order. The simulator keeps its pending events in one and
 * the policy its not-yet-released tasks, so both always take the earliest item first.
 * @module
 */

/** Swaps two items in place (a destructuring swap allocates an array where it is not optimized). */
function swap<T>(items: T[], i: number, j: number): void {
  const item = items[i]!;
  items[i] = items[j]!;
  items[j] = item;
}

/** A binary min-heap: {@linkcode MinHeap.pop} returns the least item under `before`. */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  /**
   * Creates an empty heap.
   * @param before Strict order: true when `a` must come out before `b`. Ties must be broken by the
   * caller (for example with a sequence number) for the heap to be deterministic.
   */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  /** Number of items in the heap. */
  get size(): number {
    return this.#items.length;
  }

  /** The least item, left in place; undefined when the heap is empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds an item. */
  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(items[i]!, items[parent]!)) break;
      swap(items, i, parent);
      i = parent;
    }
  }

  /** Removes and returns the least item; undefined when the heap is empty. */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < items.length && this.#before(items[left]!, items[least]!)) least = left;
      if (right < items.length && this.#before(items[right]!, items[least]!)) least = right;
      if (least === i) break;
      swap(items, i, least);
      i = least;
    }
    return top;
  }

  /** Removes every item for which `predicate` is true and returns them, in no particular order. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const kept: T[] = [];
    const removed: T[] = [];
    for (const item of this.#items.splice(0)) (predicate(item) ? removed : kept).push(item);
    for (const item of kept) this.push(item);
    return removed;
  }
}
