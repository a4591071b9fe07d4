/**
 * Kernel catalog: maps one {@linkcode KernelOp} to the template instance (or the two, for split-K)
 * that runs it, with its launch shape and a tile-shape heuristic.
 *
 * Every shape and view is a template argument: the model package passes kernels nothing but
 * storage pointers (REEF's format), and constant shapes let the compiler turn index arithmetic
 * into multiplies and shifts. Ops whose instances have equal {@linkcode KernelSpec.key}s share
 * one generated kernel.
 *
 * Paths (see NOTES.md): `conv_mma` (fp16 tensor cores, NVIDIA only), `conv_simt` (fp32, awkward
 * fp16 shapes, and everything on AMD), `depthwise`, `gemv` (linear layers of at most
 * {@linkcode GEMV_MAX_ROWS} rows), `splitk_reduce` (second launch of a split-K GEMM),
 * `pool2d`, `global_avgpool`, `layernorm`, `embedding`, `attention`, `add`.
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
  Precision,
  PreOp,
  View,
} from "./ops.ts";

/** Compilation target: NVIDIA (nvcc, sm_90) or AMD (hipcc, gfx906: portable templates only). */
export type Target = "cuda" | "hip";

/** The template a kernel instantiates. */
export type TemplatePath =
  | "conv_mma"
  | "conv_simt"
  | "depthwise"
  | "gemv"
  | "splitk_reduce"
  | "pool2d"
  | "global_avgpool"
  | "layernorm"
  | "embedding"
  | "attention"
  | "add";

/** One kernel parameter: a storage buffer passed as a typed device pointer. */
export interface KernelParam {
  /** Parameter name in the generated source. */
  name: string;
  /** C type, e.g. `const __half*`. */
  ctype: string;
  /** Storage buffer bound to it (an entry of the model package's `storage`). */
  storage: string;
}

/** Estimates from the catalog's device model (planning numbers, not measurements). */
export interface KernelEstimate {
  /** Whole kernel, µs. */
  kernelUs: number;
  /** Longest stretch a block runs without a check point (entry included), µs. */
  stretchUs: number;
}

/** One kernel launch that an op lowers to. */
export interface KernelSpec {
  /** Dedup signature: kernels with equal keys are one generated function. */
  key: string;
  /** The template instantiated. */
  path: TemplatePath;
  /** Short tag for the kernel name (`conv`, `gemv`, `reduce`, ...). */
  tag: string;
  /** The body template with its arguments, e.g. `reef::conv_mma_body<...>`. */
  body: string;
  /** Arguments after the block: parameter names, or `nullptr` for absent operands. */
  callArgs: string[];
  /** Pointer parameters in order; the launch binds their storages. */
  params: KernelParam[];
  grid: [number, number, number];
  /** Threads per block (1-D blocks). */
  block: [number, 1, 1];
  /** Dynamic shared memory, bytes. */
  sharedMemory: number;
  estimate: KernelEstimate;
}

/** An fp32 scratch buffer an instance needs (split-K partial sums), owned by its op. */
export interface Workspace {
  name: string;
  /** Elements. */
  size: number;
  stype: "float32";
}

/** What one op runs: one kernel, or a split-K GEMM and its reduce (in launch order). */
export interface OpInstance {
  kernels: KernelSpec[];
  workspace: Workspace | null;
}

/** Linear layers with at most this many rows run as GEMV (weights streamed once). */
export const GEMV_MAX_ROWS = 8;

/** The device the heuristics plan for. */
interface DeviceModel {
  sms: number;
  warpSize: number;
  maxSharedPerBlock: number;
  sharedPerSm: number;
  maxThreadsPerSm: number;
  registersPerSm: number;
  /** fp16 mma.sync rate one SM sustains, FLOP/µs. */
  mmaFlopsPerUsPerSm: number;
  /** fp32 FMA rate one SM sustains, FLOP/µs. */
  simtFlopsPerUsPerSm: number;
  /** Device memory bandwidth, bytes/µs. */
  dramBytesPerUs: number;
  /** L2 bandwidth (re-read operands), bytes/µs. */
  l2BytesPerUs: number;
  /** Extra GPU time of a second launch (the reduce kernel's launch and drain), µs. */
  launchUs: number;
}

// H100 SXM: 132 SMs, 228 KB shared memory per SM (227 KB per block), ~3 TB/s HBM3 and, for
// mma.sync (not wgmma), about 650 TFLOP/s fp16 sustained; 67 TFLOP/s fp32 FMA peak, ~60 used.
const H100: DeviceModel = {
  sms: 132,
  warpSize: 32,
  maxSharedPerBlock: 227 * 1024,
  sharedPerSm: 228 * 1024,
  maxThreadsPerSm: 2048,
  registersPerSm: 65536,
  mmaFlopsPerUsPerSm: 650e6 / 132,
  simtFlopsPerUsPerSm: 60e6 / 132,
  dramBytesPerUs: 3.0e6,
  l2BytesPerUs: 8.0e6,
  launchUs: 2.5,
};

// MI50 (gfx906): 60 CUs, 64 KB LDS, wave64, 13.4 TFLOP/s fp32, ~1 TB/s HBM2.
const MI50: DeviceModel = {
  sms: 60,
  warpSize: 64,
  maxSharedPerBlock: 64 * 1024,
  sharedPerSm: 64 * 1024,
  maxThreadsPerSm: 2560,
  registersPerSm: 4 * 65536,
  mmaFlopsPerUsPerSm: 0,
  simtFlopsPerUsPerSm: 12e6 / 60,
  dramBytesPerUs: 0.9e6,
  l2BytesPerUs: 2.5e6,
  launchUs: 4,
};

const DEVICES: Record<Target, DeviceModel> = { cuda: H100, hip: MI50 };

/** K-splits the GEMM planners consider. */
const SPLITS = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32];

/** Tensor-core block tiles: BM x BN, warp tile WM x WN, relative efficiency of the tile. */
const MMA_TILES = [
  { bm: 128, bn: 128, wm: 64, wn: 32, eff: 0.8 },
  { bm: 128, bn: 64, wm: 64, wn: 32, eff: 0.7 },
  { bm: 64, bn: 128, wm: 32, wn: 64, eff: 0.7 },
  { bm: 64, bn: 64, wm: 32, wn: 32, eff: 0.6 },
  { bm: 64, bn: 32, wm: 32, wn: 16, eff: 0.45 },
  { bm: 32, bn: 64, wm: 16, wn: 32, eff: 0.45 },
  { bm: 32, bn: 32, wm: 16, wn: 16, eff: 0.3 },
] as const;

