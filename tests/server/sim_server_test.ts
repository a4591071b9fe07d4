// The server over the real scheduler on the simulated device: every endpoint over HTTP and gRPC
// from the TypeScript client and the REST ones from curl, real-time and best-effort inferences,
// preemptions in the metrics, and the bad inputs of issue 6 against the real backend.
import assert from "node:assert/strict";
import type { Tensor } from "../../src/server/backend.ts";
import { ReefClient, ReefClientError } from "../../src/server/client.ts";
import { GrpcStatus } from "../../src/server/errors.ts";
import { SIM_PLATFORM } from "../../src/server/scheduler_backend.ts";
import { unpackElements } from "../../src/server/tensor.ts";
import { curl, delay, errorOf, fetchJson } from "./helpers.ts";
import {
  cnn3Inputs,
  digestOf,
  metricSum,
  MODEL_DIR,
  scrapeUntil,
  startSimServer,
  wide6Inputs,
} from "./sim_helpers.ts";

async function rejectsWith(promise: Promise<unknown>, status: number, message: RegExp) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof ReefClientError, `expected ReefClientError, got ${error}`);
    assert.equal(error.status, status, error.message);
    assert.match(error.message, message);
    return true;
  });
}

/** HTTP status or gRPC code, by the client's transport. */
function code(client: ReefClient, t: { http: ReefClient }, http: number, grpc: number): number {
  return client === t.http ? http : grpc;
}

/** Runs `reef`'s digest check: the simulator's digest of `inputs` through `model`, in-process. */
async function referenceDigest(
  t: Awaited<ReturnType<typeof startSimServer>>,
  model: string,
  inputs: Tensor[],
): Promise<number> {
  const result = await t.backend.infer({
    model,
    inputs: new Map(inputs.map((tensor) => [tensor.name, tensor])),
    priority: "rt",
    client: "reference",
  });
  return digestOf([...result.outputs.values()][0]);
}

Deno.test("every endpoint answers over HTTP and gRPC on the simulated device", async () => {
  await using t = await startSimServer();
  const cnn3Digest = await referenceDigest(t, "cnn3", cnn3Inputs(3));
  const wide6Digest = await referenceDigest(t, "wide6", wide6Inputs(3));
  for (const client of [t.http, t.grpc]) {
    const what = client === t.http ? "HTTP" : "gRPC";
    assert.equal(await client.live(), true, what);
    assert.equal(await client.ready(), true, what);
    const server = await client.serverMetadata();
    assert.equal(server.name, "reef");
    assert.ok(server.extensions.includes("model_repository"));
    assert.equal(await client.modelReady("cnn3"), true);
    assert.equal(await client.modelReady("cnn3", "1"), true);
    assert.deepEqual(await client.modelMetadata("cnn3"), {
      name: "cnn3",
      versions: ["1"],
      platform: SIM_PLATFORM,
      inputs: [{ name: "image", datatype: "FP16", shape: [1, 16, 16, 3] }],
      outputs: [{ name: "scores", datatype: "FP32", shape: [1, 10] }],
    });
    assert.equal((await client.modelMetadata("wide6", "1")).outputs[0].name, "y");
    assert.deepEqual(
      (await client.repositoryIndex()).map((entry) => entry.name),
      ["cnn3", "plain2", "wide6"],
    );
    assert.deepEqual(
      (await client.repositoryIndex(true)).map((entry) => entry.state),
      client === t.http ? ["READY", "READY"] : ["READY", "READY", "READY"],
    );

    if (client === t.http) {
      assert.equal(await client.modelReady("plain2"), false);
      await client.unload("plain2"); // not loaded: nothing to do
      await client.load("plain2");
    }
    assert.equal(await client.modelReady("plain2"), true);
    await rejectsWith(
      client.unload("plain2"),
      code(client, t, 400, GrpcStatus.INVALID_ARGUMENT),
      /Cannot unload model "plain2": the scheduler keeps a loaded model on the device/,
    );
    assert.equal(await client.modelReady("plain2"), true);

    const rt = await client.infer("cnn3", cnn3Inputs(3), { priority: "rt", id: "rt-1" });
    assert.equal(rt.id, "rt-1");
    assert.equal(digestOf(rt.outputs.get("scores")), cnn3Digest);
    assert.ok(rt.timings !== undefined && rt.timings.finishedUs > rt.timings.startedUs);
    const be = await client.infer("wide6", wide6Inputs(3), { priority: "be", client: "batch" });
    assert.equal(digestOf(be.outputs.get("y")), wide6Digest);
    assert.deepEqual(be.outputs.get("y")?.shape, [1, 64]);
    // JSON data (REST) and typed contents (gRPC) carry the same bytes.
    const typed = await client.infer("wide6", wide6Inputs(3), { binary: false });
    assert.deepEqual([...typed.outputs.get("y")!.data], [...be.outputs.get("y")!.data]);
  }
  const metadata = await fetchJson(`${t.url}/v2`);
  assert.deepEqual(metadata.body, {
    name: "reef",
    version: (metadata.body as { version: string }).version,
    extensions: ["binary_tensor_data", "model_repository", "reef_priority"],
    device: "simulated H100-like GPU",
    simulated: true,
  });
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  assert.equal(
    metricSum(metrics, "reef_inference_requests_total", { model: "cnn3", priority: "rt" }),
    2,
  );
  assert.equal(
    metricSum(metrics, "reef_inference_requests_total", { model: "wide6", outcome: "success" }),
    4,
  );
});

