import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("./run.sh", import.meta.url));

async function hasGpu(): Promise<boolean> {
  try {
    return (await new Deno.Command("nvidia-smi", { args: ["-L"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "every generated kernel matches the float64 reference on the GPU, in all three builds",
  ignore: !(await hasGpu()),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "reef_kernel_check_" });
    try {
      const out = await new Deno.Command("bash", {
        args: [script, dir, "--reps", "20"],
        env: { REGENERATE: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      console.log(text);
      assert.ok(out.success, text + new TextDecoder().decode(out.stderr));
      assert.match(text, /kernel_check: \d+ passed, 0 failed/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
