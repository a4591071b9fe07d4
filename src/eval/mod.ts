/**
 * The evaluation harness: DISB workloads and arrival processes, the runner that drives a
 * benchmark target, metrics and result files, the experiments behind REEF's figures, and figure
 * drawing with gnuplot. See `evaluation/README.md`.
 * @module
 */

export * from "./arrivals.ts";
export * from "./csv.ts";
export * from "./experiments.ts";
export * from "./figure_catalog.ts";
export * from "./figure_data.ts";
export * from "./figures.ts";
export * from "./metrics.ts";
export * from "./progress.ts";
export * from "./random.ts";
export * from "./results.ts";
export * from "./runner.ts";
export * from "./workload.ts";
