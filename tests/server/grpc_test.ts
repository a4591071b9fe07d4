import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Tensor } from "../../src/server/backend.ts";
import { ReefClientError } from "../../src/server/client.ts";
import { GrpcStatus } from "../../src/server/errors.ts";
import { PROTO_PATH } from "../../src/server/grpc_proto.ts";
import { packElements, unpackElements } from "../../src/server/tensor.ts";
import { echoedId, echoedY, echoInputs, startTestServer, waitFor } from "./helpers.ts";

async function rejectsGrpc(promise: Promise<unknown>, code: number, message: RegExp) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof ReefClientError, `expected ReefClientError, got ${error}`);
    assert.equal(error.transport, "grpc");
    assert.equal(error.status, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

type RawCallback = (error: grpc.ServiceError | null, response: Record<string, unknown>) => void;
type RawMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  callback: RawCallback,
) => void;

/**
 * A client built only from the proto file with proto-loader's default options (camelCase
 * fields, 64-bit integers as Long), the way a third-party v2 client would be.
 */
function rawClient(address: string) {
  const definition = protoLoader.loadSync(PROTO_PATH);
  const Client = grpc.makeClientConstructor(
    definition["inference.GRPCInferenceService"] as grpc.ServiceDefinition,
    "GRPCInferenceService",
  );
  const client = new Client(address, grpc.credentials.createInsecure());
  const call = (method: string, request: unknown, metadata = new grpc.Metadata()) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      (client as unknown as Record<string, RawMethod>)[method].call(
        client,
        request,
        metadata,
        (error, response) => (error === null ? resolve(response) : reject(error)),
      );
    });
  return { call, close: () => client.close() };
}

Deno.test("gRPC serves health, metadata, readiness and the model repository", async () => {
  await using t = await startTestServer();
  const { grpc: client } = t;
  assert.equal(await client.live(), true);
  assert.equal(await client.ready(), true);
  assert.deepEqual(await client.serverMetadata(), {
    name: "reef",
    version: "0.1.0",
    extensions: ["binary_tensor_data", "model_repository", "reef_priority"],
  });
  assert.deepEqual(await client.modelMetadata("echo"), await t.http.modelMetadata("echo"));
  await rejectsGrpc(
    client.modelMetadata("nope"),
    GrpcStatus.NOT_FOUND,
    /^gRPC ModelMetadata: NOT_FOUND: Unknown model "nope"$/,
  );
  await rejectsGrpc(client.modelMetadata("echo", "3"), GrpcStatus.NOT_FOUND, /no version "3"/);
  assert.equal(await client.modelReady("echo"), true);
  assert.equal(await client.modelReady("cold"), false);
  await rejectsGrpc(client.modelReady("nope"), GrpcStatus.NOT_FOUND, /Unknown model/);
  assert.deepEqual(await client.repositoryIndex(), await t.http.repositoryIndex());
  assert.deepEqual(
    (await client.repositoryIndex(true)).map((entry) => entry.name),
    ["echo", "types", "half", "broken"],
  );
  await client.load("cold");
  assert.equal(await client.modelReady("cold"), true);
  await client.unload("cold");
  assert.equal(await client.modelReady("cold"), false);
  await rejectsGrpc(client.load("nope"), GrpcStatus.NOT_FOUND, /Unknown model "nope"/);
  await rejectsGrpc(client.load("corrupt"), GrpcStatus.INTERNAL, /checksum mismatch/);
});

