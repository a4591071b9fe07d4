/**
 * Streams (device queues) and events.
 * @module
 */

import { check, Handle } from "./handle.ts";
import { gpu } from "./library.ts";
import type { Kernel } from "./module.ts";
import type { Address } from "./params.ts";
import { WAIT_EQ, WAIT_GEQ } from "./symbols.ts";

/** Grid or block dimensions; a number means `[n, 1, 1]`. */
export type Dim3 = number | readonly [number, number, number];

/** One kernel launch. */
export interface LaunchConfig {
  grid: Dim3;
  block: Dim3;
  /** Dynamic shared memory per block, bytes (default 0). */
  sharedMemory?: number;
  /** Packed arguments (see {@linkcode KernelParams}); omit for a kernel without parameters. */
  params?: Uint8Array<ArrayBuffer>;
}

const noParams = new Uint8Array(0);

function dims(value: Dim3): readonly [number, number, number] {
  return typeof value === "number" ? [value, 1, 1] : value;
}

/**
 * A device queue: its work runs in order; work of different streams may overlap, and the block
 * scheduler prefers streams of higher priority.
 */
export class Stream extends Handle {
  /** The priority it was created with (see {@linkcode Device.streamPriorityRange}). */
  readonly priority: number;

  /** @internal Made by {@linkcode Device.createStream}. */
  constructor(pointer: Deno.PointerObject, priority: number, onClose: () => void) {
    super(pointer, onClose);
    this.priority = priority;
  }

  /** Enqueues a kernel launch; errors name the kernel and configuration. */
  launch(kernel: Kernel, config: LaunchConfig): void {
    const [gx, gy, gz] = dims(config.grid);
    const [bx, by, bz] = dims(config.block);
    this.launchPacked(kernel, gx, gy, gz, bx, by, bz, config.sharedMemory ?? 0, config.params);
  }

  /** {@linkcode Stream.launch} without the config object, for hot loops. */
  launchPacked(
    kernel: Kernel,
    gx: number,
    gy: number,
    gz: number,
    bx: number,
    by: number,
    bz: number,
    sharedMemory: number,
    params: Uint8Array<ArrayBuffer> = noParams,
  ): void {
    const status = gpu().reef_launch(
      this.pointer,
      kernel.pointer,
      gx,
      gy,
      gz,
      bx,
      by,
      bz,
      sharedMemory,
      params,
      params.length,
    );
    if (status !== 0) check(this.pointer, `launch kernel "${kernel.name}"`, status);
  }

  /** Writes a 32-bit word of device memory once the stream's earlier work is done. */
  writeU32(address: Address, value: number): void {
    check(
      this.pointer,
      "write a value from a stream",
      gpu().reef_stream_write_u32(this.pointer, address, value),
    );
  }

  /** Holds the stream's later work until the word at `address` is >= (or ==) `value`. */
  waitU32(address: Address, value: number, condition: "geq" | "eq" = "geq"): void {
    check(
      this.pointer,
      "wait for a value on a stream",
      gpu().reef_stream_wait_u32(
        this.pointer,
        address,
        value,
        condition === "eq" ? WAIT_EQ : WAIT_GEQ,
      ),
    );
  }

  /**
   * Enqueues a copy of host bytes to device memory. With pageable memory the driver stages the
   * bytes before returning; with pinned memory ({@linkcode HostBuffer}) keep it untouched until
   * the copy has run.
   */
  copyToDevice(dst: Address, data: Uint8Array<ArrayBuffer>): void {
    check(
      this.pointer,
      "copy to the device",
      gpu().reef_memcpy_htod_async(this.pointer, dst, data, BigInt(data.length)),
    );
  }

  /** Enqueues a copy of device memory into host memory (use pinned memory for overlap). */
  copyFromDevice(into: Uint8Array<ArrayBuffer>, src: Address): void {
    check(
      this.pointer,
      "copy from the device",
      gpu().reef_memcpy_dtoh_async(this.pointer, into, src, BigInt(into.length)),
    );
  }

  /** Enqueues a device-to-device copy. */
  copyOnDevice(dst: Address, src: Address, size: number): void {
    check(
      this.pointer,
      "copy on the device",
      gpu().reef_memcpy_dtod_async(this.pointer, dst, src, BigInt(size)),
    );
  }

  /** Enqueues a fill of `count` 32-bit words. */
  fill32(dst: Address, value: number, count: number): void {
    check(
      this.pointer,
      "fill device memory",
      gpu().reef_memset_d32_async(this.pointer, dst, value, BigInt(count)),
    );
  }

  /** True when all enqueued work has finished. */
  query(): boolean {
    return check(this.pointer, "query a stream", gpu().reef_stream_query(this.pointer));
  }

  /** Waits for all enqueued work without blocking the event loop. */
  async synchronize(): Promise<void> {
    const status = await gpu().reef_stream_synchronize_nonblocking(this.pointer);
    check(this.pointer, "synchronize a stream", status);
  }

  /** Waits for all enqueued work, blocking this thread (for a scheduler's own loop). */
  synchronizeSync(): void {
    check(this.pointer, "synchronize a stream", gpu().reef_stream_synchronize(this.pointer));
  }

  protected override release(pointer: Deno.PointerObject): void {
    check(pointer, "destroy a stream", gpu().reef_stream_destroy(pointer));
  }
}

/** A marker in a stream: completion and, for timing events, a timestamp. */
export class Event extends Handle {
  /** @internal Made by {@linkcode Device.createEvent}. */
  constructor(pointer: Deno.PointerObject, onClose: () => void) {
    super(pointer, onClose);
  }

  /** Marks the current end of the stream's work. */
  record(stream: Stream): void {
    check(
      this.pointer,
      "record an event",
      gpu().reef_event_record(this.pointer, stream.pointer),
    );
  }

  /** True once the work before the recorded point has finished. */
  query(): boolean {
    return check(this.pointer, "query an event", gpu().reef_event_query(this.pointer));
  }

  /** Blocks until the recorded point is reached. */
  synchronize(): void {
    check(this.pointer, "synchronize an event", gpu().reef_event_synchronize(this.pointer));
  }

  /** Milliseconds from `start`'s recorded point to this one's (both timing events, reached). */
  elapsedSince(start: Event): number {
    const out = new Float32Array(1);
    check(
      start.pointer,
      "measure the time between events",
      gpu().reef_event_elapsed_ms(start.pointer, this.pointer, out),
    );
    return out[0]!;
  }

  protected override release(pointer: Deno.PointerObject): void {
    check(pointer, "destroy an event", gpu().reef_event_destroy(pointer));
  }
}
