/**
 * An {@linkcode InferenceBackend} for the server tests: a few models with known behaviour, a gate
 * that holds inferences until released, and a record of every inference it ran (with the request
 * id carried in the "echo" model's `ID` input) so that tests can prove none is lost or duplicated.
 * @module
 */

import type {
  BackendInferRequest,
  BackendInferResult,
  BackendStats,
  InferenceBackend,
  ModelMetadata,
  ModelState,
  ModelStatus,
  Priority,
  Tensor,
  TensorMeta,
} from "../../src/server/backend.ts";

/** One inference the fake ran. */
export interface FakeCall {
  model: string;
  priority: Priority;
  client: string;
  /** The `ID` input of the "echo" model. */
  id?: bigint;
  deadlineMs?: number;
}

/** Options of the fake. */
export interface FakeBackendOptions {
  /** Each inference takes a random time in [0, inferDelayMs) (default 0: settles at once). */
  inferDelayMs?: number;
  /** Loading takes this long, with the model "loading" meanwhile (default 30). */
  loadDelayMs?: number;
}

const FEATURES = 4;

/** Identity model over every datatype that gRPC typed contents can carry. */
const TYPED_TENSORS: TensorMeta[] = [
  { name: "B", datatype: "BOOL", shape: [2] },
  { name: "U8", datatype: "UINT8", shape: [3] },
  { name: "I16", datatype: "INT16", shape: [2] },
  { name: "I32", datatype: "INT32", shape: [2] },
  { name: "I64", datatype: "INT64", shape: [2] },
  { name: "U64", datatype: "UINT64", shape: [1] },
  { name: "F32", datatype: "FP32", shape: [2] },
  { name: "F64", datatype: "FP64", shape: [2] },
  { name: "S", datatype: "BYTES", shape: [2] },
];

const HALF_TENSORS: TensorMeta[] = [
  { name: "H", datatype: "FP16", shape: [2] },
  { name: "BH", datatype: "BF16", shape: [2] },
];

const METADATA: Record<string, ModelMetadata> = {
  echo: {
    name: "echo",
    platform: "fake",
    inputs: [
      { name: "ID", datatype: "INT64", shape: [1] },
      { name: "X", datatype: "FP32", shape: [-1, FEATURES] },
    ],
    outputs: [
      { name: "ID", datatype: "INT64", shape: [1] },
      { name: "Y", datatype: "FP32", shape: [-1, FEATURES] },
    ],
  },
  types: { name: "types", platform: "fake", inputs: TYPED_TENSORS, outputs: TYPED_TENSORS },
  half: { name: "half", platform: "fake", inputs: HALF_TENSORS, outputs: HALF_TENSORS },
  cold: {
    name: "cold",
    platform: "fake",
    inputs: [{ name: "X", datatype: "FP32", shape: [1] }],
    outputs: [{ name: "X", datatype: "FP32", shape: [1] }],
  },
  corrupt: {
    name: "corrupt",
    platform: "fake",
    inputs: [{ name: "X", datatype: "FP32", shape: [1] }],
    outputs: [{ name: "X", datatype: "FP32", shape: [1] }],
  },
  broken: {
    name: "broken",
    platform: "fake",
    inputs: [{ name: "X", datatype: "FP32", shape: [1] }],
    outputs: [{ name: "X", datatype: "FP32", shape: [1] }],
  },
};

