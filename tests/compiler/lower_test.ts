import assert from "node:assert/strict";
import { type Graph, GraphBuilder, type TensorInfo } from "../../src/compiler/ir.ts";
import {
  checkLowered,
  type LoweredStructure,
  nchwToNhwc,
  nhwcToNchw,
  planLowering,
} from "../../src/compiler/lower.ts";
import type { KernelOp } from "../../src/kernels/ops.ts";
import { assertLowersExactly, compareLowering, pseudoRandom } from "./compare.ts";

function graph(name: string, build: (b: GraphBuilder) => void, batch = 1): Graph {
  const b = new GraphBuilder(name, batch);
  build(b);
  return b.build();
}

function kinds(model: LoweredStructure): string[] {
  return model.ops.map((op) => op.kind === "pool2d" ? `${op.mode}pool${op.kh}x${op.kw}` : op.kind);
}

Deno.test("unfusable batch norm and activations become 1x1 depthwise convs", () => {
  const model = assertLowersExactly(graph("elementwise", (b) => {
    const x = b.input("data", [2, 3, 4, 4]);
    b.output("output", b.relu6(b.batchnorm2d(x, "bn")));
    const s = b.input("seq", [2, 3, 5]);
    b.output("gelu", b.gelu(s));
    const f = b.input("features", [2, 6]);
    b.output("tanh", b.tanh(b.relu(f)));
  }, 2));
  assert.deepEqual(kinds(model), ["conv2d", "conv2d", "conv2d", "conv2d"]);
  assert.ok(model.ops.every((op) => op.kind === "conv2d" && op.kh === 1 && op.groups === op.cin));
});

Deno.test("conv epilogues: bias+ReLU, BN+add(input)+ReLU; a shared conv output is not fused", () => {
  const model = assertLowersExactly(graph("epilogue", (b) => {
    const x = b.input("data", [1, 4, 6, 6]);
    const a = b.relu(b.conv2d(x, "a", { outChannels: 4, kernel: 3, padding: 1 }));
    const c = b.batchnorm2d(
      b.conv2d(a, "c", { outChannels: 4, kernel: 3, padding: 2, dilation: 2, bias: false }),
      "c_bn",
    );
    const r = b.relu(b.add(c, x));
    const shared = b.conv2d(r, "shared", {
      outChannels: 4,
      kernel: [1, 3],
      padding: [0, 1],
      stride: 2,
    });
    b.output("output", b.add(b.batchnorm2d(shared, "bn"), shared));
  }));
  assert.deepEqual(kinds(model), ["conv2d", "conv2d", "conv2d", "conv2d", "add"]);
  const [first, second, third] = model.ops as KernelOp[];
  assert.ok(first.kind === "conv2d" && first.act === "relu" && first.bias !== null);
  assert.ok(
    second.kind === "conv2d" && second.residual?.storage === "data" && second.act === "relu",
  );
  assert.ok(third.kind === "conv2d" && third.residual === null && third.act === "none");
});

Deno.test("BN+ReLU before convs and pools becomes their prologue", () => {
  const model = assertLowersExactly(graph("pre", (b) => {
    const x = b.input("data", [1, 3, 4, 4]);
    const y = b.relu(b.batchnorm2d(x, "bn"));
    const parts = [
      b.conv2d(y, "conv", { outChannels: 2, kernel: 3, padding: 1, bias: false }),
      b.conv2d(y, "dw", { outChannels: 3, kernel: 3, padding: 1, groups: 3, bias: false }),
      b.maxpool2d(y, { kernel: 3, stride: 1, padding: 1 }),
      b.avgpool2d(y, { kernel: 3, stride: 1, padding: 1 }),
      b.avgpool2d(y, { kernel: 3, stride: 1, padding: 1, countIncludePad: false }),
      b.adaptiveAvgpool2d(y, 4),
    ];
    b.output("output", b.concat(parts));
    b.output("global", b.adaptiveAvgpool2d(y, 1));
    b.output("even", b.adaptiveAvgpool2d(y, 2));
  }));
  const withPre = model.ops.filter((op) => "pre" in op && op.pre !== null);
  assert.equal(withPre.length, model.ops.length);
  assert.deepEqual(kinds(model), [
    "conv2d",
    "conv2d",
    "maxpool3x3",
    "avgpool3x3",
    "avgpool3x3",
    "maxpool1x1",
    "global_avgpool",
    "avgpool2x2",
  ]);
});

