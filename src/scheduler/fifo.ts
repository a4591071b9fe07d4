/**
 * A first-in first-out queue with O(1) push and shift, used for the scheduler's task queues and the
 * simulator's stream queues (where `Array.prototype.shift` would be O(n) per call).
 * @module
 */

/**
 * A FIFO queue in a ring of slots that doubles when full. Shifting never copies or replaces the
 * slot array: on the H100, the first compaction of the array this replaced (after 1024 shifts of
 * the RT queue, 4.6 s into DISB B) made V8 deoptimize the scheduler loop's compiled code
 * (`--log-deopt`), and code that has to be recompiled runs slowly meanwhile.
 */
export class Fifo<T> {
  #slots: (T | undefined)[] = new Array(16);
  #head = 0;
  #length = 0;

  /** Number of items in the queue. */
  get length(): number {
    return this.#length;
  }

  /** Appends an item at the tail. */
  push(item: T): void {
    if (this.#length === this.#slots.length) this.#grow();
    this.#slots[(this.#head + this.#length) & (this.#slots.length - 1)] = item;
    this.#length++;
  }

  /** The item at the head, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.#length > 0 ? this.#slots[this.#head] : undefined;
  }

  /** Removes and returns the head item; undefined when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#slots.length - 1);
    this.#length--;
    return item;
  }

  /** Removes every item for which `predicate` is true and returns them in queue order. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: T[] = [];
    for (const item of this) (predicate(item) ? removed : kept).push(item);
    this.#slots.fill(undefined);
    this.#head = 0;
    this.#length = 0;
    for (const item of kept) this.push(item);
    return removed;
  }

  /** Iterates from head to tail. */
  *[Symbol.iterator](): IterableIterator<T> {
    const mask = this.#slots.length - 1;
    for (let i = 0; i < this.#length; i++) yield this.#slots[(this.#head + i) & mask]!;
  }

  /** Doubles the ring, its items moved to the front in queue order. */
  #grow(): void {
    const slots: (T | undefined)[] = new Array(this.#slots.length * 2);
    for (let i = 0; i < this.#length; i++) {
      slots[i] = this.#slots[(this.#head + i) & (this.#slots.length - 1)];
    }
    this.#slots = slots;
    this.#head = 0;
  }
}
