/**
 * `reef run <model>`: the client. Sends inferences to a reef server over HTTP/REST or gRPC, or runs
 * them in-process on the same scheduler backend the server uses (`--local`), then prints the
 * outputs of one inference and the latency summary.
 * @module
 */

import { defaultResourceRoot } from "../model/package.ts";
import { type Mode, MODES } from "../scheduler/mode.ts";
import type { InferenceBackend, Priority, Tensor, TensorMeta } from "../server/backend.ts";
import { ReefClient } from "../server/client.ts";
import { runClient, type RunResult, type RunTarget } from "../server/run_client.ts";
import { SchedulerBackend, SIM_PLATFORM } from "../server/scheduler_backend.ts";
import { elementBytes, elementCount, packElements, unpackElements } from "../server/tensor.ts";
import { type Command, numberOption, parseOptions, UsageError } from "./command.ts";

/** Client name of `--local` runs that name none (a server gives each connection its own). */
const LOCAL_CLIENT = "run-client";

/** Values shown per output: the largest ones, or the first ones for non-numeric tensors. */
const SHOWN_VALUES = 5;

/** Failure messages printed, at most (the count says how many failed). */
const SHOWN_FAILURES = 3;

/** Where the run goes, opened: one probe inference, and the target handed to `runClient`. */
interface OpenTarget {
  /** "http://...", "grpc://..." or the local device. */
  label: string;
  simulated: boolean;
  inputs: TensorMeta[];
  /** One inference, for the outputs shown. */
  probe(inputs: Tensor[]): Promise<Map<string, Tensor>>;
  target: RunTarget;
  close(): Promise<void>;
}

/** `reef run`. */
export const runCommand: Command = {
  name: "run",
  summary: "Send inferences to a server (HTTP or gRPC) or run them in-process; show latency",
  help: `Usage: reef run <model> (--url <url> | --grpc <host:port> | --local) [options]

Sends <count> inferences of <model> with zero-filled inputs shaped by the model's metadata, to a
reef server or in-process (--local: the scheduler the server uses, without a server), and prints
the outputs of one more inference sent first (not timed), the latency summary (p50, p90, p99,
mean) and the failures. On the simulated device outputs are digests of the computation, not
values, and latencies are those of the simulation, never GPU results.
Exit codes: 0 every inference succeeded, 1 some failed, 2 usage error.

Options:
  --url <url>               HTTP/REST server, e.g. http://127.0.0.1:8000
  --grpc <host:port>        gRPC server, e.g. 127.0.0.1:8001
  --local                   run in-process on the device, no server
  --priority rt|be          REEF task class (default be)
  --count <n>               timed inferences (default 10)
  --rate <r>                send <r> per second, open loop (default: closed loop)
  --concurrency <n>         inferences outstanding at once (default 1)
  --client <name>           best-effort queue (default: the server's per-connection queue;
                            "${LOCAL_CLIENT}" with --local)
  --timeout-ms <n>          give up on a remote inference after <n> ms

Options with --local:
  --device gpu|sim          the GPU or the simulated device (default gpu)
  --model-dir <dir>         model packages, <dir>/<m>/<m>.json (default resource/;
                            required with --device sim)
  --mode <mode>             ${MODES.join("|")} (default reef)
  --device-queue-depth <n>  best-effort kernels in flight per stream (default 2)

Examples:
  reef run resnet50 --url http://127.0.0.1:8000 --priority rt --count 100
  reef run cnn3 --local --device sim --model-dir tests/server/fixtures/models --count 50`,
  async run(args) {
    const { values, positionals } = parseOptions(args, {
      url: { type: "string" },
      grpc: { type: "string" },
      local: { type: "boolean" },
      priority: { type: "string" },
      count: { type: "string" },
      rate: { type: "string" },
      concurrency: { type: "string" },
      client: { type: "string" },
      "timeout-ms": { type: "string" },
      device: { type: "string" },
      "model-dir": { type: "string" },
      mode: { type: "string" },
      "device-queue-depth": { type: "string" },
    }, true);
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0 ? "Name the model to run" : "Name exactly one model to run",
      );
    }
    const model = positionals[0];
    const targets = [values.url, values.grpc, values.local].filter((v) => v !== undefined);
    if (targets.length !== 1) {
      throw new UsageError("Choose exactly one of --url <url>, --grpc <host:port> and --local");
    }
    const localOnly = ["device", "model-dir", "mode", "device-queue-depth"] as const;
    const misplaced = localOnly.find((flag) => values[flag] !== undefined);
    if (!values.local && misplaced !== undefined) {
      throw new UsageError(`Option --${misplaced} applies to --local runs only`);
    }
    const priority = values.priority ?? "be";
    if (priority !== "rt" && priority !== "be") {
      throw new UsageError(`Option --priority must be rt or be, got "${priority}"`);
    }
    const positiveInteger = (n: number) => Number.isSafeInteger(n) && n > 0;
    const count = numberOption("count", values.count, 10, positiveInteger);
    const concurrency = numberOption("concurrency", values.concurrency, 1, positiveInteger);
    const rate = values.rate === undefined
      ? undefined
      : numberOption("rate", values.rate, 0, (n) => Number.isFinite(n) && n > 0);
    const timeoutMs = values["timeout-ms"] === undefined
      ? undefined
      : numberOption("timeout-ms", values["timeout-ms"], 0, positiveInteger);
    if (values.client === "") throw new UsageError("Option --client must not be empty");

    const open = values.local
      ? await openLocal(model, priority, values.client ?? LOCAL_CLIENT, localOptions(values))
      : await openRemote(model, priority, values.client, values.url, values.grpc);
    let result: RunResult;
    try {
      const inputs = zeroInputs(open.inputs);
      const outputs = await open.probe(inputs);
      console.log(`outputs of "${model}" (one inference before the timed ones):`);
      for (const tensor of outputs.values()) console.log(`  ${describeOutput(tensor, open)}`);
      result = await runClient({
        target: open.target,
        model,
        priority,
        count,
        concurrency,
        inputs,
        ...(rate === undefined ? {} : { rate }),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...(values.client === undefined ? {} : { client: values.client }),
      });
    } finally {
      await open.close();
    }
    printSummary(result, open);
    return result.summary.failed === 0 ? 0 : 1;
  },
};

