import assert from "node:assert/strict";
import { ReefClientError } from "../../src/server/client.ts";
import { packElements, unpackElements } from "../../src/server/tensor.ts";
import type { Tensor } from "../../src/server/backend.ts";
import { FakeBackend } from "./fake_backend.ts";
import {
  echoedId,
  echoedY,
  echoInputs,
  errorOf,
  fetchJson,
  startTestServer,
  waitFor,
} from "./helpers.ts";

const ENCODER = new TextEncoder();

async function rejectsHttp(promise: Promise<unknown>, status: number, message: RegExp) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof ReefClientError, `expected ReefClientError, got ${error}`);
    assert.equal(error.transport, "http");
    assert.equal(error.status, status, error.message);
    assert.match(error.message, message);
    return true;
  });
}

function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetchJson(url, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });
}

/** A JSON header followed by binary parts, as the binary tensor data extension lays out. */
function binaryBody(header: unknown, ...parts: Uint8Array[]) {
  const json = ENCODER.encode(JSON.stringify(header));
  const body = new Uint8Array(json.length + parts.reduce((sum, part) => sum + part.length, 0));
  body.set(json);
  let offset = json.length;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.length;
  }
  return { body, headerLength: json.length };
}

/**
 * Opens a raw TCP connection, writes `head` (and `thenSend`), and reads one response: its head and
 * a body of the length it declares. (The server keeps a connection whose request body it never
 * received in full, so reading until the connection closes would not end.)
 */
async function rawExchange(url: string, head: string, thenSend?: Uint8Array) {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(ENCODER.encode(head));
    if (thenSend !== undefined) await conn.write(thenSend);
    const buffer = new Uint8Array(64 * 1024);
    let text = "";
    const complete = () => {
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end));
      return text.length - end - 4 >= Number(length?.[1] ?? 0);
    };
    while (!complete()) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

Deno.test("REST serves health, metadata, readiness and the model repository", async () => {
  await using t = await startTestServer();
  const { http } = t;
  assert.equal(await http.live(), true);
  assert.equal(await http.ready(), true);
  const server = await http.serverMetadata();
  assert.equal(server.name, "reef");
  assert.deepEqual(server.extensions, ["binary_tensor_data", "model_repository", "reef_priority"]);
  assert.deepEqual(await http.modelMetadata("echo", "1"), {
    name: "echo",
    versions: ["1"],
    platform: "fake",
    inputs: [
      { name: "ID", datatype: "INT64", shape: [1] },
      { name: "X", datatype: "FP32", shape: [-1, 4] },
    ],
    outputs: [
      { name: "ID", datatype: "INT64", shape: [1] },
      { name: "Y", datatype: "FP32", shape: [-1, 4] },
    ],
  });
  await rejectsHttp(http.modelMetadata("nope"), 404, /^HTTP 404: Unknown model "nope"$/);
  await rejectsHttp(http.modelMetadata("echo", "2"), 404, /has no version "2"/);
  assert.equal(await http.modelReady("echo"), true);
  assert.equal(await http.modelReady("cold"), false);
  await rejectsHttp(http.modelReady("nope"), 404, /Unknown model "nope"/);

  assert.deepEqual(
    (await http.repositoryIndex(true)).map((entry) => entry.name),
    ["echo", "types", "half", "broken"],
  );
  assert.deepEqual((await http.repositoryIndex()).find((entry) => entry.name === "cold"), {
    name: "cold",
    version: "1",
    state: "UNAVAILABLE",
  });
  await http.load("cold");
  assert.equal(await http.modelReady("cold"), true);
  await http.unload("cold");
  assert.deepEqual((await http.repositoryIndex()).find((entry) => entry.name === "cold"), {
    name: "cold",
    version: "1",
    state: "UNAVAILABLE",
    reason: "unloaded",
  });
  await rejectsHttp(http.load("nope"), 404, /Unknown model "nope"/);
  await rejectsHttp(
    http.load("corrupt"),
    500,
    /Loading model "corrupt" failed: Cannot load model "corrupt": checksum mismatch/,
  );
});

