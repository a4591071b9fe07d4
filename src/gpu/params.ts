/**
 * Packs kernel arguments the way the driver reads a parameter buffer: each value at its natural
 * alignment, in declaration order.
 * @module
 */

/** A device address as it goes into a kernel's pointer parameter. */
export type Address = bigint;

/**
 * Builds the packed parameter buffer of one launch.
 *
 * @example
 * ```ts
 * import { KernelParams } from "./params.ts";
 * const params = new KernelParams().pointer(0x7f0000000000n).u32(1024).f32(0.5).bytes();
 * console.log(params.length); // 16
 * ```
 */
export class KernelParams {
  #bytes = new Uint8Array(64);
  #view = new DataView(this.#bytes.buffer);
  #length = 0;

  /** Makes room for a value and returns its offset. It may replace `#view`: read it after. */
  #reserve(size: number): number {
    const offset = Math.ceil(this.#length / size) * size;
    if (offset + size > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, offset + size));
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length = offset + size;
    return offset;
  }

  /** Appends a pointer (8 bytes). */
  pointer(address: Address): this {
    const offset = this.#reserve(8);
    this.#view.setBigUint64(offset, address, true);
    return this;
  }

  /** Appends an unsigned 32-bit integer. */
  u32(value: number): this {
    const offset = this.#reserve(4);
    this.#view.setUint32(offset, value, true);
    return this;
  }

  /** Appends a signed 32-bit integer. */
  i32(value: number): this {
    const offset = this.#reserve(4);
    this.#view.setInt32(offset, value, true);
    return this;
  }

  /** Appends a 32-bit float. */
  f32(value: number): this {
    const offset = this.#reserve(4);
    this.#view.setFloat32(offset, value, true);
    return this;
  }

  /** Appends an unsigned 64-bit integer. */
  u64(value: bigint): this {
    const offset = this.#reserve(8);
    this.#view.setBigUint64(offset, value, true);
    return this;
  }

  /** The packed bytes (a copy, so the builder can be reused). */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes.slice(0, this.#length);
  }
}
