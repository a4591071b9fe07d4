import assert from "node:assert/strict";
import {
  ClosedLoopArrivals,
  closedLoopArrivals,
  openLoopArrivals,
  poissonArrivals,
  traceArrivals,
  uniformArrivals,
} from "../../src/eval/arrivals.ts";
import { deriveSeed, SeededRandom } from "../../src/eval/random.ts";

/**
 * Kolmogorov-Smirnov statistic of a sample against the exponential distribution of rate
 * `ratePerUs`: the largest distance between the empirical and the theoretical CDF.
 */
function ksStatisticExponential(sample: readonly number[], ratePerUs: number): number {
  const sorted = [...sample].sort((a, b) => a - b);
  const n = sorted.length;
  let d = 0;
  sorted.forEach((x, i) => {
    const cdf = 1 - Math.exp(-ratePerUs * x);
    d = Math.max(d, cdf - i / n, (i + 1) / n - cdf);
  });
  return d;
}

/** Asymptotic KS critical value at significance level 0.01: 1.628 / sqrt(n). */
function ksCritical01(n: number): number {
  return 1.628 / Math.sqrt(n);
}

function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]);
}

Deno.test("uniform arrivals are exactly periodic from the phase to the end of the window", () => {
  const times = uniformArrivals(30, { durationUs: 1e6 });
  assert.equal(times.length, 30);
  times.forEach((t, k) => assert.equal(t, (k * 1e6) / 30));
  const shifted = uniformArrivals(100, { durationUs: 50_000, startUs: 2_500 });
  assert.deepEqual(shifted, [2_500, 12_500, 22_500, 32_500, 42_500]);
  // The window is half-open: a release exactly at the end is not made.
  assert.deepEqual(uniformArrivals(1000, { durationUs: 3000 }), [0, 1000, 2000]);
});

Deno.test("uniform arrivals do not drift over a long run", () => {
  const times = uniformArrivals(220, { durationUs: 3600e6 });
  assert.equal(times.length, 220 * 3600);
  assert.equal(times[times.length - 1], ((220 * 3600 - 1) * 1e6) / 220);
});

Deno.test("arrival generators reject invalid parameters", () => {
  assert.throws(() => uniformArrivals(0, { durationUs: 1e6 }), /rate "0"/);
  assert.throws(() => poissonArrivals(-5, { durationUs: 1e6 }, 1), /rate "-5"/);
  assert.throws(() => uniformArrivals(10, { durationUs: 0 }), /duration "0"/);
  assert.throws(() => uniformArrivals(10, { durationUs: 1e6, startUs: -1 }), /start "-1"/);
  assert.throws(() => new ClosedLoopArrivals({ durationUs: 1e6, concurrency: 0 }), /concurrency/);
  assert.throws(
    () => new ClosedLoopArrivals({ durationUs: 1e6, thinkTimeUs: { minUs: 5, maxUs: 1 } }),
    /think time/,
  );
});

Deno.test("Poisson arrivals have the requested mean rate (within 4 standard deviations)", () => {
  const ratePerS = 1000;
  const durationS = 20;
  const times = poissonArrivals(ratePerS, { durationUs: durationS * 1e6 }, 42);
  const expected = ratePerS * durationS;
  // The count of a Poisson process over T has mean and variance rate * T.
  assert.ok(
    Math.abs(times.length - expected) <= 4 * Math.sqrt(expected),
    `${times.length} arrivals, expected ${expected}`,
  );
  assert.ok(times.every((t, i) => i === 0 || t > times[i - 1]));
  assert.ok(times[0] >= 0 && times[times.length - 1] < durationS * 1e6);
});

Deno.test("Poisson gaps pass a Kolmogorov-Smirnov test for the exponential law at level 0.01", () => {
  for (const seed of [1, 2, 3]) {
    const ratePerS = 500;
    const times = poissonArrivals(ratePerS, { durationUs: 10e6 }, seed);
    const sample = gaps(times);
    const d = ksStatisticExponential(sample, ratePerS / 1e6);
    assert.ok(d < ksCritical01(sample.length), `seed ${seed}: D = ${d}`);
  }
});

Deno.test("the Kolmogorov-Smirnov check rejects gaps that are not exponential", () => {
  // Control for the test above: periodic gaps of the same mean must fail it.
  const sample = gaps(uniformArrivals(500, { durationUs: 10e6 }));
  assert.ok(ksStatisticExponential(sample, 500 / 1e6) > ksCritical01(sample.length));
  // So must exponential gaps of the wrong rate.
  const wrongRate = gaps(poissonArrivals(400, { durationUs: 10e6 }, 9));
  assert.ok(ksStatisticExponential(wrongRate, 500 / 1e6) > ksCritical01(wrongRate.length));
});

