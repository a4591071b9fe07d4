/**
 * float64 CPU references, slow and simple, for correctness checks without a GPU:
 * - {@linkcode runGraph} runs a graph IR with PyTorch semantics (NCHW), from a `state_dict`;
 * - {@linkcode runOps} runs a lowered kernel-op list with the semantics `src/kernels/ops.ts`
 *   fixes (NHWC, channel windows, fused prologues and epilogues). It is the CPU reference for
 *   the GPU kernel tests, and comparing it with `runGraph` proves the lowering.
 * @module
 */

import type {
  Activation,
  AddOp,
  AttentionOp,
  Conv2dOp,
  EmbeddingOp,
  GlobalAvgPoolOp,
  KernelOp,
  LayerNormOp,
  LinearOp,
  Pool2dOp,
  PreOp,
  View,
} from "../kernels/ops.ts";
import { gelu } from "./erf.ts";
import type {
  AdaptiveAvgPool2dNode,
  AttentionNode,
  AvgPool2dNode,
  BatchNorm2dNode,
  Conv2dNode,
  EmbeddingNode,
  Graph,
  LayerNormNode,
  LinearNode,
  MaxPool2dNode,
  Node,
  TensorInfo,
} from "./ir.ts";
import { formatShape, numel } from "./ir.ts";
import type { StateDict } from "./weights.ts";

/** Tensor values by name; token ids may be given as an `Int32Array`. */
export type TensorValues = ReadonlyMap<string, ArrayLike<number>>;

/** Applies an epilogue activation. */
export function activate(act: Activation, x: number): number {
  switch (act) {
    case "none":
      return x;
    case "relu":
      // NaN passes through (as in PyTorch), so reads of unwritten storage stay visible.
      return Number.isNaN(x) || x > 0 ? x : 0;
    case "relu6":
      return Number.isNaN(x) || (x > 0 && x < 6) ? x : x > 0 ? 6 : 0;
    case "gelu":
      return gelu(x);
    case "tanh":
      return Math.tanh(x);
  }
}

// ---------------------------------------------------------------------------------------------
// Graph IR, NCHW, PyTorch semantics.
// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode runGraph}. */
export interface RunGraphOptions {
  /** Called with every node's output as it is computed (e.g. to collect activation statistics). */
  observe?: (tensor: TensorInfo, values: Float64Array) => void;
}

type Params = (name: string) => ArrayLike<number>;

function conv2d(
  x: Float64Array,
  xs: readonly number[],
  node: Conv2dNode,
  ys: readonly number[],
  p: Params,
): Float64Array {
  const [n, c, h, w] = xs;
  const [, o, oh, ow] = ys;
  const [kh, kw] = node.kernel;
  const [sh, sw] = node.stride;
  const [ph, pw] = node.padding;
  const [dh, dw] = node.dilation;
  const cg = c / node.groups;
  const og = o / node.groups;
  const weight = p(node.weight);
  const bias = node.bias === null ? null : p(node.bias);
  const y = new Float64Array(n * o * oh * ow);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < o; co++) {
      const out = (b * o + co) * oh * ow;
      const b0 = bias === null ? 0 : bias[co];
      y.fill(b0, out, out + oh * ow);
      const cin0 = Math.floor(co / og) * cg;
      for (let ci = 0; ci < cg; ci++) {
        const plane = (b * c + cin0 + ci) * h * w;
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const wv = weight[((co * cg + ci) * kh + i) * kw + j];
            // Output columns whose input column is inside the image; no branch in the inner loop.
            const lo = Math.max(0, Math.ceil((pw - j * dw) / sw));
            const hi = Math.min(ow - 1, Math.floor((w - 1 + pw - j * dw) / sw));
            for (let r = 0; r < oh; r++) {
              const ih = r * sh - ph + i * dh;
              if (ih < 0 || ih >= h) continue;
              const row = plane + ih * w - pw + j * dw;
              const orow = out + r * ow;
              for (let q = lo; q <= hi; q++) y[orow + q] += wv * x[row + q * sw];
            }
          }
        }
      }
    }
  }
  return y;
}

function batchnorm2d(
  x: Float64Array,
  xs: readonly number[],
  node: BatchNorm2dNode,
  p: Params,
): Float64Array {
  const [n, c, h, w] = xs;
  const gamma = p(node.weight),
    beta = p(node.bias),
    mean = p(node.runningMean),
    variance = p(node.runningVar);
  const y = new Float64Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const inv = 1 / Math.sqrt(variance[ch] + node.eps);
      const base = (b * c + ch) * h * w;
      for (let i = 0; i < h * w; i++) {
        y[base + i] = (x[base + i] - mean[ch]) * inv * gamma[ch] + beta[ch];
      }
    }
  }
  return y;
}

