/**
 * The graph IR: a small semantic graph in PyTorch's terms, built by the model zoo and consumed by
 * the float64 reference (`reference.ts`) and the lowering to kernel ops (`lower.ts`).
 *
 * Tensors carry logical PyTorch shapes: images `[N, C, H, W]`, sequences `[N, S, D]`, token ids
 * `[N, S]` (int32), features `[N, F]`. Parameters carry their exact PyTorch `state_dict` names and
 * shapes, so synthetic weights written as safetensors load into the PyTorch model unchanged.
 * Nodes are kept in the order they were added, which is a topological order.
 * @module
 */

/** Element type of an IR tensor. */
export type TensorType = "float32" | "int32";

/** A tensor of the graph: a graph input or the output of one node (same name as the node). */
export interface TensorInfo {
  /** Unique name; a node's output tensor has the node's name. */
  readonly name: string;
  /** Logical PyTorch shape, batch first. */
  readonly shape: readonly number[];
  readonly dtype: TensorType;
}

/**
 * What a parameter is, so that synthetic weights can pick a distribution that keeps activations
 * O(1): `norm_weight_residual` marks the last norm of a residual branch (it gets a small gamma).
 */
export type ParamRole =
  | "conv_weight"
  | "linear_weight"
  | "bias"
  | "norm_weight"
  | "norm_weight_residual"
  | "norm_bias"
  | "running_mean"
  | "running_var"
  | "num_batches_tracked"
  | "embedding";

/** One entry of the model's PyTorch `state_dict`. */
export interface ParamSpec {
  /** Exact `state_dict` key, e.g. `layer1.0.conv1.weight`. */
  readonly name: string;
  /** PyTorch shape; `[]` for the scalar `num_batches_tracked`. */
  readonly shape: readonly number[];
  readonly dtype: "float32" | "int64";
  /** False for buffers (batch-norm running statistics and counters). */
  readonly trainable: boolean;
  readonly role: ParamRole;
  /** Inputs per output of the layer owning the parameter (for weight scaling); 0 for norms. */
  readonly fanIn: number;
}

/** A pair of values for the two spatial dimensions (height, width). */
export type Pair = readonly [number, number];

interface NodeBase {
  /** Unique node name; also the name of the node's output tensor. */
  readonly name: string;
  /** Names of the input tensors. */
  readonly inputs: readonly string[];
}

/** `nn.Conv2d`. */
export interface Conv2dNode extends NodeBase {
  readonly op: "conv2d";
  /** `[out, in / groups, kh, kw]` parameter. */
  readonly weight: string;
  /** `[out]` parameter, or null. */
  readonly bias: string | null;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly groups: number;
}

/** `nn.BatchNorm2d` in inference form (running statistics). */
export interface BatchNorm2dNode extends NodeBase {
  readonly op: "batchnorm2d";
  readonly weight: string;
  readonly bias: string;
  readonly runningMean: string;
  readonly runningVar: string;
  readonly eps: number;
}

/** Element-wise activations: `relu`, `relu6`, exact (erf) `gelu`, `tanh`. */
export interface ActivationNode extends NodeBase {
  readonly op: "relu" | "relu6" | "gelu" | "tanh";
}

/** Element-wise sum of two tensors of the same shape. */
export interface AddNode extends NodeBase {
  readonly op: "add";
}

/** `nn.MaxPool2d` (dilation 1). */
export interface MaxPool2dNode extends NodeBase {
  readonly op: "maxpool2d";
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly ceilMode: boolean;
}

/** `nn.AvgPool2d` (no divisor override). */
export interface AvgPool2dNode extends NodeBase {
  readonly op: "avgpool2d";
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly padding: Pair;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
}

/** `nn.AdaptiveAvgPool2d`. */
export interface AdaptiveAvgPool2dNode extends NodeBase {
  readonly op: "adaptive_avgpool2d";
  readonly outputSize: Pair;
}

/** `torch.flatten(x, 1)`. */
export interface FlattenNode extends NodeBase {
  readonly op: "flatten";
}

