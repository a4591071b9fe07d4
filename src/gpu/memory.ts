/**
 * Device memory and pinned host memory.
 * @module
 */

import { check, Handle } from "./handle.ts";
import { gpu } from "./library.ts";
import type { Address } from "./params.ts";

/** A device memory allocation. */
export class Buffer extends Handle {
  /** Its device address, for kernel parameters. */
  readonly address: Address;
  /** Its size in bytes. */
  readonly size: number;
  #device: Deno.PointerObject;

  /** @internal Made by {@linkcode Device.alloc}. */
  constructor(
    pointer: Deno.PointerObject,
    device: Deno.PointerObject,
    size: number,
    onClose: () => void,
  ) {
    super(pointer, onClose);
    const address = new BigUint64Array(1);
    check(pointer, "read a buffer's address", gpu().reef_buffer_address(pointer, address));
    this.address = address[0]!;
    this.size = size;
    this.#device = device;
  }

  #range(offset: number, length: number, what: string): void {
    if (this.closed) throw new Error("This Buffer is closed");
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(
        `Cannot ${what} ${length} bytes at offset ${offset} of a ${this.size}-byte buffer`,
      );
    }
  }

  /** Copies `data` to the buffer at `offset` (synchronous). */
  write(data: ArrayBufferView, offset = 0): void {
    this.#range(offset, data.byteLength, "write");
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    check(
      this.#device,
      "copy to the device",
      gpu().reef_memcpy_htod(
        this.#device,
        this.address + BigInt(offset),
        bytes,
        BigInt(bytes.length),
      ),
    );
  }

  /** Copies `length` bytes from `offset` into a new array, or into `into` (synchronous). */
  read(offset = 0, length = this.size - offset, into?: Uint8Array): Uint8Array {
    this.#range(offset, length, "read");
    const out = into ?? new Uint8Array(length);
    if (out.length < length) throw new RangeError(`Cannot read ${length} bytes into ${out.length}`);
    check(
      this.#device,
      "copy from the device",
      gpu().reef_memcpy_dtoh(this.#device, out, this.address + BigInt(offset), BigInt(length)),
    );
    return out;
  }

  /** Sets every byte to `value` (synchronous). */
  fill(value = 0): void {
    this.#range(0, this.size, "fill");
    check(
      this.#device,
      "fill device memory",
      gpu().reef_memset_d8(this.#device, this.address, value, BigInt(this.size)),
    );
  }

  protected override release(pointer: Deno.PointerObject): void {
    check(pointer, "free device memory", gpu().reef_buffer_free(pointer));
  }
}

/**
 * Page-locked host memory, optionally mapped into the device's address space. `bytes` views the
 * memory itself (no copy): do not use it after `close()`.
 */
export class HostBuffer extends Handle {
  /** The pinned memory. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The device address of the mapping, or 0n if not mapped. */
  readonly deviceAddress: Address;

  /** @internal Made by {@linkcode Device.allocHost}. */
  constructor(pointer: Deno.PointerObject, size: number, onClose: () => void) {
    super(pointer, onClose);
    const host = new BigUint64Array(1);
    const device = new BigUint64Array(1);
    check(
      pointer,
      "read pinned memory's addresses",
      gpu().reef_host_pointers(pointer, host, device),
    );
    const hostPointer = Deno.UnsafePointer.create(host[0]!);
    if (hostPointer === null) throw new Error("The GPU library returned a null host pointer");
    this.bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(hostPointer, size));
    this.deviceAddress = device[0]!;
  }

  protected override release(pointer: Deno.PointerObject): void {
    check(pointer, "free pinned host memory", gpu().reef_host_free(pointer));
  }
}
