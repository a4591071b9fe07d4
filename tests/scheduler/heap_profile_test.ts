import assert from "node:assert/strict";
import { join } from "node:path";
import { allocationSites, type HeapProfile } from "../../src/scheduler/heap_sampler.ts";

/**
 * Runs a fixture script in a child process with REEF_WORKER_HEAP_PROFILE set (the variable is
 * process-wide, and other test modules run schedulers too) and returns the one profile it wrote.
 */
async function profileOf(fixture: string): Promise<{ file: string; profile: HeapProfile }> {
  const dir = await Deno.makeTempDir();
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--no-check", new URL(fixture, import.meta.url).href],
      env: { REEF_WORKER_HEAP_PROFILE: join(dir, "worker") },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const files = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name);
    assert.equal(files.length, 1);
    const file = files[0]!;
    return { file, profile: JSON.parse(await Deno.readTextFile(join(dir, file))) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("REEF_WORKER_HEAP_PROFILE makes the worker write its allocation profile on close", async () => {
  const { file, profile } = await profileOf("./fixtures/profiled_scheduler.ts");
  assert.match(file, /^worker-\d+-\d+\.heapprofile$/);
  const sites = allocationSites(profile);
  assert.ok(sites.some((site) => site.site.includes("src/scheduler/worker.ts")));
  for (let i = 1; i < sites.length; i++) assert.ok(sites[i - 1]!.bytes >= sites[i]!.bytes);
});

// Garbage made on every pass of the loop means young-generation collections, which stall it. A
// closure in drainSubmissions once made a context on every call: over 20 MB in these 300 ms. (The
// loop's own site is not checked: the wall-clock simulator's calls, inlined there, allocate.)
Deno.test("the worker's drainSubmissions allocates nothing while the worker spins idle", async () => {
  const { profile } = await profileOf("./fixtures/idle_spinning_scheduler.ts");
  const draining = allocationSites(profile, new URL("../../", import.meta.url).href)
    .filter(({ site }) => site.startsWith("drainSubmissions src/scheduler/worker.ts"));
  const bytes = draining.reduce((sum, site) => sum + site.bytes, 0);
  assert.ok(
    bytes < 256 * 1024,
    `drainSubmissions allocated ${bytes} bytes: ${JSON.stringify(draining)}`,
  );
});
