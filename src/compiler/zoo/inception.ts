/**
 * torchvision's Inception v3 as built with `aux_logits=False, init_weights=False,
 * transform_input=False`: every conv is a `BasicConv2d` (`<name>.conv` without bias, `<name>.bn`
 * with eps 0.001, ReLU); blocks `Mixed_5b` ... `Mixed_7c` of kinds A to E; global pooling and `fc`.
 * The block builders are exported so that tests can run single blocks at small sizes.
 * @module
 */

import { type Graph, GraphBuilder, type Pair, type TensorInfo } from "../ir.ts";
import type { ImageModelOptions } from "./resnet.ts";

/** torchvision's `BasicConv2d`: conv (no bias), batch norm (eps 0.001), ReLU. */
export function basicConv(
  b: GraphBuilder,
  x: TensorInfo,
  prefix: string,
  outChannels: number,
  kernel: number | Pair,
  options: { stride?: number; padding?: number | Pair } = {},
): TensorInfo {
  const y = b.conv2d(x, `${prefix}.conv`, {
    outChannels,
    kernel,
    stride: options.stride ?? 1,
    padding: options.padding ?? 0,
    bias: false,
  });
  return b.relu(b.batchnorm2d(y, `${prefix}.bn`, { eps: 0.001 }), `${prefix}.relu`);
}

function poolBranch(b: GraphBuilder, x: TensorInfo, prefix: string): TensorInfo {
  return b.avgpool2d(x, { kernel: 3, stride: 1, padding: 1 }, `${prefix}.avg_pool`);
}

/** `InceptionA(in_channels, pool_features)`: 1x1, 5x5, double 3x3 and pool branches. */
export function inceptionA(
  b: GraphBuilder,
  x: TensorInfo,
  prefix: string,
  poolFeatures: number,
): TensorInfo {
  const branch1x1 = basicConv(b, x, `${prefix}.branch1x1`, 64, 1);
  let branch5x5 = basicConv(b, x, `${prefix}.branch5x5_1`, 48, 1);
  branch5x5 = basicConv(b, branch5x5, `${prefix}.branch5x5_2`, 64, 5, { padding: 2 });
  let branch3x3dbl = basicConv(b, x, `${prefix}.branch3x3dbl_1`, 64, 1);
  branch3x3dbl = basicConv(b, branch3x3dbl, `${prefix}.branch3x3dbl_2`, 96, 3, { padding: 1 });
  branch3x3dbl = basicConv(b, branch3x3dbl, `${prefix}.branch3x3dbl_3`, 96, 3, { padding: 1 });
  const branchPool = basicConv(
    b,
    poolBranch(b, x, prefix),
    `${prefix}.branch_pool`,
    poolFeatures,
    1,
  );
  return b.concat([branch1x1, branch5x5, branch3x3dbl, branchPool], `${prefix}.cat`);
}

/** `InceptionB(in_channels)`: strided 3x3, double 3x3 and max-pool branches (grid reduction). */
export function inceptionB(b: GraphBuilder, x: TensorInfo, prefix: string): TensorInfo {
  const branch3x3 = basicConv(b, x, `${prefix}.branch3x3`, 384, 3, { stride: 2 });
  let branch3x3dbl = basicConv(b, x, `${prefix}.branch3x3dbl_1`, 64, 1);
  branch3x3dbl = basicConv(b, branch3x3dbl, `${prefix}.branch3x3dbl_2`, 96, 3, { padding: 1 });
  branch3x3dbl = basicConv(b, branch3x3dbl, `${prefix}.branch3x3dbl_3`, 96, 3, { stride: 2 });
  const branchPool = b.maxpool2d(x, { kernel: 3, stride: 2 }, `${prefix}.max_pool`);
  return b.concat([branch3x3, branch3x3dbl, branchPool], `${prefix}.cat`);
}

/** `InceptionC(in_channels, channels_7x7)`: factorised 7x7 branches. */
export function inceptionC(b: GraphBuilder, x: TensorInfo, prefix: string, c7: number): TensorInfo {
  const branch1x1 = basicConv(b, x, `${prefix}.branch1x1`, 192, 1);
  let branch7x7 = basicConv(b, x, `${prefix}.branch7x7_1`, c7, 1);
  branch7x7 = basicConv(b, branch7x7, `${prefix}.branch7x7_2`, c7, [1, 7], { padding: [0, 3] });
  branch7x7 = basicConv(b, branch7x7, `${prefix}.branch7x7_3`, 192, [7, 1], { padding: [3, 0] });
  let dbl = basicConv(b, x, `${prefix}.branch7x7dbl_1`, c7, 1);
  dbl = basicConv(b, dbl, `${prefix}.branch7x7dbl_2`, c7, [7, 1], { padding: [3, 0] });
  dbl = basicConv(b, dbl, `${prefix}.branch7x7dbl_3`, c7, [1, 7], { padding: [0, 3] });
  dbl = basicConv(b, dbl, `${prefix}.branch7x7dbl_4`, c7, [7, 1], { padding: [3, 0] });
  dbl = basicConv(b, dbl, `${prefix}.branch7x7dbl_5`, 192, [1, 7], { padding: [0, 3] });
  const branchPool = basicConv(b, poolBranch(b, x, prefix), `${prefix}.branch_pool`, 192, 1);
  return b.concat([branch1x1, branch7x7, dbl, branchPool], `${prefix}.cat`);
}

