/**
 * Lowering: graph IR + `state_dict` -> kernel ops over named storage (`src/kernels/ops.ts`).
 *
 * Fusions:
 * - conv + batch norm (folded into weight and bias) + residual add + ReLU/ReLU6/GELU/tanh
 *   (epilogue), and linear + residual add + activation;
 * - batch norm + ReLU before convs and pools (DenseNet) as the consumer's `pre` prologue;
 * - an add that no producer can take becomes a layer norm's `residual` (post-norm transformers)
 *   or an `add` op;
 * - the q, k and v linears of an attention block become one linear into a `[N, S, 3D]` buffer;
 * - concat as channel-offset writes: producers write straight into the concatenated buffer
 *   (nested concats and DenseNet's growing prefixes included); where a producer cannot
 *   (graph inputs, views), a 1x1 pooling op copies;
 * - flatten, `x[:, 0]` and identity adaptive pools are views; VGG's flatten of `[C, H, W]` is
 *   absorbed by permuting the next linear's weight columns from CHW to HWC order.
 * Batch norm or activations that fit none of these become a 1x1 depthwise conv.
 *
 * Every activation element is written by exactly one op, and no op reads what it writes
 * ({@linkcode checkLowered} verifies both), so kernels stay idempotent.
 * @module
 */

import type {
  Activation,
  Conv2dOp,
  KernelOp,
  Pool2dOp,
  Precision,
  PreOp,
  StorageType,
  View,
} from "../kernels/ops.ts";
import type {
  ActivationNode,
  AdaptiveAvgPool2dNode,
  AddNode,
  AttentionNode,
  AvgPool2dNode,
  BatchNorm2dNode,
  ConcatNode,
  Conv2dNode,
  EmbeddingNode,
  FlattenNode,
  Graph,
  LayerNormNode,
  LinearNode,
  MaxPool2dNode,
  Node,
  SelectFirstTokenNode,
  TensorInfo,
} from "./ir.ts";
import { formatShape, numel } from "./ir.ts";
import { buildModel } from "./zoo/mod.ts";
import { type StateDict, synthesizeWeights } from "./weights.ts";

/** What a storage buffer holds. */
export type StorageRole = "input" | "weight" | "activation";

/** One storage buffer of a lowered model. */
export interface StorageSpec {
  readonly name: string;
  /** Size in elements. */
  readonly size: number;
  readonly stype: StorageType;
  readonly role: StorageRole;
}

/** A model input or output: a storage and how its elements are laid out. */
export interface ModelTensor {
  /** Storage name: `data` or `input_ids` for inputs; `output` (and `pooler_output`) for outputs. */
  readonly name: string;
  readonly stype: StorageType;
  /** Shape as stored: `[N, H, W, C]` for images (`layout` "nhwc"), else the logical shape. */
  readonly shape: readonly number[];
  /** The PyTorch shape (`[N, C, H, W]` for images). */
  readonly logicalShape: readonly number[];
  readonly layout: "nhwc" | "plain";
}

/** The structure of a lowered model: everything but the weight values. */
export interface LoweredStructure {
  readonly name: string;
  readonly precision: Precision;
  readonly batch: number;
  /** Inputs first, then weights, then activations. */
  readonly storage: readonly StorageSpec[];
  /** Kernel ops in launch order. */
  readonly ops: readonly KernelOp[];
  readonly inputs: readonly ModelTensor[];
  readonly outputs: readonly ModelTensor[];
}

/** Values of a weight storage. */
export type WeightArray = Float16Array | Float32Array | Float64Array;

/**
 * How weight values are materialised: `storage` in each storage's type (float16 or float32), or
 * `float64`, unrounded, so a float64 run of the ops can be compared with the graph exactly.
 */
export type WeightValues = "storage" | "float64";

/** A lowered model: structure plus the values of every weight storage. */
export interface LoweredModel extends LoweredStructure {
  readonly weights: ReadonlyMap<string, WeightArray>;
}

/** A lowering whose weight values are computed on demand from a `state_dict`. */
export interface LoweringPlan extends LoweredStructure {
  /** Computes every weight storage (BN folded, OHWI, permuted, fused) from `params`. */
  materialize(params: StateDict, values?: WeightValues): Map<string, WeightArray>;
}

/** Options of {@linkcode planLowering} and {@linkcode lowerGraph}. */
export interface LowerOptions {
  precision: Precision;
}

// ---------------------------------------------------------------------------------------------
// Locations: where a tensor's values live.
// ---------------------------------------------------------------------------------------------

interface Buffer {
  readonly name: string;
  /** Elements per pixel (row). */
  readonly channels: number;
  readonly pixels: number;
  readonly stype: StorageType;
  readonly role: "input" | "activation";
}

/** A tensor as a window of a buffer: `pixels` rows of `width` values, `channels` apart. */
interface Loc {
  readonly buffer: Buffer;
  readonly channels: number;
  readonly offset: number;
  readonly pixels: number;
  readonly width: number;
  /** DenseNet's BN-ReLU, to be applied by the consumer as it loads. */
  readonly pre: PreOp | null;
  /** Set for the flatten of a `[N, C, H, W]` tensor with H*W > 1: rows are in HWC order. */
  readonly chw: { readonly c: number; readonly h: number; readonly w: number } | null;
}

function view(loc: Loc): View {
  return { storage: loc.buffer.name, channels: loc.channels, offset: loc.offset };
}

/** Rows and row width of a tensor in NHWC / row-major terms. */
function rowsOf(shape: readonly number[]): { pixels: number; width: number } {
  if (shape.length === 4) return { pixels: shape[0] * shape[2] * shape[3], width: shape[1] };
  return { pixels: numel(shape) / shape[shape.length - 1], width: shape[shape.length - 1] };
}

// ---------------------------------------------------------------------------------------------
// Fusion groups: every node belongs to exactly one group, emitted at its tail node.
// ---------------------------------------------------------------------------------------------

