import assert from "node:assert/strict";
import { join } from "node:path";
import { traceArrivals } from "../../src/eval/arrivals.ts";
import {
  BUILTIN_WORKLOADS,
  defineWorkload,
  loadBuiltinWorkload,
  loadWorkload,
  parseWorkloadSpec,
  type TraceArrival,
  WorkloadError,
} from "../../src/eval/workload.ts";

const FIXTURES = join(import.meta.dirname as string, "fixtures", "workloads");
const DISB_MODELS = ["vgg19", "resnet152", "densenet201", "inception_v3", "distilbert"];

function valid(): Record<string, unknown> {
  return {
    name: "w",
    duration_s: 10,
    clients: [
      { name: "rt", model: "vgg19", priority: "rt", arrival: { type: "uniform", rate_per_s: 10 } },
      { name: "be", model: "resnet152", priority: "be", arrival: { type: "closed_loop" } },
    ],
  };
}

function withClient(patch: Record<string, unknown>): Record<string, unknown> {
  const workload = valid();
  const clients = workload.clients as Record<string, unknown>[];
  clients[0] = { ...clients[0], ...patch };
  return workload;
}

function parseError(value: unknown): string {
  try {
    parseWorkloadSpec(value, "test.json");
  } catch (error) {
    assert.ok(error instanceof WorkloadError);
    return error.message;
  }
  assert.fail("the workload was accepted");
}

Deno.test("every built-in workload loads and uses only the DISB models", async () => {
  for (const name of BUILTIN_WORKLOADS) {
    const workload = await loadBuiltinWorkload(name);
    assert.equal(workload.name, name);
    assert.ok(workload.description !== undefined && workload.description.length > 0);
    for (const client of workload.clients) assert.ok(DISB_MODELS.includes(client.model));
  }
});

Deno.test("built-in workloads A-D match REEF's artifact", async () => {
  const a = await loadBuiltinWorkload("A");
  assert.deepEqual(a.clients.map((c) => [c.model, c.priority, c.arrival]), [
    ["vgg19", "rt", { type: "uniform", rate_per_s: 100 }],
    ["resnet152", "be", { type: "closed_loop", rate_per_s: 100 }],
  ]);
  const b = await loadBuiltinWorkload("B");
  assert.deepEqual(b.clients.map((c) => c.arrival), [
    { type: "uniform", rate_per_s: 220 },
    { type: "closed_loop", rate_per_s: 220 },
  ]);
  const c = await loadBuiltinWorkload("C");
  assert.deepEqual(c.clients.filter((x) => x.priority === "be").map((x) => x.model), [
    "densenet201",
    "densenet201",
    "vgg19",
    "distilbert",
    "resnet152",
  ]);
  const d = await loadBuiltinWorkload("D");
  assert.equal(d.stagger_rt_starts, true);
  const rt = d.clients.filter((x) => x.priority === "rt");
  assert.deepEqual(rt.map((x) => x.model), DISB_MODELS);
  assert.ok(rt.every((x) => x.arrival.type === "uniform" && x.arrival.rate_per_s === 20));
  assert.equal(d.clients.filter((x) => x.priority === "be").length, 5);
});

Deno.test("built-in E is Poisson and REAL repeats the artifact's 1-s trace patterns", async () => {
  const e = await loadBuiltinWorkload("E");
  assert.ok(
    e.clients.filter((x) => x.priority === "rt")
      .every((x) => x.arrival.type === "poisson" && x.arrival.rate_per_s === 20),
  );
  const real = await loadBuiltinWorkload("REAL");
  const rates = Object.fromEntries(
    real.clients.filter((x) => x.priority === "rt").map((x) => {
      const arrival = x.arrival as TraceArrival;
      assert.equal(arrival.repeat_every_ms, 1000);
      return [x.model, arrival.times_ms.length];
    }),
  );
  assert.deepEqual(rates, {
    vgg19: 17,
    densenet201: 21,
    resnet152: 19,
    inception_v3: 21,
    distilbert: 26,
  });
  // Over the artifact's 60 s the pattern gives 60 x rate arrivals.
  const vgg = real.clients.find((x) => x.model === "vgg19")?.arrival as TraceArrival;
  const times = traceArrivals(vgg.times_ms, { durationUs: 60e6 }, { repeatEveryMs: 1000 });
  assert.equal(times.length, 60 * 17);
  assert.equal(times[17], 1_064_000);
});

