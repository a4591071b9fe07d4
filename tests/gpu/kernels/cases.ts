/**
 * The GPU kernel check's cases: layer shapes of the zoo models at batch 1 (ResNet-50, VGG-19,
 * DenseNet-201, Inception-v3 at 299, MobileNet-v2, BERT-base at sequence 128) in fp16, a fp32
 * subset, and the small awkward cases the CPU emulator also runs.
 * @module
 */

import type { CheckCase } from "./bundle.ts";
import type { KernelOp, Precision } from "../../../src/kernels/ops.ts";
import { conv, linear, view } from "../../kernels/representative_ops.ts";
import { smallCases } from "../../kernels/small_cases.ts";

function maxPool(name: string, h: number, c: number, k: number, stride: number, pad: number) {
  const o = Math.floor((h + 2 * pad - k) / stride) + 1;
  return {
    kind: "pool2d",
    mode: "max",
    n: 1,
    h,
    w: h,
    c,
    kh: k,
    kw: k,
    strideH: stride,
    strideW: stride,
    padH: pad,
    padW: pad,
    oh: o,
    ow: o,
    countIncludePad: true,
    pre: null,
    input: view(`${name}_in`, c),
    output: view(`${name}_out`, c),
  } satisfies KernelOp;
}

function avgPool(
  name: string,
  h: number,
  c: number,
  k: number,
  stride: number,
  pad: number,
  output = view(`${name}_out`, c),
): KernelOp {
  return { ...maxPool(name, h, c, k, stride, pad), mode: "avg", output };
}

function gap(name: string, h: number, c: number, pre: boolean): KernelOp {
  return {
    kind: "global_avgpool",
    n: 1,
    h,
    w: h,
    c,
    pre: pre ? { scale: `${name}_scale`, shift: `${name}_shift` } : null,
    input: view(`${name}_in`, c),
    output: view(`${name}_out`, c),
  };
}

