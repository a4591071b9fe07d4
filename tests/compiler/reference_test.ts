import assert from "node:assert/strict";
import { erf } from "../../src/compiler/erf.ts";
import { GraphBuilder, type TensorInfo } from "../../src/compiler/ir.ts";
import { type OpProgram, runGraph, runOps } from "../../src/compiler/reference.ts";
import type { StateDict } from "../../src/compiler/weights.ts";

type Inputs = Record<string, { shape: number[]; values: number[]; dtype?: "int32" }>;

/** Runs the one-output graph that `build` makes from `inputs`, with hand-written parameters. */
function run(
  inputs: Inputs,
  params: Record<string, number[]>,
  build: (b: GraphBuilder, x: TensorInfo[]) => TensorInfo,
): number[] {
  const first = Object.values(inputs)[0];
  const b = new GraphBuilder("hand", first.shape[0]);
  const xs = Object.entries(inputs).map(([name, i]) => b.input(name, i.shape, i.dtype));
  b.output("output", build(b, xs));
  const graph = b.build();
  const weights: StateDict = new Map();
  for (const p of graph.params) {
    if (p.dtype === "int64") {
      weights.set(p.name, { dtype: "I64", shape: p.shape, data: new BigInt64Array(1) });
      continue;
    }
    const v = params[p.name];
    assert.ok(v, `test gives no value for "${p.name}"`);
    weights.set(p.name, { dtype: "F32", shape: p.shape, data: Float32Array.from(v) });
  }
  const values = new Map(Object.entries(inputs).map(([name, i]) => [name, i.values]));
  return Array.from(runGraph(graph, weights, values).get("output")!);
}

function close(actual: number[], expected: number[], tol = 1e-12): void {
  assert.equal(actual.length, expected.length, `${actual} vs ${expected}`);
  actual.forEach((a, i) =>
    assert.ok(
      Math.abs(a - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])),
      `${actual} vs ${expected}`,
    )
  );
}

const IMAGE_3X3 = { data: { shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9] } };

Deno.test("runGraph conv2d: plain, strided and padded with bias, dilated, grouped", () => {
  const w = { "c.weight": [1, 2, 3, 4] };
  close(
    run(IMAGE_3X3, w, (b, [x]) => b.conv2d(x, "c", { outChannels: 1, kernel: 2, bias: false })),
    [37, 47, 67, 77],
  );
  close(
    run(
      IMAGE_3X3,
      { ...w, "c.bias": [0.5] },
      (b, [x]) => b.conv2d(x, "c", { outChannels: 1, kernel: 2, stride: 2, padding: 1 }),
    ),
    [4.5, 18.5, 36.5, 77.5],
  );
  close(
    run(
      IMAGE_3X3,
      w,
      (b, [x]) => b.conv2d(x, "c", { outChannels: 1, kernel: 2, dilation: 2, bias: false }),
    ),
    [64],
  );
  close(
    run(
      { data: { shape: [1, 2, 1, 2], values: [1, 2, 3, 4] } },
      { "c.weight": [2, 3, -1, 10] },
      (b, [x]) => b.conv2d(x, "c", { outChannels: 4, kernel: 1, groups: 2, bias: false }),
    ),
    // Outputs 0-1 see input channel 0, outputs 2-3 input channel 1.
    [2, 4, 3, 6, -3, -4, 30, 40],
  );
});

Deno.test("runGraph batchnorm2d uses running statistics", () => {
  // eps and var + eps exact in float32, so the expected values are exact.
  const eps = 1 / 1024;
  close(
    run(
      { data: { shape: [1, 2, 1, 1], values: [1, 2] } },
      {
        "bn.weight": [2, 1],
        "bn.bias": [0.5, 0],
        "bn.running_mean": [1, 0],
        "bn.running_var": [3, 4 - eps],
      },
      (b, [x]) => b.batchnorm2d(x, "bn", { eps }),
    ),
    [0.5, 1],
  );
});

Deno.test("runGraph activations and add", () => {
  const data = { data: { shape: [1, 3], values: [-1, 0.5, 7] } };
  close(run(data, {}, (b, [x]) => b.relu(x)), [0, 0.5, 7]);
  close(run(data, {}, (b, [x]) => b.relu6(x)), [0, 0.5, 6]);
  close(run(data, {}, (b, [x]) => b.tanh(x)), [Math.tanh(-1), Math.tanh(0.5), Math.tanh(7)]);
  close(run(data, {}, (b, [x]) => b.gelu(x)), [
    -0.15865525393145705,
    0.34573123063700656,
    7 * (1 + erf(7 / Math.SQRT2)) / 2,
  ]);
  close(run(data, {}, (b, [x]) => b.add(x, b.relu(x))), [-1, 1, 14]);
});

