import assert from "node:assert/strict";
import { GraphBuilder, numel } from "../../src/compiler/ir.ts";
import { runGraph } from "../../src/compiler/reference.ts";
import { buildDenseNet, DENSENET201 } from "../../src/compiler/zoo/densenet.ts";
import { buildInceptionV3 } from "../../src/compiler/zoo/inception.ts";
import { buildMobileNetV2, MOBILENET_V2 } from "../../src/compiler/zoo/mobilenet.ts";
import { buildResNet, RESNET152 } from "../../src/compiler/zoo/resnet.ts";
import { buildModel } from "../../src/compiler/zoo/mod.ts";
import { loadWeights, saveWeights, synthesizeWeights } from "../../src/compiler/weights.ts";
import { encodeSafetensors, type SafeTensor } from "../../src/compiler/safetensors.ts";

const TINY = { block: "basic", layers: [1, 1, 1, 1], classes: 10, width: 4 } as const;

function values(t: SafeTensor): unknown[] {
  return Array.from(t.data as ArrayLike<unknown>);
}

function moments(data: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let sum = 0, sq = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    sum += data[i];
    sq += data[i] * data[i];
    min = Math.min(min, data[i]);
    max = Math.max(max, data[i]);
  }
  const mean = sum / data.length;
  return { mean, std: Math.sqrt(sq / data.length - mean * mean), min, max };
}

Deno.test("synthetic weights are deterministic in model name and seed, and independent of batch", () => {
  const a = synthesizeWeights(buildResNet("r", TINY, { batch: 1 }), 3);
  const b = synthesizeWeights(buildResNet("r", TINY, { batch: 5 }), 3);
  const c = synthesizeWeights(buildResNet("r", TINY), 4);
  const d = synthesizeWeights(buildResNet("q", TINY), 3);
  for (const name of ["conv1.weight", "layer1.0.bn1.running_var", "fc.bias"]) {
    assert.deepEqual(values(a.get(name)!), values(b.get(name)!), name);
    assert.notDeepEqual(values(a.get(name)!), values(c.get(name)!), name);
    assert.notDeepEqual(values(a.get(name)!), values(d.get(name)!), name);
  }
  // Two tensors of one model never share a stream.
  assert.notDeepEqual(values(a.get("layer1.0.bn1.weight")!), values(a.get("layer1.0.bn2.weight")!));
});

Deno.test("synthetic weights follow each role's distribution in PyTorch layout and types", () => {
  const b = new GraphBuilder("dist", 1);
  let x = b.input("data", [1, 256, 4, 4]);
  x = b.conv2d(x, "conv", { outChannels: 512, kernel: 3, padding: 1 });
  x = b.batchnorm2d(x, "bn");
  x = b.batchnorm2d(x, "bn_end", { residualBranchEnd: true });
  const y = b.linear(b.flatten(b.adaptiveAvgpool2d(x, 1)), "fc", { outFeatures: 1000 });
  b.output("output", y);
  const graph = b.build();
  const w = synthesizeWeights(graph, 0);
  const conv = w.get("conv.weight")!;
  assert.equal(conv.dtype, "F32");
  assert.deepEqual(conv.shape, [512, 256, 3, 3]);
  const he = Math.sqrt(2 / (256 * 9));
  const c = moments(conv.data as Float32Array);
  assert.ok(Math.abs(c.std / he - 1) < 0.01 && Math.abs(c.mean) < he * 0.01, JSON.stringify(c));
  assert.ok(c.max > 4 * he, "normal, not uniform: the tails reach past 4 sigma");
  const fc = moments(w.get("fc.weight")!.data as Float32Array);
  assert.ok(Math.abs(fc.std * Math.sqrt(512) - 1) < 0.01, JSON.stringify(fc));
  const bias = moments(w.get("conv.bias")!.data as Float32Array);
  assert.ok(bias.max <= 1 / Math.sqrt(256 * 9) && bias.min >= -1 / Math.sqrt(256 * 9));
  const within = (name: string, lo: number, hi: number) => {
    const m = moments(w.get(name)!.data as Float32Array);
    assert.ok(
      m.min >= lo && m.max <= hi && m.max - m.min > (hi - lo) * 0.9,
      `${name} ${JSON.stringify(m)}`,
    );
  };
  within("bn.weight", 0.9, 1.1);
  within("bn.running_var", 0.8, 1.2);
  within("bn.running_mean", -0.1, 0.1);
  within("bn.bias", -0.1, 0.1);
  within("bn_end.weight", 0.1, 0.3);
  const count = w.get("bn.num_batches_tracked")!;
  assert.equal(count.dtype, "I64");
  assert.deepEqual(count.shape, []);
  assert.deepEqual(Array.from(count.data as BigInt64Array), [0n]);
});

