/**
 * The error function in float64, for the exact (erf) form of GELU in the CPU references.
 * JavaScript has no `Math.erf`; this one is accurate to a few ulp, so the float64 references
 * stay far below the 1e-9 tolerance the lowering tests use.
 * @module
 */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);

/** Below this magnitude the power series is used, above it the continued fraction for erfc. */
const SERIES_LIMIT = 3;

/** Depth of the erfc continued fraction; at |x| >= 3 it has converged to double precision. */
const FRACTION_DEPTH = 80;

/**
 * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (1*3*...*(2n+1)).
 * Every term is positive, so there is no cancellation (unlike the alternating Maclaurin series).
 */
function erfSeries(x: number): number {
  const x2 = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= x2 / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/** erfc(x) for x >= 3 from its continued fraction, evaluated backwards from a fixed depth. */
function erfcFraction(x: number): number {
  let t = x;
  for (let k = FRACTION_DEPTH; k >= 1; k--) t = x + (k / 2) / t;
  return ONE_OVER_SQRT_PI * Math.exp(-x * x) / t;
}

/**
 * The error function erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt.
 *
 * @example
 * ```ts
 * erf(1); // 0.8427007929497149
 * ```
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const ax = Math.abs(x);
  const value = ax < SERIES_LIMIT ? erfSeries(ax) : 1 - erfcFraction(ax);
  return x < 0 ? -value : value;
}

/** GELU in its exact form, x * (1 + erf(x / sqrt(2))) / 2, as PyTorch's `gelu` (approximate="none"). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
}
