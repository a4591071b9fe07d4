import assert from "node:assert/strict";
import { runClient } from "../../src/server/run_client.ts";
import { FakeBackend } from "./fake_backend.ts";
import { startTestServer } from "./helpers.ts";

Deno.test("runClient measures every request over HTTP, gRPC and a local backend", async () => {
  await using t = await startTestServer();
  const targets = [
    { target: { url: t.server.httpUrl }, name: t.server.httpUrl },
    { target: { grpc: t.server.grpcAddress }, name: `grpc://${t.server.grpcAddress}` },
    { target: { backend: new FakeBackend() }, name: "local backend" },
  ];
  for (const { target, name } of targets) {
    const result = await runClient({
      target,
      model: "echo",
      priority: "rt",
      count: 12,
      concurrency: 3,
      client: "bench",
    });
    assert.equal(result.requests.length, 12);
    assert.deepEqual(result.requests.map((record) => record.index), [...Array(12).keys()]);
    for (const record of result.requests) {
      assert.ok(record.ok, record.error ?? "");
      assert.ok(record.latencyMs > 0);
      assert.ok(record.timings !== undefined && record.timings.preemptions === 0);
    }
    const { summary } = result;
    assert.equal(summary.target, name);
    assert.equal(summary.succeeded, 12);
    assert.equal(summary.failed, 0);
    assert.ok(summary.latencyMs !== undefined);
    const { min, p50, p90, p99, max, mean } = summary.latencyMs;
    assert.ok(min <= p50 && p50 <= p90 && p90 <= p99 && p99 <= max && min <= mean && mean <= max);
    assert.ok(summary.throughput > 0);
  }
  // The two remote runs went through the server with the default zero inputs and the queue name.
  const remote = t.backend.calls.filter((call) => call.client === "bench");
  assert.equal(remote.length, 24);
  assert.ok(remote.every((call) => call.priority === "rt" && call.id === 0n));
});

Deno.test("runClient paces open-loop requests at the given rate", async () => {
  await using t = await startTestServer();
  const result = await runClient({
    target: { url: t.server.httpUrl },
    model: "echo",
    count: 6,
    rate: 50,
    concurrency: 4,
  });
  const sent = result.requests.map((record) => record.sentMs);
  for (const [i, ms] of sent.entries()) {
    assert.ok(ms >= i * 20 - 1, `request ${i} sent at ${ms.toFixed(1)} ms, before its slot`);
  }
  assert.ok(result.summary.durationMs >= 100);
});

Deno.test("runClient records failures and rejects bad options", async () => {
  await using t = await startTestServer();
  const result = await runClient({ target: { url: t.server.httpUrl }, model: "broken", count: 2 });
  assert.equal(result.summary.failed, 2);
  assert.equal(result.summary.latencyMs, undefined);
  assert.match(result.requests[0].error ?? "", /Device fault in kernel 3/);
  await assert.rejects(
    runClient({ target: { url: t.server.httpUrl }, model: "echo", count: 0 }),
    /Option "count" must be a positive integer, got 0/,
  );
  await assert.rejects(
    runClient({ target: { backend: new FakeBackend() }, model: "nope", count: 1 }),
    /Unknown model "nope"/,
  );
});
