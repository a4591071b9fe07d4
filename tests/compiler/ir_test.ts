import assert from "node:assert/strict";
import { countParameters, GraphBuilder, windowOutputSize } from "../../src/compiler/ir.ts";

Deno.test("windowOutputSize follows PyTorch, including the ceil_mode rule", () => {
  assert.equal(windowOutputSize(224, 7, 2, 3, 1, false), 112);
  assert.equal(windowOutputSize(112, 3, 2, 1, 1, false), 56);
  assert.equal(windowOutputSize(112, 3, 2, 0, 1, true), 56);
  assert.equal(windowOutputSize(112, 3, 2, 0, 1, false), 55);
  assert.equal(windowOutputSize(10, 3, 1, 2, 2, false), 10);
  // ceil_mode would start a last window entirely in the right padding: PyTorch drops it.
  assert.equal(windowOutputSize(5, 2, 2, 1, 1, true), 3);
});

Deno.test("GraphBuilder infers shapes and records state_dict names, shapes and roles", () => {
  const b = new GraphBuilder("t", 2);
  const x = b.input("data", [2, 3, 10, 10]);
  const c = b.conv2d(x, "features.0", { outChannels: 8, kernel: 3, stride: 2, padding: 1 });
  assert.deepEqual(c.shape, [2, 8, 5, 5]);
  const d = b.conv2d(c, "features.1", {
    outChannels: 8,
    kernel: 3,
    padding: 2,
    dilation: 2,
    groups: 8,
    bias: false,
  });
  assert.deepEqual(d.shape, [2, 8, 5, 5]);
  const n = b.batchnorm2d(d, "features.2", { eps: 1e-3 });
  const p = b.maxpool2d(b.relu(n), { kernel: 2, ceilMode: true });
  assert.deepEqual(p.shape, [2, 8, 3, 3]);
  const a = b.adaptiveAvgpool2d(p, [2, 1]);
  assert.deepEqual(a.shape, [2, 8, 2, 1]);
  const f = b.flatten(a);
  assert.deepEqual(f.shape, [2, 16]);
  const y = b.linear(f, "fc", { outFeatures: 4 });
  assert.deepEqual(y.shape, [2, 4]);
  b.output("output", y);
  const g = b.build();
  assert.deepEqual(
    g.params.map((s) => [s.name, s.shape, s.dtype, s.trainable]),
    [
      ["features.0.weight", [8, 3, 3, 3], "float32", true],
      ["features.0.bias", [8], "float32", true],
      ["features.1.weight", [8, 1, 3, 3], "float32", true],
      ["features.2.weight", [8], "float32", true],
      ["features.2.bias", [8], "float32", true],
      ["features.2.running_mean", [8], "float32", false],
      ["features.2.running_var", [8], "float32", false],
      ["features.2.num_batches_tracked", [], "int64", false],
      ["fc.weight", [4, 16], "float32", true],
      ["fc.bias", [4], "float32", true],
    ],
  );
  assert.equal(g.params[0].fanIn, 27);
  assert.equal(g.params[2].fanIn, 9);
  assert.equal(countParameters(g), 8 * 27 + 8 + 8 * 9 + 16 + 4 * 16 + 4);
  assert.deepEqual(g.nodes.map((node) => node.op), [
    "conv2d",
    "conv2d",
    "batchnorm2d",
    "relu",
    "maxpool2d",
    "adaptive_avgpool2d",
    "flatten",
    "linear",
  ]);
  assert.deepEqual(g.outputs, [{ name: "output", tensor: "fc" }]);
});

Deno.test("GraphBuilder infers sequence shapes", () => {
  const b = new GraphBuilder("s", 1);
  const ids = b.input("input_ids", [1, 6], "int32");
  const e = b.embedding(ids, "embeddings", {
    vocab: 10,
    dim: 8,
    maxPositions: 6,
    typeVocab: 2,
    eps: 1e-12,
  });
  assert.deepEqual(e.shape, [1, 6, 8]);
  const q = b.linear(e, "q", { outFeatures: 8 });
  const att = b.attention(q, q, q, 2);
  const first = b.selectFirstToken(b.layernorm(att, "ln", 1e-5));
  assert.deepEqual(first.shape, [1, 8]);
  b.output("output", first);
  const g = b.build();
  assert.deepEqual(
    g.params.slice(0, 5).map((p) => [p.name, p.shape]),
    [
      ["embeddings.word_embeddings.weight", [10, 8]],
      ["embeddings.position_embeddings.weight", [6, 8]],
      ["embeddings.token_type_embeddings.weight", [2, 8]],
      ["embeddings.LayerNorm.weight", [8]],
      ["embeddings.LayerNorm.bias", [8]],
    ],
  );
});

Deno.test("GraphBuilder rejects mismatched shapes with messages naming graph, node and tensor", () => {
  const b = new GraphBuilder("bad", 1);
  const x = b.input("data", [1, 4, 8, 8]);
  const y = b.conv2d(x, "c", { outChannels: 6, kernel: 1 });
  const seq = b.input("seq", [1, 5, 6]);
  assert.throws(
    () => b.add(x, y, "sum"),
    {
      message:
        'Cannot build graph "bad": add "sum" needs inputs of equal shape, got "data" [1, 4, 8, 8] and "c" [1, 6, 8, 8]',
    },
  );
  assert.throws(
    () => b.conv2d(seq, "c2", { outChannels: 2, kernel: 1 }),
    {
      message:
        'Cannot build graph "bad": conv2d "c2" needs an input [N, C, H, W], got "seq" [1, 5, 6]',
    },
  );
  assert.throws(
    () => b.conv2d(x, "g", { outChannels: 6, kernel: 1, groups: 4 }),
    /groups 4, which must divide/,
  );
  assert.throws(
    () => b.conv2d(x, "k", { outChannels: 2, kernel: 9 }),
    /kernel \[9, 9\] does not fit input "data"/,
  );
  assert.throws(
    () => b.conv2d(x, "c", { outChannels: 2, kernel: 1 }),
    /parameter "c.weight" is registered twice/,
  );
  assert.throws(
    () => b.concat([x, seq], "cat"),
    /concat "cat" needs inputs that differ only in dimension 1/,
  );
  assert.throws(
    () => b.maxpool2d(x, { kernel: 2, padding: 2 }, "p"),
    /maxpool2d "p" has padding \[2, 2\], more than half/,
  );
  assert.throws(
    () => b.attention(seq, seq, seq, 4, "att"),
    /attention "att" has 4 heads, which must divide the width 6/,
  );
  assert.throws(
    () => b.linear(x, "fc", { outFeatures: 2 }),
    /linear "fc" needs an input of shape \[N, F\] or \[N, S, F\]/,
  );
  assert.throws(() => b.input("other", [2, 3]), /input "other" must have batch 1 first/);
  assert.throws(
    () => b.relu(new GraphBuilder("x", 1).input("data", [1, 2])),
    /tensor "data" does not belong to this graph/,
  );
  const ids = b.input("ids", [1, 9], "int32");
  assert.throws(
    () => b.embedding(ids, "emb", { vocab: 5, dim: 4, maxPositions: 8, typeVocab: 0, eps: 1e-5 }),
    /embedding "emb" has 8 positions, but "ids" has 9 tokens/,
  );
  assert.throws(
    () => b.relu(ids),
    /relu "relu_\d+" needs a float32 input, got "ids" of type int32/,
  );
  assert.throws(() => new GraphBuilder("empty", 1).build(), /the graph has no input/);
});
