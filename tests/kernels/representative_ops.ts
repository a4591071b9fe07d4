/**
 * A small op list that reaches every template and path of the kernel catalog: tensor-core and
 * SIMT convolutions (cin = 3 stem, channel windows, pre-activation, residual, split-K,
 * asymmetric kernels), depthwise, GEMV and GEMM linears, pooling, layer norm, embedding,
 * attention over one QKV buffer, and element-wise add. Storage names are arbitrary here.
 * @module
 */

import type { Activation, Conv2dOp, KernelOp, LinearOp, View } from "../../src/kernels/ops.ts";

/** A view of channels [offset, offset + width) of a buffer of `channels` channels. */
export function view(storage: string, channels: number, offset = 0): View {
  return { storage, channels, offset };
}

/** A conv op with PyTorch's output size; options override the defaults. */
export function conv(
  name: string,
  shape: {
    n?: number;
    h: number;
    w: number;
    cin: number;
    cout: number;
    k: number | [number, number];
  },
  options: Partial<Conv2dOp> & { stride?: number; pad?: number | [number, number] } = {},
): Conv2dOp {
  const [kh, kw] = typeof shape.k === "number" ? [shape.k, shape.k] : shape.k;
  const [padH, padW] = typeof options.pad === "number"
    ? [options.pad, options.pad]
    : options.pad ?? [Math.floor(kh / 2), Math.floor(kw / 2)];
  const stride = options.stride ?? 1;
  const dilationH = options.dilationH ?? 1, dilationW = options.dilationW ?? 1;
  const oh = Math.floor((shape.h + 2 * padH - dilationH * (kh - 1) - 1) / stride) + 1;
  const ow = Math.floor((shape.w + 2 * padW - dilationW * (kw - 1) - 1) / stride) + 1;
  const { stride: _s, pad: _p, ...rest } = options;
  return {
    kind: "conv2d",
    n: shape.n ?? 1,
    h: shape.h,
    w: shape.w,
    cin: shape.cin,
    cout: shape.cout,
    kh,
    kw,
    strideH: stride,
    strideW: stride,
    padH,
    padW,
    dilationH,
    dilationW,
    groups: 1,
    oh,
    ow,
    input: view(`${name}_in`, shape.cin),
    weight: `${name}_w`,
    bias: `${name}_b`,
    pre: null,
    residual: null,
    act: "relu",
    output: view(`${name}_out`, shape.cout),
    ...rest,
  };
}

/** A linear op Y[m, out] = act(X W^T + b). */
export function linear(
  name: string,
  m: number,
  inFeatures: number,
  out: number,
  act: Activation,
  options: Partial<LinearOp> = {},
): LinearOp {
  return {
    kind: "linear",
    m,
    in: inFeatures,
    out,
    input: view(`${name}_in`, inFeatures),
    weight: `${name}_w`,
    bias: `${name}_b`,
    residual: null,
    act,
    output: view(`${name}_out`, out),
    ...options,
  };
}