/** Shared window walk of max and average pooling (PyTorch's CPU kernels). */
function pool2d(
  x: Float64Array,
  xs: readonly number[],
  node: MaxPool2dNode | AvgPool2dNode,
  ys: readonly number[],
): Float64Array {
  const [n, c, h, w] = xs;
  const [, , oh, ow] = ys;
  const [kh, kw] = node.kernel;
  const [sh, sw] = node.stride;
  const [ph, pw] = node.padding;
  const y = new Float64Array(n * c * oh * ow);
  for (let plane = 0; plane < n * c; plane++) {
    for (let r = 0; r < oh; r++) {
      for (let q = 0; q < ow; q++) {
        let h0 = r * sh - ph, w0 = q * sw - pw;
        let h1 = Math.min(h0 + kh, h + ph), w1 = Math.min(w0 + kw, w + pw);
        const padded = (h1 - h0) * (w1 - w0);
        h0 = Math.max(h0, 0), w0 = Math.max(w0, 0);
        h1 = Math.min(h1, h), w1 = Math.min(w1, w);
        let acc = node.op === "maxpool2d" ? -Infinity : 0;
        for (let i = h0; i < h1; i++) {
          for (let j = w0; j < w1; j++) {
            const v = x[(plane * h + i) * w + j];
            if (node.op === "maxpool2d") acc = v > acc || Number.isNaN(v) ? v : acc;
            else acc += v;
          }
        }
        if (node.op === "avgpool2d") {
          const count = node.countIncludePad ? padded : (h1 - h0) * (w1 - w0);
          acc = count > 0 ? acc / count : 0;
        }
        y[(plane * oh + r) * ow + q] = acc;
      }
    }
  }
  return y;
}

function adaptiveAvgpool2d(
  x: Float64Array,
  xs: readonly number[],
  node: AdaptiveAvgPool2dNode,
): Float64Array {
  const [n, c, h, w] = xs;
  const [oh, ow] = node.outputSize;
  const y = new Float64Array(n * c * oh * ow);
  for (let plane = 0; plane < n * c; plane++) {
    for (let r = 0; r < oh; r++) {
      const h0 = Math.floor((r * h) / oh), h1 = Math.ceil(((r + 1) * h) / oh);
      for (let q = 0; q < ow; q++) {
        const w0 = Math.floor((q * w) / ow), w1 = Math.ceil(((q + 1) * w) / ow);
        let acc = 0;
        for (let i = h0; i < h1; i++) {
          for (let j = w0; j < w1; j++) acc += x[(plane * h + i) * w + j];
        }
        y[(plane * oh + r) * ow + q] = acc / ((h1 - h0) * (w1 - w0));
      }
    }
  }
  return y;
}

function linear(x: Float64Array, xs: readonly number[], node: LinearNode, p: Params): Float64Array {
  const rows = numel(xs) / node.inFeatures;
  const k = node.inFeatures, o = node.outFeatures;
  const weight = p(node.weight);
  const bias = node.bias === null ? null : p(node.bias);
  const y = new Float64Array(rows * o);
  for (let m = 0; m < rows; m++) {
    for (let j = 0; j < o; j++) {
      let acc = bias === null ? 0 : bias[j];
      for (let i = 0; i < k; i++) acc += x[m * k + i] * weight[j * k + i];
      y[m * o + j] = acc;
    }
  }
  return y;
}

function concat(
  parts: readonly Float64Array[],
  shapes: readonly (readonly number[])[],
): Float64Array {
  const n = shapes[0][0];
  const inner = numel(shapes[0].slice(2));
  let channels = 0;
  for (const s of shapes) channels += s[1];
  const y = new Float64Array(n * channels * inner);
  let offset = 0;
  for (let i = 0; i < parts.length; i++) {
    const block = shapes[i][1] * inner;
    for (let b = 0; b < n; b++) {
      y.set(parts[i].subarray(b * block, (b + 1) * block), (b * channels) * inner + offset);
    }
    offset += block;
  }
  return y;
}

