/**
 * Loads a model package onto a GPU and runs its kernels.
 *
 * A {@linkcode LoadedModel} holds the compiled modules and the weights (uploaded once, shared by
 * every instance: kernels only read them). A {@linkcode ModelInstance} owns its own activation
 * storage, one stop mark per kernel, and each kernel's packed arguments for the raw
 * and BE builds, so launching is one FFI call per kernel and two instances never share a buffer
 * that a kernel writes (REEF's rule: any kernel can be re-run).
 * @module
 */

import {
  type Address,
  type Buffer,
  type Device,
  type Kernel,
  KernelParams,
  type Module,
  type Stream,
} from "../gpu/mod.ts";
import { DKP_PROXY, PAD_SUFFIX } from "../kernels/emit.ts";
import {
  type KernelCall,
  launchDimensions,
  type ModelPackage,
  type PackagePaths,
  storageBytes,
  type TensorSpec,
} from "./package.ts";

/** The builds of a model's kernels (see src/kernels/reef_kernel.cuh). */
export type KernelBuild = "raw" | "be" | "dkp";

/** Bytes of each weight storage entry, by storage name. */
export type Weights = ReadonlyMap<string, Uint8Array>;

/** Storage offsets are aligned so every tensor starts on a 256-byte boundary (vector loads). */
const ALIGN = 256;

/** One kernel call of a loaded model, ready to launch. */
export interface LoadedKernel {
  call: KernelCall;
  grid: [number, number, number];
  block: [number, number, number];
  blocks: number;
  sharedMemory: number;
  raw: Kernel;
  be: Kernel | undefined;
  /** The DKP build's body, as a device function pointer, when the DKP build is loaded. */
  dkpBody: Address | undefined;
  /** The DKP build's padding launch of this kernel (`<name>_pad`), when the DKP build is loaded. */
  pad: Kernel | undefined;
  /** Resident blocks per SM at this launch configuration (raw build). */
  blocksPerSm: number;
}

function align(offset: number): number {
  return Math.ceil(offset / ALIGN) * ALIGN;
}

async function readBinary(paths: PackagePaths, file: string): Promise<Uint8Array<ArrayBuffer>> {
  const path = `${paths.dir}/${file}`;
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `Model "${paths.name}" has no compiled kernels at ${path}: run \`reef compile ${paths.name}\``,
      );
    }
    throw error;
  }
}

function kernelFrom(module: Module, name: string, file: string): Kernel {
  try {
    return module.kernel(name);
  } catch (error) {
    throw new Error(
      `Kernel "${name}" is missing from ${file}: recompile the model (${
        error instanceof Error ? error.message : error
      })`,
    );
  }
}

/** Reads each kernel's DKP body pointer (the `<name>_body` global of the DKP module). */
function readBodies(device: Device, module: Module, pkg: ModelPackage): Map<string, Address> {
  const bodies = new Map<string, Address>();
  using stream = device.createStream();
  for (const name of new Set(pkg.kernels.map((k) => k.name))) {
    const { address } = module.global(`${name}_body`);
    const out = new BigUint64Array(1);
    stream.copyFromDevice(new Uint8Array(out.buffer), address);
    stream.synchronizeSync();
    bodies.set(name, out[0]!);
  }
  return bodies;
}

/** A model's modules and weights on one device. */
export class LoadedModel implements Disposable {
  /** The package it was loaded from. */
  readonly pkg: ModelPackage;
  readonly name: string;
  /** Kernel calls in launch order. */
  readonly kernels: LoadedKernel[];
  readonly device: Device;
  #modules: Module[];
  /** `reef_dkp_run`, the proxy that runs a DKP body over a virtual grid. */
  readonly dkpProxy: Kernel | undefined;
  /**
   * Bytes per kernel in an instance's stop-mark buffer: 4, or 16 when the BE kernels are the
   * check-interval trace build (the mark, padding, the longest stretch in ns).
   */
  readonly markStride: number;
  #weights: Buffer | undefined;
  #weightAddress = new Map<string, Address>();
  #instances = new Set<ModelInstance>();

