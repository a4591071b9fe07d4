// The server benchmark on the simulated device: its numbers describe the simulation only, and its
// device label says so.
import assert from "node:assert/strict";
import { runServerBench } from "../../src/eval/server_bench.ts";
import { MODEL_DIR } from "./sim_helpers.ts";

Deno.test("the server benchmark measures in-process, HTTP and gRPC latency, labelled simulated", async () => {
  const result = await runServerBench({
    device: "sim",
    modelDir: MODEL_DIR,
    model: "cnn3",
    command: "reef bench server --device sim --model cnn3",
    count: 30,
    warmup: 5,
  });
  assert.deepEqual(Object.keys(result), [
    "device",
    "command",
    "model",
    "inprocess_ms_p50",
    "http_ms_p50",
    "grpc_ms_p50",
  ]);
  assert.equal(result.device, "simulated H100-like GPU (simulated: not a GPU result)");
  assert.equal(result.command, "reef bench server --device sim --model cnn3");
  assert.equal(result.model, "cnn3");
  for (const key of ["inprocess_ms_p50", "http_ms_p50", "grpc_ms_p50"] as const) {
    assert.ok(result[key] > 0 && result[key] < 1000, `${key} = ${result[key]}`);
  }
});

Deno.test("the server benchmark reports a failing request and rejects bad counts", async () => {
  await assert.rejects(
    runServerBench({
      device: "sim",
      modelDir: MODEL_DIR,
      model: "cnn3",
      command: "",
      mode: "rt-only",
      priority: "be",
      count: 3,
      warmup: 0,
    }),
    /Server benchmark of model "cnn3": in-process request 0 failed: Mode "rt-only" runs real-time requests only/,
  );
  await assert.rejects(
    runServerBench({ device: "sim", modelDir: MODEL_DIR, model: "cnn3", command: "", count: 2 }),
    /Option "count" must be an integer of at least "rounds" \(3\), got "2"/,
  );
});