Deno.test("REST infers with binary tensors, JSON tensors, nested data and output selection", async () => {
  await using t = await startTestServer();
  const binary = await t.http.infer("echo", echoInputs(7, 2), { id: "req-7" });
  assert.equal(binary.id, "req-7");
  assert.equal(echoedId(binary.outputs), 7);
  assert.deepEqual(echoedY(binary.outputs), [14, 16, 18, 20, 22, 24, 26, 28]);
  assert.ok(binary.timings !== undefined && binary.timings.finishedUs >= binary.timings.startedUs);

  const json = await t.http.infer("echo", echoInputs(3), { binary: false, outputs: ["Y"] });
  assert.deepEqual([...json.outputs.keys()], ["Y"]);
  assert.deepEqual(echoedY(json.outputs), [6, 8, 10, 12]);

  const nested = await postJson(`${t.url}/v2/models/echo/infer`, {
    id: "n",
    inputs: [
      { name: "ID", datatype: "INT64", shape: [1], data: [5] },
      { name: "X", datatype: "FP32", shape: [2, 4], data: [[1, 2, 3, 4], [5, 6, 7, 8]] },
    ],
    outputs: [{ name: "Y" }],
  });
  assert.equal(nested.status, 200);
  const body = nested.body as Record<string, unknown>;
  assert.equal(body.model_name, "echo");
  assert.equal(body.model_version, "1");
  assert.equal(body.id, "n");
  assert.deepEqual(body.outputs, [
    { name: "Y", datatype: "FP32", shape: [2, 4], data: [2, 4, 6, 8, 10, 12, 14, 16] },
  ]);
  assert.equal(typeof (body.parameters as Record<string, unknown>).reef_finished_us, "number");

  // Binary input, and outputs split: "ID" as JSON by its own parameter, "Y" binary by default.
  const x = new Float32Array([1, 1, 1, 1]);
  const { body: request, headerLength } = binaryBody(
    {
      parameters: { binary_data_output: true },
      inputs: [
        { name: "ID", datatype: "INT64", shape: [1], data: [9] },
        { name: "X", datatype: "FP32", shape: [1, 4], parameters: { binary_data_size: 16 } },
      ],
      outputs: [{ name: "ID", parameters: { binary_data: false } }, { name: "Y" }],
    },
    new Uint8Array(x.buffer),
  );
  const response = await fetch(`${t.url}/v2/models/echo/infer`, {
    method: "POST",
    body: request,
    headers: { "inference-header-content-length": String(headerLength) },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/octet-stream");
  const bytes = new Uint8Array(await response.arrayBuffer());
  const jsonLength = Number(response.headers.get("inference-header-content-length"));
  const head = JSON.parse(new TextDecoder().decode(bytes.subarray(0, jsonLength)));
  assert.deepEqual(head.outputs, [
    { name: "ID", datatype: "INT64", shape: [1], data: [9] },
    { name: "Y", datatype: "FP32", shape: [1, 4], parameters: { binary_data_size: 16 } },
  ]);
  assert.deepEqual([...new Float32Array(bytes.slice(jsonLength).buffer)], [2, 2, 2, 2]);
});

Deno.test("REST carries every datatype in JSON and binary form", async () => {
  await using t = await startTestServer();
  const typed: [string, Tensor["datatype"], number[], unknown[]][] = [
    ["B", "BOOL", [2], [true, false]],
    ["U8", "UINT8", [3], [0, 7, 255]],
    ["I16", "INT16", [2], [-32768, 5]],
    ["I32", "INT32", [2], [-1, 2147483647]],
    ["I64", "INT64", [2], [-5, 1234567890123]],
    ["U64", "UINT64", [1], [42]],
    ["F32", "FP32", [2], [0.5, -8]],
    ["F64", "FP64", [2], [Math.E, 1e-300]],
    ["S", "BYTES", [2], ["héllo", ""]],
  ];
  const inputs = typed.map(([name, datatype, shape, values]): Tensor => ({
    name,
    datatype,
    shape,
    data: packElements(name, datatype, shape, values),
  }));
  for (const binary of [true, false]) {
    const reply = await t.http.infer("types", inputs, { binary });
    for (const input of inputs) {
      assert.deepEqual(reply.outputs.get(input.name), input, `${input.name}, binary ${binary}`);
    }
  }
  const half: Tensor[] = [
    { name: "H", datatype: "FP16", shape: [2], data: packElements("H", "FP16", [2], [1.5, -2]) },
    { name: "BH", datatype: "BF16", shape: [2], data: packElements("BH", "BF16", [2], [3, 0.25]) },
  ];
  for (const binary of [true, false]) {
    const reply = await t.http.infer("half", half, { binary });
    assert.deepEqual(unpackElements("H", reply.outputs.get("H") as Tensor), [1.5, -2]);
    assert.deepEqual(unpackElements("BH", reply.outputs.get("BH") as Tensor), [3, 0.25]);
  }
});

Deno.test("REST passes priority and client queue to the backend", async () => {
  await using t = await startTestServer();
  await t.http.infer("echo", echoInputs(1), { priority: "rt", client: "camera-1" });
  assert.deepEqual(t.backend.calls.at(-1), {
    model: "echo",
    priority: "rt",
    client: "camera-1",
    id: 1n,
    deadlineMs: t.backend.calls.at(-1)?.deadlineMs,
  });
  const { body: request } = binaryBody({
    inputs: [
      { name: "ID", datatype: "INT64", shape: [1], data: [2] },
      { name: "X", datatype: "FP32", shape: [1, 4], data: [0, 0, 0, 0] },
    ],
  });
  const viaHeader = await fetchJson(`${t.url}/v2/models/echo/infer`, {
    method: "POST",
    body: request,
    headers: { "reef-client": "batch-jobs" },
  });
  assert.equal(viaHeader.status, 200);
  assert.equal(t.backend.calls.at(-1)?.client, "batch-jobs");
  assert.equal(t.backend.calls.at(-1)?.priority, "be");
  await fetchJson(`${t.url}/v2/models/echo/infer`, { method: "POST", body: request });
  assert.match(t.backend.calls.at(-1)?.client ?? "", /^http:127\.0\.0\.1:\d+$/);
  const deadline = t.backend.calls.at(-1)?.deadlineMs ?? 0;
  assert.ok(deadline > 29_000 && deadline <= 30_000, `deadline ${deadline}`);

  await using shared = await startTestServer({ clientQueue: "shared" });
  await fetchJson(`${shared.url}/v2/models/echo/infer`, { method: "POST", body: request });
  assert.equal(shared.backend.calls.at(-1)?.client, "default");
});

Deno.test("REST rejects bad requests with the protocol's error body and status", async () => {
  await using t = await startTestServer();
  const id = { name: "ID", datatype: "INT64", shape: [1], data: [1] };
  const x = { name: "X", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] };
  const infer = (model: string, body: unknown, headers?: Record<string, string>) =>
    postJson(`${t.url}/v2/models/${model}/infer`, body, headers);
  const cases: [string, ReturnType<typeof infer>, number, RegExp][] = [
    ["malformed JSON", infer("echo", "{inputs: ["), 400, /^Malformed JSON in inference request: /],
    [
      "no inputs",
      infer("echo", { id: "a" }),
      400,
      /^Invalid inference request for model "echo": field "inputs" must be an array, got nothing$/,
    ],
    [
      "shape not numbers",
      infer("echo", { inputs: [{ ...x, shape: ["1"] }] }),
      400,
      /field "inputs\[0\]\.shape\[0\]" must be a number, got "1"/,
    ],
    ["unknown model", infer("nope", { inputs: [id, x] }), 404, /^Unknown model "nope"$/],
    [
      "unknown input",
      infer("echo", { inputs: [id, x, { ...x, name: "Z" }] }),
      400,
      /^Model "echo" has no input "Z" \(inputs: "ID", "X"\)$/,
    ],
    ["duplicate input", infer("echo", { inputs: [id, x, x] }), 400, /"X" .* more than once/],
    [
      "missing input",
      infer("echo", { inputs: [id] }),
      400,
      /^Inference request for model "echo" lacks input "X"$/,
    ],
    [
      "wrong datatype",
      infer("echo", { inputs: [id, { ...x, datatype: "FP64" }] }),
      400,
      /^Input "X" of model "echo": datatype must be "FP32", got "FP64"$/,
    ],
    [
      "wrong shape",
      infer("echo", { inputs: [id, { ...x, shape: [1, 3], data: [1, 2, 3] }] }),
      400,
      /^Input "X" of model "echo": shape \[1,3\] does not match \[-1,4\]$/,
    ],
    [
      "element count",
      infer("echo", { inputs: [id, { ...x, data: [1, 2, 3] }] }),
      400,
      /^Input "X": shape \[1,4\] needs 4 elements, got 3$/,
    ],
    [
      "element type",
      infer("echo", { inputs: [id, { ...x, data: [1, 2, "3", 4] }] }),
      400,
      /^Input "X": element 2 must be a number for datatype "FP32", got "3"$/,
    ],
    [
      "unknown datatype",
      infer("echo", { inputs: [id, { ...x, datatype: "FP8" }] }),
      400,
      /^Input "X": unknown datatype "FP8"$/,
    ],
    [
      "unknown output",
      infer("echo", { inputs: [id, x], outputs: [{ name: "Z" }] }),
      400,
      /^Model "echo" has no output "Z" \(outputs: "ID", "Y"\)$/,
    ],
    [
      "bad priority",
      infer("echo", { inputs: [id, x], parameters: { priority: "urgent" } }),
      400,
      /^Parameter "priority" must be "rt" or "be", got "urgent"$/,
    ],
    [
      "bad client",
      infer("echo", { inputs: [id, x], parameters: { client: 7 } }),
      400,
      /^Parameter "client" must be a non-empty string, got 7$/,
    ],
    [
      "model not loaded",
      infer("cold", { inputs: [{ ...x, shape: [1], data: [1] }] }),
      503,
      /^Model "cold" is not loaded; load it through the repository API$/,
    ],
    [
      "backend failure",
      infer("broken", { inputs: [{ ...x, shape: [1], data: [1] }] }),
      500,
      /^Inference of model "broken" failed: Device fault in kernel 3$/,
    ],
    [
      "bad repository query",
      postJson(`${t.url}/v2/repository/index`, { ready: "yes" }),
      400,
      /field "ready" must be a boolean, got "yes"/,
    ],
    [
      "unknown endpoint",
      fetchJson(`${t.url}/v2/models/echo/explain`),
      404,
      /^No endpoint at "\/v2\/models\/echo\/explain"$/,
    ],
  ];
  for (const [what, pending, status, message] of cases) {
    const { status: got, body } = await pending;
    assert.equal(got, status, `${what}: ${JSON.stringify(body)}`);
    assert.match(errorOf(body), message, what);
  }

  const wrongMethod = await fetchJson(`${t.url}/v2/models/echo/infer`);
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get("allow"), "POST");

  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  assert.match(
    metrics,
    /^reef_inference_requests_total\{model="_unknown_",priority="be",outcome="failure"\} 1$/m,
  );
  assert.match(
    metrics,
    /^reef_inference_requests_total\{model="echo",priority="be",outcome="failure"\} 14$/m,
  );
  assert.equal(t.backend.calls.filter((call) => call.model === "echo").length, 0);
});