  private constructor(
    device: Device,
    name: string,
    pkg: ModelPackage,
    modules: Module[],
    kernels: LoadedKernel[],
    dkpProxy: Kernel | undefined,
    markStride: number,
  ) {
    this.device = device;
    this.name = name;
    this.pkg = pkg;
    this.#modules = modules;
    this.kernels = kernels;
    this.dkpProxy = dkpProxy;
    this.markStride = markStride;
  }

  /**
   * Loads the package's raw build (and its BE and DKP builds when asked), uploads `weights`, and
   * checks that every weight the package needs is given, with the right size. `traceBinary`, a
   * file in the package's folder built by `compileTraceBuild` (src/compiler/compile.ts), stands
   * in for the BE build; so does `beBinary`, another variant of it (`compileBeVariant`).
   */
  static async load(
    device: Device,
    paths: PackagePaths,
    pkg: ModelPackage,
    weights: Weights,
    options: { be?: boolean; dkp?: boolean; traceBinary?: string; beBinary?: string } = {},
  ): Promise<LoadedModel> {
    if (!pkg.binaries) {
      throw new Error(
        `${paths.json} names no compiled binaries: run \`reef compile ${paths.name}\``,
      );
    }
    const modules: Module[] = [];
    try {
      const raw = device.loadModule(await readBinary(paths, pkg.binaries.raw));
      modules.push(raw);
      const variant = options.traceBinary ?? options.beBinary;
      const beBinary = variant ?? pkg.binaries.be;
      const be = options.be || variant !== undefined
        ? device.loadModule(await readBinary(paths, beBinary))
        : undefined;
      if (be) modules.push(be);
      const dkpBinary = pkg.binaries.dkp;
      if (options.dkp && dkpBinary === undefined) {
        throw new Error(`${paths.json} names no DKP build (field "binaries.dkp")`);
      }
      const dkp = options.dkp ? device.loadModule(await readBinary(paths, dkpBinary!)) : undefined;
      if (dkp) modules.push(dkp);
      const proxy = dkp ? kernelFrom(dkp, DKP_PROXY, dkpBinary!) : undefined;
      const largest = Math.max(0, ...Object.values(pkg.shared_memory));
      if (proxy && largest > 0) proxy.setMaxDynamicSharedMemory(largest);
      const bodies = dkp ? readBodies(device, dkp, pkg) : new Map<string, Address>();
      const byName = new Map<
        string,
        { raw: Kernel; be: Kernel | undefined; pad: Kernel | undefined }
      >();
      const kernels = pkg.kernels.map((call): LoadedKernel => {
        let pair = byName.get(call.name);
        if (!pair) {
          pair = {
            raw: kernelFrom(raw, call.name, pkg.binaries!.raw),
            be: be ? kernelFrom(be, call.name, beBinary) : undefined,
            pad: dkp ? kernelFrom(dkp, call.name + PAD_SUFFIX, dkpBinary!) : undefined,
          };
          // A padded launch carries a BE kernel's shared memory too: allow the device's most.
          pair.pad?.setMaxDynamicSharedMemory(device.properties.sharedMemoryPerBlockOptin);
          byName.set(call.name, pair);
        }
        const { grid, block } = launchDimensions(call);
        const sharedMemory = pkg.shared_memory[call.name]!;
        // Opt in whenever the kernel uses dynamic shared memory: static shared memory (the BE
        // build's flag slots) counts against the same 48 KB default limit.
        if (sharedMemory > 0) {
          pair.raw.setMaxDynamicSharedMemory(sharedMemory);
          pair.be?.setMaxDynamicSharedMemory(sharedMemory);
        }
        return {
          call,
          grid,
          block,
          blocks: grid[0] * grid[1] * grid[2],
          sharedMemory,
          raw: pair.raw,
          be: pair.be,
          dkpBody: bodies.get(call.name),
          pad: pair.pad,
          blocksPerSm: pair.raw.occupancy(block[0] * block[1] * block[2], sharedMemory),
        };
      });
      const stride = options.traceBinary === undefined ? 4 : 16;
      const model = new LoadedModel(device, paths.name, pkg, modules, kernels, proxy, stride);
      model.#uploadWeights(weights, paths.json);
      return model;
    } catch (error) {
      for (const module of modules) module.close();
      throw error;
    }
  }

