/**
 * Build driver: compiles generated kernel sources with nvcc (sm_90 machine code plus compute_90
 * PTX) or hipcc (gfx906), several at once, and reports each kernel's registers and spills.
 *
 * On AMD every op kind has a portable template (the fp16 tensor-core conv/linear path is
 * NVIDIA-only, and the catalog replaces it with the SIMT path for target `hip`).
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EmittedModel } from "./emit.ts";

/** Where the kernel templates live (`-I` for every compile). */
export const KERNEL_INCLUDE_DIR: string = dirname(fileURLToPath(import.meta.url));

/** Output kinds: a cubin holds sm_90 code only; a fatbin adds compute_90 PTX (CUDA) or is a HIP code object. */
export type BinaryFormat = "cubin" | "fatbin";

/** One compilation. */
export interface CompileJob {
  /** Path of the `.cu` source. */
  source: string;
  /** Path of the binary to write. */
  output: string;
  /** Defaults to `cuda`. */
  compiler?: "cuda" | "hip";
  /** CUDA only; defaults to `fatbin`. */
  format?: BinaryFormat;
  /** Extra compiler flags, appended. */
  flags?: string[];
  /**
   * CUDA only: compile device code separately (`-rdc`) and link it with nvlink into an sm_90
   * cubin (`format` is ignored). For the DKP build, whose padding launches call bodies through
   * pointers: whole-program ptxas compiles every body again for every kernel that may call it
   * (ResNet-152: 90 s; DenseNet-201 had not finished after 10 minutes); nvlink sizes each kernel
   * for its indirect calls instead.
   */
  relocatable?: boolean;
}

/** Resource use of one compiled kernel, from the compiler's report. */
export interface KernelResources {
  name: string;
  registers: number;
  /** Bytes spilled (stores) to local memory (CUDA) or VGPRs spilled (HIP). */
  spillStores: number;
  /** Bytes reloaded from spills (CUDA; 0 on HIP). */
  spillLoads: number;
  /** Stack frame (CUDA) or scratch (HIP), bytes per thread. */
  stackBytes: number;
}

/** A finished compilation. */
export interface CompileResult {
  source: string;
  binary: string;
  /** Per-kernel report (entry functions and, for DKP builds, the device bodies). */
  resources: KernelResources[];
  /** The compiler's diagnostics (warnings and the resource report). */
  log: string;
  seconds: number;
}

/** nvcc's path: `$NVCC`, else `nvcc` on PATH. */
function nvccPath(): string {
  return Deno.env.get("NVCC") ?? "nvcc";
}

/** nvlink's path: `$NVLINK`, else `nvlink` on PATH. */
function nvlinkPath(): string {
  return Deno.env.get("NVLINK") ?? "nvlink";
}

/** hipcc's path: `$HIPCC`, else `hipcc` on PATH. */
function hipccPath(): string {
  return Deno.env.get("HIPCC") ?? "hipcc";
}

/** The command line of a job (program and arguments), for logs and for the compile itself. */
export function compileCommand(job: CompileJob): { program: string; args: string[] } {
  const common = ["-O3", "-std=c++17", "-I", KERNEL_INCLUDE_DIR];
  if ((job.compiler ?? "cuda") === "hip") {
    return {
      program: hipccPath(),
      args: [
        "--genco",
        "--offload-arch=gfx906",
        ...common,
        "-Rpass-analysis=kernel-resource-usage",
        ...(job.flags ?? []),
        job.source,
        "-o",
        job.output,
      ],
    };
  }
  const format = job.relocatable ? "cubin" : job.format ?? "fatbin";
  const gencode = ["-gencode=arch=compute_90,code=sm_90"];
  if (format === "fatbin") gencode.push("-gencode=arch=compute_90,code=compute_90");
  return {
    program: nvccPath(),
    args: [
      `-${format}`,
      ...(job.relocatable ? ["-rdc=true"] : []),
      ...gencode,
      ...common,
      "-lineinfo",
      "-Xptxas",
      "-v",
      ...(job.flags ?? []),
      job.source,
      "-o",
      job.relocatable ? relocatableObject(job) : job.output,
    ],
  };
}

/** Where a relocatable job's unlinked cubin goes, beside its output (nvlink reads `.cubin`). */
function relocatableObject(job: CompileJob): string {
  return job.output.replace(/(\.cubin)?$/, ".rdc.cubin");
}

async function run(
  program: string,
  args: string[],
  env: Record<string, string>,
  source: string,
): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(program, { args, env, stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    throw new Error(`Cannot compile "${source}": cannot run "${program}"`, { cause: error });
  }
  const log = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(
      `Cannot compile "${source}": ${program} exited with code ${output.code}:\n${log.trim()}`,
    );
  }
  return log;
}

/**
 * Compiles one source.
 * @throws Error with the compiler's message and the source's path when compilation fails or the
 * compiler cannot be started.
 */
