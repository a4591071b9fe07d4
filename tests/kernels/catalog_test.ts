import assert from "node:assert/strict";
import {
  GEMV_MAX_ROWS,
  instantiate,
  type KernelSpec,
  mmaCheckEvery,
  type Target,
} from "../../src/kernels/catalog.ts";
import type { Conv2dOp, KernelOp, Precision } from "../../src/kernels/ops.ts";
import { gpuCases } from "../gpu/kernels/cases.ts";
import { conv, linear, representativeOps, view } from "./representative_ops.ts";
import { smallCases } from "./small_cases.ts";

/** The template's integer arguments after its geometry (`ConvGeom<...>`), in order. */
function tileArgs(spec: KernelSpec): number[] {
  const afterGeom = spec.body.slice(spec.body.indexOf(">") + 1);
  return afterGeom.split(",").map((s) => s.trim()).filter((s) => /^\d+>?$/.test(s))
    .map((s) => parseInt(s));
}

/** The 21 integers of the ConvGeom a GEMM body was instantiated with. */
function geomArgs(spec: KernelSpec): number[] {
  const start = spec.body.indexOf("ConvGeom<") + "ConvGeom<".length;
  return spec.body.slice(start, spec.body.indexOf(">", start)).split(",").map(Number);
}

function allOps(): { op: KernelOp; precision: Precision }[] {
  const ops = [...gpuCases(), ...smallCases()].map((c) => ({ op: c.op, precision: c.precision }));
  for (const op of representativeOps()) {
    ops.push({ op, precision: "float16" }, { op, precision: "float32" });
  }
  return ops;
}

Deno.test("every kernel fits the device: block, shared memory, grid limits, check stretch", () => {
  for (const target of ["cuda", "hip"] as Target[]) {
    const sharedLimit = target === "cuda" ? 227 * 1024 : 64 * 1024;
    for (const { op, precision } of allOps()) {
      const instance = instantiate(op, precision, target);
      assert.ok(instance.kernels.length === 1 || instance.kernels.length === 2);
      for (const k of instance.kernels) {
        const where = `${target} ${precision} ${k.path} ${k.body.slice(0, 80)}`;
        assert.ok(k.block[0] >= 32 && k.block[0] <= 1024 && k.block[0] % 32 === 0, where);
        assert.ok(k.sharedMemory >= 0 && k.sharedMemory <= sharedLimit, where);
        assert.ok(k.grid[0] >= 1 && k.grid[0] < 2 ** 31, where);
        assert.ok(k.grid[1] >= 1 && k.grid[1] <= 65535 && k.grid[2] >= 1 && k.grid[2] <= 65535);
        // Preemption latency on the H100: a block never runs long without a check point
        // (model estimate; the AMD build is a portability path, not tuned for preemption).
        if (target === "cuda") {
          assert.ok(k.estimate.stretchUs < 10, `${where}: stretch ${k.estimate.stretchUs} µs`);
        }
        assert.ok(k.estimate.kernelUs > 0, where);
        if (target === "hip") assert.notEqual(k.path, "conv_mma", where);
      }
    }
  }
});

Deno.test("tensor-core blocks check every 8 or 4 K-tiles, fewer checks for smaller tiles", () => {
  assert.equal(mmaCheckEvery(32, 32, 64), 8);
  assert.equal(mmaCheckEvery(32, 32, 32), 8);
  assert.equal(mmaCheckEvery(64, 32, 64), 4);
  assert.equal(mmaCheckEvery(64, 64, 32), 4);
  assert.equal(mmaCheckEvery(64, 64, 64), 4);
  assert.equal(mmaCheckEvery(128, 128, 64), 4);
  // The generated body carries it as its last template argument.
  const k = instantiate(linear("x", 33, 1112, 40, "relu"), "float16", "cuda").kernels[0];
  assert.equal(k.path, "conv_mma");
  assert.equal(tileArgs(k).at(-1), mmaCheckEvery(tileArgs(k)[0], tileArgs(k)[1], tileArgs(k)[2]));
});