/** Layer norm of each `dim`-wide row of `x` in place. */
function normalizeRows(
  x: Float64Array,
  dim: number,
  eps: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
): void {
  for (let base = 0; base < x.length; base += dim) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[base + i];
    mean /= dim;
    let variance = 0;
    for (let i = 0; i < dim; i++) variance += (x[base + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / dim + eps);
    for (let i = 0; i < dim; i++) x[base + i] = (x[base + i] - mean) * inv * gamma[i] + beta[i];
  }
}

function embedding(
  ids: ArrayLike<number>,
  xs: readonly number[],
  node: EmbeddingNode,
  p: Params,
): Float64Array {
  const [n, seq] = xs;
  const d = node.dim;
  const word = p(node.word), position = p(node.position);
  const tokenType = node.tokenType === null ? null : p(node.tokenType);
  const y = new Float64Array(n * seq * d);
  for (let t = 0; t < n * seq; t++) {
    const id = ids[t];
    if (!(Number.isInteger(id) && id >= 0 && id < node.vocab)) {
      throw new Error(
        `Cannot run embedding "${node.name}": token id ${id} at position ${t} is outside [0, ${node.vocab})`,
      );
    }
    const s = t % seq;
    for (let i = 0; i < d; i++) {
      y[t * d + i] = word[id * d + i] + position[s * d + i] +
        (tokenType === null ? 0 : tokenType[i]);
    }
  }
  normalizeRows(y, d, node.eps, p(node.weight), p(node.bias));
  return y;
}

function layernorm(
  x: Float64Array,
  xs: readonly number[],
  node: LayerNormNode,
  p: Params,
): Float64Array {
  const y = Float64Array.from(x);
  normalizeRows(y, xs[xs.length - 1], node.eps, p(node.weight), p(node.bias));
  return y;
}

/** Softmax attention of one head; the accessors address element `i` of token `token`. */
function attendHead(
  seq: number,
  headDim: number,
  scale: number,
  q: (token: number, i: number) => number,
  k: (token: number, i: number) => number,
  v: (token: number, i: number) => number,
  write: (token: number, i: number, value: number) => void,
): void {
  const scores = new Float64Array(seq);
  for (let t = 0; t < seq; t++) {
    let max = -Infinity;
    for (let u = 0; u < seq; u++) {
      let dot = 0;
      for (let i = 0; i < headDim; i++) dot += q(t, i) * k(u, i);
      scores[u] = dot * scale;
      if (scores[u] > max) max = scores[u];
    }
    let sum = 0;
    for (let u = 0; u < seq; u++) sum += scores[u] = Math.exp(scores[u] - max);
    for (let i = 0; i < headDim; i++) {
      let acc = 0;
      for (let u = 0; u < seq; u++) acc += scores[u] * v(u, i);
      write(t, i, acc / sum);
    }
  }
}

function attention(
  qx: Float64Array,
  kx: Float64Array,
  vx: Float64Array,
  xs: readonly number[],
  node: AttentionNode,
): Float64Array {
  const [n, seq, d] = xs;
  const hd = d / node.heads;
  const y = new Float64Array(qx.length);
  for (let b = 0; b < n; b++) {
    for (let head = 0; head < node.heads; head++) {
      const at = (token: number, i: number) => (b * seq + token) * d + head * hd + i;
      attendHead(
        seq,
        hd,
        1 / Math.sqrt(hd),
        (t, i) => qx[at(t, i)],
        (t, i) => kx[at(t, i)],
        (t, i) => vx[at(t, i)],
        (t, i, value) => y[at(t, i)] = value,
      );
    }
  }
  return y;
}

function selectFirstToken(x: Float64Array, xs: readonly number[]): Float64Array {
  const [n, seq, d] = xs;
  const y = new Float64Array(n * d);
  for (let b = 0; b < n; b++) y.set(x.subarray(b * seq * d, b * seq * d + d), b * d);
  return y;
}

function elementwise(x: Float64Array, f: (v: number) => number): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
  return y;
}