Deno.test("runGraph pooling: max and average with ceil_mode, padding and count_include_pad", () => {
  close(run(IMAGE_3X3, {}, (b, [x]) => b.maxpool2d(x, { kernel: 2, ceilMode: true })), [
    5,
    6,
    8,
    9,
  ]);
  close(run(IMAGE_3X3, {}, (b, [x]) => b.avgpool2d(x, { kernel: 2, ceilMode: true })), [
    3,
    4.5,
    7.5,
    9,
  ]);
  close(run(IMAGE_3X3, {}, (b, [x]) => b.avgpool2d(x, { kernel: 2, padding: 1 })), [
    0.25,
    1.25,
    2.75,
    7,
  ]);
  close(
    run(
      IMAGE_3X3,
      {},
      (b, [x]) => b.avgpool2d(x, { kernel: 2, padding: 1, countIncludePad: false }),
    ),
    [1, 2.5, 5.5, 7],
  );
  // The last window runs past the right padding; PyTorch's divisor stops at the padding.
  const row = { data: { shape: [1, 1, 1, 4], values: [1, 2, 3, 4] } };
  const opts = {
    kernel: [1, 3] as const,
    stride: [1, 2] as const,
    padding: [0, 1] as const,
    ceilMode: true,
  };
  close(run(row, {}, (b, [x]) => b.avgpool2d(x, opts)), [1, 3, 2]);
  close(run(row, {}, (b, [x]) => b.avgpool2d(x, { ...opts, countIncludePad: false })), [1.5, 3, 4]);
  close(run(row, {}, (b, [x]) => b.maxpool2d(x, opts)), [2, 4, 4]);
});

Deno.test("runGraph adaptive average pooling uses PyTorch's uneven windows", () => {
  const row = { data: { shape: [1, 1, 1, 5], values: [1, 2, 3, 4, 5] } };
  close(run(row, {}, (b, [x]) => b.adaptiveAvgpool2d(x, [1, 3])), [1.5, 3, 4.5]);
  close(run(IMAGE_3X3, {}, (b, [x]) => b.adaptiveAvgpool2d(x, 1)), [5]);
});

Deno.test("runGraph flatten, linear, concat and select_first_token", () => {
  const img = { data: { shape: [1, 2, 1, 2], values: [1, 2, 3, 4] } };
  close(run(img, {}, (b, [x]) => b.flatten(x)), [1, 2, 3, 4]);
  close(
    run(
      { data: { shape: [2, 3], values: [1, 2, 3, 4, 5, 6] } },
      { "fc.weight": [1, 0, -1, 0.5, 0.5, 0.5], "fc.bias": [10, 0] },
      (b, [x]) => b.linear(x, "fc", { outFeatures: 2 }),
    ),
    [8, 3, 8, 7.5],
  );
  close(
    run(
      {
        a: { shape: [2, 1, 1, 2], values: [1, 2, 3, 4] },
        c: { shape: [2, 2, 1, 2], values: [5, 6, 7, 8, 9, 10, 11, 12] },
      },
      {},
      (b, [a, c]) => b.concat([a, c]),
    ),
    [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12],
  );
  close(
    run(
      { data: { shape: [2, 2, 2], values: [1, 2, 3, 4, 5, 6, 7, 8] } },
      {},
      (b, [x]) => b.selectFirstToken(x),
    ),
    [1, 2, 5, 6],
  );
});

Deno.test("runGraph embedding and layernorm", () => {
  close(
    run(
      { ids: { shape: [1, 2], values: [2, 0], dtype: "int32" } },
      {
        "e.word_embeddings.weight": [1, 2, 3, 4, 5, 6],
        "e.position_embeddings.weight": [0.5, -0.5, 1, 1],
        "e.token_type_embeddings.weight": [1, 0, 9, 9],
        "e.LayerNorm.weight": [1, 2],
        "e.LayerNorm.bias": [0, 1],
      },
      (b, [ids]) =>
        b.embedding(ids, "e", { vocab: 3, dim: 2, maxPositions: 2, typeVocab: 2, eps: 1e-12 }),
    ),
    // Token 0: [6.5, 5.5] normalises to [1, -1]; token 1: [3, 3] to [0, 0].
    [1, -1, 0, 1],
    1e-9,
  );
  const inv = 1 / Math.sqrt(1.25 + 1e-5);
  close(
    run(
      { data: { shape: [1, 1, 4], values: [1, 2, 3, 4] } },
      { "ln.weight": [1, 1, 2, 2], "ln.bias": [0, 0, 0, 1] },
      (b, [x]) => b.layernorm(x, "ln", 1e-5),
    ),
    [-1.5 * inv, -0.5 * inv, 1 * inv, 3 * inv + 1],
  );
});