/** `nn.Linear` over the last dimension. */
export interface LinearNode extends NodeBase {
  readonly op: "linear";
  /** `[out, in]` parameter. */
  readonly weight: string;
  readonly bias: string | null;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/** `torch.cat(inputs, 1)`: along channels (images) or features (`[N, F]`). */
export interface ConcatNode extends NodeBase {
  readonly op: "concat";
}

/**
 * The BERT/DistilBERT embeddings block: word[ids] + position[s] (+ token type 0), then LayerNorm.
 * Dropout is absent (inference).
 */
export interface EmbeddingNode extends NodeBase {
  readonly op: "embedding";
  readonly word: string;
  readonly position: string;
  /** Token-type table (type 0 is added), or null (DistilBERT). */
  readonly tokenType: string | null;
  /** LayerNorm gamma. */
  readonly weight: string;
  /** LayerNorm beta. */
  readonly bias: string;
  readonly eps: number;
  readonly vocab: number;
  readonly dim: number;
}

/** `nn.LayerNorm` over the last dimension. */
export interface LayerNormNode extends NodeBase {
  readonly op: "layernorm";
  readonly weight: string;
  readonly bias: string;
  readonly eps: number;
}

/**
 * Multi-head self-attention core: inputs q, k, v (`[N, S, D]`, already projected), output the
 * context `softmax(q k^T / sqrt(D / heads)) v` per head, heads concatenated; no mask.
 */
export interface AttentionNode extends NodeBase {
  readonly op: "attention";
  readonly heads: number;
}

/** `x[:, 0]` of a `[N, S, D]` tensor (BERT's pooler input). */
export interface SelectFirstTokenNode extends NodeBase {
  readonly op: "select_first_token";
}

/** Any node of the graph. */
export type Node =
  | Conv2dNode
  | BatchNorm2dNode
  | ActivationNode
  | AddNode
  | MaxPool2dNode
  | AvgPool2dNode
  | AdaptiveAvgPool2dNode
  | FlattenNode
  | LinearNode
  | ConcatNode
  | EmbeddingNode
  | LayerNormNode
  | AttentionNode
  | SelectFirstTokenNode;

/** A named graph output (`output`, or `pooler_output` for BERT). */
export interface GraphOutput {
  readonly name: string;
  readonly tensor: string;
}

/** A built graph: immutable, nodes in topological order. */
export interface Graph {
  /** Model name; synthetic weights are derived from it. */
  readonly name: string;
  readonly batch: number;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly GraphOutput[];
  readonly nodes: readonly Node[];
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  /** The `state_dict`, in PyTorch's registration order. */
  readonly params: readonly ParamSpec[];
}

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Trainable parameter count (buffers excluded), as `sum(p.numel() for p in m.parameters())`. */
export function countParameters(graph: Graph): number {
  let n = 0;
  for (const p of graph.params) if (p.trainable) n += numel(p.shape);
  return n;
}

/** Formats a shape for error messages, e.g. `[1, 64, 56, 56]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Output length of a pooling or convolution window along one dimension, with PyTorch's rule for
 * `ceil_mode`: the last window must start inside the input or its left padding.
 */
export function windowOutputSize(
  size: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation: number,
  ceilMode: boolean,
): number {
  const span = size + 2 * padding - dilation * (kernel - 1) - 1;
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  if (ceilMode && (out - 1) * stride >= size + padding) out--;
  return out;
}

function pair(value: number | Pair): Pair {
  return typeof value === "number" ? [value, value] : value;
}

/** Options of {@linkcode GraphBuilder.conv2d}. */
export interface Conv2dOptions {
  outChannels: number;
  kernel: number | Pair;
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  groups?: number;
  /** Whether the conv has a bias (default true, as `nn.Conv2d`). */
  bias?: boolean;
}

/** Options of {@linkcode GraphBuilder.batchnorm2d}. */
export interface BatchNorm2dOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Last norm of a residual branch (see {@linkcode ParamRole}). */
  residualBranchEnd?: boolean;
}

