/**
 * The model zoo: the models REEF evaluates, by name, built as graph IR with torchvision or
 * HuggingFace architectures and `state_dict` keys.
 *
 * @example
 * ```ts
 * import { buildModel } from "./mod.ts";
 * const graph = buildModel("resnet18", { batch: 1 });
 * ```
 * @module
 */

import type { Graph } from "../ir.ts";
import { BERT_BASE, buildBert } from "./bert.ts";
import { buildDenseNet, DENSENET201 } from "./densenet.ts";
import { buildDistilBert, DISTILBERT_BASE } from "./distilbert.ts";
import { buildInceptionV3 } from "./inception.ts";
import { buildMobileNetV2, MOBILENET_V2 } from "./mobilenet.ts";
import { buildResNet, RESNET152, RESNET18, RESNET50 } from "./resnet.ts";
import { buildVgg, VGG19 } from "./vgg.ts";

/** Options every zoo model accepts. */
export interface ZooOptions {
  /** Batch size; default 1. */
  batch?: number;
}

/** Builds one zoo model's graph. */
export type ModelBuilder = (options: ZooOptions) => Graph;

const BUILDERS: ReadonlyMap<string, ModelBuilder> = new Map<string, ModelBuilder>([
  ["vgg19", (o) => buildVgg("vgg19", VGG19, o)],
  ["resnet18", (o) => buildResNet("resnet18", RESNET18, o)],
  ["resnet50", (o) => buildResNet("resnet50", RESNET50, o)],
  ["resnet152", (o) => buildResNet("resnet152", RESNET152, o)],
  ["densenet201", (o) => buildDenseNet("densenet201", DENSENET201, o)],
  ["inception_v3", (o) => buildInceptionV3("inception_v3", 1000, o)],
  ["mobilenet_v2", (o) => buildMobileNetV2("mobilenet_v2", MOBILENET_V2, o)],
  ["bert_base", (o) => buildBert("bert_base", BERT_BASE, o)],
  ["distilbert", (o) => buildDistilBert("distilbert", DISTILBERT_BASE, o)],
]);

/** Names of the zoo models, in a stable order. */
export function modelNames(): string[] {
  return [...BUILDERS.keys()];
}

/** Builds zoo model `name`; throws an error listing the known names if there is no such model. */
export function buildModel(name: string, options: ZooOptions = {}): Graph {
  const builder = BUILDERS.get(name);
  if (builder === undefined) {
    throw new Error(
      `Unknown model "${name}": known models are ${modelNames().map((n) => `"${n}"`).join(", ")}`,
    );
  }
  return builder(options);
}
