import assert from "node:assert/strict";
import { join } from "node:path";
import { allocationSites, type HeapProfile } from "../../src/scheduler/heap_sampler.ts";

const child = new URL("./fixtures/profiled_scheduler.ts", import.meta.url);

// In a child process: the variable is process-wide, and other test modules run schedulers too.
Deno.test("REEF_WORKER_HEAP_PROFILE makes the worker write its allocation profile on close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--no-check", child.href],
      env: { REEF_WORKER_HEAP_PROFILE: join(dir, "worker") },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const files = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^worker-\d+-\d+\.heapprofile$/);
    const profile: HeapProfile = JSON.parse(await Deno.readTextFile(join(dir, files[0]!)));
    const sites = allocationSites(profile);
    assert.ok(sites.some((site) => site.site.includes("src/scheduler/worker.ts")));
    for (let i = 1; i < sites.length; i++) assert.ok(sites[i - 1]!.bytes >= sites[i]!.bytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
