/**
 * A small seeded pseudo-random generator, so that jittered simulations repeat exactly.
 * @module
 */

/** A seeded generator of uniform numbers in [0, 1) (a 32-bit splitmix-style sequence). */
export class SeededRandom {
  #state: number;

  /** Creates a generator; equal seeds give equal sequences. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  }
}
