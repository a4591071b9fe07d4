import assert from "node:assert/strict";
import { ReefClient, ReefClientError } from "../../src/server/client.ts";
import { GrpcStatus } from "../../src/server/errors.ts";
import { echoedId, echoInputs, startTestServer, waitFor } from "./helpers.ts";

const FIXTURE = new URL("./fixtures/serve_fake.ts", import.meta.url).pathname;

const shutDownMessage = /Server shut down before the inference of model "echo" finished/;

function sendMixed(http: ReefClient, grpc: ReefClient) {
  return [1, 2, 3, 4].map((id) =>
    (id % 2 === 0 ? grpc : http).infer("echo", echoInputs(id)).then(
      (reply) => ({ id, ok: true as const, echoed: echoedId(reply.outputs) }),
      (error: ReefClientError) => ({ id, ok: false as const, error }),
    )
  );
}

function assertShutDownFailure(result: Awaited<ReturnType<typeof sendMixed>[number]>) {
  assert.ok(!result.ok, `request ${result.id} succeeded`);
  assert.ok(result.error instanceof ReefClientError, String(result.error));
  assert.equal(
    result.error.status,
    result.error.transport === "http" ? 503 : GrpcStatus.UNAVAILABLE,
    result.error.message,
  );
  assert.match(result.error.message, shutDownMessage);
}

Deno.test("shutdown fails inferences still running after the grace period", async () => {
  await using t = await startTestServer({ shutdownGraceMs: 150 });
  t.backend.pause();
  const pending = sendMixed(t.http, t.grpc);
  await waitFor(() => t.backend.running === 4, "four inferences in the backend");
  const started = performance.now();
  await t.server.shutdown();
  assert.ok(performance.now() - started >= 140, "shutdown did not wait for the grace period");
  for (const result of await Promise.all(pending)) assertShutDownFailure(result);
  assert.equal(t.backend.closed, true);
  await assert.rejects(t.http.live(), /failed/);
});

Deno.test("shutdown lets in-flight inferences finish within the grace period", async () => {
  await using t = await startTestServer({ shutdownGraceMs: 5000 });
  t.backend.pause();
  const pending = sendMixed(t.http, t.grpc);
  await waitFor(() => t.backend.running === 4, "four inferences in the backend");
  const stopping = t.server.shutdown();
  setTimeout(() => t.backend.resume(), 50);
  await stopping;
  for (const result of await Promise.all(pending)) {
    assert.deepEqual(result, { id: result.id, ok: true, echoed: result.id });
  }
  assert.equal(t.backend.closed, true);
});

/** Starts the fixture server in a subprocess; returns it with its addresses and its stderr. */
async function spawnServer(graceMs: number, onTerm: "resume" | "hold") {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "-A", FIXTURE, String(graceMs), onTerm],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await stdout.read();
    if (done) break;
    text += value;
  }
  const rest = (async () => {
    while (!(await stdout.read()).done) {
      // Drains the rest so the pipe never blocks the child.
    }
  })();
  const addresses = JSON.parse(text.split("\n")[0]) as { http: string; grpc: string };
  const finished = async () => {
    const [status, log] = await Promise.all([child.status, stderr, rest]);
    return { code: status.code, log };
  };
  return { child, addresses, finished };
}

async function waitForInflight(url: string, count: number) {
  const end = performance.now() + 10_000;
  while (performance.now() < end) {
    const metrics = await (await fetch(`${url}/metrics`)).text();
    if (new RegExp(`^reef_inference_requests_in_flight ${count}$`, "m").test(metrics)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out waiting for ${count} inferences in flight`);
}

Deno.test("SIGTERM drains in-flight requests and the process exits 0", async () => {
  const server = await spawnServer(5000, "resume");
  const http = ReefClient.http(server.addresses.http);
  const grpc = ReefClient.grpc(server.addresses.grpc);
  try {
    const pending = sendMixed(http, grpc);
    await waitForInflight(server.addresses.http, 4);
    server.child.kill("SIGTERM");
    for (const result of await Promise.all(pending)) {
      assert.deepEqual(result, { id: result.id, ok: true, echoed: result.id });
    }
  } finally {
    http.close();
    grpc.close();
  }
  const { code, log } = await server.finished();
  assert.equal(code, 0, log);
  assert.match(log, /reef serve: shutting down\n[^]*reef serve: stopped\nbackend closed: true\n$/);
});

Deno.test("a second signal fails in-flight requests at once and the process exits 0", async () => {
  const server = await spawnServer(60_000, "hold");
  const http = ReefClient.http(server.addresses.http);
  const grpc = ReefClient.grpc(server.addresses.grpc);
  try {
    const pending = sendMixed(http, grpc);
    await waitForInflight(server.addresses.http, 4);
    server.child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.child.kill("SIGINT");
    for (const result of await Promise.all(pending)) assertShutDownFailure(result);
  } finally {
    http.close();
    grpc.close();
  }
  const { code, log } = await server.finished();
  assert.equal(code, 0, log);
  assert.match(log, /second signal, failing in-flight requests now/);
  assert.match(log, /backend closed: true\n$/);
});

Deno.test("SIGTERM exits 0 even while a client stalls mid-upload", async () => {
  const server = await spawnServer(60_000, "hold");
  const { hostname, port } = new URL(server.addresses.http);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(
      new TextEncoder().encode(
        "POST /v2/models/echo/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n{",
      ),
    );
    await waitForInflight(server.addresses.http, 0);
    server.child.kill("SIGTERM");
    const { code, log } = await server.finished();
    assert.equal(code, 0, log);
    assert.match(log, /HTTP connections still open 1000 ms after the last response/);
    assert.match(log, /reef serve: stopped\n$/);
  } finally {
    conn.close();
  }
});
