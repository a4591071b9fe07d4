/**
 * The SASS of a model's generated kernels, and where each BE kernel first waits for its preempt
 * flag (issue 8: the BE build within 2% of raw). It compiles the chosen kernels of a package's
 * generated source (`reef compile <model> --no-build` writes them) to an sm_90 cubin, disassembles
 * it, writes `<kernel>.<build>.sass` to the output folder and prints a line per kernel: its
 * instructions, barriers and votes, and for a flag loaded into a register (EntryCheck, FlagProbe)
 * how many of the body's global loads issue before the first instruction that reads it (a
 * kernel whose loads all come after that has each warp wait for the flag's round trip first).
 *
 * Disassembly: `cuobjdump -sass` of CUDA 12 or later where there is one (the GPU host), else
 * `$NVDISASM`, an older `nvdisasm` such as Debian 12's CUDA 11.8 one: it refuses nvcc 13's cubins
 * for two ELF header fields only, which a copy is patched to (src/kernels/NOTES.md, session 8).
 *
 * Usage: deno run -A evaluation/scripts/sass.ts <package dir> [--build raw|be] [--kernels k1,k2]
 *        [--define MACRO]... [--out dir]
 * @module
 */

import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { compile } from "../../src/kernels/nvcc.ts";

/** Each kernel's instructions, in address order, without the branch-to-self and NOPs at its end. */
export type Sass = Map<string, string[]>;

/** What the summary line says of one kernel. */
export interface KernelSummary {
  instructions: number;
  barriers: number;
  votes: number;
  /** Global loads of the body issued before the flag's register is first read; null: no flag. */
  loadsBeforeFlagUse: number | null;
  /** Global loads of the body from that instruction on. */
  loadsAfterFlagUse: number | null;
}

/**
 * The source's preamble (build macros and includes) with only the named kernels (all when
 * `names` is null): generated sources hold one `extern "C" __global__` definition per kernel.
 * @throws Error naming a kernel the source does not define.
 */
