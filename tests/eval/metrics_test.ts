import assert from "node:assert/strict";
import { join } from "node:path";
import { formatCsv } from "../../src/eval/csv.ts";
import {
  mean,
  percentile,
  type RequestRecord,
  summarize,
  summarizeRun,
  throughputPerS,
} from "../../src/eval/metrics.ts";
import {
  formatRequestsCsv,
  readRunFile,
  runFileBaseName,
  type RunResult,
  writeRunFiles,
} from "../../src/eval/results.ts";

Deno.test("linear percentiles interpolate between closest ranks (NumPy's default)", () => {
  const data = [15, 20, 35, 40, 50];
  assert.equal(percentile(data, 0), 15);
  assert.equal(percentile(data, 40), 29);
  assert.equal(percentile(data, 50), 35);
  assert.equal(percentile(data, 90), 46);
  assert.equal(percentile(data, 100), 50);
  // Order does not matter and the input is not modified.
  const shuffled = [50, 15, 40, 35, 20];
  assert.equal(percentile(shuffled, 40), 29);
  assert.deepEqual(shuffled, [50, 15, 40, 35, 20]);
  assert.equal(percentile([7], 95), 7);
});

Deno.test("nearest-rank percentiles pick a sample value", () => {
  const data = [15, 20, 35, 40, 50];
  assert.equal(percentile(data, 5, "nearest-rank"), 15);
  assert.equal(percentile(data, 30, "nearest-rank"), 20);
  assert.equal(percentile(data, 40, "nearest-rank"), 20);
  assert.equal(percentile(data, 50, "nearest-rank"), 35);
  assert.equal(percentile(data, 100, "nearest-rank"), 50);
  assert.equal(percentile(data, 0, "nearest-rank"), 15);
});

Deno.test("percentiles reject empty samples and out-of-range levels", () => {
  assert.throws(() => percentile([], 50), /empty sample/);
  assert.throws(() => percentile([1], 101), /Percentile "101"/);
  assert.throws(() => percentile([1], -1), /Percentile "-1"/);
});

Deno.test("summaries give count, mean, extremes and percentiles; empty ones are null", () => {
  const values = Array.from({ length: 101 }, (_, i) => i); // 0..100
  assert.deepEqual(summarize(values), {
    count: 101,
    mean: 50,
    min: 0,
    max: 100,
    p50: 50,
    p80: 80,
    p90: 90,
    p95: 95,
    p99: 99,
  });
  const empty = summarize([]);
  assert.equal(empty.count, 0);
  assert.equal(empty.mean, null);
  assert.equal(empty.p99, null);
  assert.ok(Number.isNaN(mean([])));
});

Deno.test("throughput is completed requests per second of wall time", () => {
  assert.equal(throughputPerS(300, 2e6), 150);
  assert.equal(throughputPerS(0, 1e6), 0);
  assert.throws(() => throughputPerS(1, 0), /Wall time "0"/);
});

function record(
  client: string,
  priority: "rt" | "be",
  latencyUs: number,
  preemptions = 0,
): RequestRecord {
  return {
    client,
    model: client === "rt" ? "vgg19" : "resnet152",
    priority,
    releaseUs: 0,
    submittedUs: 0,
    startedUs: 0,
    finishedUs: latencyUs,
    latencyUs,
    preemptions,
  };
}

const CLIENTS = [
  { name: "rt", model: "vgg19", priority: "rt" as const },
  { name: "be", model: "resnet152", priority: "be" as const },
  { name: "idle", model: "densenet201", priority: "be" as const },
];

Deno.test("run summaries split by client and priority and keep idle clients", () => {
  const records = [
    record("rt", "rt", 1000),
    record("rt", "rt", 3000),
    record("be", "be", 10_000, 2),
    record("be", "be", 20_000),
    record("be", "be", 30_000, 1),
  ];
  const summary = summarizeRun(CLIENTS, records, 2e6, {
    preemptLatenciesUs: [10, 30],
    quiesceLatenciesUs: [40],
    selectionTimesUs: [],
  });
  assert.equal(summary.completed, 5);
  assert.equal(summary.throughputPerS, 2.5);
  assert.deepEqual(summary.clients.map((c) => [c.client, c.completed, c.latencyUs.mean]), [
    ["rt", 2, 2000],
    ["be", 3, 20_000],
    ["idle", 0, null],
  ]);
  assert.equal(summary.clients[1].preemptions, 3);
  assert.equal(summary.clients[1].preemptedRequests, 2);
  assert.equal(summary.priorities.rt.throughputPerS, 1);
  assert.equal(summary.priorities.be.clients, 2);
  assert.equal(summary.priorities.be.throughputPerS, 1.5);
  assert.equal(summary.priorities.be.preemptions, 3);
  assert.equal(summary.preemptLatencyUs.mean, 20);
  assert.equal(summary.quiesceLatencyUs.max, 40);
  assert.equal(summary.selectionTimeUs.count, 0);
  assert.throws(
    () =>
      summarizeRun(CLIENTS, [record("ghost", "rt", 1)], 1e6, {
        preemptLatenciesUs: [],
        quiesceLatenciesUs: [],
        selectionTimesUs: [],
      }),
    /client "ghost", which is not in the run/,
  );
});