type Group =
  | {
    kind: "conv";
    tail: string;
    conv: Conv2dNode;
    bn: BatchNorm2dNode | null;
    residual: string | null;
    act: Activation;
  }
  | { kind: "linear"; tail: string; linear: LinearNode; residual: string | null; act: Activation }
  | { kind: "pre"; tail: string; bn: BatchNorm2dNode }
  | { kind: "elementwise"; tail: string; first: Node; bn: BatchNorm2dNode | null; act: Activation }
  | { kind: "add"; tail: string; add: AddNode; act: Activation }
  | { kind: "layernorm"; tail: string; ln: LayerNormNode; add: AddNode | null }
  | { kind: "pool"; tail: string; node: MaxPool2dNode | AvgPool2dNode | AdaptiveAvgPool2dNode }
  | { kind: "concat"; tail: string; node: ConcatNode }
  | { kind: "flatten"; tail: string; node: FlattenNode }
  | { kind: "first_token"; tail: string; node: SelectFirstTokenNode }
  | { kind: "embedding"; tail: string; node: EmbeddingNode }
  | { kind: "attention"; tail: string; node: AttentionNode; qkv: readonly LinearNode[] | null };

const ACTIVATIONS = new Set(["relu", "relu6", "gelu", "tanh"]);
const PRE_CONSUMERS = new Set(["conv2d", "maxpool2d", "avgpool2d", "adaptive_avgpool2d"]);

function isActivation(node: Node | null): node is ActivationNode {
  return node !== null && ACTIVATIONS.has(node.op);
}

/** How a concat is realised, decided before any op is emitted. */
type ConcatPlan =
  | { alias: true }
  | { alias: false; copies: { tensor: string; offset: number }[] };

type Fill = (p: (name: string) => Float32Array, out: WeightArray) => void;

interface WeightSpec {
  readonly stype: StorageType;
  readonly size: number;
  readonly fill: Fill;
}

/** Builds the lowering of one graph; see {@linkcode planLowering}. */
class Lowering {
  readonly #graph: Graph;
  readonly #precision: Precision;
  readonly #consumers = new Map<string, Node[]>();
  readonly #producer = new Map<string, Node>();
  readonly #outputNames = new Map<string, string>();
  readonly #groupOf = new Map<string, Group>();
  readonly #placed = new Map<string, { buffer: Buffer; offset: number }>();
  readonly #concats = new Map<string, ConcatPlan>();
  readonly #locs = new Map<string, Loc>();
  readonly #buffers: Buffer[] = [];
  readonly #weights = new Map<string, WeightSpec>();
  readonly #ops: KernelOp[] = [];