function evaluate(
  node: Node,
  args: Float64Array[],
  shapes: (readonly number[])[],
  ys: readonly number[],
  p: Params,
): Float64Array {
  const [x] = args;
  const xs = shapes[0];
  switch (node.op) {
    case "conv2d":
      return conv2d(x, xs, node, ys, p);
    case "batchnorm2d":
      return batchnorm2d(x, xs, node, p);
    case "relu":
    case "relu6":
    case "gelu":
    case "tanh": {
      const act = node.op;
      return elementwise(x, (v) => activate(act, v));
    }
    case "add": {
      const [, b] = args;
      return Float64Array.from(x, (v, i) => v + b[i]);
    }
    case "maxpool2d":
    case "avgpool2d":
      return pool2d(x, xs, node, ys);
    case "adaptive_avgpool2d":
      return adaptiveAvgpool2d(x, xs, node);
    case "flatten":
      return x;
    case "linear":
      return linear(x, xs, node, p);
    case "concat":
      return concat(args, shapes);
    case "embedding":
      return embedding(x, xs, node, p);
    case "layernorm":
      return layernorm(x, xs, node, p);
    case "attention":
      return attention(args[0], args[1], args[2], xs, node);
    case "select_first_token":
      return selectFirstToken(x, xs);
  }
}

/**
 * Runs `graph` in float64 with PyTorch semantics. `inputs` holds each graph input in its logical
 * (NCHW) layout; the result maps each graph output name to its values.
 */
export function runGraph(
  graph: Graph,
  weights: StateDict,
  inputs: TensorValues,
  options: RunGraphOptions = {},
): Map<string, Float64Array> {
  const fail = (message: string): never => {
    throw new Error(`Cannot run graph "${graph.name}": ${message}`);
  };
  const params: Params = (name) =>
    (weights.get(name) ?? fail(`parameter "${name}" is missing`)).data as Float32Array;
  const values = new Map<string, Float64Array>();
  for (const input of graph.inputs) {
    const given = inputs.get(input.name) ?? fail(`input "${input.name}" is missing`);
    if (given.length !== numel(input.shape)) {
      fail(
        `input "${input.name}" has ${given.length} values, expected ${formatShape(input.shape)}`,
      );
    }
    values.set(input.name, Float64Array.from(given));
  }
  // Free each tensor after its last use, so that large graphs fit.
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((node, i) => node.inputs.forEach((name) => lastUse.set(name, i)));
  const kept = new Set(graph.outputs.map((o) => o.tensor));
  graph.nodes.forEach((node, i) => {
    const shapes = node.inputs.map((name) => graph.tensors.get(name)!.shape);
    const args = node.inputs.map((name) => values.get(name)!);
    const tensor = graph.tensors.get(node.name)!;
    const y = evaluate(node, args, shapes, tensor.shape, params);
    values.set(node.name, y);
    options.observe?.(tensor, y);
    for (const name of node.inputs) {
      if (lastUse.get(name) === i && !kept.has(name)) values.delete(name);
    }
  });
  return new Map(graph.outputs.map((o) => [o.name, values.get(o.tensor)!]));
}

// ---------------------------------------------------------------------------------------------
// Kernel ops, NHWC, the semantics of src/kernels/ops.ts.
// ---------------------------------------------------------------------------------------------

/** What {@linkcode runOps} needs of a lowered model. */
export interface OpProgram {
  readonly storage: readonly { readonly name: string; readonly size: number }[];
  readonly ops: readonly KernelOp[];
  /** Values of the weight storages (any numeric array: float16, float32 or float64 values). */
  readonly weights: ReadonlyMap<string, ArrayLike<number>>;
}

/** Element index of channel `c` of pixel `pixel` of a view. */
function at(v: View, pixel: number, c: number): number {
  return pixel * v.channels + v.offset + c;
}

type Buffers = Map<string, Float64Array>;

function preTransform(
  op: { pre: PreOp | null },
  w: ReadonlyMap<string, ArrayLike<number>>,
): (v: number, c: number) => number {
  if (op.pre === null) return (v) => v;
  const scale = w.get(op.pre.scale)!, shift = w.get(op.pre.shift)!;
  return (v, c) => Math.max(v * scale[c] + shift[c], 0);
}

