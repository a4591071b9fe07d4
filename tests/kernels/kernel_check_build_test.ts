import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle, writeBundle } from "../gpu/kernels/bundle.ts";
import { GPU_CASES_PER_MODULE, gpuCases } from "../gpu/kernels/cases.ts";
import { toolAvailable } from "../support/tools.ts";

const checker = fileURLToPath(new URL("../gpu/kernels/kernel_check.cu", import.meta.url));
/** Longest a case's inputs and reference may take on the CPU (the largest take 3-6 s here). */
const REFERENCE_SECONDS_MAX = 30;
/** Longest all the GPU cases' references may take (23 s here). */
const REFERENCES_SECONDS_MAX = 300;

Deno.test({
  name: "the GPU kernel check compiles, reads every GPU case and computes its reference in seconds",
  ignore: !(await toolAvailable("nvcc")),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "reef_check_" });
    try {
      const cases = gpuCases();
      const bundle = buildBundle(cases, { casesPerModule: GPU_CASES_PER_MODULE });
      await writeBundle(bundle, dir);
      const exe = join(dir, "kernel_check");
      const build = await new Deno.Command("nvcc", {
        args: ["-O2", "-std=c++17", "-o", exe, checker],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(build.success, new TextDecoder().decode(build.stderr));
      const list = await new Deno.Command(exe, {
        args: [join(dir, "manifest.txt"), "--list"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(list.stdout);
      assert.ok(list.success, new TextDecoder().decode(list.stderr));
      assert.ok(
        text.includes(`${cases.length} cases in ${bundle.models.length} modules`),
        text.slice(-200),
      );
      for (const c of cases) {
        assert.ok(text.includes(`\n${c.name} `) || text.startsWith(`${c.name} `));
      }

      // The float64 references on the CPU, as the GPU run computes them: seconds, not minutes.
      // Session 9's took minutes for each large convolution, and the GPU check ran out of time.
      const refs = await new Deno.Command(exe, {
        args: [join(dir, "manifest.txt"), "--reference", "--seed", "1"],
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(REFERENCES_SECONDS_MAX * 1000),
      }).output();
      const refText = new TextDecoder().decode(refs.stdout);
      assert.ok(
        refs.success,
        `the references did not all end well within ${REFERENCES_SECONDS_MAX} s:\n` +
          refText.slice(-500) + new TextDecoder().decode(refs.stderr),
      );
      const lines = [...refText.matchAll(/^reference (\S+) +\d+ values in ([\d.]+) s$/gm)];
      assert.deepEqual(lines.map((m) => m[1]).sort(), cases.map((c) => c.name).sort());
      const slow = lines.filter((m) => Number(m[2]) > REFERENCE_SECONDS_MAX).map((m) => m[0]);
      assert.deepEqual(slow, [], `references over ${REFERENCE_SECONDS_MAX} s`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
