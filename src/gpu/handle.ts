/**
 * The base of every class that owns a handle of the GPU library.
 * @module
 */

import { ReefGpuError } from "./error.ts";
import { gpu, readCString } from "./library.ts";
import { Status, type StatusCode } from "./symbols.ts";

/** Reads the last error message kept in a live handle. */
export function lastError(handle: Deno.PointerObject): string {
  const message = new Uint8Array(1024);
  gpu().reef_last_error(handle, message, message.length);
  return readCString(message);
}

/**
 * Throws a {@linkcode ReefGpuError} for a failed call made on `handle`; `NOT_READY` is not an
 * error and is returned as `false`.
 */
export function check(handle: Deno.PointerObject, operation: string, status: number): boolean {
  if (status === Status.OK) return true;
  if (status === Status.NOT_READY) return false;
  throw new ReefGpuError(operation, status as StatusCode, lastError(handle));
}

/** A pointer returned through a `T**` out-parameter. */
export function outPointer(slot: BigUint64Array): Deno.PointerObject {
  const pointer = Deno.UnsafePointer.create(slot[0]!);
  if (pointer === null) throw new Error("The GPU library returned a null handle");
  return pointer;
}

/**
 * Owns one handle: `close()` releases it once (later calls do nothing), and `using` releases it at
 * the end of a scope.
 */
export abstract class Handle implements Disposable {
  #pointer: Deno.PointerObject | null;
  #onClose: (() => void) | undefined;

  /** Takes ownership of `pointer`; `onClose` runs after the release (parents untrack children). */
  protected constructor(pointer: Deno.PointerObject, onClose?: () => void) {
    this.#pointer = pointer;
    this.#onClose = onClose;
  }

  /** The live handle; throws once closed. */
  get pointer(): Deno.PointerObject {
    if (this.#pointer === null) throw new Error(`This ${this.constructor.name} is closed`);
    return this.#pointer;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#pointer === null;
  }

  /** Releases the handle. Safe to call more than once. */
  close(): void {
    if (this.#pointer === null) return;
    this.release(this.#pointer);
    this.#pointer = null;
    this.#onClose?.();
  }

  /** Same as {@linkcode Handle.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Releases the native handle; throws a ReefGpuError if the library refuses. */
  protected abstract release(pointer: Deno.PointerObject): void;
}

/** A set of child handles closed, newest first, when their owner closes. */
export class Children {
  #open = new Set<Handle>();

  /** Tracks a child. */
  add<T extends Handle>(child: T): T {
    this.#open.add(child);
    return child;
  }

  /** Stops tracking a child (it closed itself). */
  delete(child: Handle): void {
    this.#open.delete(child);
  }

  /** Closes every child still open. */
  closeAll(): void {
    for (const child of [...this.#open].reverse()) child.close();
  }
}