Deno.test("GEMM grids tile the output exactly and every K split has work", () => {
  for (const { op, precision } of allOps()) {
    const instance = instantiate(op, precision, "cuda");
    for (const k of instance.kernels) {
      if (k.path !== "conv_mma" && k.path !== "conv_simt") continue;
      const g = geomArgs(k);
      const [n, cin, cout, kh, kw, oh, ow] = [g[0], g[3], g[6], g[11], g[12], g[19], g[20]];
      const m = n * oh * ow, depth = kh * kw * cin;
      const [bm, bn, bk] = tileArgs(k);
      const split = k.path === "conv_mma" ? tileArgs(k)[6] : tileArgs(k)[5];
      assert.equal(k.grid[0], Math.ceil(m / bm), k.body);
      assert.equal(k.grid[1], Math.ceil(cout / bn), k.body);
      assert.equal(k.grid[2], split, k.body);
      const kTiles = Math.ceil(depth / bk), perSplit = Math.ceil(kTiles / split);
      assert.ok((split - 1) * perSplit < kTiles, `empty K split in ${k.body}`);
      assert.equal(instance.kernels.length, split > 1 ? 2 : 1);
      if (split > 1) {
        assert.equal(instance.workspace?.size, split * m * cout);
        assert.deepEqual(instance.kernels[1].params.map((p) => p.name).at(-1), "y");
        assert.ok(instance.kernels[0].params.some((p) => p.storage === instance.workspace?.name));
      }
    }
  }
});

Deno.test("paths: tensor cores for aligned fp16, SIMT otherwise, GEMV for few rows", () => {
  const aligned = conv("a", { h: 28, w: 28, cin: 64, cout: 64, k: 3 });
  assert.equal(instantiate(aligned, "float16", "cuda").kernels[0].path, "conv_mma");
  assert.equal(instantiate(aligned, "float32", "cuda").kernels[0].path, "conv_simt");
  assert.equal(instantiate(aligned, "float16", "hip").kernels[0].path, "conv_simt");
  const stem = conv("s", { h: 224, w: 224, cin: 3, cout: 64, k: 7 }, { stride: 2, pad: 3 });
  assert.equal(instantiate(stem, "float16", "cuda").kernels[0].path, "conv_simt");
  const unaligned = conv("u", { h: 8, w: 8, cin: 16, cout: 16, k: 1 }, {
    input: view("u_in", 32, 4),
  });
  assert.equal(instantiate(unaligned, "float16", "cuda").kernels[0].path, "conv_simt");
  const dw = conv("d", { h: 56, w: 56, cin: 144, cout: 144, k: 3 }, { groups: 144 });
  assert.equal(instantiate(dw, "float16", "cuda").kernels[0].path, "depthwise");
  assert.equal(
    instantiate(linear("g", GEMV_MAX_ROWS, 512, 64, "none"), "float16", "cuda")
      .kernels[0].path,
    "gemv",
  );
  assert.equal(
    instantiate(linear("m", GEMV_MAX_ROWS + 1, 512, 64, "none"), "float16", "cuda")
      .kernels[0].path,
    "conv_mma",
  );
});

Deno.test("deep K with few outputs splits K; large outputs do not", () => {
  const deep = conv("l4", { h: 7, w: 7, cin: 512, cout: 512, k: 3 });
  const split = instantiate(deep, "float16", "cuda");
  assert.equal(split.kernels.length, 2);
  assert.equal(split.kernels[1].path, "splitk_reduce");
  assert.equal(split.workspace?.stype, "float32");
  assert.equal(split.workspace?.name, "ws_l4_out_0");
  const big = conv("l1", { h: 56, w: 56, cin: 64, cout: 256, k: 1 });
  assert.equal(instantiate(big, "float16", "cuda").kernels.length, 1);
  // Split-K partials leave bias, residual and activation to the reduce kernel.
  const withRes = { ...deep, residual: view("r", 512) };
  const [partials, reduce] = instantiate(withRes, "float16", "cuda").kernels;
  assert.deepEqual(partials.params.map((p) => p.name), ["x", "w", "ws"]);
  assert.deepEqual(reduce.params.map((p) => p.name), ["ws", "bias", "res", "y"]);
});

Deno.test("GEMV streams VGG's first classifier layer with wide loads and short chunks", () => {
  const fc1 = instantiate(linear("fc1", 1, 25088, 4096, "relu"), "float16", "cuda");
  const k = fc1.kernels[0];
  assert.equal(k.path, "gemv");
  // Template arguments after the geometry: V, WARPS, ROWS, KC, SPLIT.
  const [v, warps, rows, chunk] = tileArgs(k);
  assert.equal(v, 8);
  assert.equal(warps * 32, k.block[0]);
  assert.equal(k.grid[0], Math.ceil(4096 / (warps * rows)));
  assert.ok(chunk >= 256 && chunk <= 8192 && chunk % (v * 32) === 0);
  // 205 MB of weights at ~3 TB/s: the estimate is bandwidth-bound.
  assert.ok(k.estimate.kernelUs > 60 && k.estimate.kernelUs < 120, `${k.estimate.kernelUs}`);
});