  constructor(graph: Graph, precision: Precision) {
    this.#graph = graph;
    this.#precision = precision;
    for (const node of graph.nodes) {
      this.#producer.set(node.name, node);
      for (const input of node.inputs) {
        const list = this.#consumers.get(input) ?? [];
        list.push(node);
        this.#consumers.set(input, list);
      }
    }
    for (const output of graph.outputs) {
      if (!this.#outputNames.has(output.tensor)) this.#outputNames.set(output.tensor, output.name);
    }
  }

  run(): LoweringPlan {
    this.#group();
    this.#place();
    for (const input of this.#graph.inputs) {
      const { pixels, width } = rowsOf(input.shape);
      const stype = input.dtype === "int32" ? "int32" : this.#precision;
      const buffer = this.#buffer(input.name, width, pixels, stype, "input");
      this.#locs.set(input.name, this.#whole(buffer));
    }
    for (const node of this.#graph.nodes) {
      const group = this.#groupOf.get(node.name)!;
      if (group.tail === node.name) this.#emit(group);
    }
    const outputs = this.#graph.outputs.map((o) => this.#output(o.name, o.tensor));
    const inputs = this.#graph.inputs.map((t) => this.#describe(t.name, t));
    const storage: StorageSpec[] = [
      ...this.#buffers.filter((b) => b.role === "input").map((b) => this.#spec(b)),
      ...[...this.#weights].map(([name, w]) => ({
        name,
        size: w.size,
        stype: w.stype,
        role: "weight" as const,
      })),
      ...this.#buffers.filter((b) => b.role === "activation").map((b) => this.#spec(b)),
    ];
    const names = new Set<string>();
    for (const s of storage) {
      if (names.has(s.name)) this.#fail(`two storage buffers are named "${s.name}"`);
      names.add(s.name);
    }
    const weights = this.#weights;
    const graph = this.#graph;
    return {
      name: graph.name,
      precision: this.#precision,
      batch: graph.batch,
      storage,
      ops: this.#ops,
      inputs,
      outputs,
      materialize: (params, values = "storage") => materialize(graph, weights, params, values),
    };
  }

  #fail(message: string): never {
    throw new Error(`Cannot lower graph "${this.#graph.name}": ${message}`);
  }

  #shape(tensor: string): readonly number[] {
    return this.#graph.tensors.get(tensor)!.shape;
  }

  /** The only consumer of `tensor`, if it has one, is not a graph output and is not yet grouped. */
  #sole(tensor: string): Node | null {
    const consumers = this.#consumers.get(tensor) ?? [];
    if (consumers.length !== 1 || this.#outputNames.has(tensor)) return null;
    return this.#groupOf.has(consumers[0].name) ? null : consumers[0];
  }

  #assign(group: Group, nodes: readonly Node[]): void {
    for (const node of nodes) this.#groupOf.set(node.name, group);
  }

  /** Extends a conv or linear chain with an add (the residual) and then an activation. */
  #epilogue(members: Node[]): { residual: string | null; act: Activation } {
    let tail = members[members.length - 1];
    let residual: string | null = null;
    const add = this.#sole(tail.name);
    if (add !== null && add.op === "add" && add.inputs[0] !== add.inputs[1]) {
      residual = add.inputs[0] === tail.name ? add.inputs[1] : add.inputs[0];
      members.push(add);
      tail = add;
    }
    const act = this.#sole(tail.name);
    if (isActivation(act)) {
      members.push(act);
      return { residual, act: act.op };
    }
    return { residual, act: "none" };
  }

  #group(): void {
    for (const node of this.#graph.nodes) {
      if (this.#groupOf.has(node.name)) continue;
      switch (node.op) {
        case "conv2d": {
          const members: Node[] = [node];
          const next = this.#sole(node.name);
          const bn = next !== null && next.op === "batchnorm2d" ? next : null;
          if (bn !== null) members.push(bn);
          const { residual, act } = this.#epilogue(members);
          const tail = members[members.length - 1].name;
          this.#assign({ kind: "conv", tail, conv: node, bn, residual, act }, members);
          break;
        }
        case "linear": {
          const members: Node[] = [node];
          const { residual, act } = this.#epilogue(members);
          const tail = members[members.length - 1].name;
          this.#assign({ kind: "linear", tail, linear: node, residual, act }, members);
          break;
        }
        case "batchnorm2d": {
          const relu = this.#sole(node.name);
          const consumers = relu === null ? [] : this.#consumers.get(relu.name) ?? [];
          if (
            relu !== null && relu.op === "relu" && !this.#outputNames.has(relu.name) &&
            consumers.length > 0 &&
            consumers.every((c) => PRE_CONSUMERS.has(c.op))
          ) {
            this.#assign({ kind: "pre", tail: relu.name, bn: node }, [node, relu]);
          } else {
            const act = isActivation(relu) ? relu : null;
            const group: Group = {
              kind: "elementwise",
              tail: act?.name ?? node.name,
              first: node,
              bn: node,
              act: act?.op ?? "none",
            };
            this.#assign(group, act === null ? [node] : [node, act]);
          }
          break;
        }
        case "relu":
        case "relu6":
        case "gelu":
        case "tanh":
          this.#assign({
            kind: "elementwise",
            tail: node.name,
            first: node,
            bn: null,
            act: node.op,
          }, [node]);
          break;
        case "add": {
          const next = this.#sole(node.name);
          if (next !== null && next.op === "layernorm") {
            this.#assign({ kind: "layernorm", tail: next.name, ln: next, add: node }, [node, next]);
          } else {
            const act = isActivation(next) ? next : null;
            const group: Group = {
              kind: "add",
              tail: act?.name ?? node.name,
              add: node,
              act: act?.op ?? "none",
            };
            this.#assign(group, act === null ? [node] : [node, act]);
          }
          break;
        }
        case "layernorm":
          this.#assign({ kind: "layernorm", tail: node.name, ln: node, add: null }, [node]);
          break;
        case "maxpool2d":
        case "avgpool2d":
        case "adaptive_avgpool2d":
          this.#assign({ kind: "pool", tail: node.name, node }, [node]);
          break;
        case "concat":
          this.#assign({ kind: "concat", tail: node.name, node }, [node]);
          break;
        case "flatten":
          this.#assign({ kind: "flatten", tail: node.name, node }, [node]);
          break;
        case "select_first_token":
          this.#assign({ kind: "first_token", tail: node.name, node }, [node]);
          break;
        case "embedding":
          this.#assign({ kind: "embedding", tail: node.name, node }, [node]);
          break;
        case "attention": {
          const qkv = this.#fusableQkv(node);
          this.#assign(
            { kind: "attention", tail: node.name, node, qkv },
            qkv === null ? [node] : [...qkv, node],
          );
          break;
        }
      }
    }
  }

  /** The q, k and v linears of `node` if they can become one linear: same input, no epilogue. */
  #fusableQkv(node: AttentionNode): LinearNode[] | null {
    const linears: LinearNode[] = [];
    for (const input of node.inputs) {
      const p = this.#producer.get(input);
      const group = p === undefined ? undefined : this.#groupOf.get(p.name);
      const consumers = this.#consumers.get(input) ?? [];
      if (
        p?.op !== "linear" || group?.kind !== "linear" || group.tail !== p.name ||
        consumers.length !== 1 ||
        this.#outputNames.has(input) || linears.includes(p)
      ) return null;
      linears.push(p);
    }
    const [q, k, v] = linears;
    const same = (a: LinearNode) =>
      a.inputs[0] === q.inputs[0] && (a.bias === null) === (q.bias === null);
    return same(k) && same(v) ? linears : null;
  }

  #buffer(
    name: string,
    channels: number,
    pixels: number,
    stype: StorageType,
    role: Buffer["role"],
  ): Buffer {
    const buffer: Buffer = { name, channels, pixels, stype, role };
    this.#buffers.push(buffer);
    return buffer;
  }

  /** A fresh activation buffer for `tensor`, named after the graph output it is, if any. */
  #activation(tensor: string, channels: number, pixels: number): Buffer {
    return this.#buffer(
      this.#outputNames.get(tensor) ?? tensor,
      channels,
      pixels,
      this.#precision,
      "activation",
    );
  }

  #whole(buffer: Buffer): Loc {
    return {
      buffer,
      channels: buffer.channels,
      offset: 0,
      pixels: buffer.pixels,
      width: buffer.channels,
      pre: null,
      chw: null,
    };
  }

  /** Whether `tensor`'s producer can write it straight into a channel window of another buffer. */
  #placeable(tensor: string): boolean {
    if (this.#outputNames.has(tensor) || this.#placed.has(tensor)) return false;
    const node = this.#producer.get(tensor);
    const group = node === undefined ? undefined : this.#groupOf.get(node.name);
    if (group === undefined || group.tail !== tensor) return false;
    switch (group.kind) {
      case "conv":
      case "linear":
      case "elementwise":
      case "add":
      case "concat":
        return true;
      case "pool": {
        // An identity pool is a view, unless its input has a prologue, which a copy applies.
        const input = this.#producer.get(group.node.inputs[0]);
        return !this.#identityPool(group.node) ||
          this.#groupOf.get(input?.name ?? "")?.kind === "pre";
      }
      default:
        return false;
    }
  }

  #identityPool(node: MaxPool2dNode | AvgPool2dNode | AdaptiveAvgPool2dNode): boolean {
    const shape = this.#shape(node.inputs[0]);
    return node.op === "adaptive_avgpool2d" && node.outputSize[0] === shape[2] &&
      node.outputSize[1] === shape[3];
  }

  /** Decides buffer placements: the fused q/k/v buffers, then concats from the last one back. */
  #place(): void {
    for (const group of new Set(this.#groupOf.values())) {
      if (group.kind !== "attention" || group.qkv === null) continue;
      const { pixels, width } = rowsOf(this.#shape(group.node.inputs[0]));
      const buffer = this.#activation(`${group.node.name}.qkv`, 3 * width, pixels);
      group.node.inputs.forEach((t, i) => this.#placed.set(t, { buffer, offset: i * width }));
    }
    for (const node of [...this.#graph.nodes].reverse()) {
      if (node.op === "concat") this.#concats.set(node.name, this.#planConcat(node));
    }
  }

  #planConcat(node: ConcatNode): ConcatPlan {
    const widths = node.inputs.map((t) => this.#shape(t)[1]);
    const starts = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
    const here = this.#placed.get(node.name);
    if (here === undefined && !this.#outputNames.has(node.name)) {
      // DenseNet: each layer's concat is a prefix of the block's, whose inputs are already placed.
      const first = this.#placed.get(node.inputs[0]);
      const contiguous = first !== undefined && node.inputs.every((t, i) => {
        const p = this.#placed.get(t);
        return p !== undefined && p.buffer === first.buffer &&
          p.offset === first.offset + starts[i];
      });
      if (contiguous) return { alias: true };
    }
    const { pixels, width } = rowsOf(this.#shape(node.name));
    const base = here ?? { buffer: this.#activation(node.name, width, pixels), offset: 0 };
    this.#placed.set(node.name, base);
    const copies: { tensor: string; offset: number }[] = [];
    node.inputs.forEach((t, i) => {
      const offset = base.offset + starts[i];
      const p = this.#placed.get(t);
      if (p !== undefined && p.buffer === base.buffer && p.offset === offset) return;
      if (this.#placeable(t)) this.#placed.set(t, { buffer: base.buffer, offset });
      else copies.push({ tensor: t, offset });
    });
    return { alias: false, copies };
  }

  /** Where the group producing `tensor` writes: its placement, or a fresh buffer. */
  #result(tensor: string): Loc {
    const { pixels, width } = rowsOf(this.#shape(tensor));
    const p = this.#placed.get(tensor);
    const loc: Loc = p === undefined ? this.#whole(this.#activation(tensor, width, pixels)) : {
      buffer: p.buffer,
      channels: p.buffer.channels,
      offset: p.offset,
      pixels,
      width,
      pre: null,
      chw: null,
    };
    this.#locs.set(tensor, loc);
    return loc;
  }

  /** The location of an input of an op that reads rows as stored (not a flatten to reorder). */
  #plain(tensor: string, what: string): Loc {
    const loc = this.#locs.get(tensor)!;
    if (loc.chw !== null) {
      this.#fail(
        `${what} reads "${tensor}", the flatten of a [N, C, H, W] tensor with H*W > 1, which only a linear layer may read`,
      );
    }
    return loc;
  }

  #weight(name: string, stype: StorageType, size: number, fill: Fill): string {
    if (this.#weights.has(name)) this.#fail(`weight storage "${name}" is defined twice`);
    this.#weights.set(name, { stype, size, fill });
    return name;
  }

  /** A weight storage holding a parameter unchanged, in `stype`; shared by every op using it. */
  #param(name: string, stype: StorageType): string {
    if (this.#weights.has(name)) return name;
    const size = numel(this.#graph.params.find((spec) => spec.name === name)!.shape);
    return this.#weight(name, stype, size, (p, out) => out.set(p(name)));
  }

  #emit(group: Group): void {
    switch (group.kind) {
      case "conv":
        return this.#emitConv(group);
      case "linear":
        return this.#emitLinear(group.linear, group.residual, group.act, group.tail);
      case "pre": {
        const loc = this.#plain(group.bn.inputs[0], `batchnorm2d "${group.bn.name}"`);
        this.#locs.set(group.tail, { ...loc, pre: this.#preOp(group.bn) });
        return;
      }
      case "elementwise":
        return this.#emitElementwise(group);
      case "add": {
        const [a, b] = group.add.inputs.map((t) => this.#plain(t, `add "${group.add.name}"`));
        const out = this.#result(group.tail);
        this.#ops.push({
          kind: "add",
          pixels: out.pixels,
          c: out.width,
          a: view(a),
          b: view(b),
          act: group.act,
          output: view(out),
        });
        return;
      }
      case "layernorm": {
        const ln = group.ln;
        const inputs = group.add === null ? ln.inputs : group.add.inputs;
        const [x, residual] = inputs.map((t) => this.#plain(t, `layernorm "${ln.name}"`));
        const out = this.#result(group.tail);
        this.#ops.push({
          kind: "layernorm",
          rows: out.pixels,
          dim: out.width,
          eps: ln.eps,
          input: view(x),
          residual: residual === undefined ? null : view(residual),
          gamma: this.#param(ln.weight, "float32"),
          beta: this.#param(ln.bias, "float32"),
          output: view(out),
        });
        return;
      }
      case "pool":
        return this.#emitPool(group.node);
      case "concat":
        return this.#emitConcat(group.node);
      case "flatten":
        return this.#emitFlatten(group.node);
      case "first_token": {
        const x = this.#plain(group.node.inputs[0], `select_first_token "${group.node.name}"`);
        const seq = this.#shape(group.node.inputs[0])[1];
        this.#locs.set(group.tail, { ...x, channels: x.channels * seq, pixels: x.pixels / seq });
        return;
      }
      case "embedding":
        return this.#emitEmbedding(group.node);
      case "attention":
        return this.#emitAttention(group.node, group.qkv);
    }
  }

  #preOp(bn: BatchNorm2dNode): PreOp {
    const c = this.#shape(bn.name)[1];
    const scale = (p: (name: string) => Float32Array, i: number) =>
      p(bn.weight)[i] / Math.sqrt(p(bn.runningVar)[i] + bn.eps);
    return {
      scale: this.#weight(`${bn.name}.scale`, "float32", c, (p, out) => {
        for (let i = 0; i < c; i++) out[i] = scale(p, i);
      }),
      shift: this.#weight(`${bn.name}.shift`, "float32", c, (p, out) => {
        for (let i = 0; i < c; i++) out[i] = p(bn.bias)[i] - p(bn.runningMean)[i] * scale(p, i);
      }),
    };
  }

  #emitConv(g: Extract<Group, { kind: "conv" }>): void {
    const { conv, bn } = g;
    const x = this.#plain(conv.inputs[0], `conv2d "${conv.name}"`);
    const [n, cin, h, w] = this.#shape(conv.inputs[0]);
    const [, cout, oh, ow] = this.#shape(conv.name);
    const depthwise = conv.groups === cin && cout === cin;
    if (conv.groups !== 1 && !depthwise) {
      this.#fail(
        `conv2d "${conv.name}" has groups ${conv.groups}: only dense (1) and depthwise convs are supported`,
      );
    }
    const [kh, kw] = conv.kernel;
    const cg = cin / conv.groups;
    const scale = (p: (name: string) => Float32Array, o: number) =>
      bn === null ? 1 : p(bn.weight)[o] / Math.sqrt(p(bn.runningVar)[o] + bn.eps);
    const weight = this.#weight(
      `${conv.name}.weight`,
      this.#precision,
      cout * kh * kw * cg,
      (p, out) => {
        const src = p(conv.weight);
        for (let o = 0; o < cout; o++) {
          const s = scale(p, o);
          for (let c = 0; c < cg; c++) {
            for (let i = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++) {
                out[((o * kh + i) * kw + j) * cg + c] = src[((o * cg + c) * kh + i) * kw + j] * s;
              }
            }
          }
        }
      },
    );
    const bias = conv.bias === null && bn === null
      ? null
      : this.#weight(`${conv.name}.bias`, "float32", cout, (p, out) => {
        for (let o = 0; o < cout; o++) {
          const b = conv.bias === null ? 0 : p(conv.bias)[o];
          out[o] = bn === null ? b : (b - p(bn.runningMean)[o]) * scale(p, o) + p(bn.bias)[o];
        }
      });
    const residual = g.residual === null
      ? null
      : view(this.#plain(g.residual, `conv2d "${conv.name}"`));
    const out = this.#result(g.tail);
    this.#ops.push({
      kind: "conv2d",
      n,
      h,
      w,
      cin,
      cout,
      kh,
      kw,
      strideH: conv.stride[0],
      strideW: conv.stride[1],
      padH: conv.padding[0],
      padW: conv.padding[1],
      dilationH: conv.dilation[0],
      dilationW: conv.dilation[1],
      groups: conv.groups,
      oh,
      ow,
      input: view(x),
      weight,
      bias,
      pre: x.pre,
      residual,
      act: g.act,
      output: view(out),
    });
  }

  #emitLinear(
    linear: LinearNode,
    residualTensor: string | null,
    act: Activation,
    tail: string,
  ): void {
    const x = this.#locs.get(linear.inputs[0])!;
    const { inFeatures: k, outFeatures: o } = linear;
    const chw = x.chw;
    const weight = this.#weight(`${linear.name}.weight`, this.#precision, o * k, (p, out) => {
      const src = p(linear.weight);
      if (chw === null) {
        out.set(src);
        return;
      }
      // The input rows are NHWC pixels in HWC order; PyTorch's flatten made CHW columns.
      const { c, h, w } = chw;
      for (let r = 0; r < o; r++) {
        for (let y = 0; y < h; y++) {
          for (let z = 0; z < w; z++) {
            for (let ch = 0; ch < c; ch++) {
              out[r * k + (y * w + z) * c + ch] = src[r * k + (ch * h + y) * w + z];
            }
          }
        }
      }
    });
    const bias = linear.bias === null ? null : this.#param(linear.bias, "float32");
    const residual = residualTensor === null
      ? null
      : view(this.#plain(residualTensor, `linear "${linear.name}"`));
    const out = this.#result(tail);
    this.#ops.push({
      kind: "linear",
      m: x.pixels,
      in: k,
      out: o,
      input: view(x),
      weight,
      bias,
      residual,
      act,
      output: view(out),
    });
  }

  /** Standalone batch norm and/or activation: a 1x1 depthwise conv with per-channel scale and shift. */
  #emitElementwise(g: Extract<Group, { kind: "elementwise" }>): void {
    const { bn } = g;
    const x = this.#plain(g.first.inputs[0], `${g.first.op} "${g.first.name}"`);
    const c = x.width;
    const shape = this.#shape(g.first.inputs[0]);
    const [n, h, w] = shape.length === 4 ? [shape[0], shape[2], shape[3]] : [x.pixels, 1, 1];
    const scale = (p: (name: string) => Float32Array, i: number) =>
      bn === null ? 1 : p(bn.weight)[i] / Math.sqrt(p(bn.runningVar)[i] + bn.eps);
    const weight = this.#weight(`${g.first.name}.weight`, this.#precision, c, (p, out) => {
      for (let i = 0; i < c; i++) out[i] = scale(p, i);
    });
    const bias = bn === null
      ? null
      : this.#weight(`${g.first.name}.bias`, "float32", c, (p, out) => {
        for (let i = 0; i < c; i++) out[i] = p(bn.bias)[i] - p(bn.runningMean)[i] * scale(p, i);
      });
    const out = this.#result(g.tail);
    this.#ops.push({
      ...unitConv(n, h, w, c, x, out),
      weight,
      bias,
      act: g.act,
    });
  }

  #emitPool(node: MaxPool2dNode | AvgPool2dNode | AdaptiveAvgPool2dNode): void {
    const x = this.#plain(node.inputs[0], `${node.op} "${node.name}"`);
    const [n, c, h, w] = this.#shape(node.inputs[0]);
    const [, , oh, ow] = this.#shape(node.name);
    if (node.op === "adaptive_avgpool2d") {
      if (this.#identityPool(node)) {
        if (x.pre === null) {
          this.#locs.set(node.name, x);
        } else {
          const out = this.#result(node.name);
          this.#ops.push(copyOp(x.pixels, c, x, out));
        }
        return;
      }
      const out = this.#result(node.name);
      if (oh === 1 && ow === 1) {
        this.#ops.push({
          kind: "global_avgpool",
          n,
          h,
          w,
          c,
          pre: x.pre,
          input: view(x),
          output: view(out),
        });
        return;
      }
      if (h % oh !== 0 || w % ow !== 0) {
        this.#fail(
          `adaptive_avgpool2d "${node.name}" from ${h}x${w} to ${oh}x${ow} has uneven windows; only identity, global and even windows are supported`,
        );
      }
      const [kh, kw] = [h / oh, w / ow];
      this.#ops.push({
        ...poolBase(n, h, w, c, oh, ow, x, out),
        mode: "avg",
        kh,
        kw,
        strideH: kh,
        strideW: kw,
        countIncludePad: true,
      });
      return;
    }
    const out = this.#result(node.name);
    this.#ops.push({
      ...poolBase(n, h, w, c, oh, ow, x, out),
      mode: node.op === "maxpool2d" ? "max" : "avg",
      kh: node.kernel[0],
      kw: node.kernel[1],
      strideH: node.stride[0],
      strideW: node.stride[1],
      padH: node.padding[0],
      padW: node.padding[1],
      countIncludePad: node.op === "avgpool2d" ? node.countIncludePad : false,
    });
  }

  #emitConcat(node: ConcatNode): void {
    const plan = this.#concats.get(node.name)!;
    const { pixels, width } = rowsOf(this.#shape(node.name));
    if (plan.alias) {
      const first = this.#locs.get(node.inputs[0])!;
      this.#locs.set(node.name, { ...first, width });
      return;
    }
    const out = this.#result(node.name);
    for (const copy of plan.copies) {
      const x = this.#plain(copy.tensor, `concat "${node.name}"`);
      const target: Loc = { ...out, offset: copy.offset, width: x.width };
      this.#ops.push(copyOp(pixels, x.width, x, target));
    }
  }

  #emitFlatten(node: FlattenNode): void {
    const shape = this.#shape(node.inputs[0]);
    let x = this.#plain(node.inputs[0], `flatten "${node.name}"`);
    const rows = shape[0];
    const width = numel(shape) / rows;
    if (x.pixels === rows) {
      this.#locs.set(node.name, x);
      return;
    }
    if (x.channels !== x.width || x.offset !== 0) {
      // Rows of the flattened tensor must be contiguous: copy a channel window out first.
      const copy = this.#whole(this.#activation(`${node.name}.input`, x.width, x.pixels));
      this.#ops.push(copyOp(x.pixels, x.width, x, copy));
      x = copy;
    }
    const chw = shape.length === 4 ? { c: shape[1], h: shape[2], w: shape[3] } : null;
    this.#locs.set(node.name, { ...x, channels: width, pixels: rows, width, chw });
  }

  #emitEmbedding(node: EmbeddingNode): void {
    const ids = this.#locs.get(node.inputs[0])!;
    if (ids.buffer.stype !== "int32" || ids.offset !== 0 || ids.channels !== ids.width) {
      this.#fail(`embedding "${node.name}" must read a whole int32 input, not "${node.inputs[0]}"`);
    }
    const [n, seq] = this.#shape(node.inputs[0]);
    const out = this.#result(node.name);
    const table = (name: string) => this.#param(name, this.#precision);
    this.#ops.push({
      kind: "embedding",
      n,
      seq,
      dim: node.dim,
      vocab: node.vocab,
      ids: ids.buffer.name,
      word: table(node.word),
      position: table(node.position),
      tokenType: node.tokenType === null ? null : table(node.tokenType),
      gamma: this.#param(node.weight, "float32"),
      beta: this.#param(node.bias, "float32"),
      eps: node.eps,
      output: view(out),
    });
  }

  #emitAttention(node: AttentionNode, qkv: readonly LinearNode[] | null): void {
    if (qkv !== null) {
      const [q] = qkv;
      const x = this.#plain(q.inputs[0], `linear "${q.name}"`);
      const d = q.outFeatures, k = q.inFeatures;
      const buffer = this.#placed.get(q.name)!.buffer;
      const weight = this.#weight(
        `${node.name}.qkv.weight`,
        this.#precision,
        3 * d * k,
        (p, out) => {
          qkv.forEach((l, i) => out.set(p(l.weight), i * d * k));
        },
      );
      const bias = q.bias === null
        ? null
        : this.#weight(`${node.name}.qkv.bias`, "float32", 3 * d, (p, out) => {
          qkv.forEach((l, i) => out.set(p(l.bias!), i * d));
        });
      qkv.forEach((l) => this.#result(l.name));
      const out: View = { storage: buffer.name, channels: buffer.channels, offset: 0 };
      this.#ops.push({
        kind: "linear",
        m: x.pixels,
        in: k,
        out: 3 * d,
        input: view(x),
        weight,
        bias,
        residual: null,
        act: "none",
        output: out,
      });
    }
    const [q, k, v] = node.inputs.map((t) => this.#plain(t, `attention "${node.name}"`));
    const [n, seq, d] = this.#shape(node.name);
    const out = this.#result(node.name);
    const headDim = d / node.heads;
    this.#ops.push({
      kind: "attention",
      n,
      seq,
      heads: node.heads,
      headDim,
      scale: 1 / Math.sqrt(headDim),
      q: view(q),
      k: view(k),
      v: view(v),
      output: view(out),
    });
  }

  /** Makes graph output `name` a whole buffer of that name, copying when it is not one already. */
  #output(name: string, tensor: string): ModelTensor {
    const loc = this.#plain(tensor, `output "${name}"`);
    const whole = loc.buffer.name === name && loc.offset === 0 && loc.channels === loc.width &&
      loc.pixels === loc.buffer.pixels;
    if (!whole) {
      const out = this.#whole(
        this.#buffer(name, loc.width, loc.pixels, this.#precision, "activation"),
      );
      this.#ops.push(copyOp(loc.pixels, loc.width, loc, out));
    }
    return this.#describe(name, this.#graph.tensors.get(tensor)!);
  }

  #describe(name: string, tensor: TensorInfo): ModelTensor {
    const s = tensor.shape;
    const stype = tensor.dtype === "int32" ? "int32" : this.#precision;
    if (s.length === 4) {
      return { name, stype, shape: [s[0], s[2], s[3], s[1]], logicalShape: s, layout: "nhwc" };
    }
    return { name, stype, shape: s, logicalShape: s, layout: "plain" };
  }

  #spec(b: Buffer): StorageSpec {
    return { name: b.name, size: b.channels * b.pixels, stype: b.stype, role: b.role };
  }
}

