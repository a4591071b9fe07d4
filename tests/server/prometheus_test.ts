import assert from "node:assert/strict";
import { ServerMetrics } from "../../src/server/metrics.ts";
import { Counter, Gauge, Histogram, renderExposition } from "../../src/server/prometheus.ts";

Deno.test("renderExposition writes counters, gauges and cumulative histograms", () => {
  const counter = new Counter("c_total", "A counter.", ["model"]);
  counter.inc({ model: 'a"b\\c\nd' });
  counter.inc({ model: "x" }, 2);
  const gauge = new Gauge("g", "A gauge.");
  gauge.set({}, 1.5);
  const histogram = new Histogram("h_seconds", "A histogram.", [], [0.1, 1]);
  histogram.observe({}, 0.05);
  histogram.observe({}, 0.5);
  histogram.observe({}, 7);
  assert.equal(
    renderExposition([counter, gauge, histogram]),
    [
      "# HELP c_total A counter.",
      "# TYPE c_total counter",
      'c_total{model="a\\"b\\\\c\\nd"} 1',
      'c_total{model="x"} 2',
      "# HELP g A gauge.",
      "# TYPE g gauge",
      "g 1.5",
      "# HELP h_seconds A histogram.",
      "# TYPE h_seconds histogram",
      'h_seconds_bucket{le="0.1"} 1',
      'h_seconds_bucket{le="1"} 2',
      'h_seconds_bucket{le="+Inf"} 3',
      "h_seconds_sum 7.55",
      "h_seconds_count 3",
      "",
    ].join("\n"),
  );
  assert.throws(() => counter.inc({}), /Metric "c_total" needs label "model"/);
  assert.throws(() => new Histogram("h", "h", [], [1, 1]), /ascending bucket bounds/);
});

Deno.test("ServerMetrics drains preemption latencies and rebuilds queue depths per scrape", () => {
  const metrics = new ServerMetrics();
  metrics.recordRequest("echo", "rt", "success", 0.002);
  metrics.recordRequest("echo", "be", "failure", 0.5);
  const first = metrics.render({
    preemptions: 2,
    preemptLatenciesUs: [3, 40],
    queueDepths: { "be-1": 4 },
    loopStalls: 1,
  });
  assert.match(
    first,
    /^reef_inference_requests_total\{model="echo",priority="rt",outcome="success"\} 1$/m,
  );
  assert.match(
    first,
    /^reef_inference_requests_total\{model="echo",priority="be",outcome="failure"\} 1$/m,
  );
  assert.match(
    first,
    /^reef_inference_request_duration_seconds_count\{model="echo",priority="rt"\} 1$/m,
  );
  assert.doesNotMatch(first, /duration_seconds_count\{model="echo",priority="be"\}/);
  assert.match(first, /^reef_preemptions_total 2$/m);
  assert.match(first, /^reef_preemption_latency_seconds_bucket\{le="0.000005"\} 1$/m);
  assert.match(first, /^reef_preemption_latency_seconds_count 2$/m);
  assert.match(first, /^reef_queue_depth\{queue="be-1"\} 4$/m);
  assert.match(first, /^reef_scheduler_loop_stalls_total 1$/m);

  const second = metrics.render({
    preemptions: 3,
    preemptLatenciesUs: [1],
    queueDepths: {},
    loopStalls: 4,
  });
  assert.match(second, /^reef_preemptions_total 3$/m);
  assert.match(second, /^reef_preemption_latency_seconds_count 3$/m);
  assert.doesNotMatch(second, /reef_queue_depth\{/);
  assert.match(second, /^reef_scheduler_loop_stalls_total 4$/m);
});
