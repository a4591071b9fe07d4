/**
 * Writes the GPU kernel check's bundle: `deno run -A tests/gpu/kernels/generate.ts <dir>`.
 * The directory receives `check_f16_<part>{,.be,.trans}.cu`, `check_f32_<part>{,.be,.trans}.cu`
 * and `manifest.txt`; `run.sh` compiles them and runs `kernel_check` on the GPU.
 * @module
 */

import { buildBundle, writeBundle } from "./bundle.ts";
import { GPU_CASES_PER_MODULE, gpuCases } from "./cases.ts";

if (import.meta.main) {
  const dir = Deno.args[0];
  if (dir === undefined) {
    console.error("usage: generate.ts <output directory>");
    Deno.exit(2);
  }
  const bundle = buildBundle(gpuCases(), { casesPerModule: GPU_CASES_PER_MODULE });
  await writeBundle(bundle, dir);
  const kernels = bundle.models.reduce((n, m) => n + m.functions.length, 0);
  console.log(
    `wrote ${gpuCases().length} cases, ${kernels} kernels in ${bundle.models.length} modules to ${dir}`,
  );
}
