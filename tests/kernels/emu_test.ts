import assert from "node:assert/strict";
import { buildBundle, writeBundle } from "../gpu/kernels/bundle.ts";
import { buildEmulators } from "./emu/emu_build.ts";
import { smallCases } from "./small_cases.ts";
import { toolAvailable } from "../support/tools.ts";

Deno.test({
  name: "every template, run on the CPU emulator: reference, DKP, BE flag, abort and restore",
  ignore: !(await toolAvailable("g++")),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "reef_emu_" });
    try {
      const cases = smallCases();
      const bundle = buildBundle(cases);
      await writeBundle(bundle, dir);
      const emulators = await buildEmulators(bundle.models, dir);
      // Fresh random inputs every run; the seed is in the failure message.
      const seed = String(Math.floor(Math.random() * 2 ** 40));
      let passed = 0;
      for (const [module, exe] of emulators) {
        const out = await new Deno.Command(exe, {
          args: [`${dir}/manifest.txt`, module, seed],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assert.ok(out.success, `emulator ${module}, seed ${seed}:\n${text}`);
        passed += text.split("\n").filter((l) => l.startsWith("PASS ")).length;
      }
      assert.equal(passed, cases.length);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
