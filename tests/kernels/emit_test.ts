import assert from "node:assert/strict";
import { DKP_PROXY, emitModel, PAD_SUFFIX } from "../../src/kernels/emit.ts";
import { instantiate } from "../../src/kernels/catalog.ts";
import { conv, representativeOps, view } from "./representative_ops.ts";

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

Deno.test("the three builds define the same kernels under the same names", () => {
  const m = emitModel("rep", representativeOps(), { precision: "float16" });
  assert.equal(m.files.raw.fileName, "rep.cu");
  assert.equal(m.files.be.fileName, "rep.be.cu");
  assert.equal(m.files.dkp.fileName, "rep.trans.cu");
  assert.match(m.files.raw.text, /^\/\/ rep: raw build/);
  assert.ok(m.files.raw.text.includes('#define REEF_BUILD_RAW\n#include "templates.cuh"'));
  assert.ok(m.files.be.text.includes("#define REEF_BUILD_BE\n"));
  assert.ok(m.files.dkp.text.includes("#define REEF_BUILD_DKP\n"));
  for (const { name, spec } of m.functions) {
    assert.match(name, /^k\d+_[a-z]+$/);
    assert.equal(count(m.files.raw.text, `\n${name}(`), 1, name);
    assert.equal(
      count(m.files.be.text, `\n${name}(const int* reef_flag, unsigned* reef_mark, `),
      1,
    );
    assert.equal(count(m.files.dkp.text, `struct ${name}_params {`), 1);
    assert.equal(count(m.files.dkp.text, `__device__ bool ${name}_dkp(const reef::Block& b,`), 1);
    assert.equal(
      count(m.files.dkp.text, `extern "C" __device__ reef::Body ${name}_body = ${name}_dkp;`),
      1,
    );
    // Launch bounds are the block size; the body is called with the block first.
    assert.ok(m.files.raw.text.includes(`__launch_bounds__(${spec.block[0]}, 1)\n${name}(`));
    assert.ok(m.files.raw.text.includes(`  ${spec.body}(b, `));
    // DKP bodies read every operand from the params struct.
    for (const p of spec.params) assert.ok(m.files.dkp.text.includes(`  ${p.ctype} ${p.name};\n`));
    // The padding launch: the raw build's parameters, then the BE body's.
    assert.equal(
      count(
        m.files.dkp.text,
        `__launch_bounds__(${spec.block[0]}, 1)\n${name}${PAD_SUFFIX}(${spec.params[0]!.ctype}`,
      ),
      1,
      name,
    );
  }
  assert.equal(count(m.files.dkp.text, `${DKP_PROXY}(reef::Body fn, const void* params,`), 1);
  assert.equal(count(m.files.raw.text, DKP_PROXY), 0);
  assert.equal(count(m.files.be.text, PAD_SUFFIX + "("), 0);
});

Deno.test("launches follow the ops in order and bind the storages of each op", () => {
  const ops = representativeOps();
  const m = emitModel("rep", ops, { precision: "float16" });
  let previous = -1;
  for (const l of m.launches) {
    assert.ok(l.op >= previous, "launches stay in op order");
    previous = l.op;
    const fn = m.functions.find((f) => f.name === l.name);
    assert.ok(fn);
    assert.deepEqual(l.launch_params, [...fn.spec.grid, ...fn.spec.block]);
    assert.equal(l.shared_memory, fn.spec.sharedMemory);
    assert.equal(l.args.length, fn.spec.params.length);
  }
  assert.deepEqual([...new Set(m.launches.map((l) => l.op))], ops.map((_, i) => i));
  // Op 3 is ResNet's layer4 3x3: split-K, two launches sharing its workspace.
  const deep = m.launches.filter((l) => l.op === 3);
  assert.equal(deep.length, 2);
  assert.ok(m.workspaces.some((w) => w.name === "ws_deep_out_0"));
  assert.ok(deep[0].args.includes("ws_deep_out_0") && deep[1].args.includes("ws_deep_out_0"));
  // Every workspace is written by one launch and read by the next one only.
  for (const w of m.workspaces) {
    const users = m.launches.filter((l) => l.args.includes(w.name));
    assert.equal(users.length, 2, w.name);
    assert.equal(users[0].op, users[1].op);
  }
  assert.equal(deep[1].args.at(-1), "deep_out");
  // Op 4 (DenseNet) reads its input prefix and pre-activation parameters.
  const dense = m.launches.find((l) => l.op === 4);
  assert.deepEqual(dense?.args, [
    "dense_cat",
    "dense1_w",
    "dense1_scale",
    "dense1_shift",
    "dense1_out",
  ]);
});

Deno.test("ops with equal keys share one kernel; names stay stable", () => {
  const a = conv("a", { h: 14, w: 14, cin: 256, cout: 256, k: 3 });
  const b = conv("b", { h: 14, w: 14, cin: 256, cout: 256, k: 3 });
  const c = { ...a, output: view("c_out", 512, 256) };
  const m = emitModel("dedup", [a, b, c, a], { precision: "float16" });
  const kernels = instantiate(a, "float16", "cuda").kernels.length;
  assert.equal(m.functions.length, 2 * kernels);
  assert.equal(m.launches.length, 4 * kernels);
  assert.deepEqual(
    m.launches.map((l) => l.name),
    emitModel("dedup", [a, b, c, a], { precision: "float16" }).launches.map((l) => l.name),
  );
  assert.equal(m.launches[0].name, m.launches[kernels].name);
  assert.deepEqual(m.launches[kernels].args.slice(0, 2), ["b_in", "b_w"]);
});

Deno.test("the HIP target emits portable templates only", () => {
  const m = emitModel("rep", representativeOps(), { precision: "float16", target: "hip" });
  for (const f of m.functions) assert.notEqual(f.spec.path, "conv_mma");
  assert.ok(!m.files.raw.text.includes("conv_mma_body"));
  assert.match(m.files.raw.text, /target hip/);
});

Deno.test("bad model names and bad ops are reported with the model and op index", () => {
  assert.throws(
    () => emitModel("a/b", [], { precision: "float16" }),
    /Cannot emit model "a\/b": the name must be a plain file name/,
  );
  const bad = { ...conv("x", { h: 8, w: 8, cin: 16, cout: 16, k: 3 }), oh: 3 };
  assert.throws(
    () =>
      emitModel("m", [conv("ok", { h: 8, w: 8, cin: 16, cout: 16, k: 3 }), bad], {
        precision: "float16",
      }),
    /Cannot emit model "m": op 1 \(conv2d\): Cannot instantiate the conv2d op writing "x_out"/,
  );
});
