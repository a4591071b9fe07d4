import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle, writeBundle } from "../gpu/kernels/bundle.ts";
import { GPU_CASES_PER_MODULE, gpuCases } from "../gpu/kernels/cases.ts";
import { toolAvailable } from "../support/tools.ts";

const checker = fileURLToPath(new URL("../gpu/kernels/kernel_check.cu", import.meta.url));

Deno.test({
  name: "the GPU kernel check compiles and reads the manifest of every GPU case",
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
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
