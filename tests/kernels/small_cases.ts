/**
 * Small kernel-check cases: every template and path at sizes the CPU emulator runs in seconds,
 * including the awkward ones (K, M and N tails, batch 2, channel windows on input, output and
 * residual, pre-activation next to zero padding, stride with dilation, split-K, unaligned views
 * that push fp16 onto the SIMT path). The GPU check runs them too.
 * @module
 */

import type { CheckCase } from "../gpu/kernels/bundle.ts";
import type { KernelOp } from "../../src/kernels/ops.ts";
import { conv, linear, view } from "./representative_ops.ts";

function pool(
  name: string,
  mode: "max" | "avg",
  s: { n?: number; h: number; w: number; c: number; k: number; stride: number; pad: number },
  options: { countIncludePad?: boolean; ceil?: boolean; out?: [number, number] } = {},
): KernelOp {
  const size = (x: number) => {
    const span = x + 2 * s.pad - s.k;
    return (options.ceil ? Math.ceil(span / s.stride) : Math.floor(span / s.stride)) + 1;
  };
  const out = options.out ?? [s.c, 0];
  return {
    kind: "pool2d",
    mode,
    n: s.n ?? 1,
    h: s.h,
    w: s.w,
    c: s.c,
    kh: s.k,
    kw: s.k,
    strideH: s.stride,
    strideW: s.stride,
    padH: s.pad,
    padW: s.pad,
    oh: size(s.h),
    ow: size(s.w),
    countIncludePad: options.countIncludePad ?? true,
    pre: null,
    input: view(`${name}_in`, s.c),
    output: view(`${name}_out`, out[0], out[1]),
  };
}

function attention(name: string, n: number, seq: number, heads: number, headDim: number): KernelOp {
  const d = heads * headDim;
  return {
    kind: "attention",
    n,
    seq,
    heads,
    headDim,
    scale: 1 / Math.sqrt(headDim),
    q: view(`${name}_qkv`, 3 * d, 0),
    k: view(`${name}_qkv`, 3 * d, d),
    v: view(`${name}_qkv`, 3 * d, 2 * d),
    output: view(`${name}_out`, d),
  };
}

function fp16(name: string, op: KernelOp): CheckCase {
  return { name, op, precision: "float16" };
}

function fp32(name: string, op: KernelOp): CheckCase {
  return { name, op, precision: "float32" };
}

