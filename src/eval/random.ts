/**
 * A small seeded pseudo-random source for the benchmark harness: arrival processes must be
 * reproducible from a seed, and `Math.random` cannot be seeded.
 *
 * The generator is xoshiro128** (Blackman and Vigna), seeded through a SplitMix32-style mixer so
 * that nearby seeds give unrelated streams.
 * @module
 */

const UINT32 = 0x1_0000_0000;
const TWO_POW_53 = 2 ** 53;

/** Advances a 32-bit SplitMix-style state and returns a well-mixed 32-bit word. */
function splitMix32(state: { value: number }): number {
  state.value = (state.value + 0x9e3779b9) >>> 0;
  let z = state.value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A deterministic random number generator (xoshiro128**): the same seed always yields the same
 * sequence, on every platform.
 *
 * @example
 * ```ts
 * const a = new SeededRandom(7);
 * const b = new SeededRandom(7);
 * console.assert(a.nextFloat() === b.nextFloat());
 * ```
 */
export class SeededRandom {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /**
   * Creates a generator.
   * @param seed Any integer in [0, 2^32); other numbers are reduced modulo 2^32.
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(`Cannot seed the random source: seed "${seed}" is not a finite number`);
    }
    const state = { value: (Math.trunc(seed) % UINT32 + UINT32) % UINT32 };
    this.#s0 = splitMix32(state);
    this.#s1 = splitMix32(state);
    this.#s2 = splitMix32(state);
    this.#s3 = splitMix32(state);
  }

  /** Returns the next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.#s1 << 9) >>> 0;
    this.#s2 = (this.#s2 ^ this.#s0) >>> 0;
    this.#s3 = (this.#s3 ^ this.#s1) >>> 0;
    this.#s1 = (this.#s1 ^ this.#s2) >>> 0;
    this.#s0 = (this.#s0 ^ this.#s3) >>> 0;
    this.#s2 = (this.#s2 ^ t) >>> 0;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** Returns a float uniformly distributed in [0, 1), with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 0x400_0000 + low) / TWO_POW_53;
  }

  /**
   * Returns an exponentially distributed value with the given mean.
   * @param mean The distribution's mean (1 / rate); must be positive.
   */
  nextExponential(mean: number): number {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    return -Math.log(1 - this.nextFloat()) * mean;
  }

  /** Returns a float uniformly distributed in [min, max). */
  nextInRange(min: number, max: number): number {
    return min + (max - min) * this.nextFloat();
  }
}

/**
 * Derives an independent seed for one named stream (for example one client of a workload) from a
 * base seed, so that adding or reordering clients does not change the other clients' arrivals.
 *
 * @param baseSeed The run's seed.
 * @param label The stream's name.
 * @returns A 32-bit unsigned seed.
 */
export function deriveSeed(baseSeed: number, label: string): number {
  // FNV-1a over the UTF-8 bytes of the label, then mixed with the base seed.
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(label)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return splitMix32({ value: (hash ^ (Math.trunc(baseSeed) >>> 0)) >>> 0 });
}