function poolBase(
  n: number,
  h: number,
  w: number,
  c: number,
  oh: number,
  ow: number,
  x: Loc,
  out: Loc,
) {
  return {
    kind: "pool2d" as const,
    n,
    h,
    w,
    c,
    oh,
    ow,
    padH: 0,
    padW: 0,
    pre: x.pre,
    input: view(x),
    output: view(out),
  };
}

/** A copy of `pixels` x `c` values (applying the source's `pre`, if any): a 1x1 max pool. */
function copyOp(pixels: number, c: number, x: Loc, out: Loc): Pool2dOp {
  return {
    ...poolBase(pixels, 1, 1, c, 1, 1, x, out),
    mode: "max",
    kh: 1,
    kw: 1,
    strideH: 1,
    strideW: 1,
    countIncludePad: false,
  };
}

/** The shape fields of a 1x1 depthwise conv over `c` channels. */
function unitConv(
  n: number,
  h: number,
  w: number,
  c: number,
  x: Loc,
  out: Loc,
): Omit<Conv2dOp, "weight" | "bias" | "act"> {
  return {
    kind: "conv2d",
    n,
    h,
    w,
    cin: c,
    cout: c,
    kh: 1,
    kw: 1,
    strideH: 1,
    strideW: 1,
    padH: 0,
    padW: 0,
    dilationH: 1,
    dilationW: 1,
    groups: c,
    oh: h,
    ow: w,
    input: view(x),
    pre: null,
    residual: null,
    output: view(out),
  };
}

