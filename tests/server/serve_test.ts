import assert from "node:assert/strict";
import { resolveServeConfig } from "../../src/server/config.ts";
import { serve } from "../../src/server/serve.ts";
import { FakeBackend } from "./fake_backend.ts";
import { delay, fetchJson } from "./helpers.ts";

/** A port that was free a moment ago (the test needs it before `serve` returns). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const quiet = { signals: false, log: () => {} };

Deno.test("serve answers health while it loads the configured models, then turns ready", async () => {
  const backend = new FakeBackend({ loadDelayMs: 300 });
  const port = freePort();
  const starting = serve(
    resolveServeConfig({ host: "127.0.0.1", port, grpcPort: 0, models: ["cold"] }),
    backend,
    quiet,
  );
  let live = await fetchJson(`http://127.0.0.1:${port}/v2/health/live`).catch(() => undefined);
  for (let i = 0; live === undefined && i < 100; i++) {
    await delay(5);
    live = await fetchJson(`http://127.0.0.1:${port}/v2/health/live`).catch(() => undefined);
  }
  assert.equal(live?.status, 200);
  const ready = await fetchJson(`http://127.0.0.1:${port}/v2/health/ready`);
  assert.deepEqual([ready.status, ready.body], [503, { ready: false }]);
  const server = await starting;
  assert.equal((await fetchJson(`${server.httpUrl}/v2/health/ready`)).status, 200);
  assert.equal((await fetchJson(`${server.httpUrl}/v2/models/cold/ready`)).status, 200);
  await server.shutdown();
  await server.finished;
  assert.equal(backend.closed, true);
});

Deno.test("serve fails to start, closing everything, when a configured model cannot load", async () => {
  const backend = new FakeBackend({ loadDelayMs: 1 });
  await assert.rejects(
    serve(
      resolveServeConfig({ port: 0, grpcPort: 0, models: ["echo", "corrupt"] }),
      backend,
      quiet,
    ),
    /^Error: Cannot start: Loading model "corrupt" failed: Cannot load model "corrupt": checksum mismatch$/,
  );
  assert.equal(backend.closed, true);
  await assert.rejects(
    serve(resolveServeConfig({ port: 0, grpcPort: 0, models: ["nope"] }), new FakeBackend(), quiet),
    /^Error: Cannot start: Unknown model "nope"$/,
  );
});

Deno.test("serve reports a port already in use and closes the backend", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = taken.addr as Deno.NetAddr;
  try {
    for (const ports of [{ port, grpcPort: 0 }, { port: 0, grpcPort: port }]) {
      const backend = new FakeBackend();
      const which = ports.port === port ? "HTTP" : "gRPC";
      await assert.rejects(
        serve(resolveServeConfig({ host: "127.0.0.1", ...ports }), backend, quiet),
        new RegExp(`^Error: Cannot start the ${which} server on 127\\.0\\.0\\.1:${port}: `),
      );
      assert.equal(backend.closed, true, which);
    }
  } finally {
    taken.close();
  }
});
