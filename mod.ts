/**
 * reef: microsecond-scale preemption for concurrent GPU DNN inference, on a stock NVIDIA driver.
 *
 * The library API: the GPU binding (devices, modules, streams), and, as they land, the model
 * compiler, the scheduler and the server.
 * @module
 */

export * from "./src/gpu/mod.ts";
export { VERSION } from "./src/version.ts";