Deno.test("REST checks binary tensor data sizes against the header and the shape", async () => {
  await using t = await startTestServer();
  const send = (header: unknown, parts: Uint8Array[], headerLength?: string) => {
    const { body, headerLength: length } = binaryBody(header, ...parts);
    return fetchJson(`${t.url}/v2/models/echo/infer`, {
      method: "POST",
      body,
      headers: { "inference-header-content-length": headerLength ?? String(length) },
    });
  };
  const id = { name: "ID", datatype: "INT64", shape: [1], data: [1] };
  const x = (size: number) => ({
    name: "X",
    datatype: "FP32",
    shape: [1, 4],
    parameters: { binary_data_size: size },
  });
  const cases: [string, ReturnType<typeof send>, RegExp][] = [
    [
      "byte size vs shape",
      send({ inputs: [id, x(12)] }, [new Uint8Array(12)]),
      /^Input "X" of model "echo": shape \[1,4\] of FP32 needs 16 bytes, got 12$/,
    ],
    [
      "size past the end",
      send({ inputs: [id, x(16)] }, [new Uint8Array(8)]),
      /^Input "X": "binary_data_size" is 16 bytes but only 8 bytes of binary data remain/,
    ],
    [
      "unclaimed bytes",
      send({ inputs: [id, x(16)] }, [new Uint8Array(20)]),
      /^The inference request has 4 bytes of binary data that no tensor claims$/,
    ],
    [
      "header length past the body",
      send({ inputs: [id, x(16)] }, [new Uint8Array(16)], "100000"),
      /^Header "Inference-Header-Content-Length" must be a byte count of at most \d+, got "100000"$/,
    ],
    [
      "data and binary size",
      send({ inputs: [id, { ...x(16), data: [1, 2, 3, 4] }] }, [new Uint8Array(16)]),
      /^Input "X": has both "data" and parameter "binary_data_size"$/,
    ],
  ];
  for (const [what, pending, message] of cases) {
    const { status, body } = await pending;
    assert.equal(status, 400, what);
    assert.match(errorOf(body), message, what);
  }
});

