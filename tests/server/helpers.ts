/**
 * Shared test fixtures: a server on loopback ephemeral ports over a backend (a
 * {@linkcode FakeBackend} here, the simulated scheduler in sim_helpers.ts), with an HTTP and a
 * gRPC client, all stopped by `await using`.
 * @module
 */

import assert from "node:assert/strict";
import type { InferenceBackend, Tensor } from "../../src/server/backend.ts";
import { ReefClient } from "../../src/server/client.ts";
import { resolveServeConfig, type ServeConfigInput } from "../../src/server/config.ts";
import { type ReefServer, serve } from "../../src/server/serve.ts";
import { FakeBackend } from "./fake_backend.ts";

/** A running test server over backend `B`, and its clients. */
export interface LoopbackServer<B extends InferenceBackend> extends AsyncDisposable {
  server: ReefServer;
  backend: B;
  http: ReefClient;
  grpc: ReefClient;
  /** Base URL of the REST front end. */
  url: string;
}

/** A running test server over a {@linkcode FakeBackend}, and its clients. */
export type TestServer = LoopbackServer<FakeBackend>;

/**
 * Serves `backend` on 127.0.0.1 with ephemeral ports and no signal handling, with an HTTP and a
 * gRPC client; disposing it runs `beforeShutdown`, closes the clients and shuts the server down.
 */
export async function serveOnLoopback<B extends InferenceBackend>(
  config: ServeConfigInput,
  backend: B,
  beforeShutdown: () => void = () => {},
): Promise<LoopbackServer<B>> {
  const server = await serve(
    resolveServeConfig({ host: "127.0.0.1", port: 0, grpcPort: 0, ...config }),
    backend,
    { signals: false, log: () => {} },
  );
  const http = ReefClient.http(server.httpUrl);
  const grpc = ReefClient.grpc(server.grpcAddress);
  return {
    server,
    backend,
    http,
    grpc,
    url: server.httpUrl,
    async [Symbol.asyncDispose]() {
      beforeShutdown();
      http.close();
      grpc.close();
      await server.shutdown();
    },
  };
}

/** Starts a server over a fake backend (released on dispose, so nothing stays held). */
export function startTestServer(
  config: ServeConfigInput = {},
  backend: FakeBackend = new FakeBackend(),
): Promise<TestServer> {
  return serveOnLoopback(config, backend, () => backend.resume());
}

/** Inputs of the fake "echo" model: `ID` = [id], `X` = rows × 4 floats counting from `id`. */
export function echoInputs(id: number, rows = 1): Tensor[] {
  const idData = new Uint8Array(8);
  new DataView(idData.buffer).setBigInt64(0, BigInt(id), true);
  const x = new Float32Array(rows * 4).map((_, i) => id + i);
  return [
    { name: "ID", datatype: "INT64", shape: [1], data: idData },
    { name: "X", datatype: "FP32", shape: [rows, 4], data: new Uint8Array(x.buffer) },
  ];
}

/** The `ID` output of an "echo" inference. */
export function echoedId(outputs: Map<string, Tensor>): number {
  const tensor = outputs.get("ID");
  if (tensor === undefined) throw new Error('Response lacks output "ID"');
  return Number(new DataView(tensor.data.buffer, tensor.data.byteOffset, 8).getBigInt64(0, true));
}

/** The `Y` output of an "echo" inference as numbers. */
export function echoedY(outputs: Map<string, Tensor>): number[] {
  const tensor = outputs.get("Y");
  if (tensor === undefined) throw new Error('Response lacks output "Y"');
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  return Array.from({ length: tensor.data.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** Sends a raw HTTP request with fetch and returns the status and parsed JSON body. */
export async function fetchJson(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(url, init);
  const text = await response.text();
  return {
    status: response.status,
    body: text === "" ? undefined : JSON.parse(text),
    headers: response.headers,
  };
}

/** The `error` message of a protocol error body. */
export function errorOf(body: unknown): string {
  if (typeof body === "object" && body !== null && "error" in body) return String(body.error);
  throw new Error(`Not an error body: ${JSON.stringify(body)}`);
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 5 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Runs curl and returns the HTTP status, the response headers and the body. */
export async function curl(
  args: string[],
): Promise<{ status: number; headers: string; body: Uint8Array }> {
  const dir = await Deno.makeTempDir();
  try {
    const output = await new Deno.Command("curl", {
      args: [
        "--silent",
        "--show-error",
        "--dump-header",
        `${dir}/headers`,
        "--output",
        `${dir}/body`,
        "--write-out",
        "%{http_code}",
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return {
      status: Number(new TextDecoder().decode(output.stdout)),
      headers: await Deno.readTextFile(`${dir}/headers`),
      body: await Deno.readFile(`${dir}/body`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
