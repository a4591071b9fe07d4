/**
 * The Open Inference Protocol's REST body format, both ways (the server decodes requests and
 * encodes responses; the client does the reverse): JSON tensors with `data` flat or nested, and
 * the binary tensor data extension, where a JSON header of `Inference-Header-Content-Length` bytes
 * is followed by the tensors' bytes, each announced by a `binary_data_size` parameter.
 * @module
 */

import { z } from "zod";
import type { Datatype, Tensor } from "./backend.ts";
import { InferenceError } from "./errors.ts";
import type { InferCall, InferReply, Parameters, RequestedOutput } from "./protocol.ts";
import { flattenJsonData, isDatatype, packElements, toJsonValues } from "./tensor.ts";
import { describeIssue } from "./validation.ts";

/** The header that gives the length of the JSON part of a body with binary tensor data. */
export const HEADER_LENGTH_HEADER = "inference-header-content-length";

/** Tensor parameter giving the byte size of a tensor sent as binary data. */
const BINARY_SIZE = "binary_data_size";
/** Requested-output parameter asking for the output as binary data. */
const BINARY_OUTPUT = "binary_data";
/** Request parameter asking for every output as binary data, unless an output says otherwise. */
const BINARY_OUTPUTS = "binary_data_output";

/** A body ready to send: JSON, or a JSON header followed by binary tensor data. */
export interface RestBody {
  /** The whole body. */
  body: Uint8Array<ArrayBuffer>;
  /** Length of the JSON header when binary data follows it; absent for a pure JSON body. */
  headerLength?: number;
}

/** A decoded REST inference request. */
export interface RestInferRequest extends InferCall {
  /** Whether outputs not named in `outputs` (or named without `binary_data`) go back as binary. */
  binaryOutputs: boolean;
}

const parametersSchema = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

const tensorSchema = z.object({
  name: z.string().min(1),
  datatype: z.string(),
  shape: z.array(z.number().int().min(0)),
  parameters: parametersSchema.optional(),
  data: z.unknown().optional(),
});

const requestSchema = z.object({
  id: z.string().optional(),
  parameters: parametersSchema.optional(),
  inputs: z.array(tensorSchema).min(1),
  outputs: z.array(z.object({ name: z.string().min(1), parameters: parametersSchema.optional() }))
    .optional(),
});

const responseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters: parametersSchema.optional(),
  outputs: z.array(tensorSchema),
});

const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads the `Inference-Header-Content-Length` header value: `undefined` when absent; throws for
 * a value that is not a length within the body.
 */
export function parseHeaderLength(value: string | null, bodyBytes: number): number | undefined {
  if (value === null) return undefined;
  const length = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(length) || length > bodyBytes) {
    throw new InferenceError(
      "invalid_argument",
      `Header "Inference-Header-Content-Length" must be a byte count of at most ${bodyBytes}, got "${value}"`,
    );
  }
  return length;
}

/** Decodes a REST inference request body for `model`. */
export function decodeInferRequest(
  model: string,
  version: string | undefined,
  body: Uint8Array,
  headerLength: number | undefined,
): RestInferRequest {
  const { json, binary } = splitBody(body, headerLength, "inference request");
  const parsed = requestSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) {
    throw new InferenceError(
      "invalid_argument",
      `Invalid inference request for model "${model}": ${describeIssue(parsed.error)}`,
    );
  }
  const request = parsed.data;
  const reader = new BinarySlicer(binary, "inference request");
  const inputs = request.inputs.map((input) =>
    decodeTensor(`Input "${input.name}"`, input, reader)
  );
  reader.expectEnd();
  const parameters: Parameters = request.parameters ?? {};
  const binaryOutputs = booleanParameter(parameters, BINARY_OUTPUTS, "request") ?? false;
  const outputs = request.outputs?.map((output): RequestedOutput => {
    const binary = booleanParameter(
      output.parameters ?? {},
      BINARY_OUTPUT,
      `output "${output.name}"`,
    );
    return binary === undefined ? { name: output.name } : { name: output.name, binary };
  });
  return {
    model,
    ...(version === undefined ? {} : { version }),
    ...(request.id === undefined ? {} : { id: request.id }),
    parameters,
    inputs,
    ...(outputs === undefined ? {} : { outputs }),
    binaryOutputs,
  };
}

/**
 * Encodes an inference response. Outputs go back as binary data when their request entry asks
 * for it (`binary_data`) or, failing that, when the request set `binary_data_output`.
 */
export function encodeInferResponse(
  reply: InferReply,
  requested: readonly RequestedOutput[] | undefined,
  binaryOutputs: boolean,
): RestBody {
  const binaryParts: Uint8Array[] = [];
  const outputs = reply.outputs.map((tensor) => {
    const entry = requested?.find((output) => output.name === tensor.name);
    const binary = entry?.binary ?? binaryOutputs;
    const head = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
    if (binary) {
      binaryParts.push(tensor.data);
      return { ...head, parameters: { [BINARY_SIZE]: tensor.data.byteLength } };
    }
    return { ...head, data: toJsonValues(`Output "${tensor.name}"`, tensor) };
  });
  return joinBody(
    {
      model_name: reply.model,
      model_version: reply.version,
      ...(reply.id === undefined ? {} : { id: reply.id }),
      parameters: reply.parameters,
      outputs,
    },
    binaryParts,
  );
}

/**
 * Encodes an inference request: inputs as binary data or as JSON `data`, and asks for outputs as
 * binary data or JSON.
 */
