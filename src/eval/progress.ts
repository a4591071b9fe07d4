/**
 * Progress of a benchmark run on stderr: a redrawn bar when stderr is a terminal, plain lines
 * at a slow period otherwise (so that CI logs and redirected output stay readable).
 * @module
 */

/** Where progress goes. */
export interface ProgressSink {
  /** True when the output is an interactive terminal (the bar is redrawn in place). */
  readonly isTerminal: boolean;
  write(text: string): void;
}

/** Progress written to the process's stderr. */
export function stderrProgressSink(): ProgressSink {
  const encoder = new TextEncoder();
  return {
    isTerminal: Deno.stderr.isTerminal(),
    write(text: string): void {
      Deno.stderr.writeSync(encoder.encode(text));
    },
  };
}

/** Options of a {@linkcode ProgressReporter}. */
export interface ProgressOptions {
  /** What is running, shown before the bar (for example `D reef`). */
  label: string;
  sink?: ProgressSink;
  /** Milliseconds between plain lines when the sink is not a terminal; defaults to 10 000. */
  plainIntervalMs?: number;
  /** Milliseconds between redraws of the bar; defaults to 100. */
  barIntervalMs?: number;
  /** The wall clock in ms; injectable for tests. */
  nowMs?: () => number;
}

const BAR_WIDTH = 30;

/**
 * Reports the progress of a run. Call {@linkcode ProgressReporter.update} as often as convenient:
 * it writes only when its interval has passed. Call {@linkcode ProgressReporter.finish} once.
 */
export class ProgressReporter {
  readonly #label: string;
  readonly #sink: ProgressSink;
  readonly #intervalMs: number;
  readonly #nowMs: () => number;
  #lastWriteMs = Number.NEGATIVE_INFINITY;
  #finished = false;

  /** Creates a reporter; see {@linkcode ProgressOptions}. */
  constructor(options: ProgressOptions) {
    this.#label = options.label;
    this.#sink = options.sink ?? stderrProgressSink();
    this.#intervalMs = this.#sink.isTerminal
      ? options.barIntervalMs ?? 100
      : options.plainIntervalMs ?? 10_000;
    this.#nowMs = options.nowMs ?? (() => performance.now());
  }

  #format(fraction: number, completed: number, elapsedS: number, totalS: number): string {
    const clamped = Math.min(1, Math.max(0, fraction));
    const percent = Math.floor(clamped * 100);
    const times = `${elapsedS.toFixed(1)}/${totalS.toFixed(1)} s, ${completed} requests done`;
    if (!this.#sink.isTerminal) return `${this.#label}: ${percent}% (${times})\n`;
    const filled = Math.round(clamped * BAR_WIDTH);
    const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
    // "\r" and erase-to-end-of-line redraw the bar in place.
    return `\r${this.#label} [${bar}] ${String(percent).padStart(3)}% ${times}\x1b[K`;
  }

  /**
   * Reports progress if the interval has passed since the last report.
   *
   * @param completed Requests completed so far.
   * @param elapsedS Seconds of the run elapsed on the target's clock.
   * @param totalS The run's duration, seconds.
   */
  update(completed: number, elapsedS: number, totalS: number): void {
    if (this.#finished) return;
    const now = this.#nowMs();
    if (now - this.#lastWriteMs < this.#intervalMs) return;
    this.#lastWriteMs = now;
    this.#sink.write(this.#format(elapsedS / totalS, completed, elapsedS, totalS));
  }

  /** Writes the final state (always) and ends the bar's line. */
  finish(completed: number, totalS: number): void {
    if (this.#finished) return;
    this.#finished = true;
    const text = this.#format(1, completed, totalS, totalS);
    this.#sink.write(this.#sink.isTerminal ? `${text}\n` : text);
  }
}