Deno.test("gRPC infers with raw and typed contents for every datatype", async () => {
  await using t = await startTestServer();
  const raw = await t.grpc.infer("echo", echoInputs(11, 2), { id: "r" });
  assert.equal(raw.id, "r");
  assert.equal(echoedId(raw.outputs), 11);
  assert.deepEqual(echoedY(raw.outputs), [22, 24, 26, 28, 30, 32, 34, 36]);
  assert.equal(raw.timings?.preemptions, 1);

  const typed: [string, Tensor["datatype"], number[], unknown[]][] = [
    ["B", "BOOL", [2], [false, true]],
    ["U8", "UINT8", [3], [1, 2, 255]],
    ["I16", "INT16", [2], [-7, 7]],
    ["I32", "INT32", [2], [-2147483648, 3]],
    ["I64", "INT64", [2], [-9223372036854775808n, 9007199254740993n]],
    ["U64", "UINT64", [1], [18446744073709551615n]],
    ["F32", "FP32", [2], [1.25, -3]],
    ["F64", "FP64", [2], [Math.PI, -0.5]],
    ["S", "BYTES", [2], ["a", "zürich"]],
  ];
  const inputs = typed.map(([name, datatype, shape, values]): Tensor => ({
    name,
    datatype,
    shape,
    data: packElements(name, datatype, shape, values),
  }));
  for (const binary of [true, false]) {
    const reply = await t.grpc.infer("types", inputs, { binary, outputs: ["S", "I64"] });
    assert.deepEqual([...reply.outputs.keys()], ["S", "I64"]);
    assert.deepEqual(
      unpackElements("I64", reply.outputs.get("I64") as Tensor),
      [-9223372036854775808n, 9007199254740993n],
    );
    assert.deepEqual(
      new TextDecoder().decode((reply.outputs.get("S") as Tensor).data.subarray(4, 5)),
      "a",
    );
  }
  const full = await t.grpc.infer("types", inputs, { binary: false });
  for (const input of inputs) assert.deepEqual(full.outputs.get(input.name), input, input.name);

  const half: Tensor[] = [
    { name: "H", datatype: "FP16", shape: [2], data: packElements("H", "FP16", [2], [0.5, 4]) },
    { name: "BH", datatype: "BF16", shape: [2], data: packElements("BH", "BF16", [2], [-1, 8]) },
  ];
  const reply = await t.grpc.infer("half", half);
  assert.deepEqual(unpackElements("H", reply.outputs.get("H") as Tensor), [0.5, 4]);
  await assert.rejects(
    t.grpc.infer("half", half, { binary: false }),
    /Tensor "H": datatype "FP16" travels only as raw contents/,
  );
});

Deno.test("gRPC works with a client built from the proto file alone", async () => {
  await using t = await startTestServer();
  const raw = rawClient(t.server.grpcAddress);
  try {
    const metadata = new grpc.Metadata();
    metadata.set("reef-client", "robot-arm");
    const response = await raw.call("ModelInfer", {
      modelName: "echo",
      id: "x1",
      parameters: { priority: { stringParam: "rt" } },
      inputs: [
        { name: "ID", datatype: "INT64", shape: [1], contents: { int64Contents: [21] } },
        { name: "X", datatype: "FP32", shape: [1, 4], contents: { fp32Contents: [1, 2, 3, 4] } },
      ],
    }, metadata);
    assert.equal(response.id, "x1");
    const outputs = response.outputs as { name: string; contents: Record<string, unknown[]> }[];
    assert.deepEqual(outputs.map((output) => output.name), ["ID", "Y"]);
    assert.deepEqual(outputs[1].contents.fp32Contents, [2, 4, 6, 8]);
    assert.equal(String(outputs[0].contents.int64Contents[0]), "21");
    const parameters = response.parameters as Record<string, Record<string, unknown>>;
    assert.equal(parameters.reef_preemptions.int64Param?.toString(), "0");
    assert.deepEqual(t.backend.calls.at(-1)?.client, "robot-arm");
    assert.deepEqual(t.backend.calls.at(-1)?.priority, "rt");

    const index = await raw.call("RepositoryIndex", { ready: true });
    assert.equal((index.models as unknown[]).length, 4);
    const load = await raw.call("RepositoryModelLoad", { modelName: "cold" });
    assert.deepEqual(load, { modelName: "cold", isLoaded: true });

    const failures: [string, Record<string, unknown>, number, RegExp][] = [
      [
        "raw count",
        {
          modelName: "echo",
          inputs: [{ name: "ID", datatype: "INT64", shape: [1] }, {
            name: "X",
            datatype: "FP32",
            shape: [1, 4],
          }],
          rawInputContents: [new Uint8Array(8)],
        },
        GrpcStatus.INVALID_ARGUMENT,
        /^Field "raw_input_contents" has 1 entries for 2 inputs$/,
      ],
      [
        "wrong contents field",
        {
          modelName: "echo",
          inputs: [
            { name: "ID", datatype: "INT64", shape: [1], contents: { intContents: [1] } },
          ],
        },
        GrpcStatus.INVALID_ARGUMENT,
        /^Input "ID": datatype "INT64" takes contents in "int64_contents", not "int_contents"$/,
      ],
      [
        "mixed raw and typed",
        {
          modelName: "cold",
          inputs: [{ name: "X", datatype: "FP32", shape: [1], contents: { fp32Contents: [1] } }],
          rawInputContents: [new Uint8Array(4)],
        },
        GrpcStatus.INVALID_ARGUMENT,
        /^Input "X": has typed contents although raw contents are used for every tensor$/,
      ],
    ];
    for (const [what, request, code, message] of failures) {
      await assert.rejects(raw.call("ModelInfer", request), (error: grpc.ServiceError) => {
        assert.equal(error.code, code, what);
        assert.match(error.details, message, what);
        return true;
      });
    }
  } finally {
    raw.close();
  }
});

