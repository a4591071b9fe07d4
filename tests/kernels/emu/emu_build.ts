/**
 * Builds the CPU emulator check for a kernel-check bundle: a copy of the kernel templates with
 * the emulated `mma_ptx.cuh` and an emulable `reef_kernel.cuh`, per module the three generated
 * entry points (`emu_run_raw`, `emu_run_dkp`, `emu_run_be`) that call the bundle's kernels by
 * name, and one g++ executable per module.
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type EmittedModel, PAD_SUFFIX } from "../../../src/kernels/emit.ts";
import { KERNEL_INCLUDE_DIR } from "../../../src/kernels/nvcc.ts";

/** This directory: the emulator's headers and sources. */
export const EMU_DIR: string = dirname(fileURLToPath(import.meta.url));

// Each build's translation unit gets its own namespace for the templates: the same inline
// functions and instantiations compile differently per build (the BE check points), and one
// program must not see two definitions of one name.
function rawEntry(model: EmittedModel): string {
  const lines = [
    `#define reef reef_raw`,
    `#include "${model.files.raw.fileName}"`,
    `#include <string>`,
    ``,
    `bool emu_run_raw(const std::string& name, void* const* a, dim3 grid, unsigned threads,`,
    `                 size_t shared) {`,
  ];
  for (const { name, spec } of model.functions) {
    const args = spec.params.map((p, i) => `static_cast<${p.ctype}>(a[${i}])`).join(", ");
    lines.push(
      `  if (name == "${name}") {`,
      `    emu::launch(grid, threads, shared, [&] { ${name}(${args}); });`,
      `    return true;`,
      `  }`,
    );
  }
  lines.push(`  return false;`, `}`);
  return lines.join("\n") + "\n";
}

function dkpEntry(model: EmittedModel): string {
  const lines = [
    `#define reef reef_dkp`,
    `#include "${model.files.dkp.fileName}"`,
    `#include <string>`,
    ``,
    `bool emu_run_dkp(const std::string& name, const void* params, dim3 grid, unsigned threads,`,
    `                 size_t shared, unsigned proxy_blocks) {`,
    `  reef::Body fn = nullptr;`,
  ];
  for (const { name } of model.functions) lines.push(`  if (name == "${name}") fn = ${name}_body;`);
  lines.push(
    `  if (fn == nullptr) return false;`,
    `  emu::launch(dim3{proxy_blocks, 1, 1}, threads, shared,`,
    `              [&] { reef_dkp_run(fn, params, grid.x, grid.y, grid.z); });`,
    `  return true;`,
    `}`,
    ``,
    `bool emu_run_pad(const std::string& name, void* const* a, const void* be_params, dim3 grid,`,
    `                 unsigned threads, size_t shared, unsigned first, unsigned count) {`,
    `  const unsigned blocks = grid.x * grid.y * grid.z + count;`,
  );
  for (const { name, spec } of model.functions) {
    const args = spec.params.map((p, i) => `static_cast<${p.ctype}>(a[${i}]), `).join("");
    lines.push(
      `  if (name == "${name}") {`,
      `    emu::launch(dim3{blocks, 1, 1}, threads, shared, [&] {`,
      `      ${name}${PAD_SUFFIX}(${args}${name}_body, be_params, grid.x, grid.y, grid.z, first);`,
      `    });`,
      `    return true;`,
      `  }`,
    );
  }
  lines.push(`  return false;`, `}`);
  return lines.join("\n") + "\n";
}