function materialize(
  graph: Graph,
  specs: ReadonlyMap<string, WeightSpec>,
  params: StateDict,
  values: WeightValues,
): Map<string, WeightArray> {
  const checked = new Map<string, Float32Array>();
  for (const spec of graph.params) {
    if (spec.dtype !== "float32") continue;
    const t = params.get(spec.name);
    if (t === undefined || t.dtype !== "F32" || formatShape(t.shape) !== formatShape(spec.shape)) {
      throw new Error(
        `Cannot lower graph "${graph.name}": parameter "${spec.name}" must be F32 ${
          formatShape(spec.shape)
        } in the weights`,
      );
    }
    checked.set(spec.name, t.data as Float32Array);
  }
  const p = (name: string): Float32Array => checked.get(name)!;
  const out = new Map<string, WeightArray>();
  for (const [name, spec] of specs) {
    const array = values === "float64"
      ? new Float64Array(spec.size)
      : spec.stype === "float16"
      ? new Float16Array(spec.size)
      : new Float32Array(spec.size);
    spec.fill(p, array);
    out.set(name, array);
  }
  return out;
}

/**
 * Lowers `graph` to kernel ops in `precision`, without weight values; call `materialize` on the
 * result to compute them. Throws an error naming the node for what cannot be lowered.
 */