function runConv(op: Conv2dOp, buf: Buffers, w: ReadonlyMap<string, ArrayLike<number>>): void {
  const x = buf.get(op.input.storage)!, y = buf.get(op.output.storage)!;
  const res = op.residual === null ? null : buf.get(op.residual.storage)!;
  const weight = w.get(op.weight)!;
  const bias = op.bias === null ? null : w.get(op.bias)!;
  const pre = preTransform(op, w);
  const cg = op.cin / op.groups, og = op.cout / op.groups;
  for (let b = 0; b < op.n; b++) {
    for (let r = 0; r < op.oh; r++) {
      for (let q = 0; q < op.ow; q++) {
        const opix = (b * op.oh + r) * op.ow + q;
        for (let co = 0; co < op.cout; co++) {
          const cin0 = Math.floor(co / og) * cg;
          let acc = 0;
          for (let i = 0; i < op.kh; i++) {
            const ih = r * op.strideH - op.padH + i * op.dilationH;
            if (ih < 0 || ih >= op.h) continue;
            for (let j = 0; j < op.kw; j++) {
              const iw = q * op.strideW - op.padW + j * op.dilationW;
              if (iw < 0 || iw >= op.w) continue;
              const ipix = (b * op.h + ih) * op.w + iw;
              const wbase = ((co * op.kh + i) * op.kw + j) * cg;
              for (let ci = 0; ci < cg; ci++) {
                acc += pre(x[at(op.input, ipix, cin0 + ci)], cin0 + ci) * weight[wbase + ci];
              }
            }
          }
          if (bias !== null) acc += bias[co];
          if (res !== null) acc += res[at(op.residual!, opix, co)];
          y[at(op.output, opix, co)] = activate(op.act, acc);
        }
      }
    }
  }
}

function runPool(op: Pool2dOp, buf: Buffers, w: ReadonlyMap<string, ArrayLike<number>>): void {
  const x = buf.get(op.input.storage)!, y = buf.get(op.output.storage)!;
  const pre = preTransform(op, w);
  for (let b = 0; b < op.n; b++) {
    for (let r = 0; r < op.oh; r++) {
      for (let q = 0; q < op.ow; q++) {
        let h0 = r * op.strideH - op.padH, w0 = q * op.strideW - op.padW;
        let h1 = Math.min(h0 + op.kh, op.h + op.padH), w1 = Math.min(w0 + op.kw, op.w + op.padW);
        const padded = (h1 - h0) * (w1 - w0);
        h0 = Math.max(h0, 0), w0 = Math.max(w0, 0);
        h1 = Math.min(h1, op.h), w1 = Math.min(w1, op.w);
        const opix = (b * op.oh + r) * op.ow + q;
        for (let c = 0; c < op.c; c++) {
          let acc = op.mode === "max" ? -Infinity : 0;
          for (let i = h0; i < h1; i++) {
            for (let j = w0; j < w1; j++) {
              const v = pre(x[at(op.input, (b * op.h + i) * op.w + j, c)], c);
              if (op.mode === "max") acc = v > acc || Number.isNaN(v) ? v : acc;
              else acc += v;
            }
          }
          if (op.mode === "avg") {
            const count = op.countIncludePad ? padded : (h1 - h0) * (w1 - w0);
            acc = count > 0 ? acc / count : 0;
          }
          y[at(op.output, opix, c)] = acc;
        }
      }
    }
  }
}

function runGlobalAvgPool(
  op: GlobalAvgPoolOp,
  buf: Buffers,
  w: ReadonlyMap<string, ArrayLike<number>>,
): void {
  const x = buf.get(op.input.storage)!, y = buf.get(op.output.storage)!;
  const pre = preTransform(op, w);
  const hw = op.h * op.w;
  for (let b = 0; b < op.n; b++) {
    for (let c = 0; c < op.c; c++) {
      let acc = 0;
      for (let p = 0; p < hw; p++) acc += pre(x[at(op.input, b * hw + p, c)], c);
      y[at(op.output, b, c)] = acc / hw;
    }
  }
}

function runLinear(op: LinearOp, buf: Buffers, w: ReadonlyMap<string, ArrayLike<number>>): void {
  const x = buf.get(op.input.storage)!, y = buf.get(op.output.storage)!;
  const res = op.residual === null ? null : buf.get(op.residual.storage)!;
  const weight = w.get(op.weight)!;
  const bias = op.bias === null ? null : w.get(op.bias)!;
  for (let m = 0; m < op.m; m++) {
    const row = at(op.input, m, 0);
    for (let o = 0; o < op.out; o++) {
      let acc = 0;
      for (let i = 0; i < op.in; i++) acc += x[row + i] * weight[o * op.in + i];
      if (bias !== null) acc += bias[o];
      if (res !== null) acc += res[at(op.residual!, m, o)];
      y[at(op.output, m, o)] = activate(op.act, acc);
    }
  }
}

