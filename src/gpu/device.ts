/**
 * A GPU and everything created on it.
 * @module
 */

import { ReefGpuError } from "./error.ts";
import { check, Children, Handle, outPointer } from "./handle.ts";
import { gpu, readCString } from "./library.ts";
import { Buffer, HostBuffer } from "./memory.ts";
import { Module } from "./module.ts";
import { Event, Stream } from "./stream.ts";
import { EVENT_TIMING, HOST_MAPPED, type StatusCode } from "./symbols.ts";

/** What the driver reports about a GPU. */
export interface DeviceProperties {
  name: string;
  ordinal: number;
  /** Compute capability, e.g. `[9, 0]` for Hopper. */
  computeCapability: [number, number];
  smCount: number;
  warpSize: number;
  maxThreadsPerBlock: number;
  maxThreadsPerSm: number;
  maxBlocksPerSm: number;
  registersPerBlock: number;
  registersPerSm: number;
  /** Shared memory a block gets without opting in, bytes. */
  sharedMemoryPerBlock: number;
  /** The most shared memory a kernel can be allowed per block, bytes. */
  sharedMemoryPerBlockOptin: number;
  sharedMemoryPerSm: number;
  clockKhz: number;
  memoryClockKhz: number;
  memoryBusWidth: number;
  l2CacheBytes: number;
  /** Device memory, bytes. */
  totalMemory: number;
}

/** Which runtime the library was built over. */
export type Platform = "cuda" | "hip";

/**
 * Bytes of a preempt flag allocation for BE kernels. The flag is its first int; conv_mma's BE
 * build copies it into shared memory with a 16-byte cp.async, which reads all 16.
 */
const PREEMPT_FLAG_BYTES = 16;

function parseProperties(raw: Uint8Array<ArrayBuffer>): DeviceProperties {
  const view = new DataView(raw.buffer);
  const int = (index: number) => view.getInt32(264 + 4 * index, true);
  return {
    name: readCString(raw.subarray(0, 256)),
    totalMemory: Number(view.getBigUint64(256, true)),
    ordinal: int(0),
    computeCapability: [int(1), int(2)],
    smCount: int(3),
    warpSize: int(4),
    maxThreadsPerBlock: int(5),
    maxThreadsPerSm: int(6),
    maxBlocksPerSm: int(7),
    registersPerBlock: int(8),
    registersPerSm: int(9),
    sharedMemoryPerBlock: int(10),
    sharedMemoryPerBlockOptin: int(11),
    sharedMemoryPerSm: int(12),
    clockKhz: int(13),
    memoryClockKhz: int(14),
    memoryBusWidth: int(15),
    l2CacheBytes: int(16),
  };
}

/**
 * An open GPU. Closing it closes everything made on it that is still open.
 *
 * @example
 * ```ts ignore
 * import { Device } from "./mod.ts";
 * using device = Device.open(0);
 * console.log(device.properties.name, device.properties.smCount);
 * ```
 */
export class Device extends Handle {
  /** The driver's report on this GPU, read at open. */
  readonly properties: DeviceProperties;
  #children = new Children();

  private constructor(pointer: Deno.PointerObject) {
    super(pointer);
    const lib = gpu();
    const raw = new Uint8Array(lib.reef_device_properties_size());
    check(pointer, "read device properties", lib.reef_device_properties_get(pointer, raw));
    this.properties = parseProperties(raw);
  }

  /** The number of GPUs the driver sees. Throws a ReefGpuError when there is no driver. */
  static count(): number {
    const lib = gpu();
    const out = new Int32Array(1);
    const status = lib.reef_device_count(out) as StatusCode;
    if (status !== 0) throw new ReefGpuError("count GPUs", status, "the driver refused");
    return out[0]!;
  }

  /** The driver version as the driver reports it (e.g. 13000 for CUDA 13.0). */
  static driverVersion(): number {
    const out = new Int32Array(1);
    const status = gpu().reef_driver_version(out) as StatusCode;
    if (status !== 0) throw new ReefGpuError("read the driver version", status, "");
    return out[0]!;
  }

  /** The runtime the library was built over. */
  static platform(): Platform {
    return gpu().reef_platform() === 2 ? "hip" : "cuda";
  }