export async function compile(job: CompileJob): Promise<CompileResult> {
  const { program, args } = compileCommand(job);
  const started = performance.now();
  const hip = job.compiler === "hip";
  let log = await run(program, args, hip ? { HIP_PLATFORM: "amd" } : {}, job.source);
  if (job.relocatable && !hip) {
    const object = relocatableObject(job);
    const link = ["-arch=sm_90", "-v", object, "-o", job.output];
    log += await run(nvlinkPath(), link, {}, job.source);
    await Deno.remove(object);
  }
  return {
    source: job.source,
    binary: job.output,
    resources: job.compiler === "hip" ? parseHipResources(log) : parsePtxasResources(log),
    log,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Compiles several sources, at most `concurrency` at a time (default: the core count).
 * Every job runs to its end; if any failed, throws an AggregateError of their errors.
 * @returns Results in job order.
 */
export async function compileAll(
  jobs: readonly CompileJob[],
  concurrency: number = navigator.hardwareConcurrency,
): Promise<CompileResult[]> {
  const results: CompileResult[] = new Array(jobs.length);
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      try {
        results[i] = await compile(jobs[i]);
      } catch (error) {
        errors.push(error);
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, jobs.length)) }, worker),
  );
  if (errors.length > 0) {
    const messages = errors.map((e) => e instanceof Error ? e.message : String(e));
    throw new AggregateError(
      errors,
      `${errors.length} of ${jobs.length} compilations failed:\n` +
        messages.join("\n"),
    );
  }
  return results;
}

/** The binaries of one model's three builds. */
export interface ModelBuild {
  raw: CompileResult;
  be: CompileResult;
  dkp: CompileResult;
}

/**
 * Writes an emitted model's three sources into `dir` and compiles them in parallel, next to
 * them: `<m>.fatbin`, `<m>.be.fatbin` (CUDA; or `.cubin`) and `<m>.trans.cubin` (linked, see
 * {@linkcode CompileJob.relocatable}), or `<m>.co`, `<m>.be.co`, `<m>.trans.co` (HIP).
 */
export async function buildModel(
  model: EmittedModel,
  dir: string,
  options: { format?: BinaryFormat; concurrency?: number; flags?: string[] } = {},
): Promise<ModelBuild> {
  await Deno.mkdir(dir, { recursive: true });
  const compiler = model.target;
  const extension = compiler === "hip" ? "co" : options.format ?? "fatbin";
  const files = [model.files.raw, model.files.be, model.files.dkp];
  const jobs: CompileJob[] = [];
  for (const file of files) {
    const source = join(dir, file.fileName);
    await Deno.writeTextFile(source, file.text);
    // The DKP build is compiled separately and linked (see CompileJob.relocatable): a cubin.
    const relocatable = compiler === "cuda" && file === model.files.dkp;
    jobs.push({
      source,
      output: source.replace(/\.cu$/, `.${relocatable ? "cubin" : extension}`),
      compiler,
      format: options.format,
      flags: options.flags,
      relocatable,
    });
  }
  const [raw, be, dkp] = await compileAll(jobs, options.concurrency);
  return { raw, be, dkp };
}

/**
 * Parses `ptxas -v` output: per function, the registers, the stack frame and the spill bytes.
 * Device functions (DKP bodies) report a frame but no register line of their own.
 */
export function parsePtxasResources(log: string): KernelResources[] {
  const byName = new Map<string, KernelResources>();
  const get = (name: string) => {
    let r = byName.get(name);
    if (r === undefined) {
      r = { name, registers: 0, spillStores: 0, spillLoads: 0, stackBytes: 0 };
      byName.set(name, r);
    }
    return r;
  };
  let current: KernelResources | null = null;
  for (const line of log.split("\n")) {
    const entry = line.match(/Compiling entry function '([^']+)'/) ??
      line.match(/Function properties for (\S+)/);
    if (entry) {
      current = get(entry[1]);
      continue;
    }
    if (current === null) continue;
    const frame = line.match(
      /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/,
    );
    if (frame) {
      current.stackBytes = Number(frame[1]);
      current.spillStores = Number(frame[2]);
      current.spillLoads = Number(frame[3]);
    }
    const registers = line.match(/Used (\d+) registers/);
    if (registers) current.registers = Number(registers[1]);
  }
  return [...byName.values()];
}

/** Parses clang's `-Rpass-analysis=kernel-resource-usage` remarks (HIP). */
export function parseHipResources(log: string): KernelResources[] {
  const out: KernelResources[] = [];
  let current: KernelResources | null = null;
  for (const line of log.split("\n")) {
    const name = line.match(/remark: Function Name: (\S+)/);
    if (name) {
      current = { name: name[1], registers: 0, spillStores: 0, spillLoads: 0, stackBytes: 0 };
      out.push(current);
      continue;
    }
    if (current === null) continue;
    const field = line.match(/remark:\s+(VGPRs|VGPRs Spill|ScratchSize \[bytes\/lane\]): (\d+)/);
    if (!field) continue;
    const value = Number(field[2]);
    if (field[1] === "VGPRs") current.registers = value;
    else if (field[1] === "VGPRs Spill") current.spillStores = value;
    else current.stackBytes = value;
  }
  return out;
}
