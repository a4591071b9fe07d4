/**
 * Loaded code: modules and their kernels.
 * @module
 */

import { check, Children, Handle, outPointer } from "./handle.ts";
import { cString, gpu } from "./library.ts";
import type { Address } from "./params.ts";

/** Resource use of a compiled kernel, from the driver. */
export interface KernelAttributes {
  /** Registers per thread. */
  registers: number;
  /** Static shared memory per block, bytes. */
  staticSharedMemory: number;
  /** Local memory per thread, bytes (register spills and stack). */
  localMemory: number;
  /** Largest block this kernel can be launched with. */
  maxThreadsPerBlock: number;
  /** Current dynamic shared memory limit, bytes. */
  maxDynamicSharedMemory: number;
  /** PTX and binary versions, major*10+minor. */
  ptxVersion: number;
  binaryVersion: number;
}

/** A kernel of a loaded module, ready to launch. */
export class Kernel extends Handle {
  /** The kernel's name in its module. */
  readonly name: string;

  /** @internal Made by {@linkcode Module.kernel}. */
  constructor(pointer: Deno.PointerObject, name: string, onClose: () => void) {
    super(pointer, onClose);
    this.name = name;
  }

  /** Registers, shared and local memory, and thread limit of the compiled kernel. */
  attributes(): KernelAttributes {
    const lib = gpu();
    const raw = new Int32Array(lib.reef_kernel_attributes_size() / 4);
    check(
      this.pointer,
      `get the attributes of kernel "${this.name}"`,
      lib.reef_kernel_attributes_get(this.pointer, raw),
    );
    return {
      registers: raw[0]!,
      staticSharedMemory: raw[1]!,
      localMemory: raw[2]!,
      maxThreadsPerBlock: raw[3]!,
      maxDynamicSharedMemory: raw[4]!,
      ptxVersion: raw[5]!,
      binaryVersion: raw[6]!,
    };
  }

  /** Allows launches with up to `bytes` of dynamic shared memory (above 48 KB needs this). */
  setMaxDynamicSharedMemory(bytes: number): void {
    check(
      this.pointer,
      `set the shared memory limit of kernel "${this.name}"`,
      gpu().reef_kernel_set_max_dynamic_shared_memory(this.pointer, bytes),
    );
  }

  /** Resident blocks per SM at this block size and dynamic shared memory. */
  occupancy(blockSize: number, dynamicSharedMemory = 0): number {
    const out = new Int32Array(1);
    check(
      this.pointer,
      `compute the occupancy of kernel "${this.name}"`,
      gpu().reef_kernel_occupancy(this.pointer, blockSize, BigInt(dynamicSharedMemory), out),
    );
    return out[0]!;
  }

  protected override release(pointer: Deno.PointerObject): void {
    check(pointer, `release kernel "${this.name}"`, gpu().reef_kernel_release(pointer));
  }
}

/** A module of device code: a cubin, fatbin or PTX image loaded on a device. */
export class Module extends Handle {
  #kernels = new Children();

  /** @internal Made by {@linkcode Device.loadModule}. */
  constructor(pointer: Deno.PointerObject, onClose: () => void) {
    super(pointer, onClose);
  }

  /** Looks up a kernel by name; throws a ReefGpuError (`NOT_FOUND`) naming it if absent. */
  kernel(name: string): Kernel {
    const out = new BigUint64Array(1);
    check(
      this.pointer,
      `find kernel "${name}"`,
      gpu().reef_kernel_get(this.pointer, cString(name), out),
    );
    const kernel: Kernel = new Kernel(outPointer(out), name, () => this.#kernels.delete(kernel));
    return this.#kernels.add(kernel);
  }

  /** The device address and size of a `__device__` global. */
  global(name: string): { address: Address; size: number } {
    const address = new BigUint64Array(1);
    const size = new BigUint64Array(1);
    check(
      this.pointer,
      `find global "${name}"`,
      gpu().reef_module_global(this.pointer, cString(name), address, size),
    );
    return { address: address[0]!, size: Number(size[0]) };
  }

  protected override release(pointer: Deno.PointerObject): void {
    this.#kernels.closeAll();
    check(pointer, "unload a module", gpu().reef_module_unload(pointer));
  }
}
