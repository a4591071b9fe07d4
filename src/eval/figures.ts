/**
 * Draws figures with gnuplot: each figure's script (`evaluation/figN/figNx.plt`) reads the
 * figure's CSV data file and writes a PDF (pdfcairo) and a PNG (pngcairo). Scripts run from the
 * `evaluation/` directory so that they can load the shared `lib/*.plt` files.
 * @module
 */

import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type FigureId, figureSpec } from "./figure_catalog.ts";
import type { RunResult } from "./results.ts";

/** The `evaluation/` directory of this checkout (scripts, workloads, README). */
export const EVALUATION_DIR: string = fileURLToPath(new URL("../../evaluation/", import.meta.url));

/** Output formats, with the gnuplot terminals the scripts select for them. */
export type FigureFormat = "pdf" | "png";

/** Thrown when gnuplot fails on a script; the message names the script. */
export class GnuplotError extends Error {
  /** Creates the error from gnuplot's exit code and error output. */
  constructor(readonly script: string, readonly exitCode: number, readonly stderr: string) {
    super(`Gnuplot failed on script "${script}" (exit code ${exitCode}): ${stderr.trim()}`);
    this.name = "GnuplotError";
  }
}

/** Options of {@linkcode runGnuplotScript} and {@linkcode renderFigure}. */
export interface GnuplotOptions {
  /** The gnuplot executable; defaults to `gnuplot` on the PATH. */
  gnuplot?: string;
  /** Working directory of the script; defaults to {@linkcode EVALUATION_DIR}. */
  cwd?: string;
}

/**
 * Runs a gnuplot script as `gnuplot -c script args...`.
 *
 * @returns gnuplot's warnings (its error output), for the caller to show: for example a series
 *   with no data (a run not made yet). A data file with no values at all makes gnuplot fail.
 * @throws {GnuplotError} if gnuplot exits with an error.
 * @throws {Error} if gnuplot cannot be started.
 */
export async function runGnuplotScript(
  script: string,
  args: readonly string[],
  options: GnuplotOptions = {},
): Promise<string[]> {
  const gnuplot = options.gnuplot ?? "gnuplot";
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(gnuplot, {
      args: ["-c", script, ...args],
      cwd: options.cwd ?? EVALUATION_DIR,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Error(
      `Cannot run gnuplot ("${gnuplot}") for script "${script}": ${
        error instanceof Error ? error.message : String(error)
      }; install gnuplot 5.4 or later with the cairo terminals`,
      { cause: error },
    );
  }
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new GnuplotError(script, output.code, stderr);
  }
  return stderr.split("\n").map((line) => line.trim()).filter((line) => line !== "");
}

/** The files a rendered figure produced. */
export interface RenderedFigure {
  id: FigureId;
  pdf: string;
  png: string;
  /** gnuplot's warnings, if any. */
  warnings: string[];
}

/** Options of {@linkcode renderFigure}. */
export interface RenderOptions extends GnuplotOptions {
  /**
   * A line under the figure's title naming where the data come from (see
   * {@linkcode figureNote}); empty for none.
   */
  note?: string;
}

/**
 * Draws a figure from its data file into `<outDir>/fig<id>.pdf` and `<outDir>/fig<id>.png`.
 *
 * @example
 * ```ts ignore
 * await renderFigure("10a", "evaluation/results/h100/fig10/fig10a.csv", "evaluation/results/h100/fig10");
 * ```
 * @throws {Error} if the data file is missing or a file is not written.
 * @throws {GnuplotError} if gnuplot fails.
 */
export async function renderFigure(
  id: FigureId,
  dataPath: string,
  outDir: string,
  options: RenderOptions = {},
): Promise<RenderedFigure> {
  const spec = figureSpec(id);
  const data = resolve(dataPath);
  try {
    await Deno.stat(data);
  } catch {
    throw new Error(`Cannot draw figure ${id}: data file "${data}" does not exist`);
  }
  await Deno.mkdir(outDir, { recursive: true });
  const cwd = options.cwd ?? EVALUATION_DIR;
  const script = join(cwd, spec.script);
  const files = { pdf: resolve(outDir, `fig${id}.pdf`), png: resolve(outDir, `fig${id}.png`) };
  const warnings: string[] = [];
  for (const format of ["pdf", "png"] as const) {
    warnings.push(
      ...await runGnuplotScript(script, [data, files[format], format, options.note ?? ""], {
        ...options,
        cwd,
      }),
    );
    const info = await Deno.stat(files[format]).catch(() => undefined);
    if (info === undefined || info.size === 0) {
      throw new Error(`Gnuplot wrote no ${format} output for script "${script}"`);
    }
  }
  return { id, ...files, warnings };
}

/**
 * The note a figure carries about its data: the devices the runs used, and a warning when any
 * ran on the simulated device, whose numbers are never GPU results.
 */
export function figureNote(runs: readonly RunResult[]): string {
  const devices = [...new Set(runs.map((r) => r.label.device))].join(", ");
  return runs.some((r) => r.label.simulated)
    ? `SIMULATED device (${devices}): not GPU results`
    : devices;
}
