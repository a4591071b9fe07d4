/**
 * Physical kernel operations: the contract between the compiler's lowering (graph IR -> a list of
 * kernel ops over named storage) and the kernel catalog (kernel op -> CUDA template instance).
 *
 * Layout conventions, fixed for every op:
 * - Images are NHWC ("channels last"). A {@linkcode View} names a storage buffer and a channel
 *   window inside it, so that concat is a set of kernels writing disjoint channel ranges of one
 *   buffer (DenseNet, Inception) and a kernel can read a channel prefix of a wider buffer.
 * - Sequences are [N, S, D] row-major, which is NHWC with H = S, W = 1, C = D.
 * - Conv weights are OHWI ([Cout][KH][KW][Cin/groups]); linear weights are [out][in] (PyTorch's
 *   layout), so a linear layer is a 1x1 convolution over N*S pixels.
 * - Activations and weights are in the model's precision (`float16` or `float32`); biases, norm
 *   parameters and every accumulator are float32.
 * - Batch-norm in inference form is folded into conv weights and bias by the lowering wherever it
 *   directly follows a conv; where it precedes one (DenseNet's pre-activation), it becomes the
 *   conv's `pre` prologue: y = max(x * scale[c] + shift[c], 0), applied to in-bounds inputs only,
 *   so zero padding stays zero.
 *
 * Kernels must be idempotent: no op reads a channel window it writes.
 * @module
 */

/** Element type of a storage buffer. */
export type StorageType = "float16" | "float32" | "int32";

/** Precision a model is compiled in: activations and weights use it, accumulators are fp32. */
export type Precision = "float16" | "float32";

/** A channel window of an NHWC (or [N, S, D]) buffer. */
export interface View {
  /** Storage buffer name (an entry of the model package's `storage`). */
  storage: string;
  /** Channel stride: the total channel count of the buffer. */
  channels: number;
  /** First channel of the window. */
  offset: number;
}

/** Activation fused into an epilogue. `gelu` is the exact erf form; `tanh` for BERT's pooler. */
export type Activation = "none" | "relu" | "relu6" | "gelu" | "tanh";

/** Per-channel affine transform followed by ReLU, fused where a kernel loads its input. */
export interface PreOp {
  /** float32 storage of `channels` scale factors. */
  scale: string;
  /** float32 storage of `channels` shifts. */
  shift: string;
}

/** 2-D convolution as implicit GEMM: M = n*oh*ow, N = cout, K = kh*kw*cin/groups. */
export interface Conv2dOp {
  kind: "conv2d";
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  /** 1 for dense conv; `cin` (= `cout`) for depthwise; other values are not generated. */
  groups: number;
  oh: number;
  ow: number;
  input: View;
  /** Weights in OHWI order, model precision. */
  weight: string;
  /** float32 bias of `cout` elements (folded batch-norm shift), or null. */
  bias: string | null;
  pre: PreOp | null;
  /** Added after bias, before the activation (ResNet's shortcut); same shape as the output. */
  residual: View | null;
  act: Activation;
  output: View;
}

/** Max or average pooling, NHWC. */
export interface Pool2dOp {
  kind: "pool2d";
  mode: "max" | "avg";
  n: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  oh: number;
  ow: number;
  /** For average pooling: whether padded positions count in the divisor (PyTorch's default). */
  countIncludePad: boolean;
  pre: PreOp | null;
  input: View;
  output: View;
}

/** Mean over H*W per channel: [N, H, W, C] -> [N, C] (written as NHWC with H = W = 1). */
export interface GlobalAvgPoolOp {
  kind: "global_avgpool";
  n: number;
  h: number;
  w: number;
  c: number;
  pre: PreOp | null;
  input: View;
  output: View;
}

/** Dense layer Y[m, out] = act(X[m, in] W^T + b + residual). */
export interface LinearOp {
  kind: "linear";
  /** Rows: batch * sequence length (batch for classifiers). */
  m: number;
  in: number;
  out: number;
  input: View;
  /** [out][in], model precision. */
  weight: string;
  bias: string | null;
  residual: View | null;
  act: Activation;
  output: View;
}

/** Layer norm over the last dimension: y = (x - mean) / sqrt(var + eps) * gamma + beta. */
export interface LayerNormOp {
  kind: "layernorm";
  rows: number;
  dim: number;
  eps: number;
  input: View;
  /** Added to the input before normalising (BERT's post-norm residual). */
  residual: View | null;
  gamma: string;
  beta: string;
  output: View;
}

/**
 * BERT embeddings: word[ids[s]] + position[s] + tokenType[0], then layer norm.
 * `ids` is int32 storage of n*seq elements.
 */
export interface EmbeddingOp {
  kind: "embedding";
  n: number;
  seq: number;
  dim: number;
  vocab: number;
  ids: string;
  word: string;
  position: string;
  /** Token-type embedding table (type 0 is used), or null for DistilBERT. */
  tokenType: string | null;
  gamma: string;
  beta: string;
  eps: number;
  output: View;
}

/**
 * Multi-head self-attention core: softmax(Q K^T * scale) V per head, no mask.
 * q, k and v are [n, seq, heads*headDim] views; the output has the same shape.
 */
export interface AttentionOp {
  kind: "attention";
  n: number;
  seq: number;
  heads: number;
  headDim: number;
  scale: number;
  q: View;
  k: View;
  v: View;
  output: View;
}

/** Element-wise y = act(a + b) over `pixels` x `c` values of two same-shaped channel windows. */
export interface AddOp {
  kind: "add";
  pixels: number;
  c: number;
  a: View;
  b: View;
  act: Activation;
  output: View;
}

/** One kernel launch's worth of work. */
export type KernelOp =
  | Conv2dOp
  | Pool2dOp
  | GlobalAvgPoolOp
  | LinearOp
  | LayerNormOp
  | EmbeddingOp
  | AttentionOp
  | AddOp;
