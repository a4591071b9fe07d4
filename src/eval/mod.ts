/**
 * The evaluation harness: DISB workloads and arrival processes, the runner that drives a
 * benchmark target (the scheduler, on the GPU or simulated), metrics and result files, the
 * experiments behind REEF's figures with their synthetic models, the `reef bench` sessions that
 * run them, the summary files, and figure drawing with gnuplot. See `evaluation/README.md`.
 * @module
 */

export * from "./arrivals.ts";
export * from "./bench_models.ts";
export * from "./bench_plan.ts";
export * from "./bench_session.ts";
export * from "./csv.ts";
export * from "./experiments.ts";
export * from "./figure_catalog.ts";
export * from "./figure_data.ts";
export * from "./figures.ts";
export * from "./metrics.ts";
export * from "./progress.ts";
export * from "./random.ts";
export * from "./reports.ts";
export * from "./results.ts";
export * from "./runner.ts";
export * from "./scheduler_target.ts";
export * from "./workload.ts";