Deno.test("runGraph attention: per-head scaled softmax, heads independent", () => {
  // Two tokens, two heads of width 2. Head 0 attends by q.k; head 1 has q = 0, so it averages v.
  const s = 1 / Math.SQRT2;
  const p = 1 / (1 + Math.exp(-s));
  const got = run(
    {
      q: { shape: [1, 2, 4], values: [1, 0, 0, 0, 0, 1, 0, 0] },
      k: { shape: [1, 2, 4], values: [1, 0, 5, 5, 0, 1, 1, 1] },
      v: { shape: [1, 2, 4], values: [1, 2, 10, 20, 3, 4, 30, 40] },
    },
    {},
    (b, [q, k, v]) => b.attention(q, k, v, 2),
  );
  close(got, [
    p * 1 + (1 - p) * 3,
    p * 2 + (1 - p) * 4,
    20,
    30,
    (1 - p) * 1 + p * 3,
    (1 - p) * 2 + p * 4,
    20,
    30,
  ]);
});

Deno.test("runOps addresses channel windows and applies pre, bias, residual and activation", () => {
  // x: 2 pixels x 3 channels; the conv reads channels 1-2, the residual is channel 1 of r, and the
  // result goes to channel 2 of a 3-channel y.
  const program: OpProgram = {
    storage: [
      { name: "x", size: 6 },
      { name: "r", size: 4 },
      { name: "y", size: 6 },
      { name: "w", size: 2 },
      { name: "b", size: 1 },
      { name: "scale", size: 2 },
      { name: "shift", size: 2 },
    ],
    weights: new Map<string, ArrayLike<number>>([
      ["w", [1, 10]],
      ["b", [0.5]],
      ["scale", [2, 1]],
      ["shift", [-1, 0]],
    ]),
    ops: [{
      kind: "conv2d",
      n: 1,
      h: 1,
      w: 2,
      cin: 2,
      cout: 1,
      kh: 1,
      kw: 1,
      strideH: 1,
      strideW: 1,
      padH: 0,
      padW: 0,
      dilationH: 1,
      dilationW: 1,
      groups: 1,
      oh: 1,
      ow: 2,
      input: { storage: "x", channels: 3, offset: 1 },
      weight: "w",
      bias: "b",
      pre: { scale: "scale", shift: "shift" },
      residual: { storage: "r", channels: 2, offset: 1 },
      act: "relu",
      output: { storage: "y", channels: 3, offset: 2 },
    }],
  };
  const out = runOps(program, new Map([["x", [9, 1, -3, 9, 0.25, 2]], ["r", [9, 100, 9, -40]]]));
  // Pixel 0: pre(1) = 1, pre(-3) = 0 -> 1 + 0.5 + 100; pixel 1: pre(0.25) = 0, pre(2) = 2 -> 20.5 - 40 -> relu 0.
  const y = Array.from(out.get("y")!);
  assert.deepEqual(y.map((v) => Number.isNaN(v) ? "unwritten" : v), [
    "unwritten",
    "unwritten",
    101.5,
    "unwritten",
    "unwritten",
    0,
  ]);
});

Deno.test("runOps reads a first-token view of a sequence buffer", () => {
  // h is [N=2, S=2, D=2]; a view with channels S*D reads token 0 of each sequence.
  const program: OpProgram = {
    storage: [{ name: "h", size: 8 }, { name: "y", size: 2 }, { name: "w", size: 2 }],
    weights: new Map([["w", [1, -1]]]),
    ops: [{
      kind: "linear",
      m: 2,
      in: 2,
      out: 1,
      input: { storage: "h", channels: 4, offset: 0 },
      weight: "w",
      bias: null,
      residual: null,
      act: "tanh",
      output: { storage: "y", channels: 1, offset: 0 },
    }],
  };
  const out = runOps(program, new Map([["h", [3, 1, 9, 9, 0, 2, 9, 9]]]));
  close(Array.from(out.get("y")!), [Math.tanh(2), Math.tanh(-2)]);
});
