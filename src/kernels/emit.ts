/**
 * Code emitter: turns a model's op list into the three builds of its kernels, from one body per
 * kernel (reef_kernel.cuh):
 *
 * - `<m>.cu` (raw): `extern "C" __global__ void k(args...)`.
 * - `<m>.be.cu` (BE): `k(const int* reef_flag, unsigned* reef_done, args...)`: the flag is checked
 *   at the body's check points (and at block entry where the body has none before its first
 *   write), finished blocks are counted.
 * - `<m>.trans.cu` (DKP): `__device__ bool k_dkp(const reef::Block&, const void* params)` behind
 *   an `extern "C" __device__ reef::Body k_body` pointer, plus two proxies:
 *   `reef_dkp_run(fn, params, gx, gy, gz)` runs any body over a virtual grid, and
 *   `reef_dkp_pad(rt, ...)` runs an RT kernel with BE blocks on the slots it leaves (padding).
 *
 * Kernels are named `k<index>_<tag>` in order of first use; ops whose instances have equal keys
 * share one kernel. Names are the same in the three builds.
 *
 * DKP calling convention: `params` points at the kernel's storage device addresses, 8 bytes each,
 * in `args` order (the params struct holds only pointers). `reef_dkp_run` is launched with the
 * kernel's own block size and at least its `shared_memory`; its grid may be smaller than the
 * virtual grid (each block loops over virtual blocks).
 * @module
 */

import {
  bodyCall,
  instantiate,
  type KernelSpec,
  needsEntryCheck,
  type Target,
  type Workspace,
} from "./catalog.ts";
import type { KernelOp, Precision } from "./ops.ts";

/** One kernel launch of the model, in launch order (the model package's `kernels` entries). */
export interface KernelLaunch {
  /** Kernel function name, the same in the three builds. */
  name: string;
  /** `[gridX, gridY, gridZ, blockX, blockY, blockZ]`. */
  launch_params: [number, number, number, number, number, number];
  /** Storage names bound to the kernel's parameters, in parameter order. */
  args: string[];
  /** Dynamic shared memory, bytes. */
  shared_memory: number;
  /** Index of the op (in the emitted op list) this launch belongs to. */
  op: number;
}

/** A generated kernel function (one per distinct key). */
export interface KernelFunction {
  name: string;
  spec: KernelSpec;
}

/** Everything the emitter produces for one model. */
export interface EmittedModel {
  model: string;
  precision: Precision;
  target: Target;
  /** Source text per file name: `<m>.cu`, `<m>.be.cu`, `<m>.trans.cu`. */
  files: { raw: SourceFile; be: SourceFile; dkp: SourceFile };
  /** Launches in order. */
  launches: KernelLaunch[];
  /** Distinct kernels in order of first use. */
  functions: KernelFunction[];
  /** fp32 scratch storages the launches use (split-K partials), to add to the package. */
  workspaces: Workspace[];
}

/** A generated source file. */
export interface SourceFile {
  fileName: string;
  text: string;
}

/** Options of {@linkcode emitModel}. */
export interface EmitOptions {
  precision: Precision;
  /** Defaults to `cuda`. */
  target?: Target;
}

/** Name of the generic DKP proxy kernel in every `.trans.cu`. */
export const DKP_PROXY = "reef_dkp_run";

/** Name of the padding proxy in every `.trans.cu`: an RT kernel and BE blocks in one launch. */
export const DKP_PAD = "reef_dkp_pad";

/**
 * Emits the raw, BE and DKP sources and the launch list of a model.
 *
 * @param model Model name: file names and error messages use it; must be a plain file name.
 * @param ops The lowered op list, in execution order.
 * @throws Error naming the model and op index when an op cannot be instantiated.
 */