async function curlJson(args: string[]): Promise<{ status: number; json: unknown }> {
  const { status, body } = await curl(args);
  const text = new TextDecoder().decode(body);
  return { status, json: text === "" ? undefined : JSON.parse(text) };
}

Deno.test("curl reaches every REST endpoint on the simulated device", async () => {
  await using t = await startSimServer({ models: ["wide6"] });
  const u = t.url;
  assert.deepEqual(await curlJson([`${u}/v2/health/live`]), { status: 200, json: { live: true } });
  assert.deepEqual(await curlJson([`${u}/v2/health/ready`]), {
    status: 200,
    json: { ready: true },
  });
  const server = await curlJson([`${u}/v2`]);
  assert.equal((server.json as { simulated: boolean }).simulated, true);
  const meta = await curlJson([`${u}/v2/models/cnn3`]);
  assert.equal((meta.json as { platform: string }).platform, SIM_PLATFORM);
  assert.equal((await curlJson([`${u}/v2/models/cnn3/versions/1`])).status, 200);
  assert.deepEqual(await curlJson([`${u}/v2/models/cnn3/ready`]), {
    status: 503,
    json: { name: "cnn3", ready: false },
  });
  const index = await curlJson(["-X", "POST", `${u}/v2/repository/index`, "-d", "{}"]);
  assert.deepEqual(index.json, [
    { name: "cnn3", version: "1", state: "UNAVAILABLE" },
    { name: "plain2", version: "1", state: "UNAVAILABLE" },
    { name: "wide6", version: "1", state: "READY" },
  ]);
  assert.equal((await curl(["-X", "POST", `${u}/v2/repository/models/cnn3/load`])).status, 200);
  assert.deepEqual(await curlJson([`${u}/v2/models/cnn3/versions/1/ready`]), {
    status: 200,
    json: { name: "cnn3", ready: true },
  });
  const unload = await curlJson(["-X", "POST", `${u}/v2/repository/models/cnn3/unload`]);
  assert.equal(unload.status, 400);
  assert.match(errorOf(unload.json), /Cannot unload model "cnn3"/);

  const x = Array.from({ length: 64 }, (_, i) => 3 + i);
  const infer = await curlJson([
    "-H",
    "content-type: application/json",
    "-d",
    JSON.stringify({
      id: "curl-1",
      parameters: { priority: "rt" },
      inputs: [{ name: "x", datatype: "FP32", shape: [1, 64], data: x }],
    }),
    `${u}/v2/models/wide6/versions/1/infer`,
  ]);
  assert.equal(infer.status, 200);
  const reply = infer.json as {
    id: string;
    outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
    parameters: Record<string, number>;
  };
  assert.equal(reply.id, "curl-1");
  assert.deepEqual(reply.outputs.map((o) => [o.name, o.datatype, o.shape]), [
    ["y", "FP32", [1, 64]],
  ]);
  // The JSON floats are the digest's bytes read as FP32, as the binary reply carries them.
  const binary = await t.http.infer("wide6", wide6Inputs(3));
  const expected = unpackElements("y", binary.outputs.get("y")!);
  assert.deepEqual(reply.outputs[0].data, expected);
  assert.equal(reply.parameters.reef_preemptions, 0);

  const metrics = await curl([`${u}/metrics`]);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers, /content-type: text\/plain; version=0\.0\.4/i);
  assert.ok(
    metricSum(new TextDecoder().decode(metrics.body), "reef_inference_requests_total", {
      model: "wide6",
    }) >= 1,
  );
});