export function planLowering(graph: Graph, options: LowerOptions): LoweringPlan {
  return new Lowering(graph, options.precision).run();
}

/** Lowers `graph` with the weights `params` (its `state_dict`). */
export function lowerGraph(
  graph: Graph,
  params: StateDict,
  options: LowerOptions & { values?: WeightValues },
): LoweredModel {
  const { materialize, ...structure } = planLowering(graph, options);
  return { ...structure, weights: materialize(params, options.values) };
}

/** Options of {@linkcode compileGraph}. */
export interface CompileOptions {
  /** Default 1. */
  batch?: number;
  /** Default `float16`. */
  precision?: Precision;
  /** Seed of the synthetic weights; default 0. */
  seed?: number;
}

/** Builds zoo model `name`, synthesises its weights and lowers it. */
export function compileGraph(name: string, options: CompileOptions = {}): LoweredModel {
  const graph = buildModel(name, { batch: options.batch ?? 1 });
  return lowerGraph(graph, synthesizeWeights(graph, options.seed ?? 0), {
    precision: options.precision ?? "float16",
  });
}

// ---------------------------------------------------------------------------------------------
// Checks and layout helpers.
// ---------------------------------------------------------------------------------------------

/** A rectangular set of elements an op touches: `pixels` rows of `width` values of a view. */
interface Region {
  readonly view: View;
  readonly pixels: number;
  readonly width: number;
}

