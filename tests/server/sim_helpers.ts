/**
 * Shared by the tests of the server over the real scheduler on the simulated device: the fixture
 * model packages, a server over a {@linkcode SchedulerBackend}, inputs, digests, metrics, and
 * `reef serve` as a child process.
 *
 * Fixture models (`tests/server/fixtures/models/`):
 * - `cnn3`: three small kernels (55 µs); input "image" FP16 stored NHWC [1,16,16,3], output
 *   "scores" FP32 [1,10]. The real-time model.
 * - `wide6`: six kernels of 4 224 blocks, four waves of 100 µs each (2.4 ms); input "x" FP32
 *   [1,64], output "y" FP32 [1,64]. The best-effort model, long enough to be preempted.
 * - `plain2`: REEF's own format, no tensor lists: storages "data" (16 FP32) and "output" (4 INT32).
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Tensor } from "../../src/server/backend.ts";
import type { ServeConfigInput } from "../../src/server/config.ts";
import {
  SchedulerBackend,
  type SchedulerBackendOptions,
} from "../../src/server/scheduler_backend.ts";
import { delay, type LoopbackServer, serveOnLoopback } from "./helpers.ts";

/** Directory of the fixture model packages. */
export const MODEL_DIR: string = fileURLToPath(new URL("./fixtures/models/", import.meta.url));

/** A simulated scheduler backend over the fixture models (mode "reef" unless given). */
export function openSimBackend(
  options: Partial<SchedulerBackendOptions> = {},
): Promise<SchedulerBackend> {
  return SchedulerBackend.open({ device: "sim", modelDir: MODEL_DIR, mode: "reef", ...options });
}

/** A running server over a simulated backend, with an HTTP and a gRPC client. */
export type SimServer = LoopbackServer<SchedulerBackend>;

/**
 * Serves `cnn3` and `wide6` (unless `config.models` says otherwise) from `modelDir` on loopback
 * ephemeral ports, without signal handling.
 */
export async function startSimServer(
  config: ServeConfigInput = {},
  modelDir = MODEL_DIR,
): Promise<SimServer> {
  const backend = await SchedulerBackend.open({ device: "sim", modelDir, mode: "reef" });
  return serveOnLoopback({ device: "sim", models: ["cnn3", "wide6"], ...config }, backend);
}

/** The `image` input of `cnn3`: FP16 NHWC [1,16,16,3], element i holding `(seed + i) % 7`. */
export function cnn3Inputs(seed = 0): Tensor[] {
  const view = new DataView(new ArrayBuffer(768 * 2));
  for (let i = 0; i < 768; i++) view.setFloat16(i * 2, (seed + i) % 7, true);
  return [{
    name: "image",
    datatype: "FP16",
    shape: [1, 16, 16, 3],
    data: new Uint8Array(view.buffer),
  }];
}

/** The `x` input of `wide6`: FP32 [1,64], element i holding `seed + i`. */
export function wide6Inputs(seed = 0): Tensor[] {
  const x = Float32Array.from({ length: 64 }, (_, i) => seed + i);
  return [{ name: "x", datatype: "FP32", shape: [1, 64], data: new Uint8Array(x.buffer) }];
}

/** The simulated device's digest in an output: its first 32-bit word. */
export function digestOf(tensor: Tensor | undefined): number {
  if (tensor === undefined) throw new Error("Response lacks the output");
  return new DataView(tensor.data.buffer, tensor.data.byteOffset, 4).getUint32(0, true);
}

/** Sum of the samples of a metric in Prometheus text whose labels include every given one. */
export function metricSum(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = line.match(/^([a-z_]+)(\{[^}]*\})? (\S+)$/);
    if (match === null || match[1] !== name) continue;
    const wanted = Object.entries(labels).every(([key, value]) =>
      (match[2] ?? "").includes(`${key}="${value}"`)
    );
    if (wanted) sum += Number(match[3]);
  }
  return sum;
}

/** Scrapes `/metrics` until `condition` holds of the text; fails after `timeoutMs`. */
export async function scrapeUntil(
  url: string,
  condition: (text: string) => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<string> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    if (condition(text)) return text;
    if (performance.now() > end) throw new Error(`Timed out waiting for ${what}:\n${text}`);
    await delay(50);
  }
}

const cli = fileURLToPath(new URL("../../cli.ts", import.meta.url));

/** `reef serve` running in a child process. */
export interface ServeProcess extends AsyncDisposable {
  child: Deno.ChildProcess;
  /** Base URL of the REST front end. */
  url: string;
  /** Address of the gRPC front end. */
  grpc: string;
  /** Standard error once the process has exited. */
  stderr(): Promise<string>;
}

/** Starts `reef serve <args> --port 0 --grpc-port 0` and waits for its addresses. */
export async function spawnServe(args: string[]): Promise<ServeProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--frozen", "-A", cli, "serve", ...args, "--port", "0", "--grpc-port", "0"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let addresses: RegExpMatchArray | null = null;
  while (addresses === null) {
    const { value, done } = await lines.read();
    if (done) {
      await child.status;
      throw new Error(`reef serve exited before listening:\n${text}`);
    }
    text += value;
    addresses = text.match(/HTTP on (\S+), gRPC on (\S+),/);
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await lines.read();
      if (done) return text;
      text += value;
    }
  })();
  return {
    child,
    url: addresses[1],
    grpc: addresses[2],
    stderr: () => rest,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // It has exited already.
      }
      await child.status;
      await rest;
    },
  };
}
