/**
 * A single-producer single-consumer ring of fixed-size numeric records in a SharedArrayBuffer, for
 * handing tasks to the scheduler's worker and completions back without messages.
 *
 * Layout: two Int32 words, `head` (next record to read) and `tail` (next record to write), padded to
 * 64 bytes, then `capacity * fields` Float64 slots. Head and tail are free-running 32-bit counters
 * that wrap around; the capacity is a power of two so the slot index stays continuous across the
 * wrap. The producer writes a record, then publishes it with an atomic store to `tail`; the consumer
 * reads it after an atomic load of `tail`, then frees it with an atomic store to `head`.
 * @module
 */

/** Index of the `head` word in the ring's Int32 header. */
export const RING_HEAD = 0;
/** Index of the `tail` word in the ring's Int32 header. */
export const RING_TAIL = 1;

const HEADER_BYTES = 64;

/** A record ring over a SharedArrayBuffer; one side pushes, the other pops. */
export class RecordRing {
  /** Records the ring holds at most. */
  readonly capacity: number;
  /** Float64 fields per record. */
  readonly fields: number;
  /** The shared memory, to send to the other thread. */
  readonly buffer: SharedArrayBuffer;
  readonly #header: Int32Array;
  readonly #slots: Float64Array;

  /**
   * Bytes of shared memory for a ring.
   * @throws {RangeError} unless `capacity` is a power of two and `fields` a positive integer.
   */
  static bytesFor(capacity: number, fields: number): number {
    if (!Number.isInteger(capacity) || capacity < 1 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`Ring capacity must be a power of two, got "${capacity}"`);
    }
    if (!Number.isInteger(fields) || fields < 1) {
      throw new RangeError(`Ring record size must be a positive integer, got "${fields}"`);
    }
    return HEADER_BYTES + capacity * fields * 8;
  }

  /** Creates a ring in new shared memory. */
  static create(capacity: number, fields: number): RecordRing {
    return new RecordRing(
      new SharedArrayBuffer(RecordRing.bytesFor(capacity, fields)),
      capacity,
      fields,
    );
  }

  /**
   * Views a ring in existing shared memory (the other thread's side).
   * @throws {RangeError} if the buffer's size does not match.
   */
  constructor(buffer: SharedArrayBuffer, capacity: number, fields: number) {
    const bytes = RecordRing.bytesFor(capacity, fields);
    if (buffer.byteLength !== bytes) {
      throw new RangeError(
        `Ring buffer must be ${bytes} bytes for ${capacity} records of ${fields} fields, got ${buffer.byteLength}`,
      );
    }
    this.capacity = capacity;
    this.fields = fields;
    this.buffer = buffer;
    this.#header = new Int32Array(buffer, 0, 2);
    this.#slots = new Float64Array(buffer, HEADER_BYTES, capacity * fields);
  }

  /** Records written and not yet read. */
  get size(): number {
    return (Atomics.load(this.#header, RING_TAIL) - Atomics.load(this.#header, RING_HEAD)) >>> 0;
  }

  /**
   * Writes one record (its first `fields` values). Producer side only.
   * @returns false, writing nothing, when the ring is full.
   */
  tryPush(record: ArrayLike<number>): boolean {
    const tail = Atomics.load(this.#header, RING_TAIL);
    const head = Atomics.load(this.#header, RING_HEAD);
    if (((tail - head) >>> 0) >= this.capacity) return false;
    const base = ((tail >>> 0) & (this.capacity - 1)) * this.fields;
    for (let i = 0; i < this.fields; i++) this.#slots[base + i] = record[i] ?? NaN;
    Atomics.store(this.#header, RING_TAIL, (tail + 1) | 0);
    return true;
  }

  /**
   * Reads one record into `out`. Consumer side only.
   * @returns false, leaving `out` alone, when the ring is empty.
   */
  tryPop(out: Float64Array): boolean {
    const head = Atomics.load(this.#header, RING_HEAD);
    const tail = Atomics.load(this.#header, RING_TAIL);
    if (head === tail) return false;
    const base = ((head >>> 0) & (this.capacity - 1)) * this.fields;
    for (let i = 0; i < this.fields; i++) out[i] = this.#slots[base + i]!;
    Atomics.store(this.#header, RING_HEAD, (head + 1) | 0);
    return true;
  }
}
