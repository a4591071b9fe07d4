/**
 * Test helper: lowers a graph and runs both float64 references (the graph in NCHW, the lowered
 * ops in NHWC), returning the largest output error relative to the output's largest magnitude.
 * @module
 */

import assert from "node:assert/strict";
import { formatShape, type Graph, numel } from "../../src/compiler/ir.ts";
import {
  checkLowered,
  type LoweredModel,
  lowerGraph,
  nchwToNhwc,
  nhwcToNchw,
  type WeightValues,
} from "../../src/compiler/lower.ts";
import { runGraph, runOps } from "../../src/compiler/reference.ts";
import { synthesizeWeights } from "../../src/compiler/weights.ts";
import type { Precision } from "../../src/kernels/ops.ts";

/** Deterministic values in [-2, 2) from a 32-bit LCG. */
export function pseudoRandom(n: number, seed: number): Float64Array {
  let state = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 30 - 2;
  }
  return out;
}

/** Result of {@linkcode compareLowering}. */
export interface Comparison {
  model: LoweredModel;
  /** Per output: max |ops - graph| / max |graph| (absolute where the output is all zero). */
  errors: Record<string, number>;
  /** Per output: max |graph|, to show the output is not vanishing. */
  magnitudes: Record<string, number>;
}

/** Lowers `graph`, checks the kernel rules, and compares `runOps` with `runGraph` on every output. */
export function compareLowering(
  graph: Graph,
  options: { seed?: number; precision?: Precision; values?: WeightValues } = {},
): Comparison {
  const seed = options.seed ?? 1;
  const weights = synthesizeWeights(graph, seed);
  const graphInputs = new Map<string, ArrayLike<number>>();
  const opInputs = new Map<string, ArrayLike<number>>();
  for (const input of graph.inputs) {
    const n = numel(input.shape);
    if (input.dtype === "int32") {
      const node = graph.nodes.find((x) => x.op === "embedding" && x.inputs[0] === input.name);
      const vocab = node?.op === "embedding" ? node.vocab : 1;
      const ids = Int32Array.from(
        pseudoRandom(n, seed + 7),
        (v) => Math.floor((v + 2) / 4 * vocab),
      );
      graphInputs.set(input.name, ids);
      opInputs.set(input.name, ids);
    } else {
      const values = pseudoRandom(n, seed + 11);
      graphInputs.set(input.name, values);
      opInputs.set(input.name, input.shape.length === 4 ? nchwToNhwc(values, input.shape) : values);
    }
  }
  const expected = runGraph(graph, weights, graphInputs);
  const model = lowerGraph(graph, weights, {
    precision: options.precision ?? "float32",
    values: options.values ?? "float64",
  });
  checkLowered(model);
  const got = runOps(model, opInputs);
  const errors: Record<string, number> = {};
  const magnitudes: Record<string, number> = {};
  for (const output of model.outputs) {
    const want = expected.get(output.name)!;
    const stored = got.get(output.name);
    assert.ok(stored, `lowered model has no storage "${output.name}"`);
    const have = output.layout === "nhwc" ? nhwcToNchw(stored, output.logicalShape) : stored;
    assert.equal(have.length, want.length, `output "${output.name}" ${formatShape(output.shape)}`);
    let diff = 0, max = 0;
    for (let i = 0; i < want.length; i++) {
      diff = Math.max(diff, Number.isNaN(have[i]) ? Infinity : Math.abs(have[i] - want[i]));
      max = Math.max(max, Math.abs(want[i]));
    }
    errors[output.name] = diff / (max > 0 ? max : 1);
    magnitudes[output.name] = max;
  }
  return { model, errors, magnitudes };
}

/** Asserts that every output of `graph` lowers exactly (relative error below 1e-9). */
export function assertLowersExactly(graph: Graph, seed = 1): LoweredModel {
  const { model, errors, magnitudes } = compareLowering(graph, { seed });
  for (const [name, error] of Object.entries(errors)) {
    assert.ok(error < 1e-9, `${graph.name} output "${name}": relative error ${error}`);
    assert.ok(
      magnitudes[name] > 1e-3,
      `${graph.name} output "${name}" vanishes: max ${magnitudes[name]}`,
    );
  }
  return model;
}