/** Options of {@linkcode GraphBuilder.maxpool2d}. */
export interface MaxPool2dOptions {
  kernel: number | Pair;
  /** Defaults to the kernel size, as PyTorch. */
  stride?: number | Pair;
  padding?: number | Pair;
  ceilMode?: boolean;
}

/** Options of {@linkcode GraphBuilder.avgpool2d}. */
export interface AvgPool2dOptions extends MaxPool2dOptions {
  /** Default true, as PyTorch. */
  countIncludePad?: boolean;
}

/** Options of {@linkcode GraphBuilder.linear}. */
export interface LinearOptions {
  outFeatures: number;
  /** Default true. */
  bias?: boolean;
}

/** Options of {@linkcode GraphBuilder.embedding}. */
export interface EmbeddingOptions {
  vocab: number;
  dim: number;
  maxPositions: number;
  /** Number of token types (2 for BERT), or 0 for none (DistilBERT). */
  typeVocab: number;
  eps: number;
}

/**
 * Builds a {@linkcode Graph} one PyTorch module at a time, inferring shapes and registering
 * parameters under `state_dict` names (`<prefix>.weight`, ...). Every method validates its input
 * shapes and throws an error naming the graph, the node and the offending tensor.
 *
 * @example
 * ```ts
 * const b = new GraphBuilder("tiny", 1);
 * let x = b.input("data", [1, 3, 8, 8]);
 * x = b.conv2d(x, "conv1", { outChannels: 4, kernel: 3, padding: 1, bias: false });
 * x = b.relu(b.batchnorm2d(x, "bn1"));
 * b.output("output", x);
 * const graph = b.build();
 * ```
 */
export class GraphBuilder {
  readonly #name: string;
  readonly #batch: number;
  readonly #inputs: TensorInfo[] = [];
  readonly #outputs: GraphOutput[] = [];
  readonly #nodes: Node[] = [];
  readonly #tensors = new Map<string, TensorInfo>();
  readonly #params: ParamSpec[] = [];
  readonly #paramNames = new Set<string>();
  #counter = 0;

  /** Starts a graph for model `name` at batch size `batch`. */
  constructor(name: string, batch: number) {
    if (!Number.isInteger(batch) || batch < 1) {
      throw new Error(
        `Cannot build graph "${name}": batch size must be a positive integer, got ${batch}`,
      );
    }
    this.#name = name;
    this.#batch = batch;
  }

  /** The batch size the graph is built for. */
  get batch(): number {
    return this.#batch;
  }

