import assert from "node:assert/strict";
import { countParameters, formatShape, type Graph } from "../../src/compiler/ir.ts";
import { buildModel, modelNames } from "../../src/compiler/zoo/mod.ts";
import { makeDivisible } from "../../src/compiler/zoo/mobilenet.ts";

/** Trainable parameter counts of the torchvision / HuggingFace reference models. */
const PARAMETERS: Record<string, number> = {
  vgg19: 143_667_240,
  resnet18: 11_689_512,
  resnet50: 25_557_032,
  resnet152: 60_192_808,
  densenet201: 20_013_928,
  inception_v3: 23_834_568,
  mobilenet_v2: 3_504_872,
  bert_base: 109_482_240,
  distilbert: 66_362_880,
};

/** `len(model.state_dict())` of the reference models. */
const STATE_DICT_SIZES: Record<string, number> = {
  vgg19: 38,
  resnet18: 122,
  resnet50: 320,
  mobilenet_v2: 314,
  bert_base: 199,
  distilbert: 100,
};

function param(graph: Graph, name: string): string {
  const p = graph.params.find((s) => s.name === name);
  assert.ok(p, `${graph.name} has no parameter "${name}"`);
  return `${p.dtype} ${formatShape(p.shape)}`;
}

Deno.test("the zoo lists the nine models REEF evaluates", () => {
  assert.deepEqual(modelNames().sort(), Object.keys(PARAMETERS).sort());
});

Deno.test("zoo parameter counts equal the torchvision / HuggingFace references", () => {
  for (const name of modelNames()) {
    const graph = buildModel(name);
    assert.equal(countParameters(graph), PARAMETERS[name], name);
    if (name in STATE_DICT_SIZES) assert.equal(graph.params.length, STATE_DICT_SIZES[name], name);
  }
});

Deno.test("zoo models have the reference state_dict keys and shapes", () => {
  const r18 = buildModel("resnet18");
  assert.equal(param(r18, "layer1.0.conv1.weight"), "float32 [64, 64, 3, 3]");
  assert.equal(param(r18, "layer2.0.downsample.0.weight"), "float32 [128, 64, 1, 1]");
  assert.equal(param(r18, "layer2.0.downsample.1.running_var"), "float32 [128]");
  assert.equal(param(r18, "bn1.num_batches_tracked"), "int64 []");
  assert.equal(param(r18, "fc.weight"), "float32 [1000, 512]");
  const r50 = buildModel("resnet50");
  assert.equal(param(r50, "layer3.5.conv2.weight"), "float32 [256, 256, 3, 3]");
  assert.equal(param(r50, "layer4.2.bn3.weight"), "float32 [2048]");
  assert.equal(param(buildModel("vgg19"), "classifier.0.weight"), "float32 [4096, 25088]");
  assert.equal(param(buildModel("vgg19"), "features.34.bias"), "float32 [512]");
  const dense = buildModel("densenet201");
  assert.equal(
    param(dense, "features.denseblock3.denselayer48.conv1.weight"),
    "float32 [128, 1760, 1, 1]",
  );
  assert.equal(param(dense, "features.transition3.conv.weight"), "float32 [896, 1792, 1, 1]");
  assert.equal(param(dense, "features.norm5.weight"), "float32 [1920]");
  assert.equal(param(dense, "classifier.weight"), "float32 [1000, 1920]");
  const inception = buildModel("inception_v3");
  assert.equal(param(inception, "Conv2d_1a_3x3.conv.weight"), "float32 [32, 3, 3, 3]");
  assert.equal(param(inception, "Mixed_6b.branch7x7_2.conv.weight"), "float32 [128, 128, 1, 7]");
  assert.equal(param(inception, "Mixed_7c.branch3x3dbl_3b.bn.running_mean"), "float32 [384]");
  assert.equal(param(inception, "fc.weight"), "float32 [1000, 2048]");
  assert.ok(!inception.params.some((p) => p.name.startsWith("AuxLogits")));
  const mobile = buildModel("mobilenet_v2");
  assert.equal(param(mobile, "features.0.0.weight"), "float32 [32, 3, 3, 3]");
  assert.equal(param(mobile, "features.1.conv.0.0.weight"), "float32 [32, 1, 3, 3]");
  assert.equal(param(mobile, "features.1.conv.1.weight"), "float32 [16, 32, 1, 1]");
  assert.equal(param(mobile, "features.2.conv.1.0.weight"), "float32 [96, 1, 3, 3]");
  assert.equal(param(mobile, "features.17.conv.3.weight"), "float32 [320]");
  assert.equal(param(mobile, "features.18.0.weight"), "float32 [1280, 320, 1, 1]");
  assert.equal(param(mobile, "classifier.1.weight"), "float32 [1000, 1280]");
  const bert = buildModel("bert_base");
  assert.equal(param(bert, "embeddings.token_type_embeddings.weight"), "float32 [2, 768]");
  assert.equal(param(bert, "encoder.layer.11.attention.self.value.bias"), "float32 [768]");
  assert.equal(param(bert, "encoder.layer.0.intermediate.dense.weight"), "float32 [3072, 768]");
  assert.equal(param(bert, "encoder.layer.0.output.LayerNorm.weight"), "float32 [768]");
  assert.equal(param(bert, "pooler.dense.weight"), "float32 [768, 768]");
  const distil = buildModel("distilbert");
  assert.equal(param(distil, "embeddings.position_embeddings.weight"), "float32 [512, 768]");
  assert.equal(param(distil, "transformer.layer.5.attention.out_lin.weight"), "float32 [768, 768]");
  assert.equal(param(distil, "transformer.layer.5.ffn.lin1.weight"), "float32 [3072, 768]");
  assert.equal(param(distil, "transformer.layer.5.output_layer_norm.bias"), "float32 [768]");
});