/** `InceptionD(in_channels)`: 3x3 and 7x7x3 strided branches and a max pool (grid reduction). */
export function inceptionD(b: GraphBuilder, x: TensorInfo, prefix: string): TensorInfo {
  let branch3x3 = basicConv(b, x, `${prefix}.branch3x3_1`, 192, 1);
  branch3x3 = basicConv(b, branch3x3, `${prefix}.branch3x3_2`, 320, 3, { stride: 2 });
  let branch7x7x3 = basicConv(b, x, `${prefix}.branch7x7x3_1`, 192, 1);
  branch7x7x3 = basicConv(b, branch7x7x3, `${prefix}.branch7x7x3_2`, 192, [1, 7], {
    padding: [0, 3],
  });
  branch7x7x3 = basicConv(b, branch7x7x3, `${prefix}.branch7x7x3_3`, 192, [7, 1], {
    padding: [3, 0],
  });
  branch7x7x3 = basicConv(b, branch7x7x3, `${prefix}.branch7x7x3_4`, 192, 3, { stride: 2 });
  const branchPool = b.maxpool2d(x, { kernel: 3, stride: 2 }, `${prefix}.max_pool`);
  return b.concat([branch3x3, branch7x7x3, branchPool], `${prefix}.cat`);
}

/** `InceptionE(in_channels)`: expanded filter bank with nested concatenations. */
export function inceptionE(b: GraphBuilder, x: TensorInfo, prefix: string): TensorInfo {
  const branch1x1 = basicConv(b, x, `${prefix}.branch1x1`, 320, 1);
  const branch3x3 = basicConv(b, x, `${prefix}.branch3x3_1`, 384, 1);
  const branch3x3Cat = b.concat([
    basicConv(b, branch3x3, `${prefix}.branch3x3_2a`, 384, [1, 3], { padding: [0, 1] }),
    basicConv(b, branch3x3, `${prefix}.branch3x3_2b`, 384, [3, 1], { padding: [1, 0] }),
  ], `${prefix}.branch3x3_cat`);
  let dbl = basicConv(b, x, `${prefix}.branch3x3dbl_1`, 448, 1);
  dbl = basicConv(b, dbl, `${prefix}.branch3x3dbl_2`, 384, 3, { padding: 1 });
  const dblCat = b.concat([
    basicConv(b, dbl, `${prefix}.branch3x3dbl_3a`, 384, [1, 3], { padding: [0, 1] }),
    basicConv(b, dbl, `${prefix}.branch3x3dbl_3b`, 384, [3, 1], { padding: [1, 0] }),
  ], `${prefix}.branch3x3dbl_cat`);
  const branchPool = basicConv(b, poolBranch(b, x, prefix), `${prefix}.branch_pool`, 192, 1);
  return b.concat([branch1x1, branch3x3Cat, dblCat, branchPool], `${prefix}.cat`);
}

/** Builds Inception v3 named `name`; the input is `data` `[N, 3, S, S]` (S = 299), output `output`. */
export function buildInceptionV3(
  name: string,
  classes: number,
  options: ImageModelOptions = {},
): Graph {
  const batch = options.batch ?? 1;
  const size = options.imageSize ?? 299;
  const b = new GraphBuilder(name, batch);
  let x = b.input("data", [batch, 3, size, size]);
  x = basicConv(b, x, "Conv2d_1a_3x3", 32, 3, { stride: 2 });
  x = basicConv(b, x, "Conv2d_2a_3x3", 32, 3);
  x = basicConv(b, x, "Conv2d_2b_3x3", 64, 3, { padding: 1 });
  x = b.maxpool2d(x, { kernel: 3, stride: 2 }, "maxpool1");
  x = basicConv(b, x, "Conv2d_3b_1x1", 80, 1);
  x = basicConv(b, x, "Conv2d_4a_3x3", 192, 3);
  x = b.maxpool2d(x, { kernel: 3, stride: 2 }, "maxpool2");
  x = inceptionA(b, x, "Mixed_5b", 32);
  x = inceptionA(b, x, "Mixed_5c", 64);
  x = inceptionA(b, x, "Mixed_5d", 64);
  x = inceptionB(b, x, "Mixed_6a");
  x = inceptionC(b, x, "Mixed_6b", 128);
  x = inceptionC(b, x, "Mixed_6c", 160);
  x = inceptionC(b, x, "Mixed_6d", 160);
  x = inceptionC(b, x, "Mixed_6e", 192);
  x = inceptionD(b, x, "Mixed_7a");
  x = inceptionE(b, x, "Mixed_7b");
  x = inceptionE(b, x, "Mixed_7c");
  x = b.flatten(b.adaptiveAvgpool2d(x, 1, "avgpool"), "flatten");
  b.output("output", b.linear(x, "fc", { outFeatures: classes }));
  return b.build();
}