interface LocalOptions {
  device: "gpu" | "sim";
  modelDir: string;
  mode: Mode;
  deviceQueueDepth?: number;
}

function localOptions(values: Record<string, string | boolean | undefined>): LocalOptions {
  const device = (values.device as string | undefined) ?? "gpu";
  if (device !== "gpu" && device !== "sim") {
    throw new UsageError(`Option --device must be gpu or sim, got "${device}"`);
  }
  const modelDir = values["model-dir"] as string | undefined;
  if (device === "sim" && (modelDir === undefined || modelDir === "")) {
    throw new UsageError(
      "Option --device sim needs --model-dir <dir>: the simulated device has no default packages",
    );
  }
  const mode = (values.mode as string | undefined) ?? "reef";
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`Option --mode must be one of ${MODES.join(", ")}, got "${mode}"`);
  }
  const depth = values["device-queue-depth"] as string | undefined;
  return {
    device,
    modelDir: modelDir ?? defaultResourceRoot(),
    mode: mode as Mode,
    ...(depth === undefined ? {} : {
      deviceQueueDepth: numberOption(
        "device-queue-depth",
        depth,
        0,
        (n) => Number.isSafeInteger(n) && n > 0,
      ),
    }),
  };
}

async function openLocal(
  model: string,
  priority: Priority,
  client: string,
  options: LocalOptions,
): Promise<OpenTarget> {
  const backend: InferenceBackend = await SchedulerBackend.open(options);
  try {
    const meta = backend.metadata(model);
    if (meta === undefined) {
      const known = backend.models().map((entry) => entry.name).join(", ") || "none";
      const why = backend.models().find((entry) => entry.name === model)?.reason;
      throw new Error(
        why === undefined
          ? `Unknown model "${model}" in "${options.modelDir}" (models: ${known})`
          : `Cannot run model "${model}": ${why}`,
      );
    }
    await backend.load(model);
    return {
      label: `in-process scheduler (${options.mode}) on ${backend.deviceName}`,
      simulated: backend.simulated,
      inputs: meta.inputs,
      probe: async (inputs) =>
        (await backend.infer({
          model,
          inputs: new Map(inputs.map((tensor) => [tensor.name, tensor])),
          priority,
          client,
        })).outputs,
      target: { backend },
      close: () => backend.close(),
    };
  } catch (error) {
    await backend.close();
    throw error;
  }
}