Deno.test("pooling with ceil_mode and uneven padding lowers exactly", () => {
  assertLowersExactly(graph("pools", (b) => {
    const x = b.input("data", [2, 3, 7, 6]);
    b.output("output", b.maxpool2d(x, { kernel: 3, stride: 2, ceilMode: true }));
    b.output("avg", b.avgpool2d(x, { kernel: [3, 2], stride: 2, padding: [1, 1], ceilMode: true }));
    b.output(
      "avg_excl",
      b.avgpool2d(x, { kernel: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
    );
  }, 2));
});

Deno.test("concat: in-place writes, nested concats, copies for inputs that cannot be placed", () => {
  const model = assertLowersExactly(graph("concat", (b) => {
    const x = b.input("data", [1, 2, 5, 5]);
    const a = b.conv2d(x, "a", { outChannels: 3, kernel: 1 });
    const c = b.conv2d(x, "c", { outChannels: 1, kernel: 1 });
    const inner = b.concat([a, c], "inner");
    const p = b.maxpool2d(x, { kernel: 3, stride: 1, padding: 1 });
    // The graph input and the duplicate `a` must be copied; `p` and `inner` are written in place.
    const outer = b.concat([x, inner, p, a], "outer");
    b.output("output", b.conv2d(outer, "head", { outChannels: 2, kernel: 1 }));
    // `c` already lives in `outer`, so a second concat of it needs a copy.
    b.output("other", b.concat([c, c]));
  }));
  const copies = model.ops.filter((op) => op.kind === "pool2d" && op.kh === 1);
  assert.equal(copies.length, 1 + 1 + 2);
  const outer = model.storage.find((s) => s.name === "outer")!;
  assert.equal(outer.size, 25 * (2 + 4 + 2 + 3));
});

Deno.test("DenseNet-style growing concats are views of one buffer", () => {
  const model = assertLowersExactly(graph("growing", (b) => {
    const x = b.input("data", [1, 2, 4, 4]);
    const features: TensorInfo[] = [b.avgpool2d(x, { kernel: 1 })];
    for (let i = 0; i < 3; i++) {
      const cat = b.concat(features);
      const y = b.relu(b.batchnorm2d(cat, `norm${i}`));
      features.push(
        b.conv2d(y, `conv${i}`, { outChannels: 2, kernel: 3, padding: 1, bias: false }),
      );
    }
    b.output("output", b.concat(features));
  }));
  assert.deepEqual(kinds(model), ["avgpool1x1", "conv2d", "conv2d", "conv2d"]);
  const convs = model.ops.filter((op) => op.kind === "conv2d");
  assert.deepEqual(convs.map((op) => [op.input.offset, op.cin, op.output.offset]), [[0, 2, 2], [
    0,
    4,
    4,
  ], [0, 6, 6]]);
  assert.ok(convs.every((op) => op.input.storage === "output" && op.output.storage === "output"));
});

Deno.test("flatten into linear: CHW columns permuted, windows copied to be contiguous", () => {
  const model = assertLowersExactly(graph("flatten", (b) => {
    const x = b.input("data", [2, 3, 2, 3]);
    const conv = b.conv2d(x, "conv", { outChannels: 2, kernel: 1 });
    const cat = b.concat([conv, b.conv2d(x, "other", { outChannels: 1, kernel: 1 })]);
    b.output("output", b.linear(b.flatten(conv), "fc", { outFeatures: 4 }));
    b.output("cat", cat);
    b.output("plain", b.linear(b.flatten(x), "fc2", { outFeatures: 3 }));
  }, 2));
  // `conv` lives in a channel window of `cat`, so its flatten needs a contiguous copy first.
  assert.equal(model.ops.filter((op) => op.kind === "pool2d").length, 1);
});

Deno.test("linear epilogues, layer-norm residuals, unfused attention and sequence views", () => {
  const model = assertLowersExactly(graph("sequence", (b) => {
    const x = b.input("data", [2, 4, 8]);
    const other = b.input("other", [2, 4, 8]);
    const h = b.linear(x, "up", { outFeatures: 12 });
    const y = b.add(b.linear(b.gelu(h), "down", { outFeatures: 8 }), x);
    const n = b.layernorm(b.add(b.tanh(y), y), "ln", 1e-5);
    const q = b.linear(n, "q", { outFeatures: 8 });
    const k = b.linear(other, "k", { outFeatures: 8, bias: false });
    const att = b.attention(q, k, n, 2);
    const first = b.selectFirstToken(att);
    b.output("output", b.layernorm(first, "final", 1e-6));
    b.output("first", first);
    b.output("pooled", b.relu(b.linear(first, "pool", { outFeatures: 3 })));
  }, 2));
  const ln = model.ops.filter((op) => op.kind === "layernorm");
  assert.equal(ln.length, 2);
  assert.ok(ln[0].kind === "layernorm" && ln[0].residual !== null);
  assert.equal(
    model.ops.filter((op) => op.kind === "linear" && op.out === 24).length,
    0,
    "no QKV fusion",
  );
});

Deno.test("outputs that are inputs, views or duplicates get their own storage", () => {
  const model = assertLowersExactly(graph("outputs", (b) => {
    const x = b.input("data", [1, 3, 1, 1]);
    const y = b.conv2d(x, "conv", { outChannels: 2, kernel: 1 });
    b.output("output", y);
    b.output("again", y);
    b.output("flat", b.flatten(y));
    b.output("echo", x);
  }));
  assert.deepEqual(model.outputs.map((o) => [o.name, o.layout, o.shape]), [
    ["output", "nhwc", [1, 1, 1, 2]],
    ["again", "nhwc", [1, 1, 1, 2]],
    ["flat", "plain", [1, 2]],
    ["echo", "nhwc", [1, 1, 1, 3]],
  ]);
  assert.deepEqual(kinds(model), ["conv2d", "maxpool1x1", "maxpool1x1", "maxpool1x1"]);
});

Deno.test("what the kernels cannot do is a clear lowering error", () => {
  const grouped = graph("grouped", (b) => {
    b.output(
      "output",
      b.conv2d(b.input("data", [1, 4, 3, 3]), "g", { outChannels: 4, kernel: 1, groups: 2 }),
    );
  });
  assert.throws(() => planLowering(grouped, { precision: "float16" }), {
    message:
      'Cannot lower graph "grouped": conv2d "g" has groups 2: only dense (1) and depthwise convs are supported',
  });
  const uneven = graph("uneven", (b) => {
    b.output("output", b.adaptiveAvgpool2d(b.input("data", [1, 1, 5, 5]), 3, "pool"));
  });
  assert.throws(
    () => planLowering(uneven, { precision: "float16" }),
    /adaptive_avgpool2d "pool" from 5x5 to 3x3 has uneven windows/,
  );
  const flat = graph("flat", (b) => {
    b.output("output", b.relu(b.flatten(b.input("data", [1, 2, 2, 2]), "flat"), "act"));
  });
  assert.throws(() => planLowering(flat, { precision: "float16" }), {
    message:
      'Cannot lower graph "flat": relu "act" reads "flat", the flatten of a [N, C, H, W] tensor with H*W > 1, which only a linear layer may read',
  });
});

/** A random image graph of `steps` nodes: every op kind, every fusion, random sharing. */
function randomGraph(seed: number, steps: number): Graph {
  let state = seed * 7919 + 1;
  const rand = (n: number) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)];
  const b = new GraphBuilder(`random${seed}`, 1 + rand(2));
  const pool: TensorInfo[] = [b.input("data", [b.batch, 1 + rand(4), 5, 5])];
  let id = 0;
  for (let i = 0; i < steps; i++) {
    const x = pick(pool);
    const c = x.shape[1];
    const name = `n${id++}`;
    let y: TensorInfo;
    switch (rand(9)) {
      case 0:
      case 1: {
        const depthwise = rand(3) === 0;
        y = b.conv2d(x, name, {
          outChannels: depthwise ? c : 1 + rand(4),
          kernel: pick([1, 3]),
          padding: 1,
          groups: depthwise ? c : 1,
          bias: rand(2) === 0,
        });
        if (y.shape[2] !== 5) y = b.conv2d(x, `${name}b`, { outChannels: 1 + rand(4), kernel: 1 });
        if (rand(2)) y = b.batchnorm2d(y, `${name}.bn`, { residualBranchEnd: rand(2) === 0 });
        const same = pool.filter((t) => t.shape[1] === y.shape[1]);
        if (same.length > 0 && rand(2)) y = b.add(y, pick(same));
        if (rand(2)) y = pick([b.relu, b.relu6, b.gelu, b.tanh]).call(b, y);
        break;
      }
      case 2:
        y = b.relu(b.batchnorm2d(x, name));
        y = rand(2)
          ? b.conv2d(y, `${name}.conv`, { outChannels: 1 + rand(3), kernel: 3, padding: 1 })
          : b.maxpool2d(y, {
            kernel: 3,
            stride: 1,
            padding: 1,
          });
        break;
      case 3:
        y = b.avgpool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: rand(2) === 0 });
        break;
      case 4:
      case 5: {
        const parts = Array.from({ length: 1 + rand(3) }, () => pick(pool));
        y = b.concat(parts);
        break;
      }
      case 6: {
        const same = pool.filter((t) => t.shape[1] === c);
        y = b.add(x, pick(same));
        if (rand(2)) y = b.relu(y);
        break;
      }
      case 7:
        y = pick([b.relu, b.tanh]).call(b, x);
        break;
      default:
        y = b.batchnorm2d(x, name);
    }
    pool.push(y);
  }
  b.output("output", pool[pool.length - 1]);
  b.output("extra", pick(pool));
  const head = b.linear(b.flatten(b.adaptiveAvgpool2d(pick(pool), 1)), "head", { outFeatures: 3 });
  b.output("logits", head);
  return b.build();
}