Deno.test("REST answers 503 while a model loads", async () => {
  await using t = await startTestServer({}, new FakeBackend({ loadDelayMs: 300 }));
  const loading = t.http.load("cold");
  await waitFor(
    () => t.backend.models().some((model) => model.name === "cold" && model.state === "loading"),
    "cold to be loading",
  );
  assert.equal(await t.http.modelReady("cold"), false);
  const x: Tensor = { name: "X", datatype: "FP32", shape: [1], data: new Uint8Array(4) };
  await rejectsHttp(
    t.http.infer("cold", [x]),
    503,
    /Model "cold" is loading; retry when it is ready/,
  );
  await loading;
  assert.equal((await t.http.infer("cold", [x])).outputs.get("X")?.data.length, 4);
});

Deno.test("REST enforces the body limit while the body arrives", async () => {
  await using t = await startTestServer({ limits: { maxRequestBytes: 1024 } });
  const declared = await fetchJson(`${t.url}/v2/models/echo/infer`, {
    method: "POST",
    body: new Uint8Array(2000),
  });
  assert.equal(declared.status, 413);
  assert.match(
    errorOf(declared.body),
    /^Request body exceeds the limit of 1024 bytes \(it declares 2000 bytes\)$/,
  );
  // A chunked body that never ends: the server must answer once the limit is crossed.
  const chunk = new Uint8Array(1500).fill(0x20);
  const head = await rawExchange(
    t.url,
    "POST /v2/models/echo/infer HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
    new Uint8Array([...ENCODER.encode("5dc\r\n"), ...chunk, ...ENCODER.encode("\r\n")]),
  );
  assert.match(head, /^HTTP\/1\.1 413 /);
  assert.match(head, /Request body exceeds the limit of 1024 bytes \(it reached \d+ bytes\)/);
});

