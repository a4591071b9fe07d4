// `reef bench` end to end on the simulated device, run as a user runs it (a child process), with
// tiny windows: a workload, a figure, the plan, and the argument errors.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { reef } from "../support/cli.ts";

/** Hand-written packages named after the DISB models, with profiles: test data, not models. */
const MODELS = fileURLToPath(new URL("./fixtures/models/", import.meta.url));
const SIMULATED_CSV = "# SIMULATED device (simulated H100-like GPU): not GPU results";
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "reef-bench-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function readJson(path: string) {
  return JSON.parse(await Deno.readTextFile(path));
}

Deno.test("reef bench A runs every mode on the simulated device, labelled simulated", async () => {
  await withTempDir(async (out) => {
    const args = ["bench", "A", "--device", "sim", "--model-dir", MODELS, "--duration", "0.2"];
    const { code, stdout, stderr } = await reef([...args, "--out", out]);
    assert.equal(code, 0, stderr);
    const modes = ["rt-only", "seq", "stream", "stream-prio", "wait", "reset", "reef"];
    // The table on stdout: one line per mode, under a line that says the device is simulated.
    assert.match(stdout, /^DISB A on simulated H100-like GPU \(SIMULATED: not GPU results\)\n/m);
    for (const mode of modes) assert.match(stdout, new RegExp(`^${mode}\\s+\\d+\\.\\d{3}\\s`, "m"));
    // Progress went to stderr, one announcement per run.
    assert.match(stderr, /reef: run 1\/7: A-rt-only \(0\.2 s\)/);
    assert.match(stderr, /A reef: 100% \(0\.2\/0\.2 s, \d+ requests done\)/);
    for (const mode of modes) {
      const run = await readJson(join(out, "runs", `A-${mode}.json`));
      assert.equal(run.label.simulated, true);
      assert.equal(run.label.device, "simulated H100-like GPU");
      assert.equal(run.label.commandLine, `reef ${args.join(" ")} --out ${out}`);
      const csv = (await Deno.readTextFile(join(out, "runs", `A-${mode}.csv`))).split("\n");
      assert.equal(csv[0], SIMULATED_CSV);
      assert.match(csv[1]!, /^client,model,priority,submitted_us,/);
      assert.ok(csv.length > 20, `${mode}: ${csv.length} lines`);
    }
    const disb = await readJson(join(out, "disb-A.json"));
    assert.equal(disb.device, "simulated H100-like GPU");
    assert.equal(disb.simulated, true);
    assert.deepEqual(disb.rows.map((r: { mode: string }) => r.mode), modes);
    const reset = disb.rows.find((r: { mode: string }) => r.mode === "reset");
    assert.ok(reset.rt_mean_ms > 0 && reset.rt_p99_ms >= reset.rt_mean_ms);
    assert.ok(reset.throughput_rps > 0 && reset.preempt_p99_us > 0);
    assert.equal(disb.goals[0].workload, "A");
    const timings = await readJson(join(out, "timings-A.json"));
    assert.equal(timings.runs.length, 7);
    assert.ok(timings.runs.every((r: { wall_s: number }) => r.wall_s > 0));
  });
});

Deno.test("reef bench --resume reuses the runs an earlier session left in <out>/runs", async () => {
  await withTempDir(async (out) => {
    const args = ["bench", "A", "--device", "sim", "--model-dir", MODELS, "--duration", "0.1"];
    const first = await reef([...args, "--mode", "reset", "--out", out]);
    assert.equal(first.code, 0, first.stderr);
    const before = await readJson(join(out, "runs", "A-reset.json"));
    // The second session adds a mode: the earlier run is read back, the new one is made.
    const second = await reef([...args, "--mode", "reset,wait", "--resume", "--out", out]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /reef: reusing .*A-reset\.json/);
    assert.doesNotMatch(second.stderr, /reusing .*A-wait\.json/);
    const after = await readJson(join(out, "runs", "A-reset.json"));
    assert.equal(after.label.startedAt, before.label.startedAt);
    const disb = await readJson(join(out, "disb-A.json"));
    assert.deepEqual(disb.rows.map((r: { mode: string }) => r.mode), ["wait", "reset"]);
    const timings = await readJson(join(out, "timings-A.json"));
    assert.deepEqual(timings.runs.map((r: { reused?: boolean }) => r.reused ?? false), [
      false,
      true,
    ]);

    // Runs stored from a GPU host: a machine without a GPU rewrites the summaries from them.
    const gpuOut = join(out, "from-gpu");
    await Deno.mkdir(join(gpuOut, "runs"), { recursive: true });
    for (const mode of ["wait", "reset"]) {
      const run = await readJson(join(out, "runs", `A-${mode}.json`));
      run.label = { ...run.label, simulated: false, device: "NVIDIA H100 80GB HBM3" };
      await Deno.writeTextFile(join(gpuOut, "runs", `A-${mode}.json`), JSON.stringify(run));
    }
    const redraw = await reef([
      ...["bench", "A", "--model-dir", MODELS, "--duration", "0.1", "--mode", "reset,wait"],
      ...["--resume", "--out", gpuOut],
    ]);
    assert.equal(redraw.code, 0, redraw.stderr);
    const fromGpu = await readJson(join(gpuOut, "disb-A.json"));
    assert.equal(fromGpu.device, "NVIDIA H100 80GB HBM3");
    assert.equal(fromGpu.simulated, false);
    // A redraw makes no run, so it writes no timings (the GPU session's stay as they were).
    await assert.rejects(Deno.stat(join(gpuOut, "timings-A.json")), Deno.errors.NotFound);
  });
});

