/**
 * Every figure of REEF's evaluation that reef reproduces (`reef-notes.md` §8.4): its experiment,
 * axes, the columns of its data file and its gnuplot script. `evaluation/README.md` describes
 * each figure in words; this table is what code uses.
 * @module
 */

import type { ExperimentId } from "./experiments.ts";

/** Identifiers of the figures, as in REEF's paper. */
export const FIGURE_IDS = [
  "1a",
  "1b",
  "1c",
  "1d",
  "10a",
  "10b",
  "11a",
  "11b",
  "12a",
  "13a",
  "13b",
  "14a",
  "14b",
  "15a",
  "15b",
  "16a",
  "17a",
] as const;

/** One of {@linkcode FIGURE_IDS}. */
export type FigureId = typeof FIGURE_IDS[number];

/** A figure: where its data comes from and how it is drawn. */
export interface FigureSpec {
  id: FigureId;
  title: string;
  /** The experiment whose results the figure plots. */
  experiment: ExperimentId;
  xAxis: string;
  yAxis: string;
  /** Right-hand axis, for figures with two. */
  y2Axis?: string;
  /**
   * Header of the figure's CSV data file: the x column first, then one column per series
   * (for 1b: one row per RT request, the number of BE tasks and the latency).
   */
  columns: readonly string[];
  /** The gnuplot script, relative to `evaluation/`. */
  script: string;
}

const DISB_SERIES = ["RT-Only", "SEQ", "GPUStreams", "GPUStreams+Prio", "REEF"] as const;

/** Every figure, in paper order. */
export const FIGURES: readonly FigureSpec[] = [
  {
    id: "1a",
    title: "Throughput of RT and BE tasks under GPU streams",
    experiment: "multi-stream",
    xAxis: "# BE tasks",
    yAxis: "Throughput (req/s), stacked",
    columns: ["BE tasks", "BE", "RT"],
    script: "fig1/fig1a.plt",
  },
  {
    id: "1b",
    title: "RT latency under GPU streams",
    experiment: "multi-stream",
    xAxis: "# BE tasks",
    yAxis: "RT latency (ms), box plot",
    columns: ["BE tasks", "RT latency (ms)"],
    script: "fig1/fig1b.plt",
  },
  {
    id: "1c",
    title: "RT execution time vs p95 wait-based preemption latency",
    experiment: "wait-motivation",
    xAxis: "# BE tasks",
    yAxis: "Latency (ms)",
    columns: ["BE tasks", "Execution", "Preemption"],
    script: "fig1/fig1c.plt",
  },
  {
    id: "1d",
    title: "BE throughput as the RT rate rises",
    experiment: "rt-rate",
    xAxis: "RT request rate (req/s)",
    yAxis: "BE throughput (req/s)",
    columns: ["RT rate (req/s)", "Preemptive", "Concurrent"],
    script: "fig1/fig1d.plt",
  },
  {
    id: "10a",
    title: "Average RT latency on DISB",
    experiment: "disb-overall",
    xAxis: "DISB workload",
    yAxis: "Average RT latency (ms)",
    columns: ["Workload", ...DISB_SERIES],
    script: "fig10/fig10a.plt",
  },
  {
    id: "10b",
    title: "Overall throughput on DISB",
    experiment: "disb-overall",
    xAxis: "DISB workload",
    yAxis: "Overall throughput (req/s)",
    columns: ["Workload", ...DISB_SERIES],
    script: "fig10/fig10b.plt",
  },
  {
    id: "11a",
    title: "Average preemption latency on DISB",
    experiment: "disb-preemption",
    xAxis: "DISB workload",
    yAxis: "Average preemption latency (µs)",
    columns: ["Workload", "Wait-based", "Reset-based", "Reset-based (BE drained)"],
    script: "fig11/fig11a.plt",
  },
  {
    id: "11b",
    title: "p90 preemption latency per BE model",
    experiment: "model-preemption",
    xAxis: "BE model",
    yAxis: "p90 preemption latency (µs)",
    columns: ["Model", "Wait", "Reset"],
    script: "fig11/fig11b.plt",
  },
  {
    id: "12a",
    title: "p95 preemption latency vs number of BE tasks",
    experiment: "be-scaling",
    xAxis: "# BE tasks",
    yAxis: "p95 preemption latency (µs)",
    columns: ["BE tasks", "Wait-based", "Reset w/o OPT", "Reset-based"],
    script: "fig12/fig12a.plt",
  },
  {
    id: "13a",
    title: "p80 preemption latency vs BE kernel execution time",
    experiment: "kernel-size",
    xAxis: "BE kernel execution time (µs), log scale",
    yAxis: "p80 preemption latency (µs)",
    columns: ["BE kernel time (us)", "Wait", "Reset"],
    script: "fig13/fig13a.plt",
  },
  {
    id: "13b",
    title: "Median preemption latency vs queued BE kernels",
    experiment: "queue-size",
    xAxis: "# queued BE kernels",
    yAxis: "Median preemption latency (µs)",
    columns: ["Kernels", "Wait", "Reset"],
    script: "fig13/fig13b.plt",
  },
  {
    id: "14a",
    title: "Device-queue capacity trade-off",
    experiment: "dq-tradeoff",
    xAxis: "Device-queue capacity (kernels), log scale",
    yAxis: "p90 preemption latency (µs)",
    y2Axis: "Average BE execution latency (ms)",
    columns: ["DQ capacity", "Preemption p90 (us)", "BE execution (ms)"],
    script: "fig14/fig14a.plt",
  },
  {
    id: "14b",
    title: "Restore overhead per model",
    experiment: "restore-overhead",
    xAxis: "Model",
    yAxis: "Restore overhead (% of model latency)",
    columns: ["Model", "Restore overhead (%)"],
    script: "fig14/fig14b.plt",
  },
  {
    id: "15a",
    title: "Maximum RT execution latency with dynamic kernel padding",
    experiment: "dkp",
    xAxis: "Model",
    yAxis: "Maximum RT execution latency (ms)",
    columns: ["Model", "RT-Only", "GPUStreams", "Stream-Prio", "Reset", "REEF (DKP)"],
    script: "fig15/fig15a.plt",
  },
  {
    id: "15b",
    title: "BE throughput beside back-to-back RT work",
    experiment: "dkp",
    xAxis: "Model",
    yAxis: "BE inferences completed while RT runs (req/s)",
    columns: ["Model", "GPUStreams", "Stream-Prio", "Reset", "REEF (DKP)"],
    script: "fig15/fig15b.plt",
  },
  {
    id: "16a",
    title: "Overhead of the preemptible and padding kernel builds",
    experiment: "transform-overhead",
    xAxis: "Model",
    yAxis: "Overhead vs raw build (%)",
    columns: ["Model", "BE build", "DKP build", "DKP every kernel"],
    script: "fig16/fig16a.plt",
  },
  {
    id: "17a",
    title: "Kernel-selection latency on DISB",
    experiment: "disb-selection",
    xAxis: "DISB workload",
    yAxis: "Average kernel-selection latency (µs)",
    columns: ["Workload", "Kernel selection (us)"],
    script: "fig17/fig17a.plt",
  },
];

/**
 * The figure with this id.
 * @throws {Error} naming the id and the known ids if there is none.
 */
export function figureSpec(id: string): FigureSpec {
  const spec = FIGURES.find((f) => f.id === id);
  if (spec === undefined) {
    throw new Error(`Unknown figure "${id}" (known: ${FIGURE_IDS.join(", ")})`);
  }
  return spec;
}
