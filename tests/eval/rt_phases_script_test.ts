import assert from "node:assert/strict";
import { join } from "node:path";
import { type RequestRecord, summarizeRun } from "../../src/eval/metrics.ts";
import { type RunResult, writeRunFiles } from "../../src/eval/results.ts";

const script = new URL("../../evaluation/scripts/rt_phases.ts", import.meta.url);

function rtRequest(releaseUs: number, waitUs: number): RequestRecord {
  return {
    client: "rt",
    model: "vgg19",
    priority: "rt",
    releaseUs,
    submittedUs: releaseUs,
    startedUs: releaseUs + waitUs,
    finishedUs: releaseUs + waitUs + 600,
    latencyUs: waitUs + 600,
    preemptions: 0,
  };
}

Deno.test("rt_phases.ts splits RT requests by BE work at release, and counts host waits and stalls", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Waits of 0.1, 5.7, 3.6 and 1.4 ms; stalls cover all of the second, a third of the
    // third, and none of the last.
    // A BE request is on the device from 9 to 16 ms, when the second RT request is released.
    const requests = [
      rtRequest(0, 100),
      rtRequest(10_000, 5_700),
      rtRequest(20_000, 3_600),
      rtRequest(30_000, 1_400),
      {
        client: "be",
        model: "resnet152",
        priority: "be" as const,
        releaseUs: 8_900,
        submittedUs: 8_900,
        startedUs: 9_000,
        finishedUs: 16_000,
        latencyUs: 7_100,
        preemptions: 1,
      },
    ];
    const clients = [
      { name: "rt", model: "vgg19", priority: "rt" as const },
      { name: "be", model: "resnet152", priority: "be" as const },
    ];
    const stats = { preemptLatenciesUs: [], quiesceLatenciesUs: [], selectionTimesUs: [] };
    const run: RunResult = {
      label: {
        workload: "C",
        mode: "reef",
        device: "fake device",
        simulated: true,
        commandLine: "test",
        seed: 1,
        durationS: 0.04,
        startedAt: "2026-12-08T00:00:00.000Z",
        sweep: {},
      },
      clients,
      startOffsetsUs: { rt: 0, be: 0 },
      standaloneLatencyUs: {},
      requests,
      stats,
      loopStalls: [{ atUs: 9_900, durationUs: 5_900 }, { atUs: 20_000, durationUs: 1_200 }],
      summary: summarizeRun(clients, requests, 40_000, stats),
    };
    await writeRunFiles(run, join(dir, "runs"));
    const out = join(dir, "phases.json");
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", script.href, join(dir, "runs"), out, "C-"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const [row] = JSON.parse(await Deno.readTextFile(out)).rows;
    assert.equal(row.run, "C-reef");
    assert.equal(row.n, 4);
    assert.deepEqual(row.released_beside_be.latency, {
      p50_us: 6_300,
      p99_us: 6_300,
      max_us: 6_300,
    });
    assert.deepEqual([row.released_beside_be.n, row.released_alone.n], [1, 3]);
    assert.deepEqual(row.released_alone.queue.max_us, 3_600);
    assert.deepEqual(row.loop_stalls, { n: 2, max_us: 5_900 });
    assert.deepEqual(row.waits_over_1ms, { n: 3, mostly_in_stalls: 1 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