/** Layers of the zoo models, by model, as (name, op). */
function modelLayers(): [string, KernelOp][] {
  const res = (name: string, c: number) => ({ residual: view(`${name}_res`, c) });
  return [
    // ResNet-50
    ["r50_stem", conv("r50s", { h: 224, w: 224, cin: 3, cout: 64, k: 7 }, { stride: 2, pad: 3 })],
    ["r50_maxpool", maxPool("r50mp", 112, 64, 3, 2, 1)],
    ["r50_l1_1x1_in", conv("r50a", { h: 56, w: 56, cin: 256, cout: 64, k: 1 })],
    ["r50_l1_3x3", conv("r50b", { h: 56, w: 56, cin: 64, cout: 64, k: 3 })],
    ["r50_l1_1x1_res", conv("r50c", { h: 56, w: 56, cin: 64, cout: 256, k: 1 }, res("r50c", 256))],
    ["r50_l2_3x3_s2", conv("r50d", { h: 56, w: 56, cin: 128, cout: 128, k: 3 }, { stride: 2 })],
    ["r50_l3_3x3", conv("r50e", { h: 14, w: 14, cin: 256, cout: 256, k: 3 })],
    [
      "r50_l3_down_s2",
      conv("r50f", { h: 28, w: 28, cin: 512, cout: 1024, k: 1 }, { stride: 2, act: "none" }),
    ],
    ["r50_l4_3x3", conv("r50g", { h: 7, w: 7, cin: 512, cout: 512, k: 3 })],
    ["r50_l4_1x1_res", conv("r50h", { h: 7, w: 7, cin: 512, cout: 2048, k: 1 }, res("r50h", 2048))],
    ["r50_gap", gap("r50gap", 7, 2048, false)],
    ["r50_fc", linear("r50fc", 1, 2048, 1000, "none")],
    // VGG-19
    ["vgg_conv1_1", conv("v1", { h: 224, w: 224, cin: 3, cout: 64, k: 3 })],
    ["vgg_conv1_2", conv("v2", { h: 224, w: 224, cin: 64, cout: 64, k: 3 })],
    ["vgg_conv3", conv("v3", { h: 56, w: 56, cin: 256, cout: 256, k: 3 })],
    ["vgg_conv5", conv("v5", { h: 14, w: 14, cin: 512, cout: 512, k: 3 })],
    ["vgg_pool", maxPool("vmp", 224, 64, 2, 2, 0)],
    ["vgg_fc1", linear("vfc1", 1, 25088, 4096, "relu")],
    ["vgg_fc2", linear("vfc2", 1, 4096, 4096, "relu")],
    ["vgg_fc3", linear("vfc3", 1, 4096, 1000, "none")],
    // DenseNet-201: a dense layer's bottleneck (pre-activation over a prefix of the concat
    // buffer) and its 3x3 writing the next slice; a transition; the final norm + pool.
    [
      "dn_bottleneck_pre",
      conv("d1", { h: 28, w: 28, cin: 320, cout: 128, k: 1 }, {
        input: view("d1_cat", 512, 0),
        pre: { scale: "d1_scale", shift: "d1_shift" },
        bias: null,
        act: "relu",
      }),
    ],
    [
      "dn_3x3_slice",
      conv("d2", { h: 28, w: 28, cin: 128, cout: 32, k: 3 }, {
        output: view("d2_cat", 512, 320),
        bias: null,
        act: "none",
      }),
    ],
    [
      "dn_transition_pre",
      conv("d3", { h: 56, w: 56, cin: 256, cout: 128, k: 1 }, {
        pre: { scale: "d3_scale", shift: "d3_shift" },
        bias: null,
        act: "none",
      }),
    ],
    ["dn_transition_pool", avgPool("d4", 56, 128, 2, 2, 0)],
    ["dn_gap_pre", gap("d5", 7, 1920, true)],
    ["dn_fc", linear("d6", 1, 1920, 1000, "none")],
    // Inception-v3 (299): stem, a branch writing its concat window, 5x5, 1x7 / 7x1, avg pool
    // with counted padding, a grid reduction.
    ["inc_stem", conv("i1", { h: 299, w: 299, cin: 3, cout: 32, k: 3 }, { stride: 2, pad: 0 })],
    ["inc_3x3_147", conv("i2", { h: 147, w: 147, cin: 32, cout: 64, k: 3 })],
    [
      "inc_branch_window",
      conv("i3", { h: 35, w: 35, cin: 192, cout: 64, k: 1 }, { output: view("i3_cat", 256, 0) }),
    ],
    [
      "inc_5x5",
      conv("i4", { h: 35, w: 35, cin: 48, cout: 64, k: 5 }, { output: view("i4_cat", 256, 64) }),
    ],
    ["inc_1x7", conv("i5", { h: 17, w: 17, cin: 128, cout: 128, k: [1, 7] })],
    [
      "inc_7x1",
      conv("i6", { h: 17, w: 17, cin: 128, cout: 192, k: [7, 1] }, {
        output: view("i6_cat", 768, 576),
      }),
    ],
    ["inc_avgpool", avgPool("i7", 35, 192, 3, 1, 1, view("i7_out", 288, 96))],
    [
      "inc_reduce_s2",
      conv("i8", { h: 17, w: 17, cin: 192, cout: 320, k: 3 }, { stride: 2, pad: 0 }),
    ],
    ["inc_gap", gap("i9", 8, 2048, false)],
    // MobileNet-v2
    [
      "mb_stem",
      conv("m1", { h: 224, w: 224, cin: 3, cout: 32, k: 3 }, { stride: 2, act: "relu6" }),
    ],
    [
      "mb_dw_112",
      conv("m2", { h: 112, w: 112, cin: 32, cout: 32, k: 3 }, { groups: 32, act: "relu6" }),
    ],
    ["mb_project", conv("m3", { h: 112, w: 112, cin: 32, cout: 16, k: 1 }, { act: "none" })],
    ["mb_expand", conv("m4", { h: 56, w: 56, cin: 24, cout: 144, k: 1 }, { act: "relu6" })],
    [
      "mb_dw_s2",
      conv("m5", { h: 112, w: 112, cin: 96, cout: 96, k: 3 }, {
        stride: 2,
        groups: 96,
        act: "relu6",
      }),
    ],
    [
      "mb_project_res",
      conv("m6", { h: 56, w: 56, cin: 144, cout: 24, k: 1 }, { act: "none", ...res("m6", 24) }),
    ],
    [
      "mb_dw_7",
      conv("m7", { h: 7, w: 7, cin: 960, cout: 960, k: 3 }, { groups: 960, act: "relu6" }),
    ],
    ["mb_last", conv("m8", { h: 7, w: 7, cin: 320, cout: 1280, k: 1 }, { act: "relu6" })],
    ["mb_fc", linear("m9", 1, 1280, 1000, "none")],
    // BERT-base, sequence 128
    ["bert_embedding", {
      kind: "embedding",
      n: 1,
      seq: 128,
      dim: 768,
      vocab: 30522,
      ids: "b1_ids",
      word: "b1_word",
      position: "b1_pos",
      tokenType: "b1_type",
      gamma: "b1_gamma",
      beta: "b1_beta",
      eps: 1e-12,
      output: view("b1_out", 768),
    }],
    ["bert_qkv", linear("b2", 128, 768, 2304, "none")],
    ["bert_attention", {
      kind: "attention",
      n: 1,
      seq: 128,
      heads: 12,
      headDim: 64,
      scale: 0.125,
      q: view("b3_qkv", 2304, 0),
      k: view("b3_qkv", 2304, 768),
      v: view("b3_qkv", 2304, 1536),
      output: view("b3_ctx", 768),
    }],
    ["bert_attn_out", linear("b4", 128, 768, 768, "none")],
    ["bert_layernorm_res", {
      kind: "layernorm",
      rows: 128,
      dim: 768,
      eps: 1e-12,
      input: view("b5_in", 768),
      residual: view("b5_res", 768),
      gamma: "b5_gamma",
      beta: "b5_beta",
      output: view("b5_out", 768),
    }],
    ["bert_ffn1_gelu", linear("b6", 128, 768, 3072, "gelu")],
    ["bert_ffn2", linear("b7", 128, 3072, 768, "none")],
    ["bert_pooler_tanh", linear("b8", 1, 768, 768, "tanh")],
    ["resnet_add_relu", {
      kind: "add",
      pixels: 56 * 56,
      c: 256,
      a: view("e1_a", 256),
      b: view("e1_b", 256),
      act: "relu",
      output: view("e1_out", 256),
    }],
  ];
}

/** fp32 versions of a representative subset (the SIMT paths at real sizes). */
const FP32_SUBSET = new Set([
  "r50_stem",
  "r50_l1_3x3",
  "r50_l1_1x1_res",
  "r50_l4_3x3",
  "r50_fc",
  "vgg_fc1",
  "dn_bottleneck_pre",
  "mb_dw_s2",
  "bert_ffn1_gelu",
  "bert_attention",
  "bert_layernorm_res",
  "bert_embedding",
  "r50_gap",
  "r50_maxpool",
]);

/** Cases per module of the GPU bundle: 13 modules, whose 39 sources nvcc compiles in parallel. */
export const GPU_CASES_PER_MODULE = 8;

/** Every GPU case: model layers in fp16, the fp32 subset, then the small cases. */
export function gpuCases(): CheckCase[] {
  const layers = modelLayers();
  const make = (precision: Precision, suffix: string) =>
    layers
      .filter(([name]) => precision === "float16" || FP32_SUBSET.has(name))
      .map(([name, op]) => ({ name: `${name}${suffix}`, op, precision }));
  return [
    ...make("float16", ""),
    ...make("float32", "_f32"),
    ...smallCases().map((c) => ({ ...c, name: `small_${c.name}` })),
  ];
}