function regions(op: KernelOp): { reads: Region[]; writes: Region[]; weights: [string, number][] } {
  const r = (v: View, pixels: number, width: number): Region => ({ view: v, pixels, width });
  switch (op.kind) {
    case "conv2d": {
      const weights: [string, number][] = [[
        op.weight,
        op.cout * op.kh * op.kw * (op.cin / op.groups),
      ]];
      if (op.bias !== null) weights.push([op.bias, op.cout]);
      if (op.pre !== null) weights.push([op.pre.scale, op.cin], [op.pre.shift, op.cin]);
      const out = op.n * op.oh * op.ow;
      const reads = [r(op.input, op.n * op.h * op.w, op.cin)];
      if (op.residual !== null) reads.push(r(op.residual, out, op.cout));
      return { reads, writes: [r(op.output, out, op.cout)], weights };
    }
    case "pool2d":
    case "global_avgpool": {
      const weights: [string, number][] = op.pre === null
        ? []
        : [[op.pre.scale, op.c], [op.pre.shift, op.c]];
      const out = op.kind === "pool2d" ? op.n * op.oh * op.ow : op.n;
      return {
        reads: [r(op.input, op.n * op.h * op.w, op.c)],
        writes: [r(op.output, out, op.c)],
        weights,
      };
    }
    case "linear": {
      const weights: [string, number][] = [[op.weight, op.out * op.in]];
      if (op.bias !== null) weights.push([op.bias, op.out]);
      const reads = [r(op.input, op.m, op.in)];
      if (op.residual !== null) reads.push(r(op.residual, op.m, op.out));
      return { reads, writes: [r(op.output, op.m, op.out)], weights };
    }
    case "layernorm": {
      const reads = [r(op.input, op.rows, op.dim)];
      if (op.residual !== null) reads.push(r(op.residual, op.rows, op.dim));
      return {
        reads,
        writes: [r(op.output, op.rows, op.dim)],
        weights: [[op.gamma, op.dim], [op.beta, op.dim]],
      };
    }
    case "embedding": {
      const weights: [string, number][] = [
        [op.word, op.vocab * op.dim],
        [op.gamma, op.dim],
        [op.beta, op.dim],
      ];
      if (op.tokenType !== null) weights.push([op.tokenType, op.dim]);
      const ids = { storage: op.ids, channels: op.seq, offset: 0 };
      return {
        reads: [r(ids, op.n, op.seq)],
        writes: [r(op.output, op.n * op.seq, op.dim)],
        weights: [...weights, [op.position, op.seq * op.dim]],
      };
    }
    case "attention": {
      const rows = op.n * op.seq, width = op.heads * op.headDim;
      return {
        reads: [r(op.q, rows, width), r(op.k, rows, width), r(op.v, rows, width)],
        writes: [r(op.output, rows, width)],
        weights: [],
      };
    }
    case "add":
      return {
        reads: [r(op.a, op.pixels, op.c), r(op.b, op.pixels, op.c)],
        writes: [r(op.output, op.pixels, op.c)],
        weights: [],
      };
  }
}