export function selectKernels(source: string, names: string[] | null): string {
  const start = source.search(/^extern "C" __global__/m);
  if (start < 0) throw new Error("the source defines no kernel");
  if (names === null) return source;
  // Each definition: the `extern "C" __global__ ...` line, then `<name>(<parameters>) {`.
  const kernels = source.slice(start).split(/(?=^extern "C" __global__)/m);
  const named = new Map(kernels.map((k) => [/^\w+(?=\()/.exec(k.split("\n")[1] ?? "")?.[0], k]));
  return source.slice(0, start) + names.map((name) => {
    const kernel = named.get(name);
    if (kernel === undefined) throw new Error(`the source defines no kernel "${name}"`);
    return kernel;
  }).join("");
}

/** Splits `cuobjdump -sass` or `nvdisasm` output into kernels. */
export function parseSass(text: string): Sass {
  const kernels: Sass = new Map();
  let current: string[] | null = null;
  for (const line of text.split("\n")) {
    const header = /^\s*(?:Function : (\w+)|\.text\.(\w+):)/.exec(line);
    if (header) {
      current = [];
      kernels.set(header[1] ?? header[2]!, current);
      continue;
    }
    const instruction = /^\s*\/\*[0-9a-f]{4,}\*\/\s+([^;]+);/.exec(line);
    if (current !== null && instruction) current.push(instruction[1]!.trim().replace(/\s+/g, " "));
  }
  for (const instructions of kernels.values()) {
    while (instructions.at(-1) === "NOP" || /^BRA /.test(instructions.at(-1) ?? "")) {
      instructions.pop();
    }
  }
  return kernels;
}

/** The summary of one kernel's instructions. */
export function summarize(instructions: string[]): KernelSummary {
  const count = (pattern: RegExp, list = instructions) =>
    list.filter((i) => pattern.test(i)).length;
  const summary: KernelSummary = {
    instructions: instructions.length,
    barriers: count(/\bBAR\./),
    votes: count(/\bVOTE\./),
    loadsBeforeFlagUse: null,
    loadsAfterFlagUse: null,
  };
  // The flag is the one relaxed (STRONG.GPU) load; the body's loads are the other LDGs.
  const flagAt = instructions.findIndex((i) => /\bLDG\.E\.STRONG\.GPU\b/.test(i));
  if (flagAt < 0) return summary;
  const register = /LDG\.E\.STRONG\.GPU (R\d+)/.exec(instructions[flagAt]!)![1]!;
  const named = new RegExp(`[ ,\\[-]${register}(?![\\d.])`);
  // The first instruction after the load that names the register among its sources: every operand
  // but the first (the destination), or all of a store's. (A second destination, such as LOP3's
  // register after its predicate, counts as a source: the count errs early, never late.)
  const useAt = instructions.findIndex((i, k) => {
    if (k <= flagAt) return false;
    const [opcode = "", ...rest] = i.replace(/^@!?U?P\w+ /, "").split(" ");
    const operands = rest.join(" ");
    const sources = /^(ST|RED|ATOM)/.test(opcode)
      ? operands
      : operands.slice(operands.indexOf(",") + 1);
    return named.test(` ${sources}`);
  });
  const bodyLoad = /\bLDG\.(?!E\.STRONG\.GPU)/;
  const split = useAt < 0 ? instructions.length : useAt;
  summary.loadsBeforeFlagUse = count(bodyLoad, instructions.slice(0, split));
  summary.loadsAfterFlagUse = count(bodyLoad, instructions.slice(split));
  return summary;
}

/** Disassembles a cubin with cuobjdump (CUDA 12+) or `$NVDISASM`, patching a copy for the latter. */
async function disassemble(cubin: string): Promise<string> {
  const run = async (program: string, args: string[]) => {
    try {
      const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
        .output();
      return out.success ? new TextDecoder().decode(out.stdout) : null;
    } catch {
      return null;
    }
  };
  const cuobjdump = await run(Deno.env.get("CUOBJDUMP") ?? "cuobjdump", ["-sass", cubin]);
  if (cuobjdump !== null) return cuobjdump;
  const nvdisasm = Deno.env.get("NVDISASM");
  if (nvdisasm === undefined) {
    throw new Error(
      "no disassembler: cuobjdump (CUDA 12 or later) is not on PATH, and NVDISASM is not set",
    );
  }
  // ELF ABI version 7 and sm_90's e_flags as CUDA 11.8 writes them.
  const bytes = await Deno.readFile(cubin);
  bytes[8] = 7;
  new DataView(bytes.buffer).setUint32(0x30, 0x005a055a, true);
  const patched = `${cubin}.cuda11`;
  await Deno.writeFile(patched, bytes);
  const text = await run(nvdisasm, ["-c", patched]);
  if (text === null) throw new Error(`${nvdisasm} cannot disassemble "${cubin}"`);
  return text;
}

/** The command: compiles, disassembles, writes the SASS files and prints the summaries. */
async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      build: { type: "string", default: "be" },
      kernels: { type: "string" },
      define: { type: "string", multiple: true, default: [] },
      out: { type: "string" },
    },
  });
  const [dir] = positionals;
  if (dir === undefined || (values.build !== "raw" && values.build !== "be")) {
    console.error(
      "Usage: sass.ts <package dir> [--build raw|be] [--kernels k1,k2] (see the notes)",
    );
    Deno.exit(2);
  }
  const model = basename(dir);
  const file = join(dir, values.build === "be" ? `${model}.be.cu` : `${model}.cu`);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(`no "${file}": write it with \`reef compile ${model} --no-build\``);
  }
  const selected = selectKernels(text, values.kernels?.split(",") ?? null);
  const out = values.out ?? await Deno.makeTempDir({ prefix: `sass-${model}-` });
  await Deno.mkdir(out, { recursive: true });
  const source = join(out, `${model}.${values.build}.cu`);
  await Deno.writeTextFile(source, selected);
  const cubin = source.replace(/\.cu$/, ".cubin");
  await compile({
    source,
    output: cubin,
    format: "cubin",
    flags: values.define.map((d) => `-D${d}`),
  });
  const sass = parseSass(await disassemble(cubin));
  for (const [name, instructions] of sass) {
    await Deno.writeTextFile(join(out, `${name}.${values.build}.sass`), instructions.join("\n"));
    const s = summarize(instructions);
    const flag = s.loadsBeforeFlagUse === null
      ? "no flag load into a register"
      : `body loads before the flag's first read ${s.loadsBeforeFlagUse}, after ${s.loadsAfterFlagUse}`;
    console.log(
      `${name}: ${s.instructions} instructions, ${s.barriers} barriers, ${s.votes} votes; ${flag}`,
    );
  }
  console.log(`SASS in ${out}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(`sass.ts: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
