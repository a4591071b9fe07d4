/**
 * The Open Inference Protocol's messages as plain TypeScript values, independent of transport: the
 * REST and gRPC codecs translate their wire formats to and from these, on the server and in the
 * client alike.
 * @module
 */

import type { ModelState, Priority, Tensor, TensorMeta } from "./backend.ts";
import { InferenceError } from "./errors.ts";

/** A request or response parameter value. */
export type ParameterValue = string | number | boolean;

/** Request or response parameters by name. */
export type Parameters = Record<string, ParameterValue>;

/** An output named in an inference request. */
export interface RequestedOutput {
  /** Output name. */
  name: string;
  /** REST only: return this output as binary data (`binary_data`); unset follows the request. */
  binary?: boolean;
}

/** An inference request after transport decoding. */
export interface InferCall {
  /** Model name. */
  model: string;
  /** Requested model version; the server has one version, "1". */
  version?: string;
  /** Request id, echoed in the reply. */
  id?: string;
  /** Request parameters (`priority`, `client`, ...). */
  parameters: Parameters;
  /** Input tensors, in request order. */
  inputs: Tensor[];
  /** The outputs to return, all of them if absent. */
  outputs?: RequestedOutput[];
}

/** An inference response before transport encoding. */
export interface InferReply {
  /** Model name. */
  model: string;
  /** Model version that ran. */
  version: string;
  /** The request's id, if it had one. */
  id?: string;
  /** Carries REEF's per-request timings (see {@linkcode TIMING_PARAMETERS}). */
  parameters: Parameters;
  /** Output tensors, in the order requested. */
  outputs: Tensor[];
}

/** Server metadata (`GET /v2`, `ServerMetadata`). */
export interface ServerMetadata {
  /** Server name, "reef". */
  name: string;
  /** Server version. */
  version: string;
  /** Protocol extensions the server implements. */
  extensions: string[];
}

/** Model metadata (`GET /v2/models/{m}`, `ModelMetadata`). */
export interface ModelMetadataReply {
  /** Model name. */
  name: string;
  /** Available versions (always ["1"]). */
  versions: string[];
  /** Where the model runs. */
  platform: string;
  /** The model's inputs; -1 marks a dimension of any size. */
  inputs: TensorMeta[];
  /** The model's outputs. */
  outputs: TensorMeta[];
}

/** One entry of the repository index. */
export interface RepositoryEntry {
  /** Model name. */
  name: string;
  /** Model version. */
  version?: string;
  /** "READY", "LOADING" or "UNAVAILABLE", as the repository extension spells states. */
  state: string;
  /** Why the model is in this state, when known. */
  reason?: string;
}

/** The only model version the server exposes: a backend model has no versions. */
export const MODEL_VERSION = "1";

/** Request parameter that selects REEF's task class, "rt" or "be" (default "be"). */
export const PRIORITY_PARAMETER = "priority";

/** Request parameter that names the client's best-effort queue. */
export const CLIENT_PARAMETER = "client";

/** Header (REST) and metadata key (gRPC) that name the client's queue when the parameter is absent. */
export const CLIENT_HEADER = "reef-client";

/** Response parameters carrying the backend's timings, in microseconds, and the preemption count. */
export const TIMING_PARAMETERS = {
  submittedUs: "reef_submitted_us",
  startedUs: "reef_started_us",
  finishedUs: "reef_finished_us",
  preemptions: "reef_preemptions",
} as const;

/** Repository state names of the protocol, by backend state. */
export const REPOSITORY_STATES: Record<ModelState, string> = {
  ready: "READY",
  loading: "LOADING",
  unavailable: "UNAVAILABLE",
};

/** Reads the priority parameter ("rt" or "be", default "be"); throws for any other value. */
export function priorityOf(parameters: Parameters): Priority {
  const value = parameters[PRIORITY_PARAMETER];
  if (value === undefined || value === "be") return "be";
  if (value === "rt") return "rt";
  throw new InferenceError(
    "invalid_argument",
    `Parameter "${PRIORITY_PARAMETER}" must be "rt" or "be", got ${JSON.stringify(value)}`,
  );
}