/** The small cases, fp16 and fp32. */
export function smallCases(): CheckCase[] {
  return [
    // Tensor-core path: K tail (K = 216 over 64-wide K-tiles), M tail, N tail, batch 2.
    fp16("mma_tails_n2", conv("a", { n: 2, h: 9, w: 9, cin: 24, cout: 40, k: 3 })),
    // K = 64 takes 32-wide K-tiles; output into a channel window.
    fp16(
      "mma_bk32_window",
      conv("b", { h: 5, w: 5, cin: 64, cout: 48, k: 1 }, { output: view("b_out", 96, 40) }),
    ),
    // Few pixels, deep K: split-K partials and the reduce, with residual and relu.
    fp16(
      "mma_splitk_res",
      conv("c", { h: 4, w: 4, cin: 256, cout: 64, k: 3 }, { residual: view("c_res", 64) }),
    ),
    // DenseNet-like: pre-activation over an input prefix window next to zero padding, residual
    // and output windows.
    fp16(
      "mma_pre_windows",
      conv("d", { h: 6, w: 6, cin: 32, cout: 16, k: 3 }, {
        input: view("d_in", 48, 8),
        pre: { scale: "d_scale", shift: "d_shift" },
        residual: view("d_res", 24, 8),
        output: view("d_out", 48, 16),
        act: "none",
      }),
    ),
    // Stride 2 with dilation 2.
    fp16(
      "mma_stride_dilation",
      conv("e", { h: 11, w: 11, cin: 16, cout: 32, k: 3 }, {
        stride: 2,
        pad: 2,
        dilationH: 2,
        dilationW: 2,
      }),
    ),
    // A larger GEMM that takes a wide tile.
    fp16("mma_wide", conv("f", { h: 32, w: 32, cin: 64, cout: 256, k: 1 })),
    // Deep K without a split: 18 K-tiles with a K tail, over check groups of 8 trips (32 x 32
    // tiles) and of 4 (64 x 32), the last group partial.
    fp16("mma_deep_k_check8", linear("x1", 33, 1112, 40, "relu")),
    fp16("mma_deep_k_check4", linear("x2", 16, 1112, 96, "relu")),
    // Linear layers on tensor cores: M = 9 rows (just over the GEMV bound), gelu.
    fp16("mma_linear_gelu", linear("g", 9, 128, 96, "gelu")),
    // SIMT in fp16: cin = 3 stem, and an unaligned input window with a residual.
    fp16("simt_stem", conv("h", { h: 15, w: 15, cin: 3, cout: 16, k: 3 }, { stride: 2 })),
    fp16(
      "simt_unaligned",
      conv("i", { h: 5, w: 5, cin: 16, cout: 24, k: 3 }, {
        input: view("i_in", 40, 3),
        residual: view("i_res", 24),
        act: "relu6",
      }),
    ),
    // Depthwise: stride 2 relu6; stride 1 with residual and bias-free pre-activation.
    fp16(
      "dw_s2",
      conv("j", { h: 10, w: 10, cin: 32, cout: 32, k: 3 }, { stride: 2, groups: 32, act: "relu6" }),
    ),
    fp16(
      "dw_pre_res",
      conv("k", { h: 7, w: 7, cin: 48, cout: 48, k: 3 }, {
        groups: 48,
        bias: null,
        pre: { scale: "k_scale", shift: "k_shift" },
        residual: view("k_res", 48),
        act: "none",
      }),
    ),
    // GEMV: batch 1 with tanh; few outputs and deep K (split); 3 rows with a residual.
    fp16("gemv_tanh", linear("l", 1, 512, 72, "tanh")),
    fp16("gemv_split", linear("m", 1, 16384, 8, "none")),
    fp16("gemv_rows_res", linear("n", 3, 256, 40, "relu", { residual: view("n_res", 40) })),
    // Pooling: max with padding, average with and without counted padding, ceil mode, and a
    // global average with pre-activation.
    fp16("pool_max", pool("o", "max", { h: 9, w: 9, c: 16, k: 3, stride: 2, pad: 1 })),
    fp16("pool_avg_pad", pool("p", "avg", { h: 6, w: 6, c: 24, k: 3, stride: 1, pad: 1 })),
    fp16(
      "pool_avg_nopad_ceil",
      pool("q", "avg", { n: 2, h: 8, w: 8, c: 8, k: 3, stride: 2, pad: 1 }, {
        countIncludePad: false,
        ceil: true,
        out: [24, 8],
      }),
    ),
    fp16("gap_pre", {
      kind: "global_avgpool",
      n: 2,
      h: 3,
      w: 3,
      c: 48,
      pre: { scale: "r_scale", shift: "r_shift" },
      input: view("r_in", 48),
      output: view("r_out", 64, 16),
    }),
    fp16("layernorm_res", {
      kind: "layernorm",
      rows: 6,
      dim: 96,
      eps: 1e-5,
      input: view("s_in", 96),
      residual: view("s_res", 96),
      gamma: "s_gamma",
      beta: "s_beta",
      output: view("s_out", 96),
    }),
    fp16("embedding", {
      kind: "embedding",
      n: 2,
      seq: 4,
      dim: 64,
      vocab: 50,
      ids: "t_ids",
      word: "t_word",
      position: "t_pos",
      tokenType: "t_type",
      gamma: "t_gamma",
      beta: "t_beta",
      eps: 1e-12,
      output: view("t_out", 64),
    }),
    fp16("attention_hd64", attention("u", 2, 16, 2, 64)),
    fp16("attention_hd32", attention("v", 1, 32, 2, 32)),
    fp16("add_relu", {
      kind: "add",
      pixels: 20,
      c: 24,
      a: view("w_a", 24),
      b: view("w_b", 48, 8),
      act: "relu",
      output: view("w_out", 24),
    }),
    // fp32: the SIMT conv (with residual, with split-K), depthwise, GEMV, and the row kernels.
    fp32(
      "f32_conv_res",
      conv("x", { h: 7, w: 7, cin: 32, cout: 48, k: 3 }, { residual: view("x_res", 48) }),
    ),
    fp32("f32_conv_split", conv("y", { h: 3, w: 3, cin: 256, cout: 32, k: 3 })),
    fp32("f32_linear", linear("z", 16, 64, 80, "gelu")),
    fp32("f32_dw", conv("dwf", { h: 6, w: 6, cin: 16, cout: 16, k: 3 }, { groups: 16 })),
    fp32("f32_gemv", linear("gv", 2, 300, 33, "none")),
    fp32("f32_attention", attention("af", 1, 16, 2, 64)),
    fp32("f32_layernorm", {
      kind: "layernorm",
      rows: 3,
      dim: 100,
      eps: 1e-12,
      input: view("lf_in", 100),
      residual: null,
      gamma: "lf_gamma",
      beta: "lf_beta",
      output: view("lf_out", 100),
    }),
    fp32("f32_embedding_notype", {
      kind: "embedding",
      n: 1,
      seq: 5,
      dim: 32,
      vocab: 20,
      ids: "ef_ids",
      word: "ef_word",
      position: "ef_pos",
      tokenType: null,
      gamma: "ef_gamma",
      beta: "ef_beta",
      eps: 1e-12,
      output: view("ef_out", 32),
    }),
    fp32("f32_pool_gap", {
      kind: "global_avgpool",
      n: 1,
      h: 4,
      w: 4,
      c: 12,
      pre: null,
      input: view("gf_in", 12),
      output: view("gf_out", 12),
    }),
    fp32("f32_add", {
      kind: "add",
      pixels: 7,
      c: 10,
      a: view("ad_a", 10),
      b: view("ad_b", 10),
      act: "none",
      output: view("ad_out", 10),
    }),
  ];
}
