/**
 * torchvision's VGG without batch norm: `features.{i}` (3x3 convs with bias, ReLU, 2x2 max pools,
 * numbered as in the `nn.Sequential`), a 7x7 adaptive average pool, and `classifier.{0,3,6}`
 * (dropout is absent in inference).
 * @module
 */

import { type Graph, GraphBuilder } from "../ir.ts";
import type { ImageModelOptions } from "./resnet.ts";

/** Architecture of a VGG: torchvision's layer list (`"M"` = max pool) and classifier widths. */
export interface VggConfig {
  layers: readonly (number | "M")[];
  /** Width of the two hidden classifier layers (4096 in torchvision). */
  hidden: number;
  classes: number;
}

/** VGG-19 (torchvision configuration "E"). */
export const VGG19: VggConfig = {
  layers: [
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
  ],
  hidden: 4096,
  classes: 1000,
};

/** Builds a VGG graph named `name`; the input is `data` `[N, 3, S, S]`, the output `output`. */
export function buildVgg(name: string, config: VggConfig, options: ImageModelOptions = {}): Graph {
  const batch = options.batch ?? 1;
  const size = options.imageSize ?? 224;
  const b = new GraphBuilder(name, batch);
  let x = b.input("data", [batch, 3, size, size]);
  let index = 0;
  for (const layer of config.layers) {
    if (layer === "M") {
      x = b.maxpool2d(x, { kernel: 2, stride: 2 }, `features.${index}`);
      index += 1;
    } else {
      x = b.conv2d(x, `features.${index}`, { outChannels: layer, kernel: 3, padding: 1 });
      x = b.relu(x, `features.${index + 1}`);
      index += 2;
    }
  }
  x = b.flatten(b.adaptiveAvgpool2d(x, 7, "avgpool"), "flatten");
  x = b.relu(b.linear(x, "classifier.0", { outFeatures: config.hidden }), "classifier.1");
  x = b.relu(b.linear(x, "classifier.3", { outFeatures: config.hidden }), "classifier.4");
  b.output("output", b.linear(x, "classifier.6", { outFeatures: config.classes }));
  return b.build();
}