Deno.test("real-time requests preempt best-effort ones, and the metrics show it", async () => {
  await using t = await startSimServer();
  const be = Array.from(
    { length: 6 },
    (_, client) =>
      Array.from({ length: 3 }, (_, i) =>
        t.http.infer("wide6", wide6Inputs(client * 3 + i), {
          priority: "be",
          client: `batch${client}`,
        })),
  ).flat();
  let pending = be.length;
  for (const request of be) request.then(() => pending--, () => pending--);
  let rt = 0;
  while (pending > 0) {
    const reply = await t.grpc.infer("cnn3", cnn3Inputs(rt), { priority: "rt" });
    assert.equal(reply.timings?.preemptions, 0);
    rt++;
    await delay(1);
  }
  const replies = await Promise.all(be);
  assert.ok(replies.some((reply) => (reply.timings?.preemptions ?? 0) > 0));
  const metrics = await scrapeUntil(
    t.url,
    (text) => metricSum(text, "reef_preemption_latency_seconds_count") > 0,
    "preemptions in the metrics",
  );
  assert.ok(metricSum(metrics, "reef_preemptions_total") >= 1);
  assert.equal(
    metricSum(metrics, "reef_inference_requests_total", { priority: "be", outcome: "success" }),
    18,
  );
  assert.equal(
    metricSum(metrics, "reef_inference_requests_total", { priority: "rt", outcome: "success" }),
    rt,
  );
  assert.match(metrics, /reef_queue_depth\{queue="be:batch5"\} 0/);
});

Deno.test("bad inputs get the protocol's errors while other clients carry on", async () => {
  await using t = await startSimServer({ limits: { maxRequestBytes: 16 * 1024 } });
  // A well-behaved real-time client runs throughout.
  let stop = false;
  let good = 0;
  const bystander = (async () => {
    using client = ReefClient.grpc(t.server.grpcAddress);
    while (!stop) {
      const reply = await client.infer("cnn3", cnn3Inputs(good), { priority: "rt" });
      assert.equal(reply.outputs.get("scores")?.data.byteLength, 40);
      good++;
    }
  })();
  try {
    const image = cnn3Inputs()[0];
    const plain2Data: Tensor = {
      name: "data",
      datatype: "FP32",
      shape: [16],
      data: new Uint8Array(64),
    };
    const bad: [string, Tensor[], number, number, RegExp][] = [
      ["nope", cnn3Inputs(), 404, GrpcStatus.NOT_FOUND, /Unknown model "nope"/],
      ["plain2", [plain2Data], 503, GrpcStatus.UNAVAILABLE, /Model "plain2" is not loaded/],
      [
        "cnn3",
        [{ ...image, name: "picture" }],
        400,
        GrpcStatus.INVALID_ARGUMENT,
        /Model "cnn3" has no input "picture" \(inputs: "image"\)/,
      ],
      [
        "cnn3",
        [{ ...image, shape: [1, 3, 16, 16] }],
        400,
        GrpcStatus.INVALID_ARGUMENT,
        /shape \[1,3,16,16\] does not match \[1,16,16,3\]/,
      ],
      [
        "cnn3",
        [{ ...image, datatype: "FP32", data: new Uint8Array(3072) }],
        400,
        GrpcStatus.INVALID_ARGUMENT,
        /datatype must be "FP16", got "FP32"/,
      ],
      [
        "cnn3",
        [{ ...image, data: image.data.subarray(0, 1000) }],
        400,
        GrpcStatus.INVALID_ARGUMENT,
        /needs 1536 bytes, got 1000/,
      ],
      [
        "cnn3",
        [image, image],
        400,
        GrpcStatus.INVALID_ARGUMENT,
        /Input "image" of model "cnn3" is given more than once/,
      ],
    ];
    for (const client of [t.http, t.grpc]) {
      for (const [model, inputs, http, grpc, message] of bad) {
        await rejectsWith(client.infer(model, inputs), code(client, t, http, grpc), message);
      }
      // 20 000 bytes of input are over the 16 KiB limit.
      const big: Tensor = {
        name: "x",
        datatype: "FP32",
        shape: [1, 5000],
        data: new Uint8Array(2e4),
      };
      await assert.rejects(client.infer("wide6", [big]), (error) => {
        assert.ok(error instanceof ReefClientError);
        assert.equal(error.status, code(client, t, 413, GrpcStatus.RESOURCE_EXHAUSTED));
        return true;
      });
    }
    const malformed = await fetchJson(`${t.url}/v2/models/cnn3/infer`, {
      method: "POST",
      body: '{"inputs": [',
      headers: { "content-type": "application/json" },
    });
    assert.equal(malformed.status, 400);
    assert.match(errorOf(malformed.body), /^Malformed JSON in inference request/);
    await delay(50);
  } finally {
    stop = true;
    // Settles before the server stops, so that a failure above is the one reported.
    await bystander;
  }
  assert.ok(good > 0);
  assert.equal(await t.http.ready(), true);
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  assert.equal(
    metricSum(metrics, "reef_inference_requests_total", { priority: "rt", outcome: "success" }),
    good,
  );
  // 7 bad requests per transport, the oversized and the malformed REST ones: grpc-js refuses an
  // oversized message before the server sees it.
  assert.equal(metricSum(metrics, "reef_inference_requests_total", { outcome: "failure" }), 16);
});