Deno.test("random graphs lower exactly and keep the kernel rules", () => {
  for (let seed = 0; seed < 100; seed++) {
    // Random outputs may be all zero (a ReLU of negatives), so only the error is asserted.
    const { errors } = compareLowering(randomGraph(seed, 20), { seed: seed + 1 });
    for (const [name, error] of Object.entries(errors)) {
      assert.ok(error < 1e-9, `seed ${seed} output "${name}": ${error}`);
    }
  }
});

/** One-op programs that break a kernel rule. */
function broken(ops: KernelOp[], activations: [string, number][]): LoweredStructure {
  return {
    name: "broken",
    precision: "float32",
    batch: 1,
    storage: [
      { name: "x", size: 4, stype: "float32", role: "input" },
      ...activations.map(([name, size]) => ({
        name,
        size,
        stype: "float32" as const,
        role: "activation" as const,
      })),
    ],
    ops,
    inputs: [],
    outputs: [],
  };
}

function add(a: string, b: string, out: string, offset = 0, c = 4): KernelOp {
  return {
    kind: "add",
    pixels: 1,
    c,
    a: { storage: a, channels: 4, offset: 0 },
    b: { storage: b, channels: 4, offset: 0 },
    act: "none",
    output: { storage: out, channels: 8, offset },
  };
}

