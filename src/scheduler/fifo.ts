/**
 * A first-in first-out queue with O(1) push and shift, used for the scheduler's task queues and the
 * simulator's stream queues (where `Array.prototype.shift` would be O(n) per call).
 * @module
 */

/** A FIFO queue. */
export class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  /** Number of items in the queue. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends an item at the tail. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The item at the head, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Removes and returns the head item; undefined when empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    // Compact once the consumed prefix dominates, so memory stays proportional to the length.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes every item for which `predicate` is true and returns them in queue order. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: T[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      (predicate(item) ? removed : kept).push(item);
    }
    this.#items = kept;
    this.#head = 0;
    return removed;
  }

  /** Iterates from head to tail. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!;
  }
}
