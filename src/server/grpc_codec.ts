/**
 * Conversion between gRPC inference messages and the protocol's plain values, both ways (server
 * and client): parameters, tensors in `raw_*_contents` or typed `InferTensorContents`.
 * @module
 */

import type { Datatype, Tensor } from "./backend.ts";
import { InferenceError } from "./errors.ts";
import type {
  GrpcInferRequest,
  GrpcInferResponse,
  GrpcParameter,
  GrpcTensor,
  GrpcTensorContents,
} from "./grpc_proto.ts";
import type { InferCall, InferReply, Parameters } from "./protocol.ts";
import { isDatatype, packElements, unpackElements } from "./tensor.ts";

/** The typed-contents field that carries each datatype; FP16 and BF16 travel only as raw bytes. */
const CONTENTS_FIELD: Record<Datatype, keyof GrpcTensorContents | undefined> = {
  BOOL: "bool_contents",
  INT8: "int_contents",
  INT16: "int_contents",
  INT32: "int_contents",
  INT64: "int64_contents",
  UINT8: "uint_contents",
  UINT16: "uint_contents",
  UINT32: "uint_contents",
  UINT64: "uint64_contents",
  FP32: "fp32_contents",
  FP64: "fp64_contents",
  BYTES: "bytes_contents",
  FP16: undefined,
  BF16: undefined,
};

/** True if every tensor's datatype has a typed-contents field (none is FP16 or BF16). */
export function typedContentsFit(tensors: readonly { datatype: Datatype }[]): boolean {
  return tensors.every((tensor) => CONTENTS_FIELD[tensor.datatype] !== undefined);
}

/** Reads gRPC parameters; 64-bit integers become numbers. */
export function parametersFromGrpc(
  parameters: Record<string, GrpcParameter> | undefined,
): Parameters {
  const out: Parameters = {};
  for (const [name, parameter] of Object.entries(parameters ?? {})) {
    const choice = parameter.parameter_choice;
    if (choice === "bool_param") out[name] = parameter.bool_param as boolean;
    else if (choice === "int64_param") out[name] = Number(parameter.int64_param);
    else if (choice === "string_param") out[name] = parameter.string_param as string;
  }
  return out;
}

/**
 * Writes parameters for gRPC. `InferParameter` has no floating-point member, so a fractional
 * number (a timing in microseconds, say) is rounded to the nearest integer.
 */
export function parametersToGrpc(parameters: Parameters): Record<string, GrpcParameter> {
  const out: Record<string, GrpcParameter> = {};
  for (const [name, value] of Object.entries(parameters)) {
    if (typeof value === "boolean") out[name] = { bool_param: value };
    else if (typeof value === "number") out[name] = { int64_param: Math.round(value) };
    else out[name] = { string_param: value };
  }
  return out;
}

/** Decodes a `ModelInferRequest` (server side). */
export function decodeGrpcInferRequest(request: GrpcInferRequest): InferCall & { raw: boolean } {
  const raw = request.raw_input_contents ?? [];
  const usesRaw = raw.length > 0;
  if (usesRaw && raw.length !== request.inputs.length) {
    throw new InferenceError(
      "invalid_argument",
      `Field "raw_input_contents" has ${raw.length} entries for ${request.inputs.length} inputs`,
    );
  }
  const inputs = request.inputs.map((input, i) =>
    decodeTensor(`Input "${input.name}"`, input, usesRaw ? raw[i] : undefined)
  );
  return {
    model: request.model_name,
    ...(request.model_version ? { version: request.model_version } : {}),
    ...(request.id ? { id: request.id } : {}),
    parameters: parametersFromGrpc(request.parameters),
    inputs,
    ...(request.outputs && request.outputs.length > 0
      ? { outputs: request.outputs.map((output) => ({ name: output.name })) }
      : {}),
    raw: usesRaw,
  };
}

/** Encodes an inference reply (server side), with raw or typed output contents. */
export function encodeGrpcInferResponse(reply: InferReply, raw: boolean): GrpcInferResponse {
  return {
    model_name: reply.model,
    model_version: reply.version,
    id: reply.id ?? "",
    parameters: parametersToGrpc(reply.parameters),
    outputs: reply.outputs.map((tensor) => encodeTensor(tensor, raw)),
    raw_output_contents: raw ? reply.outputs.map((tensor) => tensor.data) : [],
  };
}

/** Encodes an inference request (client side), with raw or typed input contents. */
export function encodeGrpcInferRequest(call: InferCall, raw: boolean): GrpcInferRequest {
  return {
    model_name: call.model,
    model_version: call.version ?? "",
    id: call.id ?? "",
    parameters: parametersToGrpc(call.parameters),
    inputs: call.inputs.map((tensor) => encodeTensor(tensor, raw)),
    outputs: (call.outputs ?? []).map((output) => ({ name: output.name })),
    raw_input_contents: raw ? call.inputs.map((tensor) => tensor.data) : [],
  };
}

/** Decodes a `ModelInferResponse` (client side). */
export function decodeGrpcInferResponse(response: GrpcInferResponse): InferReply {
  const raw = response.raw_output_contents ?? [];
  const usesRaw = raw.length > 0;
  if (usesRaw && raw.length !== response.outputs.length) {
    throw new InferenceError(
      "internal",
      `Field "raw_output_contents" has ${raw.length} entries for ${response.outputs.length} outputs`,
    );
  }
  return {
    model: response.model_name,
    version: response.model_version,
    ...(response.id ? { id: response.id } : {}),
    parameters: parametersFromGrpc(response.parameters),
    outputs: response.outputs.map((output, i) =>
      decodeTensor(`Output "${output.name}"`, output, usesRaw ? raw[i] : undefined)
    ),
  };
}

function encodeTensor(tensor: Tensor, raw: boolean): GrpcTensor {
  const head = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
  if (raw) return head;
  const field = CONTENTS_FIELD[tensor.datatype];
  if (field === undefined) {
    throw new InferenceError(
      "invalid_argument",
      `Tensor "${tensor.name}": datatype "${tensor.datatype}" travels only as raw contents`,
    );
  }
  const values = unpackElements(`Tensor "${tensor.name}"`, tensor).map((value) =>
    typeof value === "bigint" ? value.toString() : value
  );
  return { ...head, contents: { [field]: values } };
}

function decodeTensor(what: string, wire: GrpcTensor, raw: Uint8Array | undefined): Tensor {
  if (!isDatatype(wire.datatype)) {
    throw new InferenceError("invalid_argument", `${what}: unknown datatype "${wire.datatype}"`);
  }
  const datatype = wire.datatype;
  const shape = wire.shape.map(Number);
  const contents = wire.contents ?? {};
  const filled = Object.entries(contents).filter(([, values]) =>
    Array.isArray(values) && values.length > 0
  ).map(([field]) => field);
  if (raw !== undefined) {
    if (filled.length > 0) {
      throw new InferenceError(
        "invalid_argument",
        `${what}: has typed contents although raw contents are used for every tensor`,
      );
    }
    return { name: wire.name, datatype, shape, data: raw };
  }
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) {
    throw new InferenceError(
      "invalid_argument",
      `${what}: datatype "${datatype}" can only be sent as raw contents`,
    );
  }
  const stray = filled.find((name) => name !== field);
  if (stray !== undefined) {
    throw new InferenceError(
      "invalid_argument",
      `${what}: datatype "${datatype}" takes contents in "${field}", not "${stray}"`,
    );
  }
  const values = (contents[field] ?? []) as readonly unknown[];
  return { name: wire.name, datatype, shape, data: packElements(what, datatype, shape, values) };
}