Deno.test("keys: equal shapes share a kernel whatever the storages; shapes and views do not", () => {
  const a = conv("a", { h: 14, w: 14, cin: 256, cout: 256, k: 3 });
  const b = { ...conv("b", { h: 14, w: 14, cin: 256, cout: 256, k: 3 }) };
  const key = (op: KernelOp) => instantiate(op, "float16", "cuda").kernels[0].key;
  assert.equal(key(a), key(b));
  assert.notEqual(key(a), key({ ...a, output: view("o", 512, 256) }));
  assert.notEqual(key(a), key({ ...a, act: "none" }));
  assert.notEqual(key(a), key({ ...a, bias: null }));
  assert.notEqual(
    instantiate(a, "float16", "cuda").kernels[0].key,
    instantiate(a, "float32", "cuda").kernels[0].key,
  );
});

Deno.test("vector widths follow the alignment of every view", () => {
  const add = (offset: number): KernelOp => ({
    kind: "add",
    pixels: 10,
    c: 16,
    a: view("a", 32, offset),
    b: view("b", 16),
    act: "none",
    output: view("y", 16),
  });
  // add_body<T, PIXELS, C, A_STRIDE, A_OFF, B_STRIDE, B_OFF, OUT_STRIDE, OUT_OFF, CV, NT, ACT>
  const width = (op: KernelOp, p: Precision) => {
    const body = instantiate(op, p, "cuda").kernels[0].body;
    return Number(body.split(",")[9]);
  };
  assert.equal(width(add(0), "float16"), 8);
  assert.equal(width(add(4), "float16"), 4);
  assert.equal(width(add(2), "float16"), 2);
  assert.equal(width(add(1), "float16"), 1);
  assert.equal(width(add(0), "float32"), 4);
});

Deno.test("malformed ops are rejected with the op, field and value in the message", () => {
  const base = conv("bad", { h: 8, w: 8, cin: 16, cout: 32, k: 3 });
  const cases: [KernelOp, RegExp][] = [
    [{ ...base, groups: 4 } as Conv2dOp, /conv2d op writing "bad_out".*"groups" is 4/],
    [{ ...base, oh: 9 }, /field "oh" is 9 but the window gives 8/],
    [{ ...base, output: view("o", 40, 16) }, /"output" window \[16, 48\) of storage "o"/],
    [{ ...base, cin: 0 }, /field "cin" must be an integer >= 1, got "0"/],
    [
      {
        kind: "attention",
        n: 1,
        seq: 8,
        heads: 2,
        headDim: 48,
        scale: 1,
        q: view("q", 96),
        k: view("k", 96),
        v: view("v", 96),
        output: view("o", 96),
      },
      /field "headDim" is 48/,
    ],
    [
      {
        kind: "layernorm",
        rows: 2,
        dim: 8,
        eps: 0,
        input: view("x", 8),
        residual: null,
        gamma: "g",
        beta: "b",
        output: view("y", 8),
      },
      /field "eps" must be positive, got "0"/,
    ],
  ];
  for (const [op, message] of cases) {
    assert.throws(() => instantiate(op, "float16", "cuda"), (e: Error) => {
      assert.match(e.message, /^Cannot instantiate the /);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("pooling accepts ceil-mode output sizes and rejects windows past the input", () => {
  const pool = (oh: number): KernelOp => ({
    kind: "pool2d",
    mode: "max",
    n: 1,
    h: 8,
    w: 8,
    c: 8,
    kh: 3,
    kw: 3,
    strideH: 2,
    strideW: 2,
    padH: 1,
    padW: 1,
    oh,
    ow: oh,
    countIncludePad: true,
    pre: null,
    input: view("x", 8),
    output: view("y", 8),
  });
  assert.equal(instantiate(pool(4), "float16", "cuda").kernels.length, 1);
  assert.equal(instantiate(pool(5), "float16", "cuda").kernels.length, 1);
  assert.throws(() => instantiate(pool(6), "float16", "cuda"), /field "oh" is 6/);
});