Deno.test("checkLowered catches double writes, self reads, early reads, gaps and bad views", () => {
  assert.doesNotThrow(() =>
    checkLowered(broken([add("x", "x", "y"), add("x", "x", "y", 4)], [["y", 8]]))
  );
  assert.throws(
    () => checkLowered(broken([add("x", "x", "y"), add("x", "x", "y", 2)], [["y", 8]])),
    /op 1 \(add\) writes element 2 of "y", already written by op 0/,
  );
  assert.throws(
    () => checkLowered(broken([add("y", "x", "z")], [["y", 8], ["z", 8]])),
    /op 0 \(add\) reads element 0 of "y" before it is written/,
  );
  assert.throws(
    () => checkLowered(broken([add("x", "x", "y", 4), add("y", "x", "y")], [["y", 8]])),
    /op 1 \(add\) reads element 0 of "y" which it writes/,
  );
  assert.throws(
    () => checkLowered(broken([add("x", "x", "y")], [["y", 8]])),
    /never writes element 4 of storage "y"/,
  );
  assert.throws(
    () => checkLowered(broken([add("x", "x", "y", 6)], [["y", 8]])),
    /uses a view of "y" outside its 8 elements/,
  );
  assert.throws(
    () => checkLowered(broken([add("x", "x", "x")], [])),
    /op 0 \(add\) writes "x", which is not an activation/,
  );
});

Deno.test("checkLowered catches an op that reads the window it writes", () => {
  // Pixel rows of 4 channels: op 1 reads channels 0-3 of y's second row and writes channels 0-1 of it.
  const read: KernelOp = {
    kind: "add",
    pixels: 1,
    c: 2,
    a: { storage: "y", channels: 4, offset: 0 },
    b: { storage: "x", channels: 4, offset: 0 },
    act: "none",
    output: { storage: "y", channels: 4, offset: 2 },
  };
  const first: KernelOp = {
    ...add("x", "x", "y", 0, 2),
    output: { storage: "y", channels: 4, offset: 0 },
  };
  assert.doesNotThrow(() => checkLowered(broken([first, read], [["y", 4]])));
  const overlapping: KernelOp = {
    ...add("x", "x", "y", 1, 3),
    output: { storage: "y", channels: 4, offset: 1 },
  };
  assert.throws(
    () => checkLowered(broken([first, overlapping], [["y", 4]])),
    /op 1 \(add\) writes element 1 of "y", already written by op 0/,
  );
  const selfRead: KernelOp = { ...read, a: { storage: "y", channels: 4, offset: 1 } };
  assert.throws(
    () => checkLowered(broken([first, selfRead], [["y", 4]])),
    /op 1 \(add\) reads element 2 of "y" which it writes/,
  );
});

Deno.test("nchwToNhwc and nhwcToNchw are inverse permutations", () => {
  const shape = [2, 3, 2, 4];
  const values = pseudoRandom(48, 5);
  const nhwc = nchwToNhwc(values, shape);
  assert.equal(nhwc[(((1 * 2 + 1) * 4 + 2) * 3) + 2], values[((1 * 3 + 2) * 2 + 1) * 4 + 2]);
  assert.deepEqual(nhwcToNchw(nhwc, shape), values);
});