Deno.test("zoo models have the documented inputs and outputs at any batch size", () => {
  const shapes = (g: Graph) => ({
    inputs: g.inputs.map((t) => `${t.name} ${t.dtype} ${formatShape(t.shape)}`),
    outputs: g.outputs.map((o) => `${o.name} ${formatShape(g.tensors.get(o.tensor)!.shape)}`),
  });
  assert.deepEqual(shapes(buildModel("resnet50", { batch: 4 })), {
    inputs: ["data float32 [4, 3, 224, 224]"],
    outputs: ["output [4, 1000]"],
  });
  assert.deepEqual(shapes(buildModel("inception_v3")), {
    inputs: ["data float32 [1, 3, 299, 299]"],
    outputs: ["output [1, 1000]"],
  });
  assert.deepEqual(shapes(buildModel("bert_base", { batch: 2 })), {
    inputs: ["input_ids int32 [2, 128]"],
    outputs: ["output [2, 128, 768]", "pooler_output [2, 768]"],
  });
  assert.deepEqual(shapes(buildModel("distilbert")), {
    inputs: ["input_ids int32 [1, 128]"],
    outputs: ["output [1, 128, 768]"],
  });
});

Deno.test("inception_v3 uses batch-norm eps 0.001, the others 1e-5 or 1e-12", () => {
  const eps = (g: Graph) =>
    new Set(
      g.nodes.flatMap((n) =>
        n.op === "batchnorm2d" || n.op === "layernorm" || n.op === "embedding" ? [n.eps] : []
      ),
    );
  assert.deepEqual(eps(buildModel("inception_v3")), new Set([0.001]));
  assert.deepEqual(eps(buildModel("resnet18")), new Set([1e-5]));
  assert.deepEqual(eps(buildModel("bert_base")), new Set([1e-12]));
});

Deno.test("residual branches mark their last batch norm for small synthetic gammas", () => {
  const residualNorms = (g: Graph) =>
    g.params.filter((p) => p.role === "norm_weight_residual").map((p) => p.name);
  assert.equal(residualNorms(buildModel("resnet152")).length, 50);
  assert.deepEqual(residualNorms(buildModel("resnet18")).slice(0, 2), [
    "layer1.0.bn2.weight",
    "layer1.1.bn2.weight",
  ]);
  // MobileNetV2 has a shortcut in the 10 blocks that keep their shape.
  assert.equal(residualNorms(buildModel("mobilenet_v2")).length, 10);
});

Deno.test("makeDivisible matches torchvision's _make_divisible", () => {
  assert.equal(makeDivisible(32, 8), 32);
  assert.equal(makeDivisible(32 * 0.75, 8), 24);
  assert.equal(makeDivisible(16 * 0.35, 8), 8);
  assert.equal(makeDivisible(1280 * 1.4, 8), 1792);
  assert.equal(makeDivisible(12, 8), 16);
});

Deno.test("an unknown model name is an error listing the known names", () => {
  assert.throws(
    () => buildModel("resnet101"),
    {
      message:
        'Unknown model "resnet101": known models are "vgg19", "resnet18", "resnet50", "resnet152", "densenet201", "inception_v3", "mobilenet_v2", "bert_base", "distilbert"',
    },
  );
});
