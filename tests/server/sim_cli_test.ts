// `reef serve` and `reef run` on the simulated device, run as a user would: child processes of
// `deno run cli.ts`.
import assert from "node:assert/strict";
import { ReefClient, ReefClientError } from "../../src/server/client.ts";
import { reef } from "../support/cli.ts";
import { delay } from "./helpers.ts";
import { metricSum, MODEL_DIR, spawnServe, wide6Inputs } from "./sim_helpers.ts";

const SIM = ["--device", "sim", "--model-dir", MODEL_DIR];

/** The digest `reef run` printed for an output. */
function printedDigest(stdout: string, output: string): string {
  const match = stdout.match(
    new RegExp(`${output} \\S+ \\[[\\d,]+\\]: digest (0x[0-9a-f]{8}) \\(simulated device`),
  );
  assert.ok(match, `no digest of "${output}" in:\n${stdout}`);
  return match[1];
}

function assertLatencySummary(stdout: string, count: number): void {
  assert.match(stdout, new RegExp(`${count} ok, 0 failed`));
  assert.match(stdout, /latency ms: p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}mean [\d.]+/);
  assert.match(stdout, /simulated device: these latencies are not GPU results/);
}

Deno.test("reef run reaches reef serve over HTTP and gRPC, and runs in-process", async () => {
  const local = await reef(["run", "cnn3", "--local", ...SIM, "--count", "5", "--priority", "rt"]);
  assert.equal(local.code, 0, local.stderr);
  assert.match(local.stdout, /in-process scheduler \(reef\) on simulated H100-like GPU/);
  assertLatencySummary(local.stdout, 5);

  await using serve = await spawnServe([...SIM, "--model", "cnn3,wide6"]);
  const http = await reef([
    "run",
    "cnn3",
    "--url",
    serve.url,
    "--count",
    "6",
    "--concurrency",
    "2",
    "--priority",
    "rt",
  ]);
  assert.equal(http.code, 0, http.stderr);
  assertLatencySummary(http.stdout, 6);
  // The same zero input gives the same digest in-process and through the server.
  assert.equal(printedDigest(http.stdout, "scores"), printedDigest(local.stdout, "scores"));

  const grpc = await reef([
    "run",
    "wide6",
    "--grpc",
    serve.grpc,
    "--count",
    "4",
    "--rate",
    "200",
    "--client",
    "batch",
  ]);
  assert.equal(grpc.code, 0, grpc.stderr);
  assert.match(grpc.stdout, new RegExp(`4 inferences of "wide6" \\(be\\) to grpc://${serve.grpc}`));
  printedDigest(grpc.stdout, "y");

  const unknown = await reef(["run", "nope", "--url", serve.url]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /HTTP 404: Unknown model "nope"/);
  const timedOut = await reef(["run", "wide6", "--url", serve.url, "--timeout-ms", "1"]);
  assert.equal(timedOut.code, 1, timedOut.stdout);
  assert.match(timedOut.stdout, /10 inferences of "wide6" \(be\) to .*: 0 ok, 10 failed/);
  assert.match(timedOut.stderr, /inference 0 failed: .*timed out after 1 ms/);

  serve.child.kill("SIGTERM");
  assert.equal((await serve.child.status).code, 0);
  const log = await serve.stderr();
  assert.match(log, /device simulated H100-like GPU \(simulated\)/);
  assert.match(log, /reef serve: shutting down\n[^]*reef serve: stopped/);
});

Deno.test("reef serve and reef run report usage errors with exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["run", "cnn3"], /Choose exactly one of --url <url>, --grpc <host:port> and --local/],
    [["run", "cnn3", "--url", "http://x", "--device", "sim"], /--device applies to --local/],
    [["run", "cnn3", "--local", "--device", "sim"], /--device sim needs --model-dir/],
    [["serve", "--device", "sim"], /--device sim needs --model-dir/],
    [["serve", ...SIM, "--mode", "fast"], /Invalid flag "--mode": field "mode" must be one of/],
  ];
  for (const [args, message] of cases) {
    const result = await reef(args);
    assert.equal(result.code, 2, `reef ${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  const help = await reef(["serve", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--model-dir <dir>/);
  assert.match(help.stdout, /--device-queue-depth <n>/);
});

Deno.test("SIGTERM lets the inferences in flight finish and reef serve exits 0", async () => {
  await using serve = await spawnServe(SIM);
  using client = ReefClient.http(serve.url);
  await client.load("wide6");
  const requests = Array.from(
    { length: 40 },
    (_, i) => client.infer("wide6", wide6Inputs(i), { client: `batch${i % 4}` }),
  );
  const settled = Promise.allSettled(requests);
  let inFlight = 0;
  while (inFlight === 0) {
    const text = await (await fetch(`${serve.url}/metrics`)).text();
    inFlight = metricSum(text, "reef_inference_requests_in_flight");
    if (inFlight === 0) await delay(2);
  }
  serve.child.kill("SIGTERM");
  const outcomes = await settled;
  assert.equal((await serve.child.status).code, 0);
  let succeeded = 0;
  for (const outcome of outcomes) {
    if (outcome.status === "fulfilled") {
      succeeded++;
      continue;
    }
    // Requests that arrive after the signal are refused, or find the listener closed.
    const error = outcome.reason;
    assert.ok(error instanceof ReefClientError, String(error));
    assert.ok(error.status === 503 || error.status === 0, error.message);
    if (error.status === 503) assert.match(error.message, /the server is shutting down/);
  }
  assert.ok(succeeded >= inFlight, `${succeeded} succeeded, ${inFlight} were in flight`);
  assert.match(await serve.stderr(), /reef serve: shutting down\n[^]*reef serve: stopped/);
});
