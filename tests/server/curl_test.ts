import assert from "node:assert/strict";
import { curl, startTestServer } from "./helpers.ts";

async function curlJson(args: string[]) {
  const { status, body } = await curl(args);
  const text = new TextDecoder().decode(body);
  return { status, json: text === "" ? undefined : JSON.parse(text) };
}

Deno.test("curl reaches every REST endpoint", async () => {
  await using t = await startTestServer();
  const u = t.url;
  assert.deepEqual(await curlJson([`${u}/v2/health/live`]), { status: 200, json: { live: true } });
  assert.deepEqual(await curlJson([`${u}/v2/health/ready`]), {
    status: 200,
    json: { ready: true },
  });
  const server = await curlJson([`${u}/v2`]);
  assert.equal(server.status, 200);
  assert.ok(server.json.extensions.includes("binary_tensor_data"));
  assert.equal(server.json.device, "fake device");
  assert.equal((await curlJson([`${u}/v2/models/echo`])).json.platform, "fake");
  assert.equal((await curlJson([`${u}/v2/models/echo/versions/1`])).json.name, "echo");
  assert.deepEqual(await curlJson([`${u}/v2/models/echo/ready`]), {
    status: 200,
    json: { name: "echo", ready: true },
  });
  assert.deepEqual(await curlJson([`${u}/v2/models/cold/versions/1/ready`]), {
    status: 503,
    json: { name: "cold", ready: false },
  });

  const index = await curlJson(["-X", "POST", `${u}/v2/repository/index`, "-d", '{"ready":true}']);
  assert.equal(index.json.length, 4);
  assert.equal((await curl(["-X", "POST", `${u}/v2/repository/models/cold/load`])).status, 200);
  assert.deepEqual(await curlJson([`${u}/v2/models/cold/ready`]), {
    status: 200,
    json: { name: "cold", ready: true },
  });
  assert.equal((await curl(["-X", "POST", `${u}/v2/repository/models/cold/unload`])).status, 200);

  const infer = await curlJson([
    "-H",
    "content-type: application/json",
    "-d",
    JSON.stringify({
      inputs: [
        { name: "ID", datatype: "INT64", shape: [1], data: [4] },
        { name: "X", datatype: "FP32", shape: [1, 4], data: [[1, 2, 3, 4]] },
      ],
      parameters: { priority: "rt" },
    }),
    `${u}/v2/models/echo/versions/1/infer`,
  ]);
  assert.equal(infer.status, 200);
  assert.deepEqual(infer.json.outputs[1], {
    name: "Y",
    datatype: "FP32",
    shape: [1, 4],
    data: [2, 4, 6, 8],
  });
  assert.equal(t.backend.calls.at(-1)?.priority, "rt");

  const metrics = await curl([`${u}/metrics`]);
  assert.match(
    new TextDecoder().decode(metrics.body),
    /^reef_inference_requests_total\{model="echo",priority="rt",outcome="success"\} 1$/m,
  );
});

Deno.test("curl sends and receives binary tensor data", async () => {
  await using t = await startTestServer();
  const header = new TextEncoder().encode(JSON.stringify({
    inputs: [
      { name: "ID", datatype: "INT64", shape: [1], parameters: { binary_data_size: 8 } },
      { name: "X", datatype: "FP32", shape: [1, 4], parameters: { binary_data_size: 16 } },
    ],
    parameters: { binary_data_output: true },
  }));
  const id = new Uint8Array(new BigInt64Array([33n]).buffer);
  const x = new Uint8Array(new Float32Array([0.5, 1, 1.5, 2]).buffer);
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeFile(file, new Uint8Array([...header, ...id, ...x]));
    const response = await curl([
      "-H",
      `Inference-Header-Content-Length: ${header.length}`,
      "-H",
      "content-type: application/octet-stream",
      "--data-binary",
      `@${file}`,
      `${t.url}/v2/models/echo/infer`,
    ]);
    assert.equal(response.status, 200);
    const length = Number(/inference-header-content-length: (\d+)/i.exec(response.headers)?.[1]);
    const json = JSON.parse(new TextDecoder().decode(response.body.subarray(0, length)));
    assert.deepEqual(json.outputs.map((o: { parameters: unknown }) => o.parameters), [
      { binary_data_size: 8 },
      { binary_data_size: 16 },
    ]);
    const rest = response.body.slice(length);
    assert.equal(new BigInt64Array(rest.slice(0, 8).buffer)[0], 33n);
    assert.deepEqual([...new Float32Array(rest.slice(8).buffer)], [1, 2, 3, 4]);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("curl sees protocol errors as JSON with status codes", async () => {
  await using t = await startTestServer({ limits: { maxRequestBytes: 100 } });
  const u = t.url;
  const malformed = await curlJson(["-d", "{", `${u}/v2/models/echo/infer`]);
  assert.equal(malformed.status, 400);
  assert.match(malformed.json.error, /^Malformed JSON in inference request/);
  const unknown = await curlJson(["-d", "{}", `${u}/v2/models/nope/infer`]);
  assert.equal(unknown.status, 400);
  assert.match(unknown.json.error, /field "inputs" must be an array/);
  const missing = await curlJson([`${u}/v2/models/nope`]);
  assert.deepEqual(missing, { status: 404, json: { error: 'Unknown model "nope"' } });
  const large = await curlJson(["-d", "x".repeat(500), `${u}/v2/models/echo/infer`]);
  assert.equal(large.status, 413);
  const method = await curl(["-X", "DELETE", `${u}/v2/health/live`]);
  assert.equal(method.status, 405);
});
