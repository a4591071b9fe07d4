/**
 * torchvision's ResNet (v1.5: the stride is on the 3x3 conv of a bottleneck), with its exact
 * module structure and `state_dict` keys: `conv1`, `bn1`, `layer{1-4}.{i}.conv{1-3}` /
 * `.bn{1-3}` / `.downsample.{0,1}`, `fc`.
 * @module
 */

import { type Graph, GraphBuilder, type TensorInfo } from "../ir.ts";

/** Architecture of a ResNet, as the arguments of torchvision's `ResNet` constructor. */
export interface ResNetConfig {
  /** `BasicBlock` (expansion 1) or `Bottleneck` (expansion 4). */
  block: "basic" | "bottleneck";
  /** Blocks per stage, e.g. `[2, 2, 2, 2]` for ResNet-18. */
  layers: readonly [number, number, number, number];
  classes: number;
  /** Channels of the stem and the first stage; torchvision fixes 64, smaller values make test nets. */
  width: number;
}

/** Build options of the image models. */
export interface ImageModelOptions {
  /** Default 1. */
  batch?: number;
  /** Input height and width; default the model's usual size (224, or 299 for Inception). */
  imageSize?: number;
}

/** ResNet-18. */
export const RESNET18: ResNetConfig = {
  block: "basic",
  layers: [2, 2, 2, 2],
  classes: 1000,
  width: 64,
};
/** ResNet-50. */
export const RESNET50: ResNetConfig = {
  block: "bottleneck",
  layers: [3, 4, 6, 3],
  classes: 1000,
  width: 64,
};
/** ResNet-152. */
export const RESNET152: ResNetConfig = {
  block: "bottleneck",
  layers: [3, 8, 36, 3],
  classes: 1000,
  width: 64,
};

function convBn(
  b: GraphBuilder,
  x: TensorInfo,
  prefix: string,
  conv: string,
  bn: string,
  outChannels: number,
  kernel: number,
  stride: number,
  residualBranchEnd = false,
): TensorInfo {
  const y = b.conv2d(x, `${prefix}.${conv}`, {
    outChannels,
    kernel,
    stride,
    padding: (kernel - 1) / 2,
    bias: false,
  });
  return b.batchnorm2d(y, `${prefix}.${bn}`, { residualBranchEnd });
}

function block(
  b: GraphBuilder,
  x: TensorInfo,
  prefix: string,
  config: ResNetConfig,
  planes: number,
  stride: number,
): TensorInfo {
  const inplanes = x.shape[1];
  const expansion = config.block === "basic" ? 1 : 4;
  let out: TensorInfo;
  if (config.block === "basic") {
    out = b.relu(convBn(b, x, prefix, "conv1", "bn1", planes, 3, stride), `${prefix}.relu1`);
    out = convBn(b, out, prefix, "conv2", "bn2", planes, 3, 1, true);
  } else {
    out = b.relu(convBn(b, x, prefix, "conv1", "bn1", planes, 1, 1), `${prefix}.relu1`);
    out = b.relu(convBn(b, out, prefix, "conv2", "bn2", planes, 3, stride), `${prefix}.relu2`);
    out = convBn(b, out, prefix, "conv3", "bn3", planes * expansion, 1, 1, true);
  }
  const identity = stride !== 1 || inplanes !== planes * expansion
    ? convBn(b, x, prefix, "downsample.0", "downsample.1", planes * expansion, 1, stride)
    : x;
  return b.relu(b.add(out, identity, `${prefix}.add`), `${prefix}.relu`);
}

/** Builds a ResNet graph named `name`; the input is `data` `[N, 3, S, S]`, the output `output`. */
export function buildResNet(
  name: string,
  config: ResNetConfig,
  options: ImageModelOptions = {},
): Graph {
  const batch = options.batch ?? 1;
  const size = options.imageSize ?? 224;
  const b = new GraphBuilder(name, batch);
  let x = b.input("data", [batch, 3, size, size]);
  x = b.conv2d(x, "conv1", {
    outChannels: config.width,
    kernel: 7,
    stride: 2,
    padding: 3,
    bias: false,
  });
  x = b.relu(b.batchnorm2d(x, "bn1"), "relu");
  x = b.maxpool2d(x, { kernel: 3, stride: 2, padding: 1 }, "maxpool");
  config.layers.forEach((blocks, stage) => {
    const planes = config.width * 2 ** stage;
    for (let i = 0; i < blocks; i++) {
      x = block(b, x, `layer${stage + 1}.${i}`, config, planes, i === 0 && stage > 0 ? 2 : 1);
    }
  });
  x = b.flatten(b.adaptiveAvgpool2d(x, 1, "avgpool"), "flatten");
  b.output("output", b.linear(x, "fc", { outFeatures: config.classes }));
  return b.build();
}