/** The representative list, for one precision's worth of kernels. */
export function representativeOps(): KernelOp[] {
  return [
    // ResNet stem: cin = 3 takes the SIMT path even in fp16.
    conv("stem", { h: 224, w: 224, cin: 3, cout: 64, k: 7 }, { stride: 2, pad: 3 }),
    // ResNet 3x3 at 56x56 (tensor cores, bias + relu).
    conv("c3", { h: 56, w: 56, cin: 64, cout: 64, k: 3 }),
    // Bottleneck expansion 1x1 with the shortcut as residual, written into a channel window.
    conv("c1res", { h: 28, w: 28, cin: 128, cout: 512, k: 1 }, {
      residual: view("c1res_short", 512),
      output: view("c1res_out", 768, 256),
    }),
    // ResNet layer4 3x3 at 7x7: few outputs, deep K, so split-K (partials + reduce).
    conv("deep", { h: 7, w: 7, cin: 512, cout: 512, k: 3 }),
    // DenseNet 1x1 with BN-ReLU pre-activation over a channel prefix of the concat buffer, writing
    // the bottleneck buffer; and the 3x3 writing its slice of the next concat buffer.
    conv("dense1", { h: 28, w: 28, cin: 160, cout: 128, k: 1 }, {
      input: view("dense_cat", 512, 0),
      pre: { scale: "dense1_scale", shift: "dense1_shift" },
      bias: null,
      act: "none",
    }),
    conv("dense3", { h: 28, w: 28, cin: 128, cout: 32, k: 3 }, {
      output: view("dense_cat2", 512, 160),
      bias: null,
      act: "none",
    }),
    // Inception 1x7 and 7x1 (asymmetric padding).
    conv("inc17", { h: 17, w: 17, cin: 128, cout: 192, k: [1, 7] }),
    conv("inc71", { h: 17, w: 17, cin: 128, cout: 128, k: [7, 1] }, { act: "none" }),
    // MobileNet depthwise 3x3 stride 2 with relu6, and a stride-1 one at 7x7 with a residual.
    conv("dw", { h: 112, w: 112, cin: 96, cout: 96, k: 3 }, {
      stride: 2,
      groups: 96,
      act: "relu6",
    }),
    conv("dw7", { h: 7, w: 7, cin: 960, cout: 960, k: 3 }, {
      groups: 960,
      residual: view("dw7_res", 960),
      act: "none",
    }),
    // Classifier GEMVs and BERT GEMMs.
    linear("fc", 1, 4096, 1000, "none"),
    linear("ffn1", 128, 768, 3072, "gelu"),
    linear("ffn2", 128, 3072, 768, "none", { residual: view("ffn2_res", 768) }),
    linear("pooler", 1, 768, 768, "tanh"),
    {
      kind: "pool2d",
      mode: "max",
      n: 1,
      h: 112,
      w: 112,
      c: 64,
      kh: 3,
      kw: 3,
      strideH: 2,
      strideW: 2,
      padH: 1,
      padW: 1,
      oh: 56,
      ow: 56,
      countIncludePad: true,
      pre: null,
      input: view("mp_in", 64),
      output: view("mp_out", 64),
    },
    {
      kind: "pool2d",
      mode: "avg",
      n: 1,
      h: 17,
      w: 17,
      c: 768,
      kh: 3,
      kw: 3,
      strideH: 1,
      strideW: 1,
      padH: 1,
      padW: 1,
      oh: 17,
      ow: 17,
      countIncludePad: true,
      pre: null,
      input: view("ap_in", 768),
      output: view("ap_out", 192 + 768, 192),
    },
    {
      kind: "global_avgpool",
      n: 1,
      h: 7,
      w: 7,
      c: 1920,
      pre: { scale: "gap_scale", shift: "gap_shift" },
      input: view("gap_in", 1920),
      output: view("gap_out", 1920),
    },
    {
      kind: "layernorm",
      rows: 128,
      dim: 768,
      eps: 1e-12,
      input: view("ln_in", 768),
      residual: view("ln_res", 768),
      gamma: "ln_g",
      beta: "ln_b",
      output: view("ln_out", 768),
    },
    {
      kind: "embedding",
      n: 1,
      seq: 128,
      dim: 768,
      vocab: 30522,
      ids: "input_ids",
      word: "emb_word",
      position: "emb_pos",
      tokenType: "emb_type",
      gamma: "emb_g",
      beta: "emb_b",
      eps: 1e-12,
      output: view("emb_out", 768),
    },
    {
      kind: "attention",
      n: 1,
      seq: 128,
      heads: 12,
      headDim: 64,
      scale: 0.125,
      q: view("qkv", 2304, 0),
      k: view("qkv", 2304, 768),
      v: view("qkv", 2304, 1536),
      output: view("ctx", 768),
    },
    {
      kind: "add",
      pixels: 56 * 56,
      c: 256,
      a: view("add_a", 256),
      b: view("add_b", 512, 256),
      act: "relu",
      output: view("add_out", 256),
    },
  ];
}