  #uploadWeights(weights: Weights, file: string): void {
    let size = 0;
    const offsets = new Map<string, number>();
    for (const entry of this.pkg.storage) {
      const bytes = weights.get(entry.name);
      if (!bytes) continue;
      if (offsets.has(entry.name)) {
        throw new Error(`${file} has two storage entries named "${entry.name}", a weight`);
      }
      if (bytes.byteLength !== storageBytes(entry)) {
        throw new Error(
          `Weights for storage "${entry.name}" of ${file} have ${bytes.byteLength} bytes, ` +
            `the package needs ${storageBytes(entry)}`,
        );
      }
      offsets.set(entry.name, size);
      size = align(size + bytes.byteLength);
    }
    for (const name of weights.keys()) {
      if (!offsets.has(name)) {
        throw new Error(`Weights name storage "${name}", which ${file} does not have`);
      }
    }
    if (size === 0) return;
    this.#weights = this.device.alloc(size);
    for (const [name, offset] of offsets) {
      this.#weights.write(weights.get(name)!, offset);
      this.#weightAddress.set(name, this.#weights.address + BigInt(offset));
    }
  }

  /** The device address of weight storage `name`, if it is a weight. */
  weightAddress(name: string): Address | undefined {
    return this.#weightAddress.get(name);
  }

  /** A new instance: its own activations and stop marks; `flag` is the device's preempt flag. */
  createInstance(flag: Address): ModelInstance {
    const instance: ModelInstance = new ModelInstance(
      this,
      flag,
      () => this.#instances.delete(instance),
    );
    this.#instances.add(instance);
    return instance;
  }

  /** Releases instances, weights and modules. */
  close(): void {
    for (const instance of [...this.#instances]) instance.close();
    this.#weights?.close();
    for (const module of this.#modules) module.close();
    this.#modules = [];
  }

  /** Same as {@linkcode LoadedModel.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** One copy of a model's activations, with a stop mark per kernel. */
export class ModelInstance implements Disposable {
  readonly model: LoadedModel;
  #arena: Buffer;
  #marks: Buffer;
  /** Device address of each storage entry, by index (REEF's files may repeat names). */
  #addresses: Address[];
  #byName = new Map<string, number>();
  #rawParams: Uint8Array<ArrayBuffer>[];
  #beParams: Uint8Array<ArrayBuffer>[];
  /** DKP: each kernel's argument addresses in device memory, and the proxy's packed params. */
  #dkpArgs: Buffer | undefined;
  #dkpStarts: number[] = [];
  #dkpParams: Uint8Array<ArrayBuffer>[] = [];
  #onClose: () => void;

  /** @internal Made by {@linkcode LoadedModel.createInstance}. */
  constructor(model: LoadedModel, flag: Address, onClose: () => void) {
    this.model = model;
    this.#onClose = onClose;
    const storage = model.pkg.storage;
    const offsets: (number | undefined)[] = [];
    let size = 0;
    storage.forEach((entry, index) => {
      if (!this.#byName.has(entry.name)) this.#byName.set(entry.name, index);
      if (model.weightAddress(entry.name) !== undefined) return;
      offsets[index] = size;
      size = align(size + Math.max(storageBytes(entry), 1));
    });
    this.#arena = model.device.alloc(Math.max(size, ALIGN));
    this.#marks = model.device.alloc(Math.max(model.kernels.length * model.markStride, 4));
    this.#marks.fill(0);
    this.#addresses = storage.map((entry, index) => {
      const offset = offsets[index];
      return offset === undefined
        ? model.weightAddress(entry.name)!
        : this.#arena.address + BigInt(offset);
    });
    this.#rawParams = model.kernels.map((k) => this.#withArguments(new KernelParams(), k).bytes());
    this.#beParams = model.kernels.map((k, i) => {
      const params = new KernelParams().pointer(flag).pointer(
        this.#marks.address + BigInt(model.markStride * i),
      );
      return this.#withArguments(params, k).bytes();
    });
    if (model.dkpProxy) {
      // A DKP body reads its arguments from device memory: the raw build's packed pointers.
      const sizes = this.#rawParams.map((p) => Math.max(p.length, 8));
      this.#dkpStarts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
      this.#dkpArgs = model.device.alloc(this.#dkpStarts.at(-1)! + sizes.at(-1)!);
      this.#rawParams.forEach((p, i) => this.#dkpArgs!.write(p, this.#dkpStarts[i]));
      // Each padding launch's parameters with no BE blocks (a null BE body no block calls).
      this.#dkpParams = model.kernels.map((k) =>
        this.#withArguments(new KernelParams(), k)
          .pointer(0n).pointer(0n).u32(1).u32(1).u32(1).u32(0).bytes()
      );
    }
  }

  /** The device address of storage `name` (activation or weight; the first of that name). */
  address(name: string): Address {
    const index = this.#byName.get(name);
    if (index === undefined) {
      throw new Error(`Model "${this.model.name}" has no storage named "${name}"`);
    }
    return this.#addresses[index]!;
  }

  /** The device address of kernel `index`'s arguments, as its DKP body reads them. */
  dkpArguments(index: number): Address {
    if (!this.#dkpArgs) {
      throw new Error(`Model "${this.model.name}" was loaded without its DKP build`);
    }
    return this.#dkpArgs.address + BigInt(this.#dkpStarts[index]!);
  }

  /** Appends a kernel's storage pointers, in parameter order (every build passes them). */
  #withArguments(params: KernelParams, kernel: LoadedKernel): KernelParams {
    for (const arg of kernel.call.args) params.pointer(this.#addresses[arg]!);
    return params;
  }

  /**
   * Enqueues kernels [from, to) of the DKP build on `stream`, each as its padding launch with no
   * BE blocks: what an RT kernel runs in `reef` mode, less the BE blocks (it must write what the
   * raw build writes).
   */
  launchDkp(stream: Stream, from: number, to: number): void {
    const kernels = this.model.kernels;
    for (let i = from; i < to; i++) {
      const k = kernels[i]!;
      if (!k.pad) throw new Error(`Model "${this.model.name}" was loaded without its DKP build`);
      stream.launchPacked(
        k.pad,
        k.blocks,
        1,
        1,
        k.block[0],
        k.block[1],
        k.block[2],
        k.sharedMemory,
        this.#dkpParams[i],
      );
    }
  }

  /**
   * Enqueues kernel `index` of this instance (the RT kernel) padded with BE virtual blocks
   * [`be.first`, `be.first + be.blocks`) of kernel `be.index` of instance `be.instance`, in one
   * launch of the RT kernel's padding launch. The BE instance must be of the same model (a body
   * is called only from its own module) and the two kernels must have the same block size.
   * @throws {Error} for an instance of another model, a model without its DKP build, or two
   * block sizes.
   */
  launchPadded(
    stream: Stream,
    index: number,
    be: { instance: ModelInstance; index: number; first: number; blocks: number },
  ): void {
    const rt = this.model.kernels[index]!;
    const other = be.instance.model.kernels[be.index]!;
    const where = `Cannot pad kernel ${index} of "${this.model.name}" with kernel ${be.index}`;
    if (be.instance.model !== this.model) {
      throw new Error(`${where} of another model, "${be.instance.model.name}"`);
    }
    if (!rt.pad) throw new Error(`${where}: the model was loaded without its DKP build`);
    if (rt.block[0] !== other.block[0]) {
      throw new Error(`${where}: ${rt.block[0]} and ${other.block[0]} threads per block`);
    }
    const params = this.#withArguments(new KernelParams(), rt)
      .pointer(other.dkpBody!).pointer(be.instance.dkpArguments(be.index))
      .u32(other.grid[0]).u32(other.grid[1]).u32(other.grid[2])
      .u32(be.first).bytes();
    stream.launchPacked(
      rt.pad,
      rt.blocks + be.blocks,
      1,
      1,
      rt.block[0],
      1,
      1,
      Math.max(rt.sharedMemory, other.sharedMemory),
      params,
    );
  }

  /** Enqueues kernels [from, to) on `stream` with the given build. */
  launch(stream: Stream, from: number, to: number, build: "raw" | "be"): void {
    const kernels = this.model.kernels;
    const params = build === "raw" ? this.#rawParams : this.#beParams;
    for (let i = from; i < to; i++) {
      const k = kernels[i]!;
      const kernel = build === "raw" ? k.raw : k.be;
      if (!kernel) throw new Error(`Model "${this.model.name}" was loaded without its BE build`);
      stream.launchPacked(
        kernel,
        k.grid[0],
        k.grid[1],
        k.grid[2],
        k.block[0],
        k.block[1],
        k.block[2],
        k.sharedMemory,
        params[i],
      );
    }
  }

  /** Enqueues the zeroing of the stop marks of kernels [from, to) on `stream`. */
  resetStopMarks(stream: Stream, from: number, to: number): void {
    const stride = this.model.markStride;
    if (to > from) {
      stream.fill32(this.#marks.address + BigInt(stride * from), 0, (to - from) * stride / 4);
    }
  }

  /**
   * The stop marks, 1 where a block of the kernel stopped at a check point, copied on `stream` (a
   * non-blocking stream: a copy on the legacy default stream could wait behind a persistent
   * kernel). Call when the streams are idle.
   */
  readStopMarks(stream: Stream): Uint32Array {
    const words = new Uint32Array(this.#readMarkBuffer(stream));
    const step = this.model.markStride / 4;
    return step === 1 ? words : words.filter((_, i) => i % step === 0);
  }

  /**
   * The check interval of each kernel, µs: the longest stretch any finished block ran without a
   * flag check, since the marks were last zeroed. Only for an instance of a model loaded with
   * its check-interval trace build; call when the streams are idle.
   * @throws {Error} when the model was loaded without the trace build.
   */
  readCheckIntervalsUs(stream: Stream): number[] {
    if (this.model.markStride !== 16) {
      throw new Error(
        `Model "${this.model.name}" was loaded without its check-interval trace build`,
      );
    }
    const slots = new BigUint64Array(this.#readMarkBuffer(stream));
    return this.model.kernels.map((_, i) => Number(slots[2 * i + 1]!) / 1000);
  }

  #readMarkBuffer(stream: Stream): ArrayBuffer {
    const out = new Uint8Array(this.#marks.size);
    stream.copyFromDevice(out, this.#marks.address);
    stream.synchronizeSync();
    return out.buffer;
  }

  /** Enqueues a copy of `data` into input storage `tensor`. */
  upload(stream: Stream, tensor: TensorSpec, data: Uint8Array<ArrayBuffer>): void {
    stream.copyToDevice(this.address(tensor.storage), data);
  }

  /** Copies storage `name` to the host on `stream` (call when the task's stream is idle). */
  download(stream: Stream, name: string): Uint8Array<ArrayBuffer> {
    const index = this.#byName.get(name);
    if (index === undefined) {
      throw new Error(`Model "${this.model.name}" has no storage named "${name}"`);
    }
    const out = new Uint8Array(storageBytes(this.model.pkg.storage[index]!));
    stream.copyFromDevice(out, this.#addresses[index]!);
    stream.synchronizeSync();
    return out;
  }

  /** Releases the activations and stop marks. */
  close(): void {
    if (this.#arena.closed) return;
    this.#arena.close();
    this.#marks.close();
    this.#dkpArgs?.close();
    this.#onClose();
  }

  /** Same as {@linkcode ModelInstance.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
