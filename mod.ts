/**
 * reef: microsecond-scale preemption for concurrent GPU DNN inference, on a stock NVIDIA driver.
 *
 * The library behind the `reef` command:
 * - the scheduler: create one on the GPU or the simulated device, load model packages, open RT and
 *   BE clients, submit inferences and await their outputs and timings;
 * - the model compiler: zoo models to model packages (kernels built raw, BE and DKP);
 * - the server and its client (the Open Inference Protocol over HTTP and gRPC);
 * - the GPU binding underneath (devices, modules, streams, events).
 *
 * @example Run a model as a real-time client while a best-effort client shares the GPU
 * ```ts ignore
 * import { compileModel, Scheduler } from "./mod.ts";
 * await compileModel("resnet50");
 * await compileModel("vgg19");
 * const scheduler = await Scheduler.create({ device: { kind: "gpu", modelDir: "resource" }, mode: "reef" });
 * const rtModel = await scheduler.loadModel("resnet50");
 * const beModel = await scheduler.loadModel("vgg19");
 * const rt = await scheduler.openClient("rt", "camera");
 * const be = await scheduler.openClient("be", "batch");
 * const input = { data: new Uint8Array(rtModel.inputs[0]!.bytes) };
 * be.infer(beModel, { data: new Uint8Array(beModel.inputs[0]!.bytes) });
 * const { outputs, timings } = await rt.infer(rtModel, input);
 * console.log(outputs.get("output"), timings.finished - timings.submitted, "µs");
 * await scheduler.close();
 * ```
 * @module
 */

export * from "./src/gpu/mod.ts";
export { VERSION } from "./src/version.ts";

export {
  Client,
  type DeviceModel,
  type DeviceSpec,
  type InferenceResult,
  type LoopStall,
  type Mode,
  MODES,
  registerDeviceFactory,
  Scheduler,
  type SchedulerOptions,
  type SchedulerStats,
  type SubmitOptions,
  type TaskTimings,
  type Tensors,
} from "./src/scheduler/mod.ts";

export {
  type CompiledModel,
  compileModel,
  type CompileModelOptions,
} from "./src/compiler/compile.ts";
export { modelNames } from "./src/compiler/zoo/mod.ts";
export {
  type ModelPackage,
  type ModelProfile,
  packagePaths,
  parsePackage,
  parseProfile,
  readPackage,
  readProfile,
} from "./src/model/package.ts";
export { profileModel } from "./src/model/profiler.ts";

export {
  type InferenceBackend,
  ReefClient,
  ReefClientError,
  type ReefServer,
  serve,
  type ServeOptions,
} from "./src/server/mod.ts";
export { SchedulerBackend } from "./src/server/scheduler_backend.ts";