/** A copy of the fixture models plus `slow`: 20 000 kernels, so that loading it takes a while. */
async function modelDirWithSlowModel(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "reef-sim-server-" });
  await Deno.mkdir(`${dir}/cnn3`);
  for (const file of ["cnn3.json", "cnn3.profile.json"]) {
    await Deno.copyFile(`${MODEL_DIR}/cnn3/${file}`, `${dir}/cnn3/${file}`);
  }
  const kernels = Array.from({ length: 20_000 }, (_, i) => ({
    name: `k${i}`,
    launch_params: [1, 1, 1, 32, 1, 1],
    args: [1, 0],
  }));
  const tensor = (name: string) => ({
    name,
    storage: name,
    shape: [1, 4],
    datatype: "FP32",
    layout: "ROW_MAJOR",
  });
  await Deno.mkdir(`${dir}/slow`);
  await Deno.writeTextFile(
    `${dir}/slow/slow.json`,
    JSON.stringify({
      storage: [{ name: "x", size: 4, stype: "float32" }, { name: "y", size: 4, stype: "float32" }],
      kernels,
      args: [0],
      shared_memory: Object.fromEntries(kernels.map((k) => [k.name, 0])),
      inputs: [tensor("x")],
      outputs: [tensor("y")],
    }),
  );
  await Deno.writeTextFile(
    `${dir}/slow/slow.profile.json`,
    JSON.stringify({
      model_latency: kernels.length,
      kernel_latency: Object.fromEntries(
        kernels.map((k) => [k.name, { total_latency: 1, latency: [1] }]),
      ),
    }),
  );
  return dir;
}

Deno.test("requests for a model still loading get 'unavailable', then run once it is ready", async () => {
  const dir = await modelDirWithSlowModel();
  try {
    await using t = await startSimServer({ models: ["cnn3"] }, dir);
    const x: Tensor = {
      name: "x",
      datatype: "FP32",
      shape: [1, 4],
      data: new Uint8Array(16),
    };
    const loading = t.http.load("slow");
    let state = "";
    while (state !== "LOADING") {
      state = (await t.http.repositoryIndex()).find((entry) => entry.name === "slow")!.state;
      assert.notEqual(state, "READY", "the load finished before it could be observed");
    }
    await rejectsWith(t.http.infer("slow", [x]), 503, /Model "slow" is loading; retry/);
    await rejectsWith(t.grpc.infer("slow", [x]), GrpcStatus.UNAVAILABLE, /is loading/);
    assert.equal(await t.grpc.modelReady("slow"), false);
    // Other models serve meanwhile.
    await t.grpc.infer("cnn3", cnn3Inputs(), { priority: "rt" });
    await loading;
    const reply = await t.http.infer("slow", [x], { priority: "rt" });
    assert.equal(reply.outputs.get("y")?.data.byteLength, 16);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
