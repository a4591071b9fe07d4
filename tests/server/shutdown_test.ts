import assert from "node:assert/strict";
import { ReefClient, ReefClientError } from "../../src/server/client.ts";
import { GrpcStatus } from "../../src/server/errors.ts";
import { echoedId, echoInputs, startTestServer, waitFor } from "./helpers.ts";

const FIXTURE = new URL("./fixtures/serve_fake.ts", import.meta.url).pathname;

const shutDownMessage = /Server shut down before the inference of model "echo" finished/;

const GRPC_CLIENT = new URL("./fixtures/grpc_infer.ts", import.meta.url).pathname;

/** One inference's outcome, the same shape whichever process sent it. */
type Outcome =
  | { id: number; ok: true; echoed: number }
  | {
    id: number;
    ok: false;
    clientError: boolean;
    transport: string | null;
    status: number | null;
    message: string;
  };

/**
 * Sends requests 1 and 3 over HTTP from here and 2 and 4 over gRPC from a child process (see
 * fixtures/grpc_infer.ts for why), and resolves to the four outcomes in id order.
 */
async function sendMixed(http: ReefClient, grpcAddress: string): Promise<Outcome[]> {
  const overHttp = [1, 3].map((id) =>
    http.infer("echo", echoInputs(id)).then(
      (reply): Outcome => ({ id, ok: true, echoed: echoedId(reply.outputs) }),
      (error: unknown): Outcome => ({
        id,
        ok: false,
        clientError: error instanceof ReefClientError,
        transport: error instanceof ReefClientError ? error.transport : null,
        status: error instanceof ReefClientError ? error.status : null,
        message: error instanceof Error ? error.message : String(error),
      }),
    )
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "-A", GRPC_CLIENT, grpcAddress, "2", "4"],
    stdout: "piped",
    stderr: "piped",
  }).output().then((output) => {
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `the gRPC client process failed: ${stderr}`);
    return new TextDecoder().decode(output.stdout).trim().split("\n").map((line) =>
      JSON.parse(line) as Outcome
    );
  });
  const outcomes = [...await Promise.all(overHttp), ...await child];
  return outcomes.sort((a, b) => a.id - b.id);
}

function assertShutDownFailure(result: Outcome) {
  assert.ok(!result.ok, `request ${result.id} succeeded`);
  assert.ok(result.clientError, result.message);
  assert.equal(
    result.status,
    result.transport === "http" ? 503 : GrpcStatus.UNAVAILABLE,
    result.message,
  );
  assert.match(result.message, shutDownMessage);
}

Deno.test("shutdown fails inferences still running after the grace period", async () => {
  await using t = await startTestServer({ shutdownGraceMs: 150 });
  t.backend.pause();
  const pending = sendMixed(t.http, t.server.grpcAddress);
  await waitFor(() => t.backend.running === 4, "four inferences in the backend");
  const started = performance.now();
  await t.server.shutdown();
  assert.ok(performance.now() - started >= 140, "shutdown did not wait for the grace period");
  for (const result of await pending) assertShutDownFailure(result);
  assert.equal(t.backend.closed, true);
  await assert.rejects(t.http.live(), /failed/);
});

Deno.test("shutdown lets in-flight inferences finish within the grace period", async () => {
  await using t = await startTestServer({ shutdownGraceMs: 5000 });
  t.backend.pause();
  const pending = sendMixed(t.http, t.server.grpcAddress);
  await waitFor(() => t.backend.running === 4, "four inferences in the backend");
  const stopping = t.server.shutdown();
  setTimeout(() => t.backend.resume(), 50);
  await stopping;
  for (const result of await pending) {
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
  try {
    const pending = sendMixed(http, server.addresses.grpc);
    await waitForInflight(server.addresses.http, 4);
    server.child.kill("SIGTERM");
    for (const result of await pending) {
      assert.deepEqual(result, { id: result.id, ok: true, echoed: result.id });
    }
  } finally {
    http.close();
  }
  const { code, log } = await server.finished();
  assert.equal(code, 0, log);
  assert.match(log, /reef serve: shutting down\n[^]*reef serve: stopped\nbackend closed: true\n$/);
});

Deno.test("a second signal fails in-flight requests at once and the process exits 0", async () => {
  const server = await spawnServer(60_000, "hold");
  const http = ReefClient.http(server.addresses.http);
  try {
    const pending = sendMixed(http, server.addresses.grpc);
    await waitForInflight(server.addresses.http, 4);
    server.child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 100));
    server.child.kill("SIGINT");
    for (const result of await pending) assertShutDownFailure(result);
  } finally {
    http.close();
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