Deno.test("Poisson arrivals are deterministic given the seed", () => {
  const a = poissonArrivals(100, { durationUs: 1e6, startUs: 1000 }, 7);
  assert.deepEqual(poissonArrivals(100, { durationUs: 1e6, startUs: 1000 }, 7), a);
  assert.notDeepEqual(poissonArrivals(100, { durationUs: 1e6, startUs: 1000 }, 8), a);
  assert.ok(a[0] > 1000);
});

Deno.test("trace arrivals repeat, scale, shift and stop at the end of the window", () => {
  assert.deepEqual(traceArrivals([0, 100], { durationUs: 450_000 }, { repeatEveryMs: 200 }), [
    0,
    100_000,
    200_000,
    300_000,
    400_000,
  ]);
  assert.deepEqual(
    traceArrivals([10, 20], { durationUs: 1e6, startUs: 5_000 }, { timeScale: 0.5 }),
    [10_000, 15_000],
  );
  assert.deepEqual(
    traceArrivals([0, 50], { durationUs: 160_000 }, { repeatEveryMs: 100, timeScale: 0.5 }),
    [0, 25_000, 50_000, 75_000, 100_000, 125_000, 150_000],
  );
  assert.deepEqual(traceArrivals([5, 2000], { durationUs: 1e6 }), [5_000]);
});

Deno.test("open-loop arrivals dispatch on the workload's arrival type", () => {
  const window = { durationUs: 1e6 };
  assert.deepEqual(
    openLoopArrivals({ type: "uniform", rate_per_s: 4 }, window, 1),
    [0, 250_000, 500_000, 750_000],
  );
  assert.deepEqual(
    openLoopArrivals({ type: "poisson", rate_per_s: 50 }, window, 3),
    poissonArrivals(50, window, 3),
  );
  assert.deepEqual(
    openLoopArrivals({ type: "trace", times_ms: [1, 2], repeat_every_ms: 500 }, window, 1),
    [1_000, 2_000, 501_000, 502_000],
  );
});

Deno.test("closed-loop arrivals follow completions until the window ends", () => {
  const loop = new ClosedLoopArrivals({ durationUs: 10_000, startUs: 100, concurrency: 2 });
  assert.deepEqual(loop.initialReleases(), [100, 100]);
  assert.equal(loop.next(2_500), 2_500);
  assert.equal(loop.next(9_999), 9_999);
  assert.equal(loop.next(10_000), undefined);
  assert.equal(loop.issued, 4);
  assert.throws(() => loop.initialReleases(), /already taken/);
});

Deno.test("a rate-capped closed loop waits for its slot and catches up when late", () => {
  // REEF's synchronous periodic client: slots every 10 ms.
  const loop = new ClosedLoopArrivals({ durationUs: 100_000, ratePerS: 100 });
  assert.deepEqual(loop.initialReleases(), [0]);
  assert.equal(loop.next(3_000), 10_000); // early: waits for slot 1
  assert.equal(loop.next(35_000), 35_000); // late for slot 2 (20 ms): released at once
  assert.equal(loop.next(36_000), 36_000); // still behind: slot 3 (30 ms) has passed
  assert.equal(loop.next(37_000), 40_000); // caught up: waits for slot 4
});

Deno.test("closed-loop think times are drawn in their range and are seeded", () => {
  const make = (seed: number) =>
    closedLoopArrivals(
      { type: "closed_loop", think_time_ms: { min: 1, max: 3 } },
      { durationUs: 1e9 },
      seed,
    );
  const a = make(5);
  a.initialReleases();
  const thinks = Array.from({ length: 1000 }, () => (a.next(0) as number));
  assert.ok(thinks.every((t) => t >= 1_000 && t < 3_000));
  assert.ok(Math.abs(thinks.reduce((s, t) => s + t, 0) / 1000 - 2_000) < 100);
  const b = make(5);
  b.initialReleases();
  assert.equal(b.next(0), thinks[0]);
});

Deno.test("the seeded random source is reproducible and seeds differ per label", () => {
  const a = new SeededRandom(123);
  const b = new SeededRandom(123);
  const values = Array.from({ length: 100 }, () => a.nextFloat());
  assert.deepEqual(Array.from({ length: 100 }, () => b.nextFloat()), values);
  assert.ok(values.every((v) => v >= 0 && v < 1));
  assert.equal(deriveSeed(1, "rt-vgg19"), deriveSeed(1, "rt-vgg19"));
  assert.notEqual(deriveSeed(1, "rt-vgg19"), deriveSeed(1, "rt-resnet152"));
  assert.notEqual(deriveSeed(1, "rt-vgg19"), deriveSeed(2, "rt-vgg19"));
  assert.throws(() => new SeededRandom(Number.NaN), /seed "NaN"/);
});