  /** Opens GPU `ordinal` and makes its context current on every call made through it. */
  static open(ordinal = 0): Device {
    const lib = gpu();
    const message = new Uint8Array(1024);
    const out = new BigUint64Array(1);
    const status = lib.reef_device_open(ordinal, message, message.length, out) as StatusCode;
    if (status !== 0) {
      throw new ReefGpuError(`open GPU ${ordinal}`, status, readCString(message));
    }
    return new Device(outPointer(out));
  }

  /** Stream priorities: `least` is the lowest (0 on CUDA), `greatest` the highest (-5 on H100). */
  streamPriorityRange(): { least: number; greatest: number } {
    const least = new Int32Array(1);
    const greatest = new Int32Array(1);
    check(
      this.pointer,
      "read the stream priority range",
      gpu().reef_device_stream_priority_range(this.pointer, least, greatest),
    );
    return { least: least[0]!, greatest: greatest[0]! };
  }

  /** Free and total device memory, bytes. */
  memoryInfo(): { free: number; total: number } {
    const free = new BigUint64Array(1);
    const total = new BigUint64Array(1);
    check(
      this.pointer,
      "read memory information",
      gpu().reef_device_memory_info(this.pointer, free, total),
    );
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  /** Waits for all work on the device. Never call it while a persistent kernel runs. */
  async synchronize(): Promise<void> {
    const status = await gpu().reef_device_synchronize(this.pointer);
    check(this.pointer, "synchronize the device", status);
  }

  /** Loads a cubin, fatbin or NUL-terminated PTX image. */
  loadModule(image: Uint8Array<ArrayBuffer>): Module {
    const out = new BigUint64Array(1);
    check(
      this.pointer,
      "load a module",
      gpu().reef_module_load(this.pointer, image, BigInt(image.length), out),
    );
    const module: Module = new Module(outPointer(out), () => this.#children.delete(module));
    return this.#children.add(module);
  }

  /** Allocates `size` bytes of device memory (not initialised). */
  alloc(size: number): Buffer {
    const out = new BigUint64Array(1);
    check(
      this.pointer,
      `allocate ${size} bytes`,
      gpu().reef_buffer_alloc(this.pointer, BigInt(size), out),
    );
    const buffer: Buffer = new Buffer(
      outPointer(out),
      this.pointer,
      size,
      () => this.#children.delete(buffer),
    );
    return this.#children.add(buffer);
  }

  /** Allocates the preempt flag that BE kernels read, cleared (its first int is the flag). */
  allocPreemptFlag(): Buffer {
    const flag = this.alloc(PREEMPT_FLAG_BYTES);
    flag.fill(0);
    return flag;
  }

  /** Allocates pinned host memory; `mapped` also maps it into the device's address space. */
  allocHost(size: number, options: { mapped?: boolean } = {}): HostBuffer {
    const out = new BigUint64Array(1);
    check(
      this.pointer,
      `allocate ${size} bytes of pinned memory`,
      gpu().reef_host_alloc(this.pointer, BigInt(size), options.mapped ? HOST_MAPPED : 0, out),
    );
    const buffer: HostBuffer = new HostBuffer(
      outPointer(out),
      size,
      () => this.#children.delete(buffer),
    );
    return this.#children.add(buffer);
  }

  /** Creates a stream; `priority` within {@linkcode Device.streamPriorityRange} (default lowest). */
  createStream(options: { priority?: number } = {}): Stream {
    const priority = options.priority ?? this.streamPriorityRange().least;
    const out = new BigUint64Array(1);
    check(
      this.pointer,
      "create a stream",
      gpu().reef_stream_create(this.pointer, priority, out),
    );
    const stream: Stream = new Stream(
      outPointer(out),
      priority,
      () => this.#children.delete(stream),
    );
    return this.#children.add(stream);
  }

  /** Creates an event; `timing` events can measure elapsed time. */
  createEvent(options: { timing?: boolean } = {}): Event {
    const out = new BigUint64Array(1);
    check(
      this.pointer,
      "create an event",
      gpu().reef_event_create(this.pointer, options.timing ? EVENT_TIMING : 0, out),
    );
    const event: Event = new Event(outPointer(out), () => this.#children.delete(event));
    return this.#children.add(event);
  }

  protected override release(pointer: Deno.PointerObject): void {
    this.#children.closeAll();
    check(pointer, "close the device", gpu().reef_device_close(pointer));
  }
}