Deno.test("REST times out a trickling body without delaying other clients", async () => {
  await using t = await startTestServer({ limits: { requestTimeoutMs: 1000 } });
  let slowAnswered = false;
  const slow = rawExchange(
    t.url,
    'POST /v2/models/echo/infer HTTP/1.1\r\nhost: x\r\ncontent-length: 500\r\n\r\n{"inp',
  ).finally(() => (slowAnswered = true));
  for (let i = 0; i < 5; i++) {
    assert.equal(echoedId((await t.http.infer("echo", echoInputs(i))).outputs), i);
  }
  assert.equal(slowAnswered, false, "other clients waited for the slow one");
  const head = await slow;
  assert.match(head, /^HTTP\/1\.1 408 /);
  assert.match(head, /Request body did not arrive before the request deadline/);
});

Deno.test("REST refuses requests beyond a client's queue limit", async () => {
  await using t = await startTestServer({ limits: { maxQueuedPerClient: 2 } });
  t.backend.pause();
  const first = [1, 2].map((i) => t.http.infer("echo", echoInputs(i), { client: "c1" }));
  await waitFor(() => t.backend.running === 2, "two queued inferences");
  await rejectsHttp(
    t.http.infer("echo", echoInputs(3), { client: "c1" }),
    429,
    /^HTTP 429: Client "c1" already has 2 queued inference requests \(limit 2\)$/,
  );
  const other = t.http.infer("echo", echoInputs(4), { client: "c2" });
  await waitFor(() => t.backend.running === 3, "the other client's inference");
  t.backend.resume();
  const ids = (await Promise.all([...first, other])).map((reply) => echoedId(reply.outputs));
  assert.deepEqual(ids, [1, 2, 4]);
});

Deno.test("REST fails an inference that misses the request deadline", async () => {
  await using t = await startTestServer({ limits: { requestTimeoutMs: 150 } });
  t.backend.pause();
  await rejectsHttp(
    t.http.infer("echo", echoInputs(1)),
    504,
    /^HTTP 504: Inference of model "echo" did not finish before the request deadline$/,
  );
  assert.ok((t.backend.calls[0].deadlineMs ?? 1000) <= 150);
});

Deno.test("REST metrics show the scheduler's preemptions and queues", async () => {
  await using t = await startTestServer();
  t.backend.recordPreemption(12);
  await t.http.infer("echo", echoInputs(1), { priority: "rt" });
  const response = await fetch(`${t.url}/metrics`);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await response.text();
  assert.match(text, /^reef_preemptions_total 1$/m);
  assert.match(text, /^reef_preemption_latency_seconds_bucket\{le="0.000025"\} 1$/m);
  assert.match(text, /^reef_queue_depth\{queue="be-0"\} 0$/m);
  assert.match(
    text,
    /^reef_inference_requests_total\{model="echo",priority="rt",outcome="success"\} 1$/m,
  );
  assert.match(
    text,
    /^reef_inference_request_duration_seconds_count\{model="echo",priority="rt"\} 1$/m,
  );
});