Deno.test("CSV cells are quoted when needed and numbers keep six significant digits", () => {
  assert.equal(
    formatCsv(["a", "b", "c"], [["x,y", 1 / 3, null], ['say "hi"', 33333.333333, Number.NaN]]),
    'a,b,c\n"x,y",0.333333,\n"say ""hi""",33333.3,\n',
  );
  assert.throws(
    () => formatCsv(["a", "b"], [["only one"]]),
    /row 0 has 1 cells but the header has 2/,
  );
});

function sampleRun(): RunResult {
  const requests = [record("rt", "rt", 1500, 0), record("be", "be", 12_000, 1)];
  requests[1] = {
    ...requests[1],
    client: "be",
    releaseUs: 10,
    submittedUs: 10,
    finishedUs: 12_010,
  };
  const stats = { preemptLatenciesUs: [12.5], quiesceLatenciesUs: [30], selectionTimesUs: [1, 2] };
  return {
    label: {
      workload: "A",
      mode: "reset-raw",
      device: "fake device",
      simulated: true,
      commandLine: "reef bench 12a --quick",
      seed: 1,
      durationS: 1,
      startedAt: "2026-11-25T00:00:00.000Z",
      sweep: { n_be: 4, model: "vgg19" },
    },
    clients: CLIENTS.slice(0, 2),
    startOffsetsUs: { rt: 0, be: 0 },
    standaloneLatencyUs: {},
    requests,
    stats,
    summary: summarizeRun(CLIENTS.slice(0, 2), requests, 1e6, stats),
  };
}

Deno.test("request CSV has one row per request with the documented columns", () => {
  const csv = formatRequestsCsv(sampleRun().requests);
  assert.equal(
    csv,
    "client,model,priority,submitted_us,started_us,finished_us,latency_us,preemptions,release_us\n" +
      "rt,vgg19,rt,0,0,1500,1500,0,0\n" +
      "be,resnet152,be,10,0,12010,12000,1,10\n",
  );
});

Deno.test("run files round-trip and their summary is recomputed from the requests", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const run = {
      ...sampleRun(),
      warmupPreemptLatenciesUs: [108.2, 9.1],
      loopStalls: [{ atUs: -200, durationUs: 1_400 }, { atUs: 5_260_000, durationUs: 5_700 }],
    };
    assert.equal(runFileBaseName(run.label), "A-reset-raw-n_be4-modelvgg19");
    const paths = await writeRunFiles(run, join(dir, "nested"));
    assert.ok(paths.csv.endsWith("A-reset-raw-n_be4-modelvgg19.csv"));
    const back = await readRunFile(paths.json);
    assert.deepEqual(back, run);
    // Files written before runs recorded their warm-up and loop stalls read without them.
    const older = await writeRunFiles(sampleRun(), join(dir, "older"));
    assert.equal((await readRunFile(older.json)).warmupPreemptLatenciesUs, undefined);
    assert.equal((await readRunFile(older.json)).loopStalls, undefined);
    // A summary edited by hand does not survive reading.
    const edited = JSON.parse(await Deno.readTextFile(paths.json));
    edited.summary.completed = 999;
    await Deno.writeTextFile(paths.json, JSON.stringify(edited));
    assert.equal((await readRunFile(paths.json)).summary.completed, 2);
    edited.loopStalls[1].durationUs = null;
    await Deno.writeTextFile(paths.json, JSON.stringify(edited));
    await assert.rejects(
      readRunFile(paths.json),
      /Cannot read run result ".*": field "loopStalls\.1\.durationUs"/,
    );
    edited.loopStalls[1].durationUs = 5_700;
    edited.requests[0].latencyUs = "slow";
    await Deno.writeTextFile(paths.json, JSON.stringify(edited));
    await assert.rejects(
      readRunFile(paths.json),
      /Cannot read run result ".*": field "requests\.0\.latencyUs"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