async function openRemote(
  model: string,
  priority: Priority,
  client: string | undefined,
  url: string | undefined,
  grpc: string | undefined,
): Promise<OpenTarget> {
  const remote = url !== undefined ? ReefClient.http(url) : ReefClient.grpc(grpc!);
  try {
    const meta = await remote.modelMetadata(model);
    return {
      label: url ?? `grpc://${grpc}`,
      simulated: meta.platform === SIM_PLATFORM,
      inputs: meta.inputs,
      probe: async (inputs) =>
        (await remote.infer(model, inputs, {
          priority,
          ...(client === undefined ? {} : { client }),
        })).outputs,
      target: url !== undefined ? { url } : { grpc: grpc! },
      close: () => Promise.resolve(remote.close()),
    };
  } catch (error) {
    remote.close();
    throw error;
  }
}

/** Zero-filled inputs for the model's inputs; a dimension of any size (-1) becomes 1. */
function zeroInputs(metas: readonly TensorMeta[]): Tensor[] {
  return metas.map((meta) => {
    const shape = meta.shape.map((dim) => (dim === -1 ? 1 : dim));
    const what = `Input "${meta.name}"`;
    const count = elementCount(what, shape);
    const size = elementBytes(meta.datatype);
    const data = size === undefined
      ? packElements(what, meta.datatype, shape, new Array(count).fill(""))
      : new Uint8Array(count * size);
    return { name: meta.name, datatype: meta.datatype, shape, data };
  });
}

/** One line about an output: its digest on the simulator, else its largest values. */
function describeOutput(tensor: Tensor, target: OpenTarget): string {
  const head = `${tensor.name} ${tensor.datatype} [${tensor.shape.join(",")}]`;
  if (target.simulated) {
    if (tensor.data.byteLength < 4) return `${head}: empty`;
    const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, 4);
    const digest = view.getUint32(0, true).toString(16).padStart(8, "0");
    return `${head}: digest 0x${digest} (simulated device: a digest of the computation, not values)`;
  }
  const values = unpackElements(`Output "${tensor.name}"`, tensor);
  if (values.every((value) => typeof value === "number")) {
    const top = (values as number[]).map((value, index) => ({ value, index }))
      .sort((a, b) => b.value - a.value).slice(0, SHOWN_VALUES);
    return `${head}: top ${top.length}: ${
      top.map(({ value, index }) => `[${index}] ${value.toPrecision(5)}`).join(", ")
    }`;
  }
  const first = values.slice(0, SHOWN_VALUES).map((value) =>
    value instanceof Uint8Array ? JSON.stringify(new TextDecoder().decode(value)) : String(value)
  );
  return `${head}: first ${first.length}: ${first.join(", ")}`;
}

function printSummary({ summary, requests }: RunResult, target: OpenTarget): void {
  const seconds = (summary.durationMs / 1000).toFixed(2);
  console.log(
    `${summary.count} inferences of "${summary.model}" (${summary.priority}) to ${target.label}: ` +
      `${summary.succeeded} ok, ${summary.failed} failed in ${seconds} s ` +
      `(${summary.throughput.toFixed(1)}/s)`,
  );
  const latency = summary.latencyMs;
  if (latency !== undefined) {
    const ms = (value: number) => value.toFixed(3);
    console.log(
      `latency ms: p50 ${ms(latency.p50)}  p90 ${ms(latency.p90)}  p99 ${ms(latency.p99)}  ` +
        `mean ${ms(latency.mean)}  (min ${ms(latency.min)}, max ${ms(latency.max)})`,
    );
  }
  if (target.simulated) {
    console.log("simulated device: these latencies are not GPU results");
  }
  const failures = requests.filter((record) => !record.ok);
  for (const record of failures.slice(0, SHOWN_FAILURES)) {
    console.error(`inference ${record.index} failed: ${record.error}`);
  }
  if (failures.length > SHOWN_FAILURES) {
    console.error(`... and ${failures.length - SHOWN_FAILURES} more failures`);
  }
}
