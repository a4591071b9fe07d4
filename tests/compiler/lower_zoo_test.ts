import assert from "node:assert/strict";
import { GraphBuilder, numel } from "../../src/compiler/ir.ts";
import {
  checkLowered,
  compileGraph,
  type LoweredStructure,
  planLowering,
} from "../../src/compiler/lower.ts";
import { buildBert } from "../../src/compiler/zoo/bert.ts";
import { buildDenseNet } from "../../src/compiler/zoo/densenet.ts";
import { buildDistilBert } from "../../src/compiler/zoo/distilbert.ts";
import {
  inceptionA,
  inceptionB,
  inceptionC,
  inceptionD,
  inceptionE,
} from "../../src/compiler/zoo/inception.ts";
import { buildMobileNetV2 } from "../../src/compiler/zoo/mobilenet.ts";
import { buildModel, modelNames } from "../../src/compiler/zoo/mod.ts";
import { buildResNet } from "../../src/compiler/zoo/resnet.ts";
import { buildVgg } from "../../src/compiler/zoo/vgg.ts";
import type { KernelOp } from "../../src/kernels/ops.ts";
import { assertLowersExactly, compareLowering } from "./compare.ts";

function count(model: LoweredStructure, test: (op: KernelOp) => boolean): number {
  return model.ops.filter(test).length;
}

const isCopy = (op: KernelOp) =>
  op.kind === "pool2d" && op.kh === 1 && op.kw === 1 && op.oh === op.h;

Deno.test("tiny ResNets lower exactly: conv+BN+ReLU, residual add+ReLU in the epilogue", () => {
  const basic = assertLowersExactly(
    buildResNet("resnet_tiny", { block: "basic", layers: [1, 1, 1, 1], classes: 10, width: 4 }, {
      batch: 2,
      imageSize: 64,
    }),
  );
  // Stem, two convs per block, and a downsample conv in stages 2-4.
  assert.equal(count(basic, (op) => op.kind === "conv2d"), 1 + 4 * 2 + 3);
  assert.equal(
    count(basic, (op) => op.kind === "conv2d" && op.residual !== null && op.act === "relu"),
    4,
  );
  assert.deepEqual(basic.ops.map((op) => op.kind).slice(-2), ["global_avgpool", "linear"]);
  const bottleneck = assertLowersExactly(
    buildResNet(
      "resnet_tiny",
      { block: "bottleneck", layers: [2, 1, 1, 1], classes: 10, width: 4 },
      { imageSize: 32 },
    ),
  );
  assert.equal(count(bottleneck, (op) => op.kind === "conv2d" && op.residual !== null), 5);
  // Three convs per block, four downsamples, stem conv, max pool, classifier; at 32x32 the last
  // feature map is 1x1, so the adaptive pool is a view and launches nothing.
  assert.equal(bottleneck.ops.length, 5 * 3 + 4 + 1 + 1 + 1);
});

Deno.test("a tiny DenseNet lowers exactly with pre-activation and in-place concatenation", () => {
  const model = assertLowersExactly(
    buildDenseNet("densenet_tiny", {
      growthRate: 4,
      blockConfig: [3, 2],
      initFeatures: 8,
      bnSize: 2,
      classes: 10,
    }, {
      batch: 2,
      imageSize: 32,
    }),
  );
  // Each dense layer is two convs (the first with norm1+relu1 as `pre`), the transition one conv
  // with `pre`; every concat is written in place, so there is no copy.
  assert.equal(count(model, (op) => op.kind === "conv2d"), 1 + 2 * 5 + 1);
  assert.equal(count(model, (op) => op.kind === "conv2d" && op.pre !== null), 5 + 1);
  assert.equal(count(model, (op) => op.kind === "global_avgpool" && op.pre !== null), 1);
  assert.equal(count(model, isCopy), 0);
  const block1 = model.storage.find((s) => s.name === "features.denseblock1.cat")!;
  assert.equal(block1.size, 2 * 8 * 8 * (8 + 3 * 4));
});