Deno.test("workload errors name the source and the field", () => {
  assert.equal(
    parseError(withClient({ arrival: { type: "uniform", rate_per_s: -1 } })),
    'Cannot load workload "test.json": field "clients[0].arrival.rate_per_s" must be a ' +
      "positive number (got -1)",
  );
  assert.match(
    parseError(withClient({ arrival: { type: "periodic", rate_per_s: 1 } })),
    /field "clients\[0\]\.arrival\.type" must be one of "uniform", "poisson", "closed_loop", "trace" \(got "periodic"\)/,
  );
  assert.match(
    parseError(withClient({ arrival: { type: "poisson", rate: 3 } })),
    /field "clients\[0\]\.arrival\.rate_per_s" is required; field "clients\[0\]\.arrival" has unknown key "rate"/,
  );
  assert.match(
    parseError(withClient({ priority: "high" })),
    /field "clients\[0\]\.priority" must be one of "rt", "be" \(got "high"\)/,
  );
  assert.match(
    parseError({ ...valid(), duration_s: "ten" }),
    /field "duration_s" must be a number/,
  );
  assert.match(parseError({ ...valid(), clients: [] }), /field "clients" must list at least one/);
  assert.match(parseError({ ...valid(), name: undefined }), /field "name" is required/);
});

Deno.test("workload checks span fields: unique names, trace forms, think time", () => {
  assert.match(
    parseError(withClient({ name: "be" })),
    /field "clients\[1\]\.name" must be unique \("be" is used twice\)/,
  );
  assert.match(
    parseError(withClient({ arrival: { type: "trace" } })),
    /field "clients\[0\]\.arrival" must have exactly one of "times_ms" and "file"/,
  );
  assert.match(
    parseError(withClient({ arrival: { type: "trace", times_ms: [1, 2], file: "t.txt" } })),
    /exactly one of/,
  );
  assert.match(
    parseError(withClient({ arrival: { type: "trace", times_ms: [5, 3] } })),
    /field "clients\[0\]\.arrival\.times_ms" must be in non-decreasing order \(item 1 is 3, after 5\)/,
  );
  assert.match(
    parseError(
      withClient({ arrival: { type: "trace", times_ms: [5, 1200], repeat_every_ms: 1000 } }),
    ),
    /must all be less than "repeat_every_ms" \(1000\)/,
  );
  assert.match(
    parseError(withClient({ arrival: { type: "closed_loop", think_time_ms: { min: 3, max: 1 } } })),
    /field "clients\[0\]\.arrival\.think_time_ms\.max" must have min <= max/,
  );
  assert.match(
    parseError(withClient({ arrival: { type: "closed_loop", concurrency: 1.5 } })),
    /field "clients\[0\]\.arrival\.concurrency" must be an integer \(got 1.5\)/,
  );
});

Deno.test("trace files are read relative to the workload file", async () => {
  const workload = await loadWorkload(join(FIXTURES, "trace_from_files.json"));
  const [text, json] = workload.clients.map((c) => c.arrival as TraceArrival);
  assert.deepEqual(text.times_ms, [10, 250.5, 900]);
  assert.equal(text.file, "times.txt");
  assert.equal(text.repeat_every_ms, 1000);
  assert.deepEqual(json.times_ms, [0, 100, 200]);
  assert.equal(json.time_scale, 2);
  assert.equal(workload.clients[1].start_offset_ms, 5);
});

Deno.test("trace and workload file problems name the files", async () => {
  await assert.rejects(
    loadWorkload(join(FIXTURES, "trace_unsorted.json")),
    /Cannot load workload ".*trace_unsorted\.json": trace file ".*unsorted\.json": times must be in non-decreasing order/,
  );
  const dir = await Deno.makeTempDir();
  try {
    const broken = join(dir, "broken.json");
    await Deno.writeTextFile(broken, "{ not json");
    await assert.rejects(
      loadWorkload(broken),
      /Cannot load workload ".*broken\.json": the file is not valid JSON/,
    );
    await assert.rejects(
      loadWorkload(join(dir, "absent.json")),
      /absent\.json": cannot read the file/,
    );
    const missingTrace = join(dir, "missing_trace.json");
    await Deno.writeTextFile(
      missingTrace,
      JSON.stringify(withClient({ arrival: { type: "trace", file: "nowhere.txt" } })),
    );
    await assert.rejects(
      loadWorkload(missingTrace),
      /field "clients\[0\]\.arrival\.file": cannot read ".*nowhere\.txt"/,
    );
    const badTrace = join(dir, "bad_trace.json");
    await Deno.writeTextFile(join(dir, "bad.txt"), "1\nfast\n");
    await Deno.writeTextFile(
      badTrace,
      JSON.stringify(withClient({ arrival: { type: "trace", file: "bad.txt" } })),
    );
    await assert.rejects(
      loadWorkload(badTrace),
      /trace file ".*bad\.txt" line 2 must be a non-negative number \(got "fast"\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in-memory workloads are validated and may not name trace files", async () => {
  const workload = defineWorkload(valid(), "generated");
  assert.equal(workload.clients.length, 2);
  assert.throws(
    () => defineWorkload(withClient({ arrival: { type: "trace", file: "t.txt" } }), "generated"),
    /Cannot load workload "generated": field "clients\[0\]\.arrival\.file" is not allowed here/,
  );
  await assert.rejects(loadBuiltinWorkload("F"), /no built-in workload has this name/);
});