export function encodeInferRequest(
  call: InferCall,
  options: { binaryInputs: boolean; binaryOutputs: boolean },
): RestBody {
  const binaryParts: Uint8Array[] = [];
  const inputs = call.inputs.map((tensor) => {
    const head = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
    if (options.binaryInputs) {
      binaryParts.push(tensor.data);
      return { ...head, parameters: { [BINARY_SIZE]: tensor.data.byteLength } };
    }
    return { ...head, data: toJsonValues(`Input "${tensor.name}"`, tensor) };
  });
  const outputs = call.outputs?.map((output) => ({
    name: output.name,
    parameters: { [BINARY_OUTPUT]: output.binary ?? options.binaryOutputs },
  }));
  return joinBody(
    {
      ...(call.id === undefined ? {} : { id: call.id }),
      parameters: { ...call.parameters, [BINARY_OUTPUTS]: options.binaryOutputs },
      inputs,
      ...(outputs === undefined ? {} : { outputs }),
    },
    binaryParts,
  );
}

/** Decodes an inference response body (JSON or with binary tensor data). */
export function decodeInferResponse(
  body: Uint8Array,
  headerLength: number | undefined,
): InferReply {
  const { json, binary } = splitBody(body, headerLength, "inference response");
  const parsed = responseSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) {
    throw new InferenceError(
      "internal",
      `Invalid inference response: ${describeIssue(parsed.error)}`,
    );
  }
  const response = parsed.data;
  const reader = new BinarySlicer(binary, "inference response");
  const outputs = response.outputs.map((output) =>
    decodeTensor(`Output "${output.name}"`, output, reader)
  );
  reader.expectEnd();
  return {
    model: response.model_name,
    version: response.model_version ?? "",
    ...(response.id === undefined ? {} : { id: response.id }),
    parameters: response.parameters ?? {},
    outputs,
  };
}

/** Encodes the protocol's error body. */
export function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

/** Parses a JSON body that is not an inference request (repository index, for example). */
export function parseJsonBody(body: Uint8Array, what: string): unknown {
  if (body.byteLength === 0) return {};
  return parseJson(body, what);
}

function splitBody(
  body: Uint8Array,
  headerLength: number | undefined,
  what: string,
): { json: unknown; binary: Uint8Array } {
  const jsonBytes = headerLength === undefined ? body : body.subarray(0, headerLength);
  const binary = headerLength === undefined ? new Uint8Array(0) : body.subarray(headerLength);
  return { json: parseJson(jsonBytes, what), binary };
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(UTF8_DECODER.decode(bytes));
  } catch (error) {
    throw new InferenceError(
      "invalid_argument",
      `Malformed JSON in ${what}: ${(error as Error).message}`,
    );
  }
}

function joinBody(json: unknown, binaryParts: readonly Uint8Array[]): RestBody {
  const header = UTF8_ENCODER.encode(JSON.stringify(json));
  if (binaryParts.length === 0) return { body: header };
  const total = binaryParts.reduce((sum, part) => sum + part.byteLength, header.byteLength);
  const body = new Uint8Array(total);
  body.set(header, 0);
  let offset = header.byteLength;
  for (const part of binaryParts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return { body, headerLength: header.byteLength };
}

function decodeTensor(
  what: string,
  wire: z.output<typeof tensorSchema>,
  reader: BinarySlicer,
): Tensor {
  if (!isDatatype(wire.datatype)) {
    throw new InferenceError(
      "invalid_argument",
      `${what}: unknown datatype "${wire.datatype}"`,
    );
  }
  const datatype: Datatype = wire.datatype;
  const size = wire.parameters?.[BINARY_SIZE];
  if (size !== undefined) {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: parameter "${BINARY_SIZE}" must be a byte count, got ${JSON.stringify(size)}`,
      );
    }
    if (wire.data !== undefined) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: has both "data" and parameter "${BINARY_SIZE}"`,
      );
    }
    return { name: wire.name, datatype, shape: wire.shape, data: reader.take(what, size) };
  }
  if (wire.data === undefined) {
    throw new InferenceError(
      "invalid_argument",
      `${what}: needs "data" or parameter "${BINARY_SIZE}"`,
    );
  }
  const values = flattenJsonData(what, wire.data, wire.shape);
  return {
    name: wire.name,
    datatype,
    shape: wire.shape,
    data: packElements(what, datatype, wire.shape, values),
  };
}

function booleanParameter(parameters: Parameters, name: string, where: string) {
  const value = parameters[name];
  if (value === undefined || typeof value === "boolean") return value;
  throw new InferenceError(
    "invalid_argument",
    `Parameter "${name}" of ${where} must be a boolean, got ${JSON.stringify(value)}`,
  );
}

/** Hands out consecutive slices of the binary part of a body. */
class BinarySlicer {
  #offset = 0;

  constructor(readonly bytes: Uint8Array, readonly what: string) {}

  take(what: string, size: number): Uint8Array {
    if (this.#offset + size > this.bytes.byteLength) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: "${BINARY_SIZE}" is ${size} bytes but only ${
          this.bytes.byteLength - this.#offset
        } bytes of binary data remain in the ${this.what}`,
      );
    }
    const slice = this.bytes.subarray(this.#offset, this.#offset + size);
    this.#offset += size;
    return slice;
  }

  expectEnd(): void {
    const left = this.bytes.byteLength - this.#offset;
    if (left !== 0) {
      throw new InferenceError(
        "invalid_argument",
        `The ${this.what} has ${left} bytes of binary data that no tensor claims`,
      );
    }
  }
}
