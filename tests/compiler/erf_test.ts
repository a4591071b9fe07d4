import assert from "node:assert/strict";
import { erf, gelu } from "../../src/compiler/erf.ts";

function assertClose(actual: number, expected: number, rel: number): void {
  assert.ok(
    Math.abs(actual - expected) <= rel * Math.abs(expected),
    `${actual} is not within ${rel} of ${expected}`,
  );
}

Deno.test("erf matches reference values on both sides of the series / fraction switch", () => {
  // Values from mpmath at 40 digits, rounded to double.
  const cases: [number, number][] = [
    [1e-8, 1.1283791670955126e-8],
    [0.01, 0.011283415555849616],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [2.5, 0.999593047982555],
    [3, 0.9999779095030014],
    [3.5, 0.9999992569016276],
    [5, 0.9999999999984626],
  ];
  for (const [x, expected] of cases) {
    assertClose(erf(x), expected, 2e-15);
    assertClose(erf(-x), -expected, 2e-15);
  }
  assert.equal(erf(0), 0);
  assert.equal(erf(40), 1);
  assert.equal(erf(-Infinity), -1);
  assert.ok(Number.isNaN(erf(Number.NaN)));
});

Deno.test("erf is continuous where the method changes at 3", () => {
  const below = erf(3 - 1e-12), at = erf(3);
  assert.ok(Math.abs(at - below) < 1e-15, `${below} vs ${at}`);
});

Deno.test("gelu is the exact erf form", () => {
  assertClose(gelu(1), 0.8413447460685429, 1e-15);
  assertClose(gelu(-1), -0.15865525393145705, 1e-15);
  assertClose(gelu(0.5), 0.34573123063700656, 1e-15);
  assert.equal(gelu(0), 0);
});
