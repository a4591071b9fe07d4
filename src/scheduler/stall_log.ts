/**
 * The scheduler loop's stalls on a real-time device: gaps between the starts of two consecutive
 * loop passes longer than a threshold, while the loop meant to keep polling. A stall is time in
 * which an RT task released meanwhile could not be launched, whatever held the thread: a garbage
 * collection, a long synchronous call, the OS. Deliberate waits (the idle backoff, a control
 * message being handled) are not stalls.
 *
 * The log keeps the last `capacity` stalls in a preallocated ring: recording allocates nothing,
 * because the loop records from its busy poll.
 * @module
 */

/** One stall, device-clock µs. */
export interface LoopStall {
  /** When the pass before the gap started. */
  readonly atUs: number;
  /** From that pass's start to the next pass's start. */
  readonly durationUs: number;
}

/** The last stalls of a busy-polling loop. */
export class StallLog {
  /** A gap at least this long is a stall, µs. */
  readonly thresholdUs: number;
  /** Stalls the log holds at most (the oldest go first). */
  readonly capacity: number;
  /** `[atUs, durationUs]` pairs, a ring. */
  readonly #ring: Float64Array;
  #recorded = 0;
  #lastPassUs = NaN;

  /** @throws {RangeError} unless the threshold is positive and the capacity a positive integer. */
  constructor(thresholdUs: number, capacity: number) {
    if (!(thresholdUs > 0)) {
      throw new RangeError(`Stall threshold must be positive, got "${thresholdUs}"`);
    }
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Stall log capacity must be a positive integer, got "${capacity}"`);
    }
    this.thresholdUs = thresholdUs;
    this.capacity = capacity;
    this.#ring = new Float64Array(2 * capacity);
  }

  /** Stalls recorded since the log was made, those dropped from the ring included. */
  get recorded(): number {
    return this.#recorded;
  }

  /** A pass starts at `nowUs`: records a stall if the previous one started long enough before. */
  pass(nowUs: number): void {
    const gapUs = nowUs - this.#lastPassUs;
    if (gapUs >= this.thresholdUs) {
      const at = 2 * (this.#recorded % this.capacity);
      this.#ring[at] = this.#lastPassUs;
      this.#ring[at + 1] = gapUs;
      this.#recorded++;
    }
    this.#lastPassUs = nowUs;
  }

  /** The loop is about to wait on purpose: the gap until the next pass is not a stall. */
  pause(): void {
    this.#lastPassUs = NaN;
  }

  /** The stalls the ring holds, oldest first. */
  stalls(): LoopStall[] {
    const kept = Math.min(this.#recorded, this.capacity);
    const stalls: LoopStall[] = [];
    for (let i = this.#recorded - kept; i < this.#recorded; i++) {
      const at = 2 * (i % this.capacity);
      stalls.push({ atUs: this.#ring[at]!, durationUs: this.#ring[at + 1]! });
    }
    return stalls;
  }
}