Deno.test("a tiny MobileNetV2 lowers exactly: depthwise convs, ReLU6, linear bottleneck shortcut", () => {
  const model = assertLowersExactly(
    buildMobileNetV2("mobilenet_tiny", {
      widthMult: 0.25,
      settings: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 1]],
      roundNearest: 4,
      classes: 10,
    }, { imageSize: 32 }),
  );
  assert.equal(
    count(model, (op) => op.kind === "conv2d" && op.groups > 1 && op.groups === op.cin),
    5,
  );
  // Stem, the t=1 block's depthwise conv, expansion and depthwise convs of 4 blocks, last conv.
  assert.equal(count(model, (op) => op.kind === "conv2d" && op.act === "relu6"), 1 + 1 + 4 * 2 + 1);
  // Blocks that keep their shape: the second of [6, 24, 2, 2] and both of [6, 32, 2, 1].
  assert.equal(
    count(model, (op) => op.kind === "conv2d" && op.residual !== null && op.act === "none"),
    3,
  );
});

Deno.test("a tiny VGG lowers exactly, its flatten folded into the classifier's weight columns", () => {
  const config = { layers: [4, "M", 8, "M"] as const, hidden: 16, classes: 10 };
  // 28x28 input: the 7x7 adaptive pool is an identity; 56x56: an even 2x2 average pool.
  const identity = assertLowersExactly(
    buildVgg("vgg_tiny", { ...config, layers: [...config.layers] }, { imageSize: 28 }),
  );
  assert.deepEqual(identity.ops.map((op) => op.kind), [
    "conv2d",
    "pool2d",
    "conv2d",
    "pool2d",
    "linear",
    "linear",
    "linear",
  ]);
  const pooled = assertLowersExactly(
    buildVgg("vgg_tiny", { ...config, layers: [...config.layers] }, { imageSize: 56, batch: 2 }),
  );
  assert.equal(count(pooled, (op) => op.kind === "pool2d" && op.mode === "avg" && op.kh === 2), 1);
});

Deno.test("Inception blocks A to E lower exactly at their real widths, concats written in place", () => {
  const cases = [
    {
      name: "A",
      c: 192,
      size: 5,
      block: (b: GraphBuilder, x: ReturnType<GraphBuilder["input"]>) =>
        inceptionA(b, x, "Mixed_5b", 32),
    },
    {
      name: "B",
      c: 288,
      size: 5,
      block: (b: GraphBuilder, x: ReturnType<GraphBuilder["input"]>) =>
        inceptionB(b, x, "Mixed_6a"),
    },
    {
      name: "C",
      c: 768,
      size: 3,
      block: (b: GraphBuilder, x: ReturnType<GraphBuilder["input"]>) =>
        inceptionC(b, x, "Mixed_6b", 128),
    },
    {
      name: "D",
      c: 768,
      size: 3,
      block: (b: GraphBuilder, x: ReturnType<GraphBuilder["input"]>) =>
        inceptionD(b, x, "Mixed_7a"),
    },
    {
      name: "E",
      c: 1280,
      size: 2,
      block: (b: GraphBuilder, x: ReturnType<GraphBuilder["input"]>) =>
        inceptionE(b, x, "Mixed_7b"),
    },
  ];
  for (const { name, c, size, block } of cases) {
    const b = new GraphBuilder(`inception_${name}`, 1);
    const x = b.input("data", [1, c, size, size]);
    b.output("output", block(b, x));
    const model = assertLowersExactly(b.build());
    assert.equal(count(model, isCopy), 0, name);
    // Every branch (E: two of them split in two) writes its own channels of the output.
    const writers = model.ops.filter((op) =>
      "output" in op && op.output.storage === "output"
    ).length;
    assert.equal(writers, { A: 4, B: 3, C: 4, D: 3, E: 6 }[name], name);
  }
});

