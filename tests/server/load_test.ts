import assert from "node:assert/strict";
import type { Priority } from "../../src/server/backend.ts";
import { ReefClient } from "../../src/server/client.ts";
import { FakeBackend } from "./fake_backend.ts";
import { echoedId, echoedY, echoInputs, startTestServer } from "./helpers.ts";

const CLIENTS_PER_KIND = 8;
const REQUESTS_PER_CLIENT = 40;
const OUTSTANDING_PER_CLIENT = 3;
const TIME_LIMIT_MS = 60_000;

interface LoadClient {
  name: string;
  transport: "http" | "grpc";
  priority: Priority;
  client: ReefClient;
  firstId: number;
}

Deno.test("concurrent RT and BE clients over both transports lose and duplicate nothing", async () => {
  await using t = await startTestServer({}, new FakeBackend({ inferDelayMs: 4 }));
  const clients: LoadClient[] = [];
  for (const transport of ["http", "grpc"] as const) {
    for (const priority of ["rt", "be"] as const) {
      for (let i = 0; i < CLIENTS_PER_KIND; i++) {
        clients.push({
          name: `${transport}-${priority}-${i}`,
          transport,
          priority,
          client: transport === "http"
            ? ReefClient.http(t.server.httpUrl)
            : ReefClient.grpc(t.server.grpcAddress),
          firstId: clients.length * 1000,
        });
      }
    }
  }
  const expected = new Map<number, LoadClient>();
  for (const load of clients) {
    for (let i = 0; i < REQUESTS_PER_CLIENT; i++) expected.set(load.firstId + i, load);
  }

  const answered: number[] = [];
  const runClient = async (load: LoadClient) => {
    let next = 0;
    const lane = async () => {
      while (next < REQUESTS_PER_CLIENT) {
        const id = load.firstId + next++;
        // JSON on every third request, so both body formats share the load.
        const reply = await load.client.infer("echo", echoInputs(id), {
          priority: load.priority,
          client: load.name,
          binary: id % 3 !== 0,
        });
        assert.equal(echoedId(reply.outputs), id);
        assert.deepEqual(echoedY(reply.outputs), [0, 1, 2, 3].map((k) => 2 * (id + k)));
        answered.push(id);
      }
    };
    await Promise.all(Array.from({ length: OUTSTANDING_PER_CLIENT }, lane));
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.all(clients.map(runClient)),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Load test exceeded ${TIME_LIMIT_MS} ms`)),
          TIME_LIMIT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    for (const load of clients) load.client.close();
  }

  const total = clients.length * REQUESTS_PER_CLIENT;
  assert.equal(answered.length, total);
  assert.equal(new Set(answered).size, total, "a request was answered twice");
  const ran = t.backend.calls.map((call) => Number(call.id));
  assert.equal(ran.length, total, "the backend ran a request twice or missed one");
  assert.deepEqual(ran.toSorted((a, b) => a - b), [...expected.keys()].toSorted((a, b) => a - b));
  for (const call of t.backend.calls) {
    const load = expected.get(Number(call.id)) as LoadClient;
    assert.equal(call.priority, load.priority, `priority of request ${call.id}`);
    assert.equal(call.client, load.name, `client of request ${call.id}`);
  }

  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  for (const priority of ["rt", "be"]) {
    const line = new RegExp(
      `^reef_inference_requests_total\\{model="echo",priority="${priority}",outcome="success"\\} (\\d+)$`,
      "m",
    );
    assert.equal(Number(line.exec(metrics)?.[1]), total / 2, priority);
  }
  assert.match(metrics, /^reef_inference_requests_in_flight 0$/m);
});
