/**
 * reef's inference server and client: the Open Inference Protocol (KServe v2) over HTTP/REST and
 * gRPC, with REEF's task priority as a request parameter.
 *
 * - {@linkcode serve} runs the server over an {@linkcode InferenceBackend};
 * - {@linkcode parseServeArgs} and {@linkcode resolveServeConfig} build its configuration;
 * - {@linkcode ReefClient} talks to a server; {@linkcode runClient} drives load for `reef run`.
 * @module
 */

export type {
  BackendInferRequest,
  BackendInferResult,
  BackendStats,
  Datatype,
  InferenceBackend,
  InferTimings,
  ModelMetadata,
  ModelState,
  ModelStatus,
  Priority,
  Tensor,
  TensorMeta,
} from "./backend.ts";
export {
  ConfigError,
  loadServeConfigFile,
  parseServeArgs,
  resolveServeConfig,
  SCHEDULER_MODES,
  type SchedulerMode,
  SERVE_FLAGS_HELP,
  type ServeConfig,
  type ServeConfigInput,
  type ServeLimits,
} from "./config.ts";
export { InferenceError } from "./errors.ts";
export { type ReefServer, serve, type ServeOptions } from "./serve.ts";
export { type InferOptions, type InferResponse, ReefClient, ReefClientError } from "./client.ts";
export {
  type LatencySummary,
  type RequestRecord,
  runClient,
  type RunClientOptions,
  type RunResult,
  type RunSummary,
  type RunTarget,
} from "./run_client.ts";
export { type ElementValue, packElements, unpackElements } from "./tensor.ts";