Deno.test("tiny BERT and DistilBERT lower exactly: fused QKV, post-norm residuals, pooler", () => {
  const bert = assertLowersExactly(
    buildBert("bert_tiny", {
      vocabSize: 50,
      hiddenSize: 16,
      numLayers: 2,
      numHeads: 4,
      intermediateSize: 32,
      maxPositions: 16,
      typeVocabSize: 2,
      layerNormEps: 1e-12,
    }, { batch: 2, seq: 8 }),
  );
  assert.deepEqual(bert.outputs.map((o) => [o.name, o.shape]), [["output", [2, 8, 16]], [
    "pooler_output",
    [2, 16],
  ]]);
  assert.equal(count(bert, (op) => op.kind === "linear" && op.out === 48), 2);
  assert.equal(count(bert, (op) => op.kind === "linear" && op.residual !== null), 4);
  assert.equal(count(bert, (op) => op.kind === "linear" && op.act === "gelu"), 2);
  const pooler = bert.ops.find((op) => op.kind === "linear" && op.act === "tanh");
  assert.deepEqual(pooler?.kind === "linear" && pooler.input, {
    storage: "output",
    channels: 8 * 16,
    offset: 0,
  });
  const distil = assertLowersExactly(
    buildDistilBert("distil_tiny", {
      vocabSize: 50,
      dim: 16,
      numLayers: 2,
      numHeads: 2,
      hiddenDim: 32,
      maxPositions: 16,
    }, {
      seq: 8,
    }),
  );
  assert.deepEqual(distil.ops.map((op) => op.kind).slice(0, 7), [
    "embedding",
    "linear",
    "attention",
    "linear",
    "layernorm",
    "linear",
    "linear",
  ]);
});

Deno.test("every full-size zoo model lowers to ops that keep the kernel rules", () => {
  const expected: Record<string, [number, number]> = {
    // [ops, conv2d ops]
    vgg19: [24, 16],
    resnet18: [23, 20],
    resnet50: [56, 53],
    resnet152: [158, 155],
    densenet201: [206, 200],
    inception_v3: [109, 94],
    mobilenet_v2: [54, 52],
    bert_base: [86, 0],
    distilbert: [43, 0],
  };
  for (const name of modelNames()) {
    const plan = planLowering(buildModel(name), { precision: "float16" });
    checkLowered(plan);
    assert.deepEqual(
      [plan.ops.length, count(plan, (op) => op.kind === "conv2d")],
      expected[name],
      name,
    );
    assert.equal(count(plan, isCopy), 0, name);
  }
});

Deno.test("compileGraph gives float16 weights, float32 biases, and storage that matches them", () => {
  const model = compileGraph("mobilenet_v2", { precision: "float16", seed: 3 });
  assert.equal(model.precision, "float16");
  assert.deepEqual(model.inputs, [{
    name: "data",
    stype: "float16",
    shape: [1, 224, 224, 3],
    logicalShape: [1, 3, 224, 224],
    layout: "nhwc",
  }]);
  assert.deepEqual(model.outputs.map((o) => [o.name, o.shape]), [["output", [1, 1000]]]);
  for (const s of model.storage) {
    if (s.role !== "weight") continue;
    const w = model.weights.get(s.name)!;
    assert.equal(w.length, s.size, s.name);
    assert.ok(
      s.stype === "float16" ? w instanceof Float16Array : w instanceof Float32Array,
      s.name,
    );
  }
  assert.equal(model.storage.find((s) => s.name === "features.0.0.weight")?.stype, "float16");
  assert.equal(model.storage.find((s) => s.name === "features.0.0.bias")?.stype, "float32");
  assert.equal(model.weights.size, model.storage.filter((s) => s.role === "weight").length);
  // BN folds away: the weights are the conv weights, one bias per conv output, the classifier.
  const weightElements = model.storage.filter((s) => s.role === "weight").reduce(
    (n, s) => n + s.size,
    0,
  );
  const graph = buildModel("mobilenet_v2");
  const convWeights = graph.params.filter((p) => p.role === "conv_weight").reduce(
    (n, p) => n + numel(p.shape),
    0,
  );
  assert.equal(weightElements, convWeights + sumBiases(model) + 1000 * 1280 + 1000);
});

function sumBiases(model: LoweredStructure): number {
  return model.ops.reduce(
    (n, op) => n + (op.kind === "conv2d" && op.bias !== null ? op.cout : 0),
    0,
  );
}

Deno.test("float16 weights change outputs only at float16 rounding level", () => {
  const graph = buildResNet("resnet_tiny", {
    block: "bottleneck",
    layers: [1, 1, 1, 1],
    classes: 10,
    width: 4,
  }, { imageSize: 32 });
  const { errors } = compareLowering(graph, { precision: "float16", values: "storage" });
  assert.ok(errors.output > 1e-6 && errors.output < 2e-2, `relative error ${errors.output}`);
});