/**
 * Multiply-adds of a tensor-core block between two of its check points. A trip's time grows
 * slower than its tile: on the H100 a 32 x 32 x 64 K-tile takes about 0.45 µs and a 64 x 64 x 64
 * one 1-2 µs (`evaluation/results/h100/be-overhead.json`), while each check costs the same
 * barrier reduction and warp vote. This budget (eight 32 x 32 x 64 trips) keeps the small tiles'
 * checks 2-4 µs apart and their cost off the short trips. No block checks more often than every 4
 * trips: VGG-19, whose tensor-core convolutions all have 64 x 64 to 128 x 128 tiles (1-1.8 µs
 * trips), ran 2.55% over raw checking them every 2 trips and 0.6% every 4
 * (`REEF_MMA_CHECK_SCALE`, `evaluation/results/h100/be-overhead-check-spacing.json`).
 */
const MMA_CHECK_MACS = 8 * 32 * 32 * 64;

/** Shared memory of conv_mma's two flag slots (check_point.cuh, PipelineCheck). */
const MMA_FLAG_SLOT_BYTES = 32;

/** K-tiles between two check points of a tensor-core block: 4 or 8 (conv_mma's CHECK_EVERY). */
export function mmaCheckEvery(bm: number, bn: number, bk: number): number {
  let every = 4;
  while (every < 8 && 2 * every * bm * bn * bk <= MMA_CHECK_MACS) every *= 2;
  return every;
}

/** SIMT block tiles: BM x BN, thread tile TM x TN, relative efficiency of the tile. */
const SIMT_TILES = [
  { bm: 128, bn: 64, tm: 8, tn: 4, eff: 0.7 },
  { bm: 64, bn: 64, tm: 4, tn: 4, eff: 0.6 },
  { bm: 64, bn: 32, tm: 4, tn: 4, eff: 0.5 },
  { bm: 32, bn: 64, tm: 4, tn: 4, eff: 0.5 },
  { bm: 32, bn: 32, tm: 4, tn: 4, eff: 0.4 },
] as const;

/** K-tile of the SIMT path. */
const SIMT_BK = 16;
/**
 * The SIMT path checks the flag every 1, 2 or 4 K-tiles (a K-tile is 0.1 to 0.5 µs): the widest
 * interval that keeps a block's stretch between checks under this, µs.
 */
const SIMT_CHECK_TARGET_US = 2;
/** Threads of the element-wise, pooling and GEMV blocks. */
const STREAM_THREADS = 256;
/** GEMV chunks are sized so that a block's stretch between checks stays near this, µs. */
const GEMV_CHUNK_TARGET_US = 3;

/**
 * Chooses the template instance(s) for one op.
 *
 * @param op The kernel op (ops.ts); its shapes and views become template arguments.
 * @param precision The model's precision: the element type of activations and weights.
 * @param target `cuda` (sm_90) or `hip` (gfx906; portable templates only).
 * @returns One kernel, or two (split-K partials, then their reduce) plus the workspace they share.
 * @throws Error naming the op and field when the op is malformed or has no template.
 */
export function instantiate(op: KernelOp, precision: Precision, target: Target): OpInstance {
  const ctx: Context = {
    label: `${op.kind} op writing "${op.output.storage}" at channel ${op.output.offset}`,
    precision,
    target,
    device: DEVICES[target],
    t: precision === "float16" ? "__half" : "float",
    bytes: precision === "float16" ? 2 : 4,
  };
  switch (op.kind) {
    case "conv2d":
      return conv2d(op, ctx);
    case "linear":
      return linear(op, ctx);
    case "pool2d":
      return pool2d(op, ctx);
    case "global_avgpool":
      return globalAvgPool(op, ctx);
    case "layernorm":
      return layerNorm(op, ctx);
    case "embedding":
      return embedding(op, ctx);
    case "attention":
      return attention(op, ctx);
    case "add":
      return add(op, ctx);
  }
}

/** The body call with its arguments, each prefixed (e.g. `p.` to read a params struct). */
export function bodyCall(spec: KernelSpec, argPrefix = ""): string {
  const args = spec.callArgs.map((a) => a === "nullptr" ? a : argPrefix + a);
  return `${spec.body}(b, ${args.join(", ")})`;
}

interface Context {
  label: string;
  precision: Precision;
  target: Target;
  device: DeviceModel;
  /** C element type. */
  t: "__half" | "float";
  /** Element size, bytes. */
  bytes: number;
}

// ---------------------------------------------------------------------------------------------
// Validation

function fail(ctx: Context, what: string): never {
  throw new Error(`Cannot instantiate the ${ctx.label}: ${what}`);
}

function requireInts(ctx: Context, fields: Record<string, number>, min: number): void {
  for (const [name, value] of Object.entries(fields)) {
    if (!Number.isInteger(value) || value < min) {
      fail(ctx, `field "${name}" must be an integer >= ${min}, got "${value}"`);
    }
  }
}

function requireView(ctx: Context, field: string, view: View, width: number): void {
  requireInts(ctx, { [`${field}.channels`]: view.channels }, 1);
  requireInts(ctx, { [`${field}.offset`]: view.offset }, 0);
  if (view.offset + width > view.channels) {
    fail(
      ctx,
      `field "${field}" window [${view.offset}, ${view.offset + width}) of storage ` +
        `"${view.storage}" exceeds its ${view.channels} channels`,
    );
  }
}

