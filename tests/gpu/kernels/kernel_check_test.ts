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
      // Passed through as it comes (compiler reports, one line per case), so that a run cut off by
      // a time limit still shows how far it got.
      const child = new Deno.Command("bash", {
        args: [script, dir, "--reps", "20"],
        env: { REGENERATE: "1" },
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const decoder = new TextDecoder();
      let text = "";
      for await (const chunk of child.stdout) {
        for (let n = 0; n < chunk.length;) n += Deno.stdout.writeSync(chunk.subarray(n));
        text += decoder.decode(chunk, { stream: true });
      }
      assert.ok((await child.status).success, text);
      assert.match(text, /kernel_check: \d+ passed, 0 failed/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
