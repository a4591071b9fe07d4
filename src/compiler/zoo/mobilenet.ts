/**
 * torchvision's MobileNetV2: `features.0` (conv-BN-ReLU6 stem), inverted residual blocks
 * `features.{i}.conv.*` (1x1 expansion, 3x3 depthwise, 1x1 linear projection, with a shortcut
 * when the shape is kept), `features.18` (1x1 conv-BN-ReLU6), global pooling and `classifier.1`.
 * @module
 */

import { type Graph, GraphBuilder, type TensorInfo } from "../ir.ts";
import type { ImageModelOptions } from "./resnet.ts";

/** One row of torchvision's `inverted_residual_setting`: expansion t, channels c, repeats n, stride s. */
export type InvertedResidualSetting = readonly [t: number, c: number, n: number, s: number];

/** Architecture of a MobileNetV2, as the arguments of torchvision's `MobileNetV2` constructor. */
export interface MobileNetV2Config {
  widthMult: number;
  settings: readonly InvertedResidualSetting[];
  /** Channel rounding (torchvision's `round_nearest`, 8). */
  roundNearest: number;
  classes: number;
}

/** MobileNetV2 at width 1.0. */
export const MOBILENET_V2: MobileNetV2Config = {
  widthMult: 1,
  settings: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [
    6,
    160,
    3,
    2,
  ], [6, 320, 1, 1]],
  roundNearest: 8,
  classes: 1000,
};

/** torchvision's `_make_divisible`: rounds to a multiple of `divisor`, never more than 10% down. */
export function makeDivisible(v: number, divisor: number): number {
  let rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

/** torchvision's `Conv2dNormActivation` with BN and ReLU6: keys `<prefix>.0` (conv), `<prefix>.1` (BN). */
function convBnRelu6(
  b: GraphBuilder,
  x: TensorInfo,
  prefix: string,
  outChannels: number,
  kernel: number,
  stride: number,
  groups: number,
): TensorInfo {
  const y = b.conv2d(x, `${prefix}.0`, {
    outChannels,
    kernel,
    stride,
    padding: (kernel - 1) / 2,
    groups,
    bias: false,
  });
  return b.relu6(b.batchnorm2d(y, `${prefix}.1`), `${prefix}.2`);
}

function invertedResidual(
  b: GraphBuilder,
  x: TensorInfo,
  prefix: string,
  outChannels: number,
  stride: number,
  expandRatio: number,
): TensorInfo {
  const inChannels = x.shape[1];
  // Python's round() rounds halves to even; hidden widths here are integer products, so Math.round agrees.
  const hidden = Math.round(inChannels * expandRatio);
  const useResidual = stride === 1 && inChannels === outChannels;
  let y = x;
  let index = 0;
  if (expandRatio !== 1) y = convBnRelu6(b, y, `${prefix}.conv.${index++}`, hidden, 1, 1, 1);
  y = convBnRelu6(b, y, `${prefix}.conv.${index++}`, hidden, 3, stride, hidden);
  y = b.conv2d(y, `${prefix}.conv.${index++}`, { outChannels, kernel: 1, bias: false });
  y = b.batchnorm2d(y, `${prefix}.conv.${index}`, { residualBranchEnd: useResidual });
  return useResidual ? b.add(x, y, `${prefix}.add`) : y;
}

/** Builds a MobileNetV2 graph named `name`; the input is `data` `[N, 3, S, S]`, the output `output`. */
export function buildMobileNetV2(
  name: string,
  config: MobileNetV2Config,
  options: ImageModelOptions = {},
): Graph {
  const batch = options.batch ?? 1;
  const size = options.imageSize ?? 224;
  const b = new GraphBuilder(name, batch);
  let x = b.input("data", [batch, 3, size, size]);
  const inputChannel = makeDivisible(32 * config.widthMult, config.roundNearest);
  const lastChannel = makeDivisible(1280 * Math.max(1, config.widthMult), config.roundNearest);
  x = convBnRelu6(b, x, "features.0", inputChannel, 3, 2, 1);
  let index = 1;
  for (const [t, c, n, s] of config.settings) {
    const outChannels = makeDivisible(c * config.widthMult, config.roundNearest);
    for (let i = 0; i < n; i++) {
      x = invertedResidual(b, x, `features.${index++}`, outChannels, i === 0 ? s : 1, t);
    }
  }
  x = convBnRelu6(b, x, `features.${index}`, lastChannel, 1, 1, 1);
  x = b.flatten(b.adaptiveAvgpool2d(x, 1, "avgpool"), "flatten");
  b.output("output", b.linear(x, "classifier.1", { outFeatures: config.classes }));
  return b.build();
}