/** The fake backend. */
export class FakeBackend implements InferenceBackend {
  readonly deviceName = "fake device";
  readonly simulated = true;
  /** Every inference run, in order of arrival. */
  readonly calls: FakeCall[] = [];
  /** Inferences submitted and not yet settled. */
  running = 0;
  closed = false;
  readonly #states = new Map<string, { state: ModelState; reason?: string }>([
    ["echo", { state: "ready" }],
    ["types", { state: "ready" }],
    ["half", { state: "ready" }],
    ["broken", { state: "ready" }],
    ["cold", { state: "unavailable" }],
    ["corrupt", { state: "unavailable" }],
  ]);
  readonly #options: FakeBackendOptions;
  #gate: Promise<void> | undefined;
  #openGate: (() => void) | undefined;
  #preemptions = 0;
  #latencies: number[] = [];

  constructor(options: FakeBackendOptions = {}) {
    this.#options = options;
  }

  /** Holds every inference, new or running, until {@linkcode FakeBackend.resume}. */
  pause(): void {
    if (this.#gate !== undefined) return;
    this.#gate = new Promise((resolve) => (this.#openGate = resolve));
  }

  /** Releases held inferences. */
  resume(): void {
    this.#openGate?.();
    this.#gate = undefined;
    this.#openGate = undefined;
  }

  /** Records a preemption, as the scheduler would. */
  recordPreemption(latencyUs: number): void {
    this.#preemptions++;
    this.#latencies.push(latencyUs);
  }

  models(): ModelStatus[] {
    return [...this.#states].map(([name, status]) => ({ name, ...status }));
  }

  async load(name: string): Promise<void> {
    const status = this.#states.get(name);
    if (status === undefined) throw new Error(`Unknown model "${name}"`);
    if (status.state === "ready") return;
    this.#states.set(name, { state: "loading" });
    await new Promise((resolve) => setTimeout(resolve, this.#options.loadDelayMs ?? 30));
    if (name === "corrupt") {
      this.#states.set(name, { state: "unavailable", reason: "checksum mismatch" });
      throw new Error(`Cannot load model "corrupt": checksum mismatch`);
    }
    this.#states.set(name, { state: "ready" });
  }

  unload(name: string): Promise<void> {
    if (!this.#states.has(name)) return Promise.reject(new Error(`Unknown model "${name}"`));
    this.#states.set(name, { state: "unavailable", reason: "unloaded" });
    return Promise.resolve();
  }

  metadata(name: string): ModelMetadata | undefined {
    return METADATA[name];
  }

  async infer(request: BackendInferRequest): Promise<BackendInferResult> {
    const submittedUs = performance.now() * 1000;
    const call: FakeCall = {
      model: request.model,
      priority: request.priority,
      client: request.client,
      ...(request.deadlineMs === undefined ? {} : { deadlineMs: request.deadlineMs }),
    };
    const id = request.inputs.get("ID");
    if (id !== undefined) {
      call.id = new DataView(id.data.buffer, id.data.byteOffset, 8).getBigInt64(0, true);
    }
    this.calls.push(call);
    this.running++;
    try {
      const delay = this.#options.inferDelayMs ?? 0;
      if (delay > 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * delay));
      }
      while (this.#gate !== undefined) await this.#gate;
      const startedUs = performance.now() * 1000;
      if (request.model === "broken") throw new Error("Device fault in kernel 3");
      const outputs = new Map<string, Tensor>();
      if (request.model === "echo") {
        const x = request.inputs.get("X") as Tensor;
        outputs.set("ID", id as Tensor);
        outputs.set("Y", { name: "Y", datatype: "FP32", shape: x.shape, data: doubled(x.data) });
      } else {
        for (const tensor of request.inputs.values()) outputs.set(tensor.name, tensor);
      }
      return {
        outputs,
        timings: {
          submittedUs,
          startedUs,
          finishedUs: performance.now() * 1000,
          preemptions: request.priority === "be" ? 1 : 0,
        },
      };
    } finally {
      this.running--;
    }
  }

  stats(): BackendStats {
    const latencies = this.#latencies;
    this.#latencies = [];
    return {
      preemptions: this.#preemptions,
      preemptLatenciesUs: latencies,
      queueDepths: { rt: 0, "be-0": this.running },
      loopStalls: 0,
    };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function doubled(data: Uint8Array): Uint8Array {
  const input = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let offset = 0; offset < data.byteLength; offset += 4) {
    view.setFloat32(offset, input.getFloat32(offset, true) * 2, true);
  }
  return out;
}