Deno.test("weights round-trip through safetensors and reject files of another graph", async () => {
  const graph = buildResNet("r", TINY);
  const weights = synthesizeWeights(graph, 7);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/r.safetensors`;
    await saveWeights(path, graph, weights);
    const back = await loadWeights(path, graph);
    assert.equal(back.size, graph.params.length);
    for (const [name, t] of weights) assert.deepEqual(values(back.get(name)!), values(t), name);

    const other = buildResNet("r", { ...TINY, classes: 11 });
    await assert.rejects(loadWeights(path, other), {
      message:
        `Cannot read safetensors file "${path}": tensor "fc.weight" is F32 [10, 32], expected F32 [11, 32]`,
    });
    const fewer = new Map(weights);
    fewer.delete("layer1.0.bn2.running_mean");
    await Deno.writeFile(path, encodeSafetensors(fewer));
    await assert.rejects(loadWeights(path, graph), {
      message:
        `Cannot read safetensors file "${path}": tensor "layer1.0.bn2.running_mean" is missing`,
    });
    const more = new Map(weights).set("extra.weight", {
      dtype: "F32",
      shape: [1],
      data: new Float32Array(1),
    });
    await Deno.writeFile(path, encodeSafetensors(more));
    await assert.rejects(loadWeights(path, graph), {
      message: `Cannot read safetensors file "${path}": tensor "extra.weight" is not expected`,
    });
    const bytes = encodeSafetensors(weights);
    await Deno.writeFile(path, bytes.subarray(0, bytes.length - 1));
    await assert.rejects(
      loadWeights(path, graph),
      new RegExp(`^Error: Cannot read safetensors file "${path}": the file is`),
    );
    await assert.rejects(saveWeights(path, graph, fewer), {
      message:
        `Cannot write weights of "r" to "${path}": tensor "layer1.0.bn2.running_mean" is missing`,
    });
    await assert.rejects(
      saveWeights(path, graph, more),
      /tensor "extra.weight" is not a parameter/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("VGG-19's 143M synthetic values take seconds", () => {
  const graph = buildModel("vgg19");
  const start = performance.now();
  const weights = synthesizeWeights(graph, 0);
  const seconds = (performance.now() - start) / 1000;
  let n = 0;
  for (const t of weights.values()) n += numel(t.shape);
  assert.equal(n, 143_667_240);
  assert.ok(seconds < 60, `synthesis took ${seconds.toFixed(1)} s`);
});

Deno.test("synthetic weights keep activations O(1) through the deepest zoo models", () => {
  // Full depth at reduced resolution keeps CI fast; at full resolution the largest activations
  // measured were 84 (ResNet-152), 26 (MobileNetV2), 19 (Inception v3), 18 (DenseNet-201).
  const models = [
    buildResNet("resnet152", RESNET152, { imageSize: 32 }),
    buildDenseNet("densenet201", DENSENET201, { imageSize: 32 }),
    buildInceptionV3("inception_v3", 1000, { imageSize: 75 }),
    buildMobileNetV2("mobilenet_v2", MOBILENET_V2, { imageSize: 32 }),
  ];
  for (const graph of models) {
    const input = graph.inputs[0];
    const data = Float64Array.from(
      { length: numel(input.shape) },
      (_, i) => 1.7 * Math.sin(i * 12.9898),
    );
    let largest = 0;
    const outputs = runGraph(graph, synthesizeWeights(graph, 0), new Map([[input.name, data]]), {
      observe: (_, values) => {
        for (const v of values) largest = Math.max(largest, Math.abs(v));
      },
    });
    const logits = outputs.get("output")!;
    const rms = Math.sqrt(logits.reduce((s, v) => s + v * v, 0) / logits.length);
    assert.ok(largest < 200, `${graph.name}: an activation reaches ${largest}`);
    assert.ok(rms > 0.05, `${graph.name}: output rms ${rms} vanishes`);
  }
});
