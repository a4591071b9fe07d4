/**
 * Loads `grpc_predict_v2.proto` for the gRPC server and client, and declares the shapes of its
 * messages as this loader produces them: snake_case field names, 64-bit integers as decimal
 * strings (exact), bytes as `Uint8Array`, unset fields filled with defaults, and a
 * `parameter_choice` field naming the member of `InferParameter`'s oneof that is set.
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

/** Path of the proto file; `deno compile` must `--include` it. */
export const PROTO_PATH: string = fileURLToPath(
  new URL("./grpc_predict_v2.proto", import.meta.url),
);

/** Loader options shared by server and client, so both see the same message shapes. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  arrays: true,
};

/** 64-bit integers: decimal strings when received; numbers, bigints' strings or strings when sent. */
export type Int64 = string | number;

/** `inference.InferParameter`: one of three members is set. */
export interface GrpcParameter {
  /** A boolean value. */
  bool_param?: boolean;
  /** An integer value. */
  int64_param?: Int64;
  /** A string value. */
  string_param?: string;
  /** Which member is set (filled in by the loader on received messages). */
  parameter_choice?: "bool_param" | "int64_param" | "string_param";
}

/** `inference.InferTensorContents`: one repeated field per element type. */
export interface GrpcTensorContents {
  /** BOOL elements. */
  bool_contents?: boolean[];
  /** INT8, INT16 and INT32 elements. */
  int_contents?: number[];
  /** INT64 elements. */
  int64_contents?: Int64[];
  /** UINT8, UINT16 and UINT32 elements. */
  uint_contents?: number[];
  /** UINT64 elements. */
  uint64_contents?: Int64[];
  /** FP32 elements. */
  fp32_contents?: number[];
  /** FP64 elements. */
  fp64_contents?: number[];
  /** BYTES elements. */
  bytes_contents?: Uint8Array[];
}

/** Name, datatype and shape of a tensor in metadata messages. */
export interface GrpcTensorMeta {
  /** Tensor name. */
  name: string;
  /** Datatype name. */
  datatype: string;
  /** Dimensions; -1 marks any size in metadata. */
  shape: Int64[];
}

/** An input or output tensor of `ModelInferRequest` / `ModelInferResponse`. */
export interface GrpcTensor extends GrpcTensorMeta {
  /** Tensor parameters. */
  parameters?: Record<string, GrpcParameter>;
  /** Typed contents, when raw contents are not used. */
  contents?: GrpcTensorContents | null;
}

/** `inference.ModelInferRequest`. */
export interface GrpcInferRequest {
  /** Model name. */
  model_name: string;
  /** Model version; empty for the server's choice. */
  model_version?: string;
  /** Request id; empty for none. */
  id?: string;
  /** Request parameters. */
  parameters?: Record<string, GrpcParameter>;
  /** Input tensors. */
  inputs: GrpcTensor[];
  /** Requested outputs; empty for all. */
  outputs?: { name: string; parameters?: Record<string, GrpcParameter> }[];
  /** Raw input bytes, one entry per input, or empty when typed contents are used. */
  raw_input_contents?: Uint8Array[];
}

/** `inference.ModelInferResponse`. */
export interface GrpcInferResponse {
  /** Model name. */
  model_name: string;
  /** Model version. */
  model_version: string;
  /** The request's id; empty for none. */
  id?: string;
  /** Response parameters. */
  parameters?: Record<string, GrpcParameter>;
  /** Output tensors. */
  outputs: GrpcTensor[];
  /** Raw output bytes, one entry per output, or empty when typed contents are used. */
  raw_output_contents?: Uint8Array[];
}

/** `inference.ModelMetadataResponse`. */
export interface GrpcModelMetadata {
  /** Model name. */
  name: string;
  /** Available versions. */
  versions: string[];
  /** Where the model runs. */
  platform: string;
  /** The model's inputs. */
  inputs: GrpcTensorMeta[];
  /** The model's outputs. */
  outputs: GrpcTensorMeta[];
}

/** `inference.RepositoryIndexResponse`. */
export interface GrpcRepositoryIndex {
  /** One entry per model; empty strings for absent version or reason. */
  models: { name: string; version: string; state: string; reason: string }[];
}

let cached: grpc.ServiceDefinition | undefined;

/** The `inference.GRPCInferenceService` definition (loaded once). */
export function inferenceServiceDefinition(): grpc.ServiceDefinition {
  if (cached === undefined) {
    const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    cached = definition["inference.GRPCInferenceService"] as grpc.ServiceDefinition;
  }
  return cached;
}