/** Whether element `e` of a storage lies in `region`. */
function covers(region: Region, e: number): boolean {
  const { channels, offset } = region.view;
  const pixel = Math.floor((e - offset) / channels);
  const c = e - offset - pixel * channels;
  return pixel >= 0 && pixel < region.pixels && c >= 0 && c < region.width;
}

/**
 * Verifies the rules kernels rely on, element by element: every view lies inside its storage and
 * every weight storage is at least as large as its op needs; every activation element is written
 * by exactly one op and read only after it is written; no op reads an element it writes; inputs
 * and weights are never written. Throws an error naming the op and storage at the first breach.
 */
export function checkLowered(model: LoweredStructure): void {
  const storage = new Map(model.storage.map((s) => [s.name, s]));
  const writer = new Map<string, Int32Array>();
  for (const s of model.storage) {
    if (s.role === "activation") writer.set(s.name, new Int32Array(s.size).fill(-1));
  }
  const fail = (i: number, message: string): never => {
    throw new Error(
      `Lowered model "${model.name}" breaks a kernel rule: op ${i} (${
        model.ops[i].kind
      }) ${message}`,
    );
  };
  const each = (i: number, region: Region, visit: (index: number) => void) => {
    const s = storage.get(region.view.storage) ??
      fail(i, `uses unknown storage "${region.view.storage}"`);
    const { channels, offset } = region.view;
    const last = (region.pixels - 1) * channels + offset + region.width;
    if (offset < 0 || (offset + region.width > channels && region.pixels > 1) || last > s.size) {
      fail(i, `uses a view of "${s.name}" outside its ${s.size} elements`);
    }
    for (let p = 0; p < region.pixels; p++) {
      const base = p * channels + offset;
      for (let c = 0; c < region.width; c++) visit(base + c);
    }
  };
  model.ops.forEach((op, i) => {
    const { reads, writes, weights } = regions(op);
    for (const [name, size] of weights) {
      const s = storage.get(name);
      if (s === undefined || s.role !== "weight" || s.size < size) {
        fail(i, `needs weight storage "${name}" of ${size} elements`);
      }
    }
    for (const region of reads) {
      const marks = writer.get(region.view.storage);
      if (marks === undefined) {
        each(i, region, () => {});
        continue;
      }
      each(i, region, (e) => {
        if (marks[e] >= 0) return;
        // Nothing is written twice, so an element an op reads and writes is unwritten when it reads.
        const own = writes.some((w) => w.view.storage === region.view.storage && covers(w, e));
        fail(
          i,
          `reads element ${e} of "${region.view.storage}" ${
            own ? "which it writes" : "before it is written"
          }`,
        );
      });
    }
    for (const region of writes) {
      const marks = writer.get(region.view.storage) ??
        fail(i, `writes "${region.view.storage}", which is not an activation`);
      each(i, region, (e) => {
        if (marks[e] >= 0) {
          fail(
            i,
            `writes element ${e} of "${region.view.storage}", already written by op ${marks[e]}`,
          );
        }
        marks[e] = i;
      });
    }
  });
  for (const [name, marks] of writer) {
    const e = marks.indexOf(-1);
    if (e >= 0) {
      throw new Error(
        `Lowered model "${model.name}" never writes element ${e} of storage "${name}"`,
      );
    }
  }
}

/** Converts `[N, C, H, W]` values to NHWC order. */
export function nchwToNhwc(values: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [n, c, h, w] = shape;
  const out = new Float64Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) {
        out[(b * h * w + p) * c + ch] = values[(b * c + ch) * h * w + p];
      }
    }
  }
  return out;
}

/** Converts NHWC values of a logical `[N, C, H, W]` tensor back to NCHW order. */
export function nhwcToNchw(values: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const [n, c, h, w] = shape;
  const out = new Float64Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < h * w; p++) {
        out[(b * c + ch) * h * w + p] = values[(b * h * w + p) * c + ch];
      }
    }
  }
  return out;
}