export function emitModel(
  model: string,
  ops: readonly KernelOp[],
  options: EmitOptions,
): EmittedModel {
  if (!/^[A-Za-z0-9_.-]+$/.test(model)) {
    throw new Error(`Cannot emit model "${model}": the name must be a plain file name`);
  }
  const target = options.target ?? "cuda";
  const functions: KernelFunction[] = [];
  const byKey = new Map<string, KernelFunction>();
  const launches: KernelLaunch[] = [];
  const workspaces: Workspace[] = [];
  ops.forEach((op, index) => {
    let instance;
    try {
      instance = instantiate(op, options.precision, target);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot emit model "${model}": op ${index} (${op.kind}): ${why}`, {
        cause: error,
      });
    }
    if (instance.workspace) workspaces.push(instance.workspace);
    for (const spec of instance.kernels) {
      let fn = byKey.get(spec.key);
      if (fn === undefined) {
        fn = { name: `k${functions.length}_${spec.tag}`, spec };
        functions.push(fn);
        byKey.set(spec.key, fn);
      }
      launches.push({
        name: fn.name,
        launch_params: [...spec.grid, ...spec.block],
        args: spec.params.map((p) => p.storage),
        shared_memory: spec.sharedMemory,
        op: index,
      });
    }
  });
  const banner = (build: string) =>
    `// ${model}: ${build} build of ${functions.length} kernels, ${options.precision}, ` +
    `target ${target}.\n// Generated by src/kernels/emit.ts; do not edit.\n`;
  return {
    model,
    precision: options.precision,
    target,
    files: {
      raw: { fileName: `${model}.cu`, text: banner("raw") + rawSource(functions) },
      be: { fileName: `${model}.be.cu`, text: banner("BE") + beSource(functions) },
      dkp: { fileName: `${model}.trans.cu`, text: banner("DKP") + dkpSource(functions) },
    },
    launches,
    functions,
    workspaces,
  };
}

// Every kernel states one block per SM as its minimum: with the block size alone, ptxas (nvcc
// 13.0) capped some kernels at 40 or 64 registers and spilled; with it, it allocates what the
// body needs.
function launchBounds(spec: KernelSpec): string {
  return `__launch_bounds__(${spec.block[0]}, 1)`;
}

function paramList(spec: KernelSpec): string {
  return spec.params.map((p) => `${p.ctype} __restrict__ ${p.name}`).join(", ");
}

function rawSource(functions: KernelFunction[]): string {
  const parts = [`#define REEF_BUILD_RAW\n#include "templates.cuh"\n`];
  for (const { name, spec } of functions) {
    parts.push(
      `extern "C" __global__ void ${launchBounds(spec)}\n` +
        `${name}(${paramList(spec)}) {\n` +
        `  const reef::Block b = reef::launch_block();\n` +
        `  ${bodyCall(spec)};\n` +
        `}\n`,
    );
  }
  return parts.join("\n");
}

function beSource(functions: KernelFunction[]): string {
  const parts = [`#define REEF_BUILD_BE\n#include "templates.cuh"\n`];
  for (const { name, spec } of functions) {
    parts.push(
      `extern "C" __global__ void ${launchBounds(spec)}\n` +
        `${name}(const int* reef_flag, unsigned* reef_done, ${paramList(spec)}) {\n` +
        (needsEntryCheck(spec.path)
          ? `  reef::Block b;\n  if (!reef::enter_block(reef_flag, b)) return;\n`
          : `  const reef::Block b = reef::defer_entry(reef_flag);\n`) +
        `  if (${bodyCall(spec)}) reef::block_done(reef_done);\n` +
        `}\n`,
    );
  }
  return parts.join("\n");
}

function dkpSource(functions: KernelFunction[]): string {
  const parts = [`#define REEF_BUILD_DKP\n#include "templates.cuh"\n`];
  let maxThreads = 1;
  for (const { name, spec } of functions) {
    maxThreads = Math.max(maxThreads, spec.block[0]);
    const fields = spec.params.map((p) => `  ${p.ctype} ${p.name};\n`).join("");
    parts.push(
      `struct ${name}_params {\n${fields}};\n` +
        `__device__ bool ${name}_dkp(const reef::Block& b, const void* params) {\n` +
        `  const ${name}_params& p = *static_cast<const ${name}_params*>(params);\n` +
        `  return ${bodyCall(spec, "p.")};\n` +
        `}\n` +
        `extern "C" __device__ reef::Body ${name}_body = ${name}_dkp;\n`,
    );
  }
  parts.push(
    `// Runs a body over a virtual grid of gx * gy * gz blocks, x fastest; launched with the\n` +
      `// body's block size, any grid. The barrier lets the next virtual block reuse shared memory.\n` +
      `extern "C" __global__ void __launch_bounds__(${maxThreads})\n` +
      `${DKP_PROXY}(reef::Body fn, const void* params, unsigned gx, unsigned gy, unsigned gz) {\n` +
      `  const unsigned total = gx * gy * gz;\n` +
      `  for (unsigned i = blockIdx.x; i < total; i += gridDim.x) {\n` +
      `    fn(reef::virtual_block(i, gx, gy, gz), params);\n` +
      `    __syncthreads();\n` +
      `  }\n` +
      `}\n`,
  );
  parts.push(
    `// Dynamic kernel padding: one launch of rx * ry * rz + be_count blocks. The first blocks run\n` +
      `// the RT body over its whole grid; the rest run BE virtual blocks [be_first, be_first +\n` +
      `// be_count) of a BE body. The block scheduler dispatches in index order, so RT blocks are\n` +
      `// placed first and BE blocks take the slots left. Both bodies have the launch's block size.\n` +
      `extern "C" __global__ void __launch_bounds__(${maxThreads})\n` +
      `${DKP_PAD}(reef::Body rt, const void* rt_params, unsigned rx, unsigned ry, unsigned rz,\n` +
      `    reef::Body be, const void* be_params, unsigned bx, unsigned by, unsigned bz,\n` +
      `    unsigned be_first) {\n` +
      `  const unsigned rt_blocks = rx * ry * rz;\n` +
      `  if (blockIdx.x < rt_blocks) {\n` +
      `    rt(reef::virtual_block(blockIdx.x, rx, ry, rz), rt_params);\n` +
      `  } else {\n` +
      `    be(reef::virtual_block(be_first + (blockIdx.x - rt_blocks), bx, by, bz), be_params);\n` +
      `  }\n` +
      `}\n`,
  );
  return parts.join("\n");
}
