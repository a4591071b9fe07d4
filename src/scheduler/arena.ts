/**
 * The tensor arena: a bounded SharedArrayBuffer holding each task's input and output bytes while
 * the task is in the scheduler. Only the main thread allocates and frees (a blob is allocated at
 * submit and freed once its completion is read), so the allocator needs no locking; the worker only
 * reads inputs from and writes outputs into blobs it was handed.
 * @module
 */

import type { DeviceModel } from "./device_handle.ts";

/** Alignment of every blob and every tensor in a blob, bytes. */
export const ARENA_ALIGN = 8;

const align = (n: number): number => Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;

/** Where each tensor of a task lives in its blob. */
export interface BlobLayout {
  /** Offsets of the model's inputs, in `DeviceModel.inputs` order. */
  readonly inputs: readonly number[];
  /** Offsets of the model's outputs, in `DeviceModel.outputs` order. */
  readonly outputs: readonly number[];
  /** Bytes of the whole blob (at least one alignment unit). */
  readonly bytes: number;
}

/** The blob layout of a model's tasks: inputs then outputs, each aligned. */
export function blobLayout(model: DeviceModel): BlobLayout {
  let at = 0;
  const place = (bytes: number): number => {
    const offset = at;
    at += align(bytes);
    return offset;
  };
  const inputs = model.inputs.map((slot) => place(slot.bytes));
  const outputs = model.outputs.map((slot) => place(slot.bytes));
  return { inputs, outputs, bytes: Math.max(at, ARENA_ALIGN) };
}

/** A first-fit allocator over `[0, size)` with coalescing of free neighbours. */
export class ArenaAllocator {
  /** Bytes managed. */
  readonly size: number;
  /** Free extents, sorted by offset, never adjacent. */
  readonly #free: { offset: number; bytes: number }[];
  readonly #allocated = new Map<number, number>();
  #used = 0;

  /** @throws {RangeError} unless `size` is a positive multiple of {@linkcode ARENA_ALIGN}. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size <= 0 || size % ARENA_ALIGN !== 0) {
      throw new RangeError(
        `Arena size must be a positive multiple of ${ARENA_ALIGN}, got "${size}"`,
      );
    }
    this.size = size;
    this.#free = [{ offset: 0, bytes: size }];
  }

  /** Bytes allocated. */
  get used(): number {
    return this.#used;
  }

  /**
   * Allocates `bytes` (rounded up to the alignment) and returns the offset.
   * @throws {RangeError} when no free extent is large enough; the message gives the numbers.
   */
  alloc(bytes: number): number {
    const need = Math.max(align(bytes), ARENA_ALIGN);
    const index = this.#free.findIndex((extent) => extent.bytes >= need);
    if (index === -1) {
      const largest = this.#free.reduce((m, e) => Math.max(m, e.bytes), 0);
      throw new RangeError(
        `The tensor arena is full: ${need} bytes needed, ${
          this.size - this.#used
        } of ${this.size} free, largest free extent ${largest}; raise option "arenaBytes" or submit fewer tasks at once`,
      );
    }
    const extent = this.#free[index]!;
    const offset = extent.offset;
    if (extent.bytes === need) this.#free.splice(index, 1);
    else {
      extent.offset += need;
      extent.bytes -= need;
    }
    this.#allocated.set(offset, need);
    this.#used += need;
    return offset;
  }

  /**
   * Frees a blob allocated at `offset`.
   * @throws {RangeError} if nothing is allocated there.
   */
  free(offset: number): void {
    const bytes = this.#allocated.get(offset);
    if (bytes === undefined) {
      throw new RangeError(`Cannot free arena offset ${offset}: nothing is allocated there`);
    }
    this.#allocated.delete(offset);
    this.#used -= bytes;
    const free = this.#free;
    let index = free.findIndex((extent) => extent.offset > offset);
    if (index === -1) index = free.length;
    free.splice(index, 0, { offset, bytes });
    const next = free[index + 1];
    if (next !== undefined && offset + bytes === next.offset) {
      free[index]!.bytes += next.bytes;
      free.splice(index + 1, 1);
    }
    const previous = free[index - 1];
    if (previous !== undefined && previous.offset + previous.bytes === offset) {
      previous.bytes += free[index]!.bytes;
      free.splice(index, 1);
    }
  }
}
