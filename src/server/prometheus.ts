/**
 * Counters, gauges and histograms with labels, rendered in the Prometheus text exposition format
 * (version 0.0.4). Small on purpose: the server has a handful of metrics and no client library
 * for Prometheus is reachable here.
 * @module
 */

/** Label values by label name. */
export type Labels = Record<string, string>;

/** The content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What every metric family shares: a name, help text, label names and its rendered lines. */
export abstract class MetricFamily<Value> {
  /** Every series by its label values (joined), with its labels and state. */
  protected readonly series = new Map<string, { labels: Labels; value: Value }>();

  /** Names the family; `labelNames` fixes which labels every series carries. */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: "counter" | "gauge" | "histogram",
  ) {}

  /** The series for these labels, created with `init` on first use. */
  protected seriesFor(labels: Labels, init: () => Value): { labels: Labels; value: Value } {
    const key = this.labelNames.map((name) => {
      if (!(name in labels)) throw new TypeError(`Metric "${this.name}" needs label "${name}"`);
      return labels[name];
    }).join("\u0000");
    let entry = this.series.get(key);
    if (entry === undefined) {
      entry = { labels: { ...labels }, value: init() };
      this.series.set(key, entry);
    }
    return entry;
  }

  /** The family's lines in the exposition format, with its HELP and TYPE header. */
  render(): string[] {
    const lines = [
      `# HELP ${this.name} ${this.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`,
      `# TYPE ${this.name} ${this.type}`,
    ];
    for (const { labels, value } of this.series.values()) {
      lines.push(...this.renderSeries(labels, value));
    }
    return lines;
  }

  /** The sample lines of one series. */
  protected abstract renderSeries(labels: Labels, value: Value): string[];
}

/** A monotonically increasing count per label set. */
export class Counter extends MetricFamily<{ count: number }> {
  /** Creates a counter family. */
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, "counter");
    // A family without labels has exactly one series, shown as 0 before anything is counted.
    if (labelNames.length === 0) this.seriesFor({}, () => ({ count: 0 }));
  }

  /** Adds `by` (default 1) to the series of these labels. */
  inc(labels: Labels = {}, by = 1): void {
    this.seriesFor(labels, () => ({ count: 0 })).value.count += by;
  }

  /** Raises the series to `total` when a running total is kept elsewhere (never lowers it). */
  setTotal(labels: Labels, total: number): void {
    const entry = this.seriesFor(labels, () => ({ count: 0 }));
    entry.value.count = Math.max(entry.value.count, total);
  }

  /** The sample line of one series. */
  protected renderSeries(labels: Labels, value: { count: number }): string[] {
    return [`${this.name}${formatLabels(labels)} ${formatNumber(value.count)}`];
  }
}

/** A value that goes up and down, per label set. */
export class Gauge extends MetricFamily<{ value: number }> {
  /** Creates a gauge family. */
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, "gauge");
  }

  /** Sets the series of these labels. */
  set(labels: Labels, value: number): void {
    this.seriesFor(labels, () => ({ value: 0 })).value.value = value;
  }

  /** Forgets every series, for gauges rebuilt from a fresh snapshot at each scrape. */
  clear(): void {
    this.series.clear();
  }

  /** The sample line of one series. */
  protected renderSeries(labels: Labels, value: { value: number }): string[] {
    return [`${this.name}${formatLabels(labels)} ${formatNumber(value.value)}`];
  }
}

/** One histogram series: per-bucket counts (not cumulative), sum and count. */
export interface HistogramState {
  /** Observations per bucket, by bound (not cumulative; rendering accumulates). */
  buckets: number[];
  /** Sum of all observations. */
  sum: number;
  /** Number of observations. */
  count: number;
}

/** Observations counted into cumulative buckets, with their sum and count, per label set. */
export class Histogram extends MetricFamily<HistogramState> {
  readonly #bounds: readonly number[];

  /** Creates a histogram family with the given bucket upper bounds (ascending). */
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    bounds: readonly number[],
  ) {
    super(name, help, labelNames, "histogram");
    if (bounds.some((bound, i) => i > 0 && bound <= bounds[i - 1])) {
      throw new RangeError(`Histogram "${name}" needs ascending bucket bounds`);
    }
    this.#bounds = bounds;
    if (labelNames.length === 0) this.#state({});
  }

  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const state = this.#state(labels);
    const index = this.#bounds.findIndex((bound) => value <= bound);
    if (index >= 0) state.buckets[index]++;
    state.sum += value;
    state.count++;
  }

  #state(labels: Labels): HistogramState {
    return this.seriesFor(labels, () => ({
      buckets: new Array(this.#bounds.length).fill(0),
      sum: 0,
      count: 0,
    })).value;
  }

  /** The bucket, sum and count lines of one series. */
  protected renderSeries(labels: Labels, state: HistogramState): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += state.buckets[i];
      const le = formatLabels({ ...labels, le: formatNumber(bound) });
      lines.push(`${this.name}_bucket${le} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${state.count}`);
    lines.push(`${this.name}_sum${formatLabels(labels)} ${formatNumber(state.sum)}`);
    lines.push(`${this.name}_count${formatLabels(labels)} ${state.count}`);
    return lines;
  }
}

/** Renders metric families as one exposition document. */
export function renderExposition(
  families: readonly { render(): string[] }[],
): string {
  return families.flatMap((family) => family.render()).join("\n") + "\n";
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([name, value]) =>
    `${name}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`
  );
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
