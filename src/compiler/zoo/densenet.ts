/**
 * torchvision's DenseNet: `features.conv0/norm0/pool0`, `features.denseblock{i}.denselayer{j}`
 * (`norm1`, `conv1`, `norm2`, `conv2`: BN-ReLU before each conv), `features.transition{i}`
 * (`norm`, `conv`, 2x2 average pool), `features.norm5`, then ReLU, global pooling and
 * `classifier`. Each dense layer concatenates all earlier features, as torchvision does.
 * @module
 */

import { type Graph, GraphBuilder, type TensorInfo } from "../ir.ts";
import type { ImageModelOptions } from "./resnet.ts";

/** Architecture of a DenseNet, as the arguments of torchvision's `DenseNet` constructor. */
export interface DenseNetConfig {
  growthRate: number;
  blockConfig: readonly number[];
  initFeatures: number;
  /** Bottleneck width multiplier of the 1x1 conv in a dense layer. */
  bnSize: number;
  classes: number;
}

/** DenseNet-201. */
export const DENSENET201: DenseNetConfig = {
  growthRate: 32,
  blockConfig: [6, 12, 48, 32],
  initFeatures: 64,
  bnSize: 4,
  classes: 1000,
};

function denseLayer(
  b: GraphBuilder,
  features: TensorInfo[],
  prefix: string,
  config: DenseNetConfig,
): TensorInfo {
  let x = b.concat(features, `${prefix}.cat`);
  x = b.relu(b.batchnorm2d(x, `${prefix}.norm1`), `${prefix}.relu1`);
  x = b.conv2d(x, `${prefix}.conv1`, {
    outChannels: config.bnSize * config.growthRate,
    kernel: 1,
    bias: false,
  });
  x = b.relu(b.batchnorm2d(x, `${prefix}.norm2`), `${prefix}.relu2`);
  return b.conv2d(x, `${prefix}.conv2`, {
    outChannels: config.growthRate,
    kernel: 3,
    padding: 1,
    bias: false,
  });
}

/** Builds a DenseNet graph named `name`; the input is `data` `[N, 3, S, S]`, the output `output`. */
export function buildDenseNet(
  name: string,
  config: DenseNetConfig,
  options: ImageModelOptions = {},
): Graph {
  const batch = options.batch ?? 1;
  const size = options.imageSize ?? 224;
  const b = new GraphBuilder(name, batch);
  let x = b.input("data", [batch, 3, size, size]);
  x = b.conv2d(x, "features.conv0", {
    outChannels: config.initFeatures,
    kernel: 7,
    stride: 2,
    padding: 3,
    bias: false,
  });
  x = b.relu(b.batchnorm2d(x, "features.norm0"), "features.relu0");
  x = b.maxpool2d(x, { kernel: 3, stride: 2, padding: 1 }, "features.pool0");
  config.blockConfig.forEach((layers, i) => {
    const block = `features.denseblock${i + 1}`;
    const features = [x];
    for (let j = 0; j < layers; j++) {
      features.push(denseLayer(b, features, `${block}.denselayer${j + 1}`, config));
    }
    x = b.concat(features, `${block}.cat`);
    if (i !== config.blockConfig.length - 1) {
      const prefix = `features.transition${i + 1}`;
      x = b.relu(b.batchnorm2d(x, `${prefix}.norm`), `${prefix}.relu`);
      x = b.conv2d(x, `${prefix}.conv`, {
        outChannels: Math.floor(x.shape[1] / 2),
        kernel: 1,
        bias: false,
      });
      x = b.avgpool2d(x, { kernel: 2, stride: 2 }, `${prefix}.pool`);
    }
  });
  x = b.relu(b.batchnorm2d(x, "features.norm5"), "relu");
  x = b.flatten(b.adaptiveAvgpool2d(x, 1, "avgpool"), "flatten");
  b.output("output", b.linear(x, "classifier", { outFeatures: config.classes }));
  return b.build();
}