/** Output size of a window op along one axis, as PyTorch computes it (floor, or ceil mode). */
function windowOutput(size: number, k: number, s: number, p: number, d: number, ceil: boolean) {
  const span = size + 2 * p - d * (k - 1) - 1;
  return (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
}

function requireWindow(
  ctx: Context,
  axis: string,
  sizes: { in: number; out: number; k: number; s: number; p: number; d: number },
  isPool: boolean,
): void {
  const allowCeil = isPool;
  const floor = windowOutput(sizes.in, sizes.k, sizes.s, sizes.p, sizes.d, false);
  const ceil = windowOutput(sizes.in, sizes.k, sizes.s, sizes.p, sizes.d, true);
  if (sizes.out !== floor && !(allowCeil && sizes.out === ceil)) {
    fail(
      ctx,
      `field "o${axis}" is ${sizes.out} but the window gives ${floor}` +
        (allowCeil && ceil !== floor ? ` (or ${ceil} in ceil mode)` : ""),
    );
  }
  // PyTorch's rule for pooling windows (a window never lies wholly in the padding).
  if (isPool && sizes.p * 2 > sizes.k) {
    fail(ctx, `padding ${sizes.p} along ${axis} exceeds half the window`);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const ACT_CODES: Record<Activation, string> = {
  none: "reef::kActNone",
  relu: "reef::kActRelu",
  relu6: "reef::kActRelu6",
  gelu: "reef::kActGelu",
  tanh: "reef::kActTanh",
};

/** Largest vector (elements, at most 16 bytes) that divides every value. */
function vectorWidth(bytes: number, values: number[], maxElements = 16 / bytes): number {
  for (let v = maxElements; v > 1; v /= 2) {
    if (values.every((x) => x % v === 0)) return v;
  }
  return 1;
}

/** The bits of a float32, for template arguments (C++17 takes no float constants). */
function floatBits(x: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  return view.getInt32(0);
}

function cdiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

function tmpl(name: string, args: (string | number | boolean)[]): string {
  return `${name}<${args.map(String).join(", ")}>`;
}

interface Operand {
  name: string;
  ctype: string;
  storage: string | null;
}

/** Builds a spec; absent operands (null storage) pass `nullptr` and get no parameter. */
function spec(
  path: TemplatePath,
  tag: string,
  body: string,
  operands: Operand[],
  grid: [number, number, number],
  threads: number,
  sharedMemory: number,
  estimate: KernelEstimate,
): KernelSpec {
  const params: KernelParam[] = [];
  const callArgs: string[] = [];
  for (const o of operands) {
    if (o.storage === null) {
      callArgs.push("nullptr");
    } else {
      params.push({ name: o.name, ctype: o.ctype, storage: o.storage });
      callArgs.push(o.name);
    }
  }
  const signature = params.map((p) => p.ctype).join(",");
  const key = `${body}|${signature}|${grid.join(",")}|${threads}|${sharedMemory}`;
  return {
    key,
    path,
    tag,
    body,
    callArgs,
    params,
    grid,
    block: [threads, 1, 1],
    sharedMemory,
    estimate,
  };
}

/** Blocks of a kernel one SM holds at once. */
function occupancy(dev: DeviceModel, threads: number, smem: number, registers: number): number {
  const bySmem = smem > 0 ? Math.floor(dev.sharedPerSm / (smem + 1024)) : 32;
  const byThreads = Math.floor(dev.maxThreadsPerSm / threads);
  const byRegisters = Math.floor(dev.registersPerSm / (threads * Math.ceil(registers / 8) * 8));
  return Math.max(1, Math.min(bySmem, byThreads, byRegisters, 32));
}

/** Blocks that share one SM while the grid runs (at most the occupancy). */
function sharing(dev: DeviceModel, blocks: number, occ: number): number {
  return Math.min(occ, Math.max(1, cdiv(blocks, dev.sms)));
}

/** Time of a memory-bound kernel moving `bytes` with `blocks` blocks of `bytesPerBlock`. */
function streamEstimate(
  dev: DeviceModel,
  bytes: number,
  blocks: number,
  bytesPerBlock: number,
  occ: number,
): KernelEstimate {
  const perSm = dev.dramBytesPerUs / dev.sms;
  const share = sharing(dev, blocks, occ);
  return {
    kernelUs: bytes / dev.dramBytesPerUs + 1,
    stretchUs: (bytesPerBlock * share) / perSm + 0.5,
  };
}

// ---------------------------------------------------------------------------------------------
// GEMM-shaped ops: conv2d (groups 1) and linear

/** What the GEMM planners need to know about a conv or linear op. */
interface Gemm {
  /** GEMM sizes: M pixels (rows), N output channels, K = kh * kw * cin. */
  m: number;
  n: number;
  k: number;
  cin: number;
  /** Elements of the input tensor (im2col reads each about kh * kw times, mostly from L2). */
  inputElements: number;
  geom: string;
  input: View;
  weight: string;
  bias: string | null;
  pre: PreOp | null;
  residual: View | null;
  act: Activation;
  output: View;
  /** Whether a GEMV (few rows, 1x1) may take it. */
  isLinear: boolean;
}

function convGeom(g: {
  n: number;
  h: number;
  w: number;
  cin: number;
  input: View;
  cout: number;
  output: View;
  residual: View | null;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  oh: number;
  ow: number;
}): string {
  return tmpl("reef::ConvGeom", [
    g.n,
    g.h,
    g.w,
    g.cin,
    g.input.channels,
    g.input.offset,
    g.cout,
    g.output.channels,
    g.output.offset,
    g.residual?.channels ?? 0,
    g.residual?.offset ?? 0,
    g.kh,
    g.kw,
    g.sh,
    g.sw,
    g.ph,
    g.pw,
    g.dh,
    g.dw,
    g.oh,
    g.ow,
  ]);
}

function conv2d(op: Conv2dOp, ctx: Context): OpInstance {
  requireInts(ctx, { n: op.n, h: op.h, w: op.w, cin: op.cin, cout: op.cout, kh: op.kh }, 1);
  requireInts(ctx, { kw: op.kw, strideH: op.strideH, strideW: op.strideW }, 1);
  requireInts(ctx, { dilationH: op.dilationH, dilationW: op.dilationW, groups: op.groups }, 1);
  requireInts(ctx, { padH: op.padH, padW: op.padW }, 0);
  requireWindow(ctx, "h", {
    in: op.h,
    out: op.oh,
    k: op.kh,
    s: op.strideH,
    p: op.padH,
    d: op.dilationH,
  }, false);
  requireWindow(ctx, "w", {
    in: op.w,
    out: op.ow,
    k: op.kw,
    s: op.strideW,
    p: op.padW,
    d: op.dilationW,
  }, false);
  requireView(ctx, "input", op.input, op.cin);
  requireView(ctx, "output", op.output, op.cout);
  if (op.residual) requireView(ctx, "residual", op.residual, op.cout);
  const geom = convGeom({
    n: op.n,
    h: op.h,
    w: op.w,
    cin: op.cin,
    input: op.input,
    cout: op.cout,
    output: op.output,
    residual: op.residual,
    kh: op.kh,
    kw: op.kw,
    sh: op.strideH,
    sw: op.strideW,
    ph: op.padH,
    pw: op.padW,
    dh: op.dilationH,
    dw: op.dilationW,
    oh: op.oh,
    ow: op.ow,
  });
  if (op.groups !== 1) {
    if (op.groups === op.cin && op.cout === op.cin) return depthwise(op, geom, ctx);
    fail(
      ctx,
      `field "groups" is ${op.groups}; only 1 or cin = cout (depthwise) are generated ` +
        `(cin ${op.cin}, cout ${op.cout})`,
    );
  }
  return gemm({
    m: op.n * op.oh * op.ow,
    n: op.cout,
    k: op.kh * op.kw * op.cin,
    cin: op.cin,
    inputElements: op.n * op.h * op.w * op.cin,
    geom,
    input: op.input,
    weight: op.weight,
    bias: op.bias,
    pre: op.pre,
    residual: op.residual,
    act: op.act,
    output: op.output,
    isLinear: false,
  }, ctx);
}

function linear(op: LinearOp, ctx: Context): OpInstance {
  requireInts(ctx, { m: op.m, in: op.in, out: op.out }, 1);
  requireView(ctx, "input", op.input, op.in);
  requireView(ctx, "output", op.output, op.out);
  if (op.residual) requireView(ctx, "residual", op.residual, op.out);
  const geom = convGeom({
    n: 1,
    h: op.m,
    w: 1,
    cin: op.in,
    input: op.input,
    cout: op.out,
    output: op.output,
    residual: op.residual,
    kh: 1,
    kw: 1,
    sh: 1,
    sw: 1,
    ph: 0,
    pw: 0,
    dh: 1,
    dw: 1,
    oh: op.m,
    ow: 1,
  });
  return gemm({
    m: op.m,
    n: op.out,
    k: op.in,
    cin: op.in,
    inputElements: op.m * op.in,
    geom,
    input: op.input,
    weight: op.weight,
    bias: op.bias,
    pre: null,
    residual: op.residual,
    act: op.act,
    output: op.output,
    isLinear: true,
  }, ctx);
}

/** Whether the tensor-core path takes a GEMM: fp16 on NVIDIA with 16-byte aligned inputs. */
function mmaEligible(g: Gemm, ctx: Context): boolean {
  const even = (v: number) => v % 2 === 0;
  return ctx.precision === "float16" && ctx.target === "cuda" &&
    g.cin % 8 === 0 && g.input.channels % 8 === 0 && g.input.offset % 8 === 0 &&
    even(g.n) && even(g.output.channels) && even(g.output.offset) &&
    (g.residual === null || (even(g.residual.channels) && even(g.residual.offset)));
}

interface GemmPlan {
  body: string;
  path: TemplatePath;
  grid: [number, number, number];
  threads: number;
  smem: number;
  split: number;
  estimate: KernelEstimate;
}

function gemm(g: Gemm, ctx: Context): OpInstance {
  let plan: GemmPlan;
  if (g.isLinear && g.m <= GEMV_MAX_ROWS) {
    plan = planGemv(g, ctx);
  } else if (mmaEligible(g, ctx)) {
    plan = planMma(g, ctx);
  } else {
    plan = planSimt(g, ctx);
  }
  const split = plan.split;
  const tag = plan.path === "gemv" ? "gemv" : g.isLinear ? "linear" : "conv";
  const workspace: Workspace | null = split > 1
    ? {
      name: `ws_${g.output.storage}_${g.output.offset}`,
      size: split * g.m * g.n,
      stype: "float32",
    }
    : null;
  const t = ctx.t;
  const operands: Operand[] = [{ name: "x", ctype: `const ${t}*`, storage: g.input.storage }, {
    name: "w",
    ctype: `const ${t}*`,
    storage: g.weight,
  }];
  if (plan.path !== "gemv") {
    // Split-K partials skip the epilogue: bias and residual go to the reduce kernel.
    operands.push(
      { name: "bias", ctype: "const float*", storage: split > 1 ? null : g.bias },
      {
        name: "res",
        ctype: `const ${t}*`,
        storage: split > 1 ? null : g.residual?.storage ?? null,
      },
      { name: "pre_scale", ctype: "const float*", storage: g.pre?.scale ?? null },
      { name: "pre_shift", ctype: "const float*", storage: g.pre?.shift ?? null },
    );
  } else {
    operands.push(
      { name: "bias", ctype: "const float*", storage: split > 1 ? null : g.bias },
      {
        name: "res",
        ctype: `const ${t}*`,
        storage: split > 1 ? null : g.residual?.storage ?? null,
      },
    );
  }
  operands.push(
    { name: "y", ctype: `${t}*`, storage: split > 1 ? null : g.output.storage },
    { name: "ws", ctype: "float*", storage: workspace?.name ?? null },
  );
  const main = spec(
    plan.path,
    tag,
    plan.body,
    operands,
    plan.grid,
    plan.threads,
    plan.smem,
    plan.estimate,
  );
  if (workspace === null) return { kernels: [main], workspace: null };
  return { kernels: [main, splitReduce(g, split, workspace, ctx)], workspace };
}

/** SPLIT, ACT, HAS_BIAS, HAS_RES; split-K partials leave the epilogue to the reduce kernel. */
function epilogueArgs(g: Gemm, split: number): (string | number | boolean)[] {
  if (split > 1) return [split, ACT_CODES.none, false, false];
  return [split, ACT_CODES[g.act], g.bias !== null, g.residual !== null];
}

function planMma(g: Gemm, ctx: Context): GemmPlan {
  const dev = ctx.device;
  const bk = g.k >= 128 ? 64 : 32;
  const stages = bk === 64 ? 3 : 4;
  let best: (GemmPlan & { total: number }) | null = null;
  for (const tile of MMA_TILES) {
    const threads = 32 * (tile.bm / tile.wm) * (tile.bn / tile.wn);
    // The stages, then the two 16-byte slots of the BE build's flag copies (PipelineCheck).
    const smem = stages * (tile.bm + tile.bn) * bk * 2 + MMA_FLAG_SLOT_BYTES;
    if (smem > dev.maxSharedPerBlock) continue;
    const fragments = (tile.wm / 16) * (tile.wn / 8);
    // Registers as ptxas allocates them (nvcc 13.0: 170 at 128 x 128, about 110 at 64 x 64).
    const occ = occupancy(dev, threads, smem, 72 + 6 * fragments);
    const tripUs = (2 * tile.bm * tile.bn * bk) / (dev.mmaFlopsPerUsPerSm * tile.eff);
    const checkEvery = mmaCheckEvery(tile.bm, tile.bn, bk);
    for (const split of SPLITS) {
      const kTiles = cdiv(g.k, bk);
      const perSplit = cdiv(kTiles, split);
      if (split > 1 && (perSplit < 2 || (split - 1) * perSplit >= kTiles)) continue;
      const mTiles = cdiv(g.m, tile.bm), nTiles = cdiv(g.n, tile.bn);
      const blocks = mTiles * nTiles * split;
      if (nTiles > 65535 || split > 65535) continue;
      const estimate = gemmEstimate(g, ctx, {
        blocks,
        occ,
        tripUs: tripUs * checkEvery,
        trips: perSplit / checkEvery,
        mTiles,
        nTiles,
        split,
      });
      const total = estimate.kernelUs + (split > 1 ? splitCost(g, split, dev) : 0);
      if (best === null || total < best.total - 1e-9) {
        best = {
          body: tmpl("reef::conv_mma_body", [
            g.geom,
            tile.bm,
            tile.bn,
            bk,
            tile.wm,
            tile.wn,
            stages,
            ...epilogueArgs(g, split),
            g.pre !== null,
            checkEvery,
          ]),
          path: "conv_mma",
          grid: [mTiles, nTiles, split],
          threads,
          smem,
          split,
          estimate,
          total,
        };
      }
    }
  }
  if (best === null) fail(ctx, "no tensor-core tile fits the shared memory");
  return best;
}

function planSimt(g: Gemm, ctx: Context): GemmPlan {
  const dev = ctx.device;
  let best: (GemmPlan & { total: number }) | null = null;
  for (const tile of SIMT_TILES) {
    const threads = (tile.bm / tile.tm) * (tile.bn / tile.tn);
    const smem = 2 * SIMT_BK * (tile.bm + 4 + tile.bn + 4) * 4;
    const occ = occupancy(dev, threads, smem, 40 + 2 * tile.tm * tile.tn);
    const tripUs = (2 * tile.bm * tile.bn * SIMT_BK) / (dev.simtFlopsPerUsPerSm * tile.eff);
    for (const split of SPLITS) {
      const share = sharing(dev, cdiv(g.m, tile.bm) * cdiv(g.n, tile.bn) * split, occ);
      const mask = [3, 1, 0].find((m) => (m + 1) * share * tripUs <= SIMT_CHECK_TARGET_US) ?? 0;
      const kTiles = cdiv(g.k, SIMT_BK);
      const perSplit = cdiv(kTiles, split);
      if (split > 1 && (perSplit < 4 || (split - 1) * perSplit >= kTiles)) continue;
      const mTiles = cdiv(g.m, tile.bm), nTiles = cdiv(g.n, tile.bn);
      if (nTiles > 65535) continue;
      const blocks = mTiles * nTiles * split;
      const estimate = gemmEstimate(g, ctx, {
        blocks,
        occ,
        tripUs: tripUs * (mask + 1),
        trips: perSplit / (mask + 1),
        mTiles,
        nTiles,
        split,
      });
      const total = estimate.kernelUs + (split > 1 ? splitCost(g, split, dev) : 0);
      if (best === null || total < best.total - 1e-9) {
        best = {
          body: tmpl("reef::conv_simt_body", [
            ctx.t,
            g.geom,
            tile.bm,
            tile.bn,
            SIMT_BK,
            tile.tm,
            tile.tn,
            ...epilogueArgs(g, split),
            g.pre !== null,
            mask,
          ]),
          path: "conv_simt",
          grid: [mTiles, nTiles, split],
          threads,
          smem,
          split,
          estimate,
          total,
        };
      }
    }
  }
  if (best === null) fail(ctx, "no SIMT tile fits");
  return best;
}

/** Time of a tiled GEMM: the larger of its math (in waves of resident blocks) and its bytes. */
function gemmEstimate(
  g: Gemm,
  ctx: Context,
  s: {
    blocks: number;
    occ: number;
    tripUs: number;
    trips: number;
    mTiles: number;
    nTiles: number;
    split: number;
  },
): KernelEstimate {
  const dev = ctx.device;
  const share = sharing(dev, s.blocks, s.occ);
  const waves = cdiv(s.blocks, dev.sms * s.occ);
  const computeUs = waves * share * s.trips * s.tripUs;
  // DRAM: each tensor once (input, weights, output and residual); L2: the im2col gathers and
  // the operand re-reads of the other tiles. A grid smaller than the GPU pulls less bandwidth
  // (an SM streams about twice its fair share at most).
  const outputs = g.m * g.n * (g.residual ? 2 : 1);
  const unique = (g.inputElements + g.n * g.k + outputs) * ctx.bytes;
  const l2 = (g.m * g.k * s.nTiles + g.n * g.k * (s.mTiles - 1)) * ctx.bytes;
  const partials = s.split > 1 ? s.split * g.m * g.n * 4 : 0;
  const fraction = Math.min(1, (2 * s.blocks) / dev.sms);
  const memoryUs = ((unique + partials) / dev.dramBytesPerUs + l2 / dev.l2BytesPerUs) / fraction;
  return { kernelUs: Math.max(computeUs, memoryUs) + 1, stretchUs: share * s.tripUs + 0.5 };
}

/** The price of splitting K: a second launch that reads the partials back. */
function splitCost(g: Gemm, split: number, dev: DeviceModel): number {
  return dev.launchUs + (split * g.m * g.n * 4) / dev.dramBytesPerUs;
}

function planGemv(g: Gemm, ctx: Context): GemmPlan {
  const dev = ctx.device;
  const v = vectorWidth(ctx.bytes, [g.k, g.input.channels, g.input.offset]);
  const warps = STREAM_THREADS / dev.warpSize;
  const rows = 1;
  const blocks = cdiv(g.n, warps * rows);
  const occ = occupancy(dev, STREAM_THREADS, 0, 64);
  const perSm = dev.dramBytesPerUs / dev.sms;
  const step = v * dev.warpSize;
  let best: (GemmPlan & { total: number }) | null = null;
  for (const split of SPLITS) {
    const gridBlocks = blocks * split;
    if (split > 1 && gridBlocks > 2 * dev.sms * occ) break;
    const share = sharing(dev, gridBlocks, occ);
    // Largest chunk whose bytes (every warp of the block, every block sharing the SM) stream
    // within the target: the stretch between two checks.
    let chunk = step;
    while (
      chunk * 2 <= 8192 && chunk * 2 <= Math.max(step, g.k) &&
      (share * warps * rows * chunk * 2 * ctx.bytes) / perSm <= GEMV_CHUNK_TARGET_US
    ) {
      chunk *= 2;
    }
    const chunks = cdiv(g.k, chunk);
    const perSplit = cdiv(chunks, split);
    if (split > 1 && (split - 1) * perSplit >= chunks) continue;
    // Bandwidth needs about 16 warps streaming per SM.
    const activeWarps = Math.min(gridBlocks, dev.sms * occ) * warps;
    const fraction = Math.min(1, activeWarps / (dev.sms * 16));
    const bytes = (g.n * g.k + g.m * g.k + g.m * g.n) * ctx.bytes;
    const kernelUs = bytes / (dev.dramBytesPerUs * fraction) + 1;
    const stretchUs = (share * warps * rows * chunk * ctx.bytes) / perSm + 0.5;
    const total = kernelUs + (split > 1 ? splitCost(g, split, dev) : 0);
    if (best === null || total < best.total - 1e-9) {
      best = {
        body: tmpl("reef::gemv_body", [
          ctx.t,
          g.geom,
          v,
          warps,
          rows,
          chunk,
          ...epilogueArgs(g, split),
        ]),
        path: "gemv",
        grid: [blocks, split, 1],
        threads: STREAM_THREADS,
        smem: 0,
        split,
        estimate: { kernelUs, stretchUs },
        total,
      };
    }
  }
  if (best === null) fail(ctx, "no GEMV plan fits");
  return best;
}

function splitReduce(g: Gemm, split: number, ws: Workspace, ctx: Context): KernelSpec {
  const out = g.output, res = g.residual;
  const values = [g.n, out.channels, out.offset, ...(res ? [res.channels, res.offset] : [])];
  const v = vectorWidth(ctx.bytes, values, 4);
  const threads = STREAM_THREADS;
  const blocks = cdiv((g.m * g.n) / v, threads);
  const body = tmpl("reef::splitk_reduce_body", [
    ctx.t,
    g.geom,
    split,
    v,
    threads,
    ACT_CODES[g.act],
    g.bias !== null,
    res !== null,
  ]);
  const bytes = split * g.m * g.n * 4 + g.m * g.n * ctx.bytes * (res ? 2 : 1);
  return spec(
    "splitk_reduce",
    "reduce",
    body,
    [
      { name: "ws", ctype: "const float*", storage: ws.name },
      { name: "bias", ctype: "const float*", storage: g.bias },
      { name: "res", ctype: `const ${ctx.t}*`, storage: res?.storage ?? null },
      { name: "y", ctype: `${ctx.t}*`, storage: out.storage },
    ],
    [blocks, 1, 1],
    threads,
    0,
    streamEstimate(ctx.device, bytes, blocks, bytes / blocks, 8),
  );
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution

function depthwise(op: Conv2dOp, geom: string, ctx: Context): OpInstance {
  const dev = ctx.device;
  const c = op.cout;
  const res = op.residual;
  const cv = vectorWidth(ctx.bytes, [
    c,
    op.input.channels,
    op.input.offset,
    op.output.channels,
    op.output.offset,
    ...(res ? [res.channels, res.offset] : []),
  ]);
  const m = op.n * op.oh * op.ow;
  const items = (m * c) / cv;
  const threads = items >= dev.sms * STREAM_THREADS ? STREAM_THREADS : 128;
  // Channel tile: the widest of 64, 32, ... channels that divides the layer and still gives a
  // block per SM (wide tiles keep a warp's loads contiguous); else the narrowest, which gives the
  // most blocks to the late layers with few pixels. Threads per pixel = tile channels / cv.
  const tiles: number[] = [];
  for (let t = 64; t >= cv; t /= 2) {
    if (t % cv === 0 && c % t === 0 && threads % (t / cv) === 0) tiles.push(t);
  }
  if (tiles.length === 0) tiles.push(cv);
  const ctile = tiles.find((t) => cdiv(c, t) * cdiv(m, threads / (t / cv)) >= dev.sms) ??
    tiles[tiles.length - 1];
  const pixelRows = threads / (ctile / cv);
  const channelTiles = cdiv(c, ctile);
  const wantPixelTiles = Math.max(1, cdiv(2 * dev.sms, channelTiles));
  const ptile = Math.min(
    pixelRows * 8,
    Math.max(pixelRows, Math.ceil(cdiv(m, wantPixelTiles) / pixelRows) * pixelRows),
  );
  const pixelTiles = cdiv(m, ptile);
  if (channelTiles > 65535) fail(ctx, `${channelTiles} channel tiles exceed the grid`);
  const taps = op.kh * op.kw;
  const smem = taps * ctile * 4;
  const body = tmpl("reef::depthwise_body", [
    ctx.t,
    geom,
    cv,
    ctile,
    ptile,
    threads,
    ACT_CODES[op.act],
    op.bias !== null,
    res !== null,
    op.pre !== null,
  ]);
  const blocks = pixelTiles * channelTiles;
  const bytes = (op.n * op.h * op.w * c + m * c * (res ? 2 : 1) + taps * c) * ctx.bytes;
  const t = ctx.t;
  return {
    kernels: [spec(
      "depthwise",
      "dwconv",
      body,
      [
        { name: "x", ctype: `const ${t}*`, storage: op.input.storage },
        { name: "w", ctype: `const ${t}*`, storage: op.weight },
        { name: "bias", ctype: "const float*", storage: op.bias },
        { name: "res", ctype: `const ${t}*`, storage: res?.storage ?? null },
        { name: "pre_scale", ctype: "const float*", storage: op.pre?.scale ?? null },
        { name: "pre_shift", ctype: "const float*", storage: op.pre?.shift ?? null },
        { name: "y", ctype: `${t}*`, storage: op.output.storage },
      ],
      [pixelTiles, channelTiles, 1],
      threads,
      smem,
      streamEstimate(dev, bytes * 1.5, blocks, (bytes * 1.5) / blocks, 8),
    )],
    workspace: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Pooling

function pool2d(op: Pool2dOp, ctx: Context): OpInstance {
  requireInts(ctx, { n: op.n, h: op.h, w: op.w, c: op.c, kh: op.kh, kw: op.kw }, 1);
  requireInts(ctx, { strideH: op.strideH, strideW: op.strideW, oh: op.oh, ow: op.ow }, 1);
  requireInts(ctx, { padH: op.padH, padW: op.padW }, 0);
  requireWindow(
    ctx,
    "h",
    { in: op.h, out: op.oh, k: op.kh, s: op.strideH, p: op.padH, d: 1 },
    true,
  );
  requireWindow(
    ctx,
    "w",
    { in: op.w, out: op.ow, k: op.kw, s: op.strideW, p: op.padW, d: 1 },
    true,
  );
  // In ceil mode the last window must still start inside the input or its left padding.
  if ((op.oh - 1) * op.strideH >= op.h + op.padH || (op.ow - 1) * op.strideW >= op.w + op.padW) {
    fail(ctx, "the last pooling window starts past the input");
  }
  requireView(ctx, "input", op.input, op.c);
  requireView(ctx, "output", op.output, op.c);
  const geom = convGeom({
    n: op.n,
    h: op.h,
    w: op.w,
    cin: op.c,
    input: op.input,
    cout: op.c,
    output: op.output,
    residual: null,
    kh: op.kh,
    kw: op.kw,
    sh: op.strideH,
    sw: op.strideW,
    ph: op.padH,
    pw: op.padW,
    dh: 1,
    dw: 1,
    oh: op.oh,
    ow: op.ow,
  });
  const cv = vectorWidth(ctx.bytes, [
    op.c,
    op.input.channels,
    op.input.offset,
    op.output.channels,
    op.output.offset,
  ]);
  const threads = STREAM_THREADS;
  const items = (op.n * op.oh * op.ow * op.c) / cv;
  const blocks = cdiv(items, threads);
  const body = tmpl("reef::pool2d_body", [
    ctx.t,
    geom,
    op.mode === "max",
    op.countIncludePad,
    op.pre !== null,
    cv,
    threads,
  ]);
  const bytes = (op.n * op.oh * op.ow * op.c * (op.kh * op.kw + 1)) * ctx.bytes;
  return {
    kernels: [spec(
      "pool2d",
      "pool",
      body,
      [
        { name: "x", ctype: `const ${ctx.t}*`, storage: op.input.storage },
        { name: "pre_scale", ctype: "const float*", storage: op.pre?.scale ?? null },
        { name: "pre_shift", ctype: "const float*", storage: op.pre?.shift ?? null },
        { name: "y", ctype: `${ctx.t}*`, storage: op.output.storage },
      ],
      [blocks, 1, 1],
      threads,
      0,
      streamEstimate(ctx.device, bytes / 2, blocks, bytes / blocks, 8),
    )],
    workspace: null,
  };
}

function globalAvgPool(op: GlobalAvgPoolOp, ctx: Context): OpInstance {
  requireInts(ctx, { n: op.n, h: op.h, w: op.w, c: op.c }, 1);
  requireView(ctx, "input", op.input, op.c);
  requireView(ctx, "output", op.output, op.c);
  if (op.n > 65535) fail(ctx, `field "n" is ${op.n}, more than a grid dimension holds`);
  const cv = vectorWidth(ctx.bytes, [
    op.c,
    op.input.channels,
    op.input.offset,
    op.output.channels,
    op.output.offset,
  ]);
  const vectors = op.c / cv;
  const hw = op.h * op.w;
  // Channel vectors per block: enough blocks for a good share of the SMs.
  let cg = 32;
  while (cg > 1 && (cdiv(vectors, cg) * op.n < ctx.device.sms / 2 || cg > vectors)) cg /= 2;
  // The rest of the 256 threads split the pixels, but no more rows than pixels (rounded up to a
  // power of two), and never less than a warp in all.
  const pixelRows = Math.min(STREAM_THREADS / cg, 2 ** Math.ceil(Math.log2(hw)));
  const threads = Math.max(ctx.device.warpSize, cg * pixelRows);
  const rows = threads / cg;
  const smem = rows > 1 ? rows * cg * cv * 4 : 0;
  const body = tmpl("reef::global_avgpool_body", [
    ctx.t,
    hw,
    op.c,
    op.input.channels,
    op.input.offset,
    op.output.channels,
    op.output.offset,
    op.pre !== null,
    cv,
    cg,
    rows,
  ]);
  const blocks = cdiv(vectors, cg) * op.n;
  const bytes = op.n * (hw + 1) * op.c * ctx.bytes;
  return {
    kernels: [spec(
      "global_avgpool",
      "gap",
      body,
      [
        { name: "x", ctype: `const ${ctx.t}*`, storage: op.input.storage },
        { name: "pre_scale", ctype: "const float*", storage: op.pre?.scale ?? null },
        { name: "pre_shift", ctype: "const float*", storage: op.pre?.shift ?? null },
        { name: "y", ctype: `${ctx.t}*`, storage: op.output.storage },
      ],
      [cdiv(vectors, cg), op.n, 1],
      threads,
      smem,
      streamEstimate(ctx.device, bytes, blocks, bytes / blocks, 8),
    )],
    workspace: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Row-wise ops: layer norm, embedding

/** Threads for a row of `dim` elements read as vectors of `v`: one vector each, warp multiple. */
function rowThreads(dim: number, v: number, dev: DeviceModel): number {
  const needed = cdiv(dim / v, dev.warpSize) * dev.warpSize;
  return Math.min(Math.max(needed, dev.warpSize), 256);
}

function layerNorm(op: LayerNormOp, ctx: Context): OpInstance {
  requireInts(ctx, { rows: op.rows, dim: op.dim }, 1);
  if (!(op.eps > 0)) fail(ctx, `field "eps" must be positive, got "${op.eps}"`);
  requireView(ctx, "input", op.input, op.dim);
  requireView(ctx, "output", op.output, op.dim);
  const res = op.residual;
  if (res) requireView(ctx, "residual", res, op.dim);
  const v = vectorWidth(ctx.bytes, [
    op.dim,
    op.input.channels,
    op.input.offset,
    op.output.channels,
    op.output.offset,
    ...(res ? [res.channels, res.offset] : []),
  ]);
  const threads = rowThreads(op.dim, v, ctx.device);
  const body = tmpl("reef::layernorm_body", [
    ctx.t,
    op.dim,
    op.input.channels,
    op.input.offset,
    res?.channels ?? 0,
    res?.offset ?? 0,
    op.output.channels,
    op.output.offset,
    v,
    threads,
    res !== null,
    floatBits(op.eps),
  ]);
  const bytes = op.rows * op.dim * ctx.bytes * (res ? 3 : 2);
  return {
    kernels: [spec(
      "layernorm",
      "ln",
      body,
      [
        { name: "x", ctype: `const ${ctx.t}*`, storage: op.input.storage },
        { name: "res", ctype: `const ${ctx.t}*`, storage: res?.storage ?? null },
        { name: "gamma", ctype: "const float*", storage: op.gamma },
        { name: "beta", ctype: "const float*", storage: op.beta },
        { name: "y", ctype: `${ctx.t}*`, storage: op.output.storage },
      ],
      [op.rows, 1, 1],
      threads,
      (threads / ctx.device.warpSize) * 4,
      streamEstimate(ctx.device, bytes, op.rows, bytes / op.rows, 8),
    )],
    workspace: null,
  };
}

function embedding(op: EmbeddingOp, ctx: Context): OpInstance {
  requireInts(ctx, { n: op.n, seq: op.seq, dim: op.dim, vocab: op.vocab }, 1);
  if (!(op.eps > 0)) fail(ctx, `field "eps" must be positive, got "${op.eps}"`);
  requireView(ctx, "output", op.output, op.dim);
  const v = vectorWidth(ctx.bytes, [op.dim, op.output.channels, op.output.offset]);
  const threads = rowThreads(op.dim, v, ctx.device);
  const rows = op.n * op.seq;
  const body = tmpl("reef::embedding_body", [
    ctx.t,
    op.seq,
    op.dim,
    op.vocab,
    op.output.channels,
    op.output.offset,
    v,
    threads,
    op.tokenType !== null,
    floatBits(op.eps),
  ]);
  const bytes = rows * op.dim * ctx.bytes * 4;
  return {
    kernels: [spec(
      "embedding",
      "emb",
      body,
      [
        { name: "ids", ctype: "const int*", storage: op.ids },
        { name: "word", ctype: `const ${ctx.t}*`, storage: op.word },
        { name: "position", ctype: `const ${ctx.t}*`, storage: op.position },
        { name: "token_type", ctype: `const ${ctx.t}*`, storage: op.tokenType },
        { name: "gamma", ctype: "const float*", storage: op.gamma },
        { name: "beta", ctype: "const float*", storage: op.beta },
        { name: "y", ctype: `${ctx.t}*`, storage: op.output.storage },
      ],
      [rows, 1, 1],
      threads,
      (threads / ctx.device.warpSize) * 4,
      streamEstimate(ctx.device, bytes, rows, bytes / rows, 8),
    )],
    workspace: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Attention and element-wise add

function attention(op: AttentionOp, ctx: Context): OpInstance {
  requireInts(ctx, { n: op.n, seq: op.seq, heads: op.heads, headDim: op.headDim }, 1);
  if (!(op.scale > 0)) fail(ctx, `field "scale" must be positive, got "${op.scale}"`);
  const width = op.heads * op.headDim;
  requireView(ctx, "q", op.q, width);
  requireView(ctx, "k", op.k, width);
  requireView(ctx, "v", op.v, width);
  requireView(ctx, "output", op.output, width);
  const threads = 128;
  if (op.headDim % 4 !== 0 || threads % op.headDim !== 0) {
    fail(ctx, `field "headDim" is ${op.headDim}; it must be a multiple of 4 dividing ${threads}`);
  }
  if (op.seq % 4 !== 0) fail(ctx, `field "seq" is ${op.seq}; it must be a multiple of 4`);
  const rowStep = threads / op.headDim;
  const qt = [16, 8, 4, 2, 1].find((q) => op.seq % q === 0 && q % rowStep === 0);
  if (qt === undefined) {
    fail(ctx, `no query tile divides seq ${op.seq} in steps of ${rowStep} rows`);
  }
  const smem = (op.seq * (op.headDim + 4) + qt * op.headDim + qt * (op.seq + 4) + qt) * 4;
  if (smem > ctx.device.maxSharedPerBlock) {
    fail(ctx, `seq ${op.seq} needs ${smem} bytes of shared memory, more than a block has`);
  }
  const views = [op.q, op.k, op.v];
  const vl = vectorWidth(ctx.bytes, [op.headDim, ...views.flatMap((x) => [x.channels, x.offset])]);
  const body = tmpl("reef::attention_body", [
    ctx.t,
    op.seq,
    op.headDim,
    op.q.channels,
    op.q.offset,
    op.k.channels,
    op.k.offset,
    op.v.channels,
    op.v.offset,
    op.output.channels,
    op.output.offset,
    vl,
    qt,
    threads,
    floatBits(op.scale),
  ]);
  const grid: [number, number, number] = [op.seq / qt, op.heads, op.n];
  if (op.heads > 65535 || op.n > 65535) fail(ctx, "heads or n exceed a grid dimension");
  const blocks = grid[0] * grid[1] * grid[2];
  const blockFlops = 4 * qt * op.seq * op.headDim;
  const occ = occupancy(ctx.device, threads, smem, 64);
  const share = sharing(ctx.device, blocks, occ);
  const blockUs = blockFlops / (ctx.device.simtFlopsPerUsPerSm * 0.3);
  return {
    kernels: [spec(
      "attention",
      "attn",
      body,
      [
        { name: "q", ctype: `const ${ctx.t}*`, storage: op.q.storage },
        { name: "k", ctype: `const ${ctx.t}*`, storage: op.k.storage },
        { name: "v", ctype: `const ${ctx.t}*`, storage: op.v.storage },
        { name: "y", ctype: `${ctx.t}*`, storage: op.output.storage },
      ],
      grid,
      threads,
      smem,
      {
        kernelUs: cdiv(blocks, ctx.device.sms * occ) * share * blockUs + 1,
        stretchUs: share * blockUs + 0.5,
      },
    )],
    workspace: null,
  };
}

function add(op: AddOp, ctx: Context): OpInstance {
  requireInts(ctx, { pixels: op.pixels, c: op.c }, 1);
  requireView(ctx, "a", op.a, op.c);
  requireView(ctx, "b", op.b, op.c);
  requireView(ctx, "output", op.output, op.c);
  const cv = vectorWidth(ctx.bytes, [
    op.c,
    ...[op.a, op.b, op.output].flatMap((x) => [x.channels, x.offset]),
  ]);
  const threads = STREAM_THREADS;
  const blocks = cdiv((op.pixels * op.c) / cv, threads);
  const body = tmpl("reef::add_body", [
    ctx.t,
    op.pixels,
    op.c,
    op.a.channels,
    op.a.offset,
    op.b.channels,
    op.b.offset,
    op.output.channels,
    op.output.offset,
    cv,
    threads,
    ACT_CODES[op.act],
  ]);
  const bytes = 3 * op.pixels * op.c * ctx.bytes;
  return {
    kernels: [spec(
      "add",
      "add",
      body,
      [
        { name: "a", ctype: `const ${ctx.t}*`, storage: op.a.storage },
        { name: "bb", ctype: `const ${ctx.t}*`, storage: op.b.storage },
        { name: "y", ctype: `${ctx.t}*`, storage: op.output.storage },
      ],
      [blocks, 1, 1],
      threads,
      0,
      streamEstimate(ctx.device, bytes, blocks, bytes / blocks, 8),
    )],
    workspace: null,
  };
}