function runLayerNorm(
  op: LayerNormOp,
  buf: Buffers,
  w: ReadonlyMap<string, ArrayLike<number>>,
): void {
  const x = buf.get(op.input.storage)!, y = buf.get(op.output.storage)!;
  const res = op.residual === null ? null : buf.get(op.residual.storage)!;
  const row = new Float64Array(op.dim);
  for (let r = 0; r < op.rows; r++) {
    for (let i = 0; i < op.dim; i++) {
      row[i] = x[at(op.input, r, i)] + (res === null ? 0 : res[at(op.residual!, r, i)]);
    }
    normalizeRows(row, op.dim, op.eps, w.get(op.gamma)!, w.get(op.beta)!);
    for (let i = 0; i < op.dim; i++) y[at(op.output, r, i)] = row[i];
  }
}

function runEmbedding(
  op: EmbeddingOp,
  buf: Buffers,
  w: ReadonlyMap<string, ArrayLike<number>>,
): void {
  const ids = buf.get(op.ids)!, y = buf.get(op.output.storage)!;
  const word = w.get(op.word)!, position = w.get(op.position)!;
  const tokenType = op.tokenType === null ? null : w.get(op.tokenType)!;
  const row = new Float64Array(op.dim);
  for (let t = 0; t < op.n * op.seq; t++) {
    const id = ids[t];
    if (!(Number.isInteger(id) && id >= 0 && id < op.vocab)) {
      throw new Error(
        `Cannot run embedding op: token id ${id} at position ${t} is outside [0, ${op.vocab})`,
      );
    }
    const s = t % op.seq;
    for (let i = 0; i < op.dim; i++) {
      row[i] = word[id * op.dim + i] + position[s * op.dim + i] +
        (tokenType === null ? 0 : tokenType[i]);
    }
    normalizeRows(row, op.dim, op.eps, w.get(op.gamma)!, w.get(op.beta)!);
    for (let i = 0; i < op.dim; i++) y[at(op.output, t, i)] = row[i];
  }
}

function runAttention(op: AttentionOp, buf: Buffers): void {
  const q = buf.get(op.q.storage)!, k = buf.get(op.k.storage)!, v = buf.get(op.v.storage)!;
  const y = buf.get(op.output.storage)!;
  for (let b = 0; b < op.n; b++) {
    for (let head = 0; head < op.heads; head++) {
      const c0 = head * op.headDim;
      const pix = (t: number) => b * op.seq + t;
      attendHead(
        op.seq,
        op.headDim,
        op.scale,
        (t, i) => q[at(op.q, pix(t), c0 + i)],
        (t, i) => k[at(op.k, pix(t), c0 + i)],
        (t, i) => v[at(op.v, pix(t), c0 + i)],
        (t, i, value) => y[at(op.output, pix(t), c0 + i)] = value,
      );
    }
  }
}

function runAdd(op: AddOp, buf: Buffers): void {
  const a = buf.get(op.a.storage)!, b = buf.get(op.b.storage)!, y = buf.get(op.output.storage)!;
  for (let p = 0; p < op.pixels; p++) {
    for (let c = 0; c < op.c; c++) {
      y[at(op.output, p, c)] = activate(op.act, a[at(op.a, p, c)] + b[at(op.b, p, c)]);
    }
  }
}

/**
 * Runs a lowered op list in float64. `inputs` gives the input storages (images NHWC, token ids as
 * integers); every other non-weight storage starts as NaN, so a read of something never written
 * shows up in the results. Returns the final contents of every non-weight storage.
 */
export function runOps(program: OpProgram, inputs: TensorValues): Map<string, Float64Array> {
  const buffers: Buffers = new Map();
  for (const s of program.storage) {
    if (program.weights.has(s.name)) continue;
    const given = inputs.get(s.name);
    if (given !== undefined && given.length !== s.size) {
      throw new Error(
        `Cannot run ops: input "${s.name}" has ${given.length} values, expected ${s.size}`,
      );
    }
    buffers.set(
      s.name,
      given === undefined ? new Float64Array(s.size).fill(Number.NaN) : Float64Array.from(given),
    );
  }
  const w = program.weights;
  for (const op of program.ops) {
    switch (op.kind) {
      case "conv2d":
        runConv(op, buffers, w);
        break;
      case "pool2d":
        runPool(op, buffers, w);
        break;
      case "global_avgpool":
        runGlobalAvgPool(op, buffers, w);
        break;
      case "linear":
        runLinear(op, buffers, w);
        break;
      case "layernorm":
        runLayerNorm(op, buffers, w);
        break;
      case "embedding":
        runEmbedding(op, buffers, w);
        break;
      case "attention":
        runAttention(op, buffers);
        break;
      case "add":
        runAdd(op, buffers);
        break;
    }
  }
  return buffers;
}
