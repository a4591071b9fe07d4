import assert from "node:assert/strict";
import { reef } from "../support/cli.ts";
import { toolAvailable } from "../support/tools.ts";
import { KernelParams } from "../../src/gpu/params.ts";
import { libraryCandidates } from "../../src/gpu/library.ts";
import { readPrototypes } from "./header.ts";

/** Builds a library exporting every function of reef_gpu.h, with another ABI version. */
async function buildForeignLibrary(dir: string): Promise<string> {
  const bodies = readPrototypes().map((p) => {
    const params = p.parameters.map((type, i) => `${type} a${i}`).join(", ") || "void";
    const body = p.name === "reef_abi_version" ? "return 999;" : "return 0;";
    return `${p.result} ${p.name}(${params}) { ${body} }`;
  });
  const source = `${dir}/foreign.c`;
  const library = `${dir}/libforeign.so`;
  await Deno.writeTextFile(source, `#include "reef_gpu.h"\n${bodies.join("\n")}\n`);
  const header = new URL("../../ffi", import.meta.url).pathname;
  const cc = await new Deno.Command("cc", {
    args: ["-shared", "-fPIC", "-I", header, source, "-o", library],
  }).output();
  assert.equal(cc.code, 0, new TextDecoder().decode(cc.stderr));
  return library;
}

Deno.test("REEF_LIB pointing at a missing file names the path and what to do", async () => {
  const { code, stderr } = await reef(["info"], { REEF_LIB: "/nonexistent/libreef_gpu.so" });
  assert.equal(code, 1);
  assert.match(stderr, /\/nonexistent\/libreef_gpu\.so \(REEF_LIB\)/);
  assert.match(stderr, /deno task build/);
  assert.doesNotMatch(stderr, /at .*\.ts:\d+/, "no stack trace");
});

Deno.test({
  name: "REEF_LIB pointing at a library of another ABI version is refused",
  ignore: !(await toolAvailable("cc")),
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const library = await buildForeignLibrary(dir);
    const { code, stderr } = await reef(["info"], { REEF_LIB: library });
    assert.equal(code, 1);
    assert.match(stderr, /ABI version 999, this reef needs 1/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the loader tries only REEF_LIB when it is set", () => {
  assert.deepEqual(libraryCandidates("/x/lib.so"), [{ path: "/x/lib.so", source: "REEF_LIB" }]);
  const [built] = libraryCandidates("");
  assert.match(built!.path, /build\/libreef_gpu\.so$/);
});

Deno.test("kernel parameters keep every value when the buffer grows", () => {
  const params = new KernelParams();
  for (let i = 0; i < 20; i++) params.pointer(BigInt(i) << 32n).u32(i);
  const view = new DataView(params.bytes().buffer);
  for (let i = 0; i < 20; i++) {
    assert.equal(view.getBigUint64(16 * i, true), BigInt(i) << 32n);
    assert.equal(view.getUint32(16 * i + 8, true), i);
  }
});

Deno.test("kernel parameters are packed at their natural alignment", () => {
  const bytes = new KernelParams().u32(7).pointer(0x1122334455667788n).f32(1.5).i32(-2)
    .bytes();
  assert.equal(bytes.length, 24);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(0, true), 7);
  assert.equal(view.getBigUint64(8, true), 0x1122334455667788n);
  assert.equal(view.getFloat32(16, true), 1.5);
  assert.equal(view.getInt32(20, true), -2);
});
