/**
 * Shared by the GPU tests: detects a usable GPU (the tests are skipped, with the reason printed,
 * where there is none) and compiles test kernels with nvcc.
 * @module
 */

import { Device, LibraryLoadError, ReefGpuError } from "../../src/gpu/mod.ts";

function probe(): { available: true } | { available: false; reason: string } {
  try {
    if (Device.count() > 0) return { available: true };
    return { available: false, reason: "the driver sees no GPU" };
  } catch (error) {
    if (error instanceof ReefGpuError || error instanceof LibraryLoadError) {
      return { available: false, reason: error.message.split("\n")[0]! };
    }
    throw error;
  }
}

const status = probe();
if (!status.available) {
  console.log(`tests/gpu: skipped, no GPU here: ${status.reason}`);
}

/** Whether this machine has a usable GPU. */
export const gpuAvailable: boolean = status.available;

/** `Deno.test` that runs only where a GPU is present. */
export function gpuTest(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, ignore: !gpuAvailable, fn });
}

/** Compiles a CUDA source to a cubin for sm_90 (the H100) and returns its bytes. */
export async function compileCubin(
  source: URL,
  defines: string[] = [],
): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "reef-gpu-test-" });
  try {
    const out = `${dir}/out.cubin`;
    const result = await new Deno.Command("nvcc", {
      args: [
        "-cubin",
        "-gencode=arch=compute_90,code=sm_90",
        "-O3",
        ...defines.map((d) => `-D${d}`),
        "-I",
        new URL("../../src/kernels", import.meta.url).pathname,
        source.pathname,
        "-o",
        out,
      ],
    }).output();
    if (result.code !== 0) {
      throw new Error(
        `nvcc failed on ${source.pathname}:\n${new TextDecoder().decode(result.stderr)}`,
      );
    }
    return await Deno.readFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