Deno.test("reef bench 14b, drawn from the models' profiles, needs no device", async () => {
  await withTempDir(async (out) => {
    const { code, stderr } = await reef(["bench", "14b", "--model-dir", MODELS, "--out", out]);
    assert.equal(code, 0, stderr);
    const csv = await Deno.readTextFile(join(out, "fig14", "fig14b.csv"));
    assert.match(csv.split("\n")[0]!, /^Model,/);
    assert.ok(csv.split("\n").length > 3, csv);
  });
});

Deno.test("reef bench 14a runs its preemption sweep on synthetic models and draws the figure", async () => {
  await withTempDir(async (out) => {
    const { code, stderr } = await reef([
      "bench",
      "14a",
      "--device",
      "sim",
      "--model-dir",
      MODELS,
      "--duration",
      "0.05",
      "--out",
      out,
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /reef: writing 2 synthetic models in /);
    const csv = (await Deno.readTextFile(join(out, "fig14", "fig14a.csv"))).split("\n");
    assert.equal(csv[0], SIMULATED_CSV);
    assert.equal(csv[1], "DQ capacity,Preemption p90 (us),BE execution (ms)");
    assert.deepEqual(csv.slice(2, -1).map((line) => Number(line.split(",")[0])), [
      1,
      2,
      4,
      8,
      16,
      32,
      64,
      128,
      256,
    ]);
    const pdf = await Deno.readFile(join(out, "fig14", "fig14a.pdf"));
    assert.equal(new TextDecoder().decode(pdf.subarray(0, 5)), "%PDF-");
    const png = await Deno.readFile(join(out, "fig14", "fig14a.png"));
    assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE);
    const report = await readJson(join(out, "preemption-14a.json"));
    assert.equal(report.simulated, true);
    assert.ok(report.rt_alone_p50_us > 0);
    const preempt = report.points.filter((p: { metric: string }) => p.metric === "preempt");
    assert.equal(preempt.length, 9);
    for (const point of preempt) {
      assert.equal(point.mode, "reset");
      assert.equal(point.sweep, "dq");
      assert.ok(point.n > 0 && point.p50_us > 0 && point.p99_us >= point.p50_us, `dq ${point.x}`);
      assert.ok(point.be_slowdown > 0.5, `dq ${point.x}: slowdown ${point.be_slowdown}`);
    }
  });
});

Deno.test("reef bench --plan lists the runs and the estimated duration without a device", async () => {
  const { code, stdout } = await reef(["bench", "all", "--quick", "--plan"]);
  assert.equal(code, 0);
  assert.match(stdout, /^reef bench all --quick --plan: \d+ runs; figures: 1a, 1b, 1c, 1d, 10a,/);
  assert.match(stdout, /summaries: disb\.json, preemption\.json, rt-latency\.json/);
  assert.match(stdout, /estimated on the GPU: \d+\.\d min/);
  assert.match(stdout, /\n\s+10\s+\d+\.\d {2}A-reef\n/);
});

Deno.test("reef bench argument errors exit 2 and name the problem", async () => {
  const cases: [string[], RegExp][] = [
    [["bench", "Z"], /Unknown benchmark "Z": expected a DISB workload/],
    [["bench", "A", "--mode", "reset,turbo"], /Unknown mode "turbo" in --mode \(known: rt-only,/],
    [["bench", "A", "--device", "tpu"], /Option --device must be "gpu" or "sim", got "tpu"/],
    [["bench", "A", "--duration", "0"], /Option --duration must be a valid number, got "0"/],
    [["bench", "A", "--device", "sim", "--doorbell", "watcher"], /--doorbell applies to the GPU/],
    [
      ["bench", "A", "--device", "sim", "--out", "evaluation/results/h100"],
      /Simulated results go to evaluation\/results\/sim\/, not "evaluation\/results\/h100"/,
    ],
    [["bench", "A", "B"], /Name one benchmark, got 2: A B/],
    [["bench", "A", "--frames", "3"], /Unknown option '--frames'/],
  ];
  const results = await Promise.all(cases.map(([args]) => reef(args)));
  results.forEach(({ code, stderr }, i) => {
    const [args, message] = cases[i]!;
    assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message, args.join(" "));
    assert.match(stderr, /Run `reef bench --help` for usage/);
  });
});