Deno.test("gRPC passes priority and client queue to the backend", async () => {
  await using t = await startTestServer();
  await t.grpc.infer("echo", echoInputs(1), { priority: "rt", client: "camera-2" });
  assert.equal(t.backend.calls.at(-1)?.priority, "rt");
  assert.equal(t.backend.calls.at(-1)?.client, "camera-2");
  await t.grpc.infer("echo", echoInputs(2));
  assert.equal(t.backend.calls.at(-1)?.priority, "be");
  assert.match(t.backend.calls.at(-1)?.client ?? "", /^grpc:(ipv4:)?127\.0\.0\.1:\d+$/);
});

Deno.test("gRPC maps failures to status codes", async () => {
  await using t = await startTestServer({
    limits: { maxRequestBytes: 4096, maxQueuedPerClient: 1, requestTimeoutMs: 2000 },
  });
  const { grpc: client } = t;
  const x1: Tensor = { name: "X", datatype: "FP32", shape: [1], data: new Uint8Array(4) };
  await rejectsGrpc(
    client.infer("nope", [x1]),
    GrpcStatus.NOT_FOUND,
    /^gRPC ModelInfer: NOT_FOUND: Unknown model "nope"$/,
  );
  await rejectsGrpc(
    client.infer("echo", [echoInputs(1)[0]]),
    GrpcStatus.INVALID_ARGUMENT,
    /lacks input "X"/,
  );
  await rejectsGrpc(
    client.infer("echo", echoInputs(1), { priority: "urgent" as "rt" }),
    GrpcStatus.INVALID_ARGUMENT,
    /Parameter "priority" must be "rt" or "be", got "urgent"/,
  );
  await rejectsGrpc(client.infer("cold", [x1]), GrpcStatus.UNAVAILABLE, /is not loaded/);
  await rejectsGrpc(client.infer("broken", [x1]), GrpcStatus.INTERNAL, /Device fault/);
  await rejectsGrpc(
    client.infer("echo", echoInputs(1, 300)),
    GrpcStatus.RESOURCE_EXHAUSTED,
    /larger than max/,
  );

  t.backend.pause();
  const queued = client.infer("echo", echoInputs(1), { client: "q" });
  await waitFor(() => t.backend.running === 1, "one queued inference");
  await rejectsGrpc(
    client.infer("echo", echoInputs(2), { client: "q" }),
    GrpcStatus.RESOURCE_EXHAUSTED,
    /Client "q" already has 1 queued inference requests \(limit 1\)/,
  );
  await rejectsGrpc(
    client.infer("echo", echoInputs(3), { timeoutMs: 100 }),
    GrpcStatus.DEADLINE_EXCEEDED,
    /DEADLINE_EXCEEDED/,
  );
  assert.ok((t.backend.calls.at(-1)?.deadlineMs ?? 1000) <= 100, "client deadline reached backend");
  t.backend.resume();
  assert.equal(echoedId((await queued).outputs), 1);
});

Deno.test("gRPC fails an inference that misses the server's request deadline", async () => {
  await using t = await startTestServer({ limits: { requestTimeoutMs: 120 } });
  t.backend.pause();
  await rejectsGrpc(
    t.grpc.infer("echo", echoInputs(1)),
    GrpcStatus.DEADLINE_EXCEEDED,
    /Inference of model "echo" did not finish before the request deadline/,
  );
});