function beEntry(model: EmittedModel): string {
  // The BE kernels have the raw kernels' names: rename them in this translation unit.
  const lines = model.functions.map(({ name }) => `#define ${name} emu_be_${name}`);
  lines.push(`#define reef reef_be`);
  lines.push(
    `#include "${model.files.be.fileName}"`,
    `#include <string>`,
    ``,
    `bool emu_run_be(const std::string& name, const int* flag, unsigned* mark, void* const* a,`,
    `                dim3 grid, unsigned threads, size_t shared) {`,
  );
  for (const { name, spec } of model.functions) {
    const args = spec.params.map((p, i) => `, static_cast<${p.ctype}>(a[${i}])`).join("");
    lines.push(
      `  if (name == "${name}") {`,
      `    emu::launch(grid, threads, shared, [&] { ${name}(flag, mark${args}); });`,
      `    return true;`,
      `  }`,
    );
  }
  lines.push(`  return false;`, `}`);
  return lines.join("\n") + "\n";
}

/**
 * The contract header as the emulator compiles it: the BE flag load becomes a plain load (the
 * PTX cannot run on the CPU), the per-block stop slots a static array (one block runs at a
 * time) and dynamic shared memory the emulator's buffer. Everything else is the file as it is.
 * @throws Error when the header no longer has the expected lines (update the emulator then).
 */
export function emulatedContract(text: string): string {
  const replacements: [string, string][] = [
    [
      `asm volatile("ld.relaxed.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(flag));`,
      `v = __atomic_load_n(flag, __ATOMIC_RELAXED);`,
    ],
    [`__shared__ int stop[`, `static int stop[`],
    [
      `extern __shared__ __align__(16) unsigned char reef_smem[];\n  return reef_smem;`,
      `return emu::shared_base();`,
    ],
  ];
  for (const [from, to] of replacements) {
    if (!text.includes(from)) {
      throw new Error(`Cannot emulate reef_kernel.cuh: the line "${from}" is gone`);
    }
    text = text.replaceAll(from, to);
  }
  return text;
}

/**
 * Compiles one emulator executable per model of a bundle already written to `bundleDir`.
 * @returns Module name -> executable path.
 * @throws Error with the compiler's message when g++ fails.
 */
export async function buildEmulators(
  models: readonly EmittedModel[],
  bundleDir: string,
): Promise<Map<string, string>> {
  const kernels = join(bundleDir, "emu_kernels");
  await Deno.mkdir(kernels, { recursive: true });
  for await (const entry of Deno.readDir(KERNEL_INCLUDE_DIR)) {
    if (entry.isFile && entry.name.endsWith(".cuh")) {
      await Deno.copyFile(join(KERNEL_INCLUDE_DIR, entry.name), join(kernels, entry.name));
    }
  }
  await Deno.copyFile(join(EMU_DIR, "mma_ptx.cuh"), join(kernels, "mma_ptx.cuh"));
  const contract = join(kernels, "reef_kernel.cuh");
  await Deno.writeTextFile(contract, emulatedContract(await Deno.readTextFile(contract)));
  const builds = models.map(async (model) => {
    const raw = join(bundleDir, `emu_raw_${model.model}.cpp`);
    const dkp = join(bundleDir, `emu_dkp_${model.model}.cpp`);
    await Deno.writeTextFile(raw, rawEntry(model));
    await Deno.writeTextFile(dkp, dkpEntry(model));
    const be = join(bundleDir, `emu_be_${model.model}.cpp`);
    await Deno.writeTextFile(be, beEntry(model));
    const exe = join(bundleDir, `emu_${model.model}`);
    const args = [
      "-std=c++17",
      "-O1",
      "-U_FORTIFY_SOURCE",
      "-I",
      kernels,
      "-I",
      EMU_DIR,
      "-I",
      bundleDir,
      join(EMU_DIR, "emu_runtime.cpp"),
      join(EMU_DIR, "emu_check.cpp"),
      raw,
      dkp,
      be,
      "-o",
      exe,
    ];
    const out = await new Deno.Command("g++", { args, stdout: "piped", stderr: "piped" }).output();
    if (!out.success) {
      throw new Error(
        `Cannot build the emulator for "${model.model}": g++ failed:\n` +
          new TextDecoder().decode(out.stderr),
      );
    }
    return [model.model, exe] as const;
  });
  return new Map(await Promise.all(builds));
}