  /** Declares a graph input (`data` for images, `input_ids` for token ids). */
  input(name: string, shape: readonly number[], dtype: TensorType = "float32"): TensorInfo {
    if (shape[0] !== this.#batch) {
      this.#fail(
        `input "${name}" must have batch ${this.#batch} first, got shape ${formatShape(shape)}`,
      );
    }
    const tensor = this.#addTensor(name, shape, dtype);
    this.#inputs.push(tensor);
    return tensor;
  }

  /** Marks `tensor` as the graph output called `name`. */
  output(name: string, tensor: TensorInfo): void {
    this.#known(tensor);
    if (this.#outputs.some((o) => o.name === name)) {
      this.#fail(`output "${name}" is declared twice`);
    }
    this.#outputs.push({ name, tensor: tensor.name });
  }

  /** `nn.Conv2d` registered as `<prefix>.weight` (and `<prefix>.bias`). */
  conv2d(x: TensorInfo, prefix: string, options: Conv2dOptions): TensorInfo {
    const [n, cin, h, w] = this.#image(x, "conv2d", prefix);
    const kernel = pair(options.kernel);
    const stride = pair(options.stride ?? 1);
    const padding = pair(options.padding ?? 0);
    const dilation = pair(options.dilation ?? 1);
    const groups = options.groups ?? 1;
    const cout = options.outChannels;
    if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0 || cout % groups !== 0) {
      this.#fail(
        `conv2d "${prefix}" has groups ${groups}, which must divide both its ${cin} input and ${cout} output channels`,
      );
    }
    const oh = windowOutputSize(h, kernel[0], stride[0], padding[0], dilation[0], false);
    const ow = windowOutputSize(w, kernel[1], stride[1], padding[1], dilation[1], false);
    if (oh < 1 || ow < 1) {
      this.#fail(
        `conv2d "${prefix}" kernel ${formatShape(kernel)} does not fit input "${x.name}" of shape ${
          formatShape(x.shape)
        }`,
      );
    }
    const fanIn = (cin / groups) * kernel[0] * kernel[1];
    const weight = this.#param(
      `${prefix}.weight`,
      [cout, cin / groups, kernel[0], kernel[1]],
      "conv_weight",
      fanIn,
    );
    const bias = (options.bias ?? true)
      ? this.#param(`${prefix}.bias`, [cout], "bias", fanIn)
      : null;
    return this.#addNode(
      {
        op: "conv2d",
        name: prefix,
        inputs: [x.name],
        weight,
        bias,
        inChannels: cin,
        outChannels: cout,
        kernel,
        stride,
        padding,
        dilation,
        groups,
      },
      [n, cout, oh, ow],
    );
  }

  /**
   * `nn.BatchNorm2d` registered as `<prefix>.weight`, `.bias`, `.running_mean`, `.running_var`
   * and `.num_batches_tracked`.
   */
  batchnorm2d(x: TensorInfo, prefix: string, options: BatchNorm2dOptions = {}): TensorInfo {
    const c = this.#image(x, "batchnorm2d", prefix)[1];
    const weightRole = options.residualBranchEnd ? "norm_weight_residual" : "norm_weight";
    const node: BatchNorm2dNode = {
      op: "batchnorm2d",
      name: prefix,
      inputs: [x.name],
      weight: this.#param(`${prefix}.weight`, [c], weightRole, 0),
      bias: this.#param(`${prefix}.bias`, [c], "norm_bias", 0),
      runningMean: this.#param(`${prefix}.running_mean`, [c], "running_mean", 0, false),
      runningVar: this.#param(`${prefix}.running_var`, [c], "running_var", 0, false),
      eps: options.eps ?? 1e-5,
    };
    this.#param(`${prefix}.num_batches_tracked`, [], "num_batches_tracked", 0, false, "int64");
    return this.#addNode(node, x.shape);
  }

  /** `F.relu`. */
  relu(x: TensorInfo, name?: string): TensorInfo {
    return this.#activation("relu", x, name);
  }

  /** `F.relu6`. */
  relu6(x: TensorInfo, name?: string): TensorInfo {
    return this.#activation("relu6", x, name);
  }

  /** `F.gelu` (exact erf form). */
  gelu(x: TensorInfo, name?: string): TensorInfo {
    return this.#activation("gelu", x, name);
  }

  /** `torch.tanh`. */
  tanh(x: TensorInfo, name?: string): TensorInfo {
    return this.#activation("tanh", x, name);
  }

  /** `a + b` for tensors of equal shape (no broadcasting). */
  add(a: TensorInfo, b: TensorInfo, name?: string): TensorInfo {
    const id = this.#uniqueName("add", name);
    this.#floatTensor(a, "add", id);
    this.#floatTensor(b, "add", id);
    if (formatShape(a.shape) !== formatShape(b.shape)) {
      this.#fail(
        `add "${id}" needs inputs of equal shape, got "${a.name}" ${
          formatShape(a.shape)
        } and "${b.name}" ${formatShape(b.shape)}`,
      );
    }
    return this.#addNode({ op: "add", name: id, inputs: [a.name, b.name] }, a.shape);
  }

  /** `nn.MaxPool2d`. */
  maxpool2d(x: TensorInfo, options: MaxPool2dOptions, name?: string): TensorInfo {
    const id = this.#uniqueName("maxpool", name);
    const window = this.#poolWindow(x, "maxpool2d", id, options);
    return this.#addNode(
      { op: "maxpool2d", name: id, inputs: [x.name], ...window.attrs },
      window.shape,
    );
  }

  /** `nn.AvgPool2d`. */
  avgpool2d(x: TensorInfo, options: AvgPool2dOptions, name?: string): TensorInfo {
    const id = this.#uniqueName("avgpool", name);
    const window = this.#poolWindow(x, "avgpool2d", id, options);
    return this.#addNode(
      {
        op: "avgpool2d",
        name: id,
        inputs: [x.name],
        ...window.attrs,
        countIncludePad: options.countIncludePad ?? true,
      },
      window.shape,
    );
  }

  /** `nn.AdaptiveAvgPool2d(outputSize)`. */
  adaptiveAvgpool2d(x: TensorInfo, outputSize: number | Pair, name?: string): TensorInfo {
    const id = this.#uniqueName("adaptive_avgpool", name);
    const [n, c] = this.#image(x, "adaptive_avgpool2d", id);
    const size = pair(outputSize);
    if (!(size[0] >= 1 && size[1] >= 1)) {
      this.#fail(
        `adaptive_avgpool2d "${id}" needs a positive output size, got ${formatShape(size)}`,
      );
    }
    return this.#addNode(
      { op: "adaptive_avgpool2d", name: id, inputs: [x.name], outputSize: size },
      [n, c, size[0], size[1]],
    );
  }

  /** `torch.flatten(x, 1)`. */
  flatten(x: TensorInfo, name?: string): TensorInfo {
    const id = this.#uniqueName("flatten", name);
    this.#floatTensor(x, "flatten", id);
    if (x.shape.length < 2) {
      this.#fail(
        `flatten "${id}" needs an input of rank 2 or more, got "${x.name}" ${formatShape(x.shape)}`,
      );
    }
    return this.#addNode({ op: "flatten", name: id, inputs: [x.name] }, [
      x.shape[0],
      numel(x.shape.slice(1)),
    ]);
  }

  /** `nn.Linear` registered as `<prefix>.weight` (and `<prefix>.bias`), over the last dimension. */
  linear(x: TensorInfo, prefix: string, options: LinearOptions): TensorInfo {
    this.#floatTensor(x, "linear", prefix);
    if (x.shape.length < 2 || x.shape.length > 3) {
      this.#fail(
        `linear "${prefix}" needs an input of shape [N, F] or [N, S, F], got "${x.name}" ${
          formatShape(x.shape)
        }`,
      );
    }
    const inFeatures = x.shape[x.shape.length - 1];
    const out = options.outFeatures;
    const weight = this.#param(`${prefix}.weight`, [out, inFeatures], "linear_weight", inFeatures);
    const bias = (options.bias ?? true)
      ? this.#param(`${prefix}.bias`, [out], "bias", inFeatures)
      : null;
    return this.#addNode(
      { op: "linear", name: prefix, inputs: [x.name], weight, bias, inFeatures, outFeatures: out },
      [...x.shape.slice(0, -1), out],
    );
  }

  /** `torch.cat(xs, 1)` of images `[N, C, H, W]` or features `[N, F]`. */
  concat(xs: readonly TensorInfo[], name?: string): TensorInfo {
    const id = this.#uniqueName("concat", name);
    if (xs.length === 0) this.#fail(`concat "${id}" needs at least one input`);
    for (const x of xs) this.#floatTensor(x, "concat", id);
    const first = xs[0].shape;
    if (first.length !== 2 && first.length !== 4) {
      this.#fail(
        `concat "${id}" joins [N, C, H, W] or [N, F] tensors, got "${xs[0].name}" ${
          formatShape(first)
        }`,
      );
    }
    let channels = 0;
    for (const x of xs) {
      const s = x.shape;
      const same = s.length === first.length && s.every((d, i) => i === 1 || d === first[i]);
      if (!same) {
        this.#fail(
          `concat "${id}" needs inputs that differ only in dimension 1, got "${xs[0].name}" ${
            formatShape(first)
          } and "${x.name}" ${formatShape(s)}`,
        );
      }
      channels += s[1];
    }
    const shape = [...first];
    shape[1] = channels;
    return this.#addNode({ op: "concat", name: id, inputs: xs.map((x) => x.name) }, shape);
  }

  /**
   * The embeddings block registered as `<prefix>.word_embeddings.weight`,
   * `.position_embeddings.weight`, `.token_type_embeddings.weight` (when `typeVocab > 0`) and
   * `.LayerNorm.weight` / `.LayerNorm.bias`. `ids` is `[N, S]` int32.
   */
  embedding(ids: TensorInfo, prefix: string, options: EmbeddingOptions): TensorInfo {
    this.#known(ids);
    if (ids.dtype !== "int32" || ids.shape.length !== 2) {
      this.#fail(
        `embedding "${prefix}" needs int32 token ids of shape [N, S], got "${ids.name}" ${ids.dtype} ${
          formatShape(ids.shape)
        }`,
      );
    }
    const [n, seq] = ids.shape;
    if (seq > options.maxPositions) {
      this.#fail(
        `embedding "${prefix}" has ${options.maxPositions} positions, but "${ids.name}" has ${seq} tokens`,
      );
    }
    const { vocab, dim } = options;
    const node: EmbeddingNode = {
      op: "embedding",
      name: prefix,
      inputs: [ids.name],
      word: this.#param(`${prefix}.word_embeddings.weight`, [vocab, dim], "embedding", 0),
      position: this.#param(
        `${prefix}.position_embeddings.weight`,
        [options.maxPositions, dim],
        "embedding",
        0,
      ),
      tokenType: options.typeVocab > 0
        ? this.#param(
          `${prefix}.token_type_embeddings.weight`,
          [options.typeVocab, dim],
          "embedding",
          0,
        )
        : null,
      weight: this.#param(`${prefix}.LayerNorm.weight`, [dim], "norm_weight", 0),
      bias: this.#param(`${prefix}.LayerNorm.bias`, [dim], "norm_bias", 0),
      eps: options.eps,
      vocab,
      dim,
    };
    return this.#addNode(node, [n, seq, dim]);
  }

  /** `nn.LayerNorm(D)` over the last dimension, registered as `<prefix>.weight` / `.bias`. */
  layernorm(x: TensorInfo, prefix: string, eps: number): TensorInfo {
    this.#floatTensor(x, "layernorm", prefix);
    const d = x.shape[x.shape.length - 1];
    return this.#addNode(
      {
        op: "layernorm",
        name: prefix,
        inputs: [x.name],
        weight: this.#param(`${prefix}.weight`, [d], "norm_weight", 0),
        bias: this.#param(`${prefix}.bias`, [d], "norm_bias", 0),
        eps,
      },
      x.shape,
    );
  }

  /** Multi-head self-attention core over projected q, k, v of shape `[N, S, D]`. */
  attention(q: TensorInfo, k: TensorInfo, v: TensorInfo, heads: number, name?: string): TensorInfo {
    const id = this.#uniqueName("attention", name);
    for (const t of [q, k, v]) {
      this.#floatTensor(t, "attention", id);
      if (t.shape.length !== 3 || formatShape(t.shape) !== formatShape(q.shape)) {
        this.#fail(
          `attention "${id}" needs q, k, v of one shape [N, S, D], got "${t.name}" ${
            formatShape(t.shape)
          }`,
        );
      }
    }
    if (!Number.isInteger(heads) || heads < 1 || q.shape[2] % heads !== 0) {
      this.#fail(`attention "${id}" has ${heads} heads, which must divide the width ${q.shape[2]}`);
    }
    return this.#addNode(
      { op: "attention", name: id, inputs: [q.name, k.name, v.name], heads },
      q.shape,
    );
  }

  /** `x[:, 0]` of a `[N, S, D]` tensor. */
  selectFirstToken(x: TensorInfo, name?: string): TensorInfo {
    const id = this.#uniqueName("first_token", name);
    this.#floatTensor(x, "select_first_token", id);
    if (x.shape.length !== 3) {
      this.#fail(
        `select_first_token "${id}" needs an input [N, S, D], got "${x.name}" ${
          formatShape(x.shape)
        }`,
      );
    }
    return this.#addNode({ op: "select_first_token", name: id, inputs: [x.name] }, [
      x.shape[0],
      x.shape[2],
    ]);
  }

  /** Finishes the graph; it must have at least one input and one output. */
  build(): Graph {
    if (this.#inputs.length === 0) this.#fail("the graph has no input");
    if (this.#outputs.length === 0) this.#fail("the graph has no output");
    return {
      name: this.#name,
      batch: this.#batch,
      inputs: [...this.#inputs],
      outputs: [...this.#outputs],
      nodes: [...this.#nodes],
      tensors: new Map(this.#tensors),
      params: [...this.#params],
    };
  }

  #activation(op: ActivationNode["op"], x: TensorInfo, name: string | undefined): TensorInfo {
    const id = this.#uniqueName(op, name);
    this.#floatTensor(x, op, id);
    return this.#addNode({ op, name: id, inputs: [x.name] }, x.shape);
  }

  #poolWindow(x: TensorInfo, op: string, id: string, options: MaxPool2dOptions) {
    const [n, c, h, w] = this.#image(x, op, id);
    const kernel = pair(options.kernel);
    const stride = pair(options.stride ?? options.kernel);
    const padding = pair(options.padding ?? 0);
    const ceilMode = options.ceilMode ?? false;
    for (const i of [0, 1]) {
      if (padding[i] > kernel[i] / 2) {
        this.#fail(
          `${op} "${id}" has padding ${formatShape(padding)}, more than half its kernel ${
            formatShape(kernel)
          }`,
        );
      }
    }
    const oh = windowOutputSize(h, kernel[0], stride[0], padding[0], 1, ceilMode);
    const ow = windowOutputSize(w, kernel[1], stride[1], padding[1], 1, ceilMode);
    if (oh < 1 || ow < 1) {
      this.#fail(
        `${op} "${id}" kernel ${formatShape(kernel)} does not fit input "${x.name}" of shape ${
          formatShape(x.shape)
        }`,
      );
    }
    return { attrs: { kernel, stride, padding, ceilMode }, shape: [n, c, oh, ow] };
  }

  #image(x: TensorInfo, op: string, id: string): number[] {
    this.#floatTensor(x, op, id);
    if (x.shape.length !== 4) {
      this.#fail(
        `${op} "${id}" needs an input [N, C, H, W], got "${x.name}" ${formatShape(x.shape)}`,
      );
    }
    return [...x.shape];
  }

  #floatTensor(x: TensorInfo, op: string, id: string): void {
    this.#known(x);
    if (x.dtype !== "float32") {
      this.#fail(`${op} "${id}" needs a float32 input, got "${x.name}" of type ${x.dtype}`);
    }
  }

  #known(x: TensorInfo): void {
    if (this.#tensors.get(x.name) !== x) {
      this.#fail(`tensor "${x.name}" does not belong to this graph`);
    }
  }

  #uniqueName(op: string, name: string | undefined): string {
    if (name !== undefined) return name;
    let id: string;
    do id = `${op}_${this.#counter++}`; while (this.#tensors.has(id));
    return id;
  }

  #param(
    name: string,
    shape: number[],
    role: ParamRole,
    fanIn: number,
    trainable = true,
    dtype: "float32" | "int64" = "float32",
  ): string {
    if (this.#paramNames.has(name)) this.#fail(`parameter "${name}" is registered twice`);
    this.#paramNames.add(name);
    this.#params.push({ name, shape, dtype, trainable, role, fanIn });
    return name;
  }

  #addNode(node: Node, shape: readonly number[]): TensorInfo {
    const tensor = this.#addTensor(node.name, shape, "float32");
    this.#nodes.push(node);
    return tensor;
  }

  #addTensor(name: string, shape: readonly number[], dtype: TensorType): TensorInfo {
    if (this.#tensors.has(name)) this.#fail(`tensor "${name}" is defined twice`);
    if (!shape.every((d) => Number.isInteger(d) && d >= 1)) {
      this.#fail(`tensor "${name}" has an invalid shape ${formatShape(shape)}`);
    }
    const tensor: TensorInfo = { name, shape: [...shape], dtype };
    this.#tensors.set(name, tensor);
    return tensor;
  }

  #fail(message: string): never {
    throw new Error(`Cannot build graph "${this.#name}": ${message}`);
  }
}
