// A bounded load test on loopback against the real scheduler on the simulated device: many
// concurrent real-time and best-effort clients over both transports; no request is lost,
// duplicated or answered with another request's outputs.
import assert from "node:assert/strict";
import type { Priority, Tensor } from "../../src/server/backend.ts";
import { ReefClient } from "../../src/server/client.ts";
import { cnn3Inputs, digestOf, metricSum, startSimServer, wide6Inputs } from "./sim_helpers.ts";

/** Distinct inputs per model; request n sends input n % INPUT_VARIANTS. */
const INPUT_VARIANTS = 8;
/** Per-request timeout: the bound on the test's time. */
const TIMEOUT_MS = 20_000;

interface Workload {
  priority: Priority;
  model: string;
  inputs: (seed: number) => Tensor[];
  output: string;
  clients: number;
  requests: number;
}

const WORKLOADS: Workload[] = [
  { priority: "be", model: "wide6", inputs: wide6Inputs, output: "y", clients: 24, requests: 5 },
  { priority: "rt", model: "cnn3", inputs: cnn3Inputs, output: "scores", clients: 8, requests: 10 },
];

Deno.test("many concurrent RT and BE clients over HTTP and gRPC lose and duplicate nothing", async () => {
  await using t = await startSimServer();
  const expected = new Map<string, number>();
  for (const w of WORKLOADS) {
    for (let seed = 0; seed < INPUT_VARIANTS; seed++) {
      const result = await t.backend.infer({
        model: w.model,
        inputs: new Map(w.inputs(seed).map((tensor) => [tensor.name, tensor])),
        priority: "rt",
        client: "reference",
      });
      expected.set(`${w.model}/${seed}`, digestOf(result.outputs.get(w.output)));
    }
  }

  const answered: string[] = [];
  const runClient = async (w: Workload, index: number) => {
    using client = index % 2 === 0
      ? ReefClient.http(t.server.httpUrl)
      : ReefClient.grpc(t.server.grpcAddress);
    for (let i = 0; i < w.requests; i++) {
      const id = `${w.priority}-${index}-${i}`;
      const seed = (index * w.requests + i) % INPUT_VARIANTS;
      const reply = await client.infer(w.model, w.inputs(seed), {
        id,
        priority: w.priority,
        ...(w.priority === "be" ? { client: `batch${index}` } : {}),
        timeoutMs: TIMEOUT_MS,
      });
      assert.equal(reply.id, id);
      assert.equal(
        digestOf(reply.outputs.get(w.output)),
        expected.get(`${w.model}/${seed}`),
        `request ${id} got another input's outputs`,
      );
      answered.push(id);
    }
  };
  await Promise.all(
    WORKLOADS.flatMap((w) => Array.from({ length: w.clients }, (_, index) => runClient(w, index))),
  );

  const total = WORKLOADS.reduce((sum, w) => sum + w.clients * w.requests, 0);
  assert.equal(answered.length, total);
  assert.equal(new Set(answered).size, total);
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  for (const w of WORKLOADS) {
    assert.equal(
      metricSum(metrics, "reef_inference_requests_total", {
        priority: w.priority,
        outcome: "success",
      }),
      w.clients * w.requests,
    );
  }
  assert.equal(metricSum(metrics, "reef_inference_requests_total", { outcome: "failure" }), 0);
  assert.equal(metricSum(metrics, "reef_inference_requests_in_flight"), 0);
});
