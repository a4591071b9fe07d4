import assert from "node:assert/strict";
import { symbols } from "../../src/gpu/symbols.ts";
import { ffiType, readPrototypes } from "./header.ts";

// Data pointers that the binding passes as `buffer` although the header says `const void*`.
const bufferParameters = new Map([
  ["reef_module_load", 1],
  ["reef_memcpy_htod", 2],
  ["reef_memcpy_htod_async", 2],
  ["reef_launch", 9],
]);

Deno.test("the symbol table binds every function of reef_gpu.h with the header's types", () => {
  const prototypes = readPrototypes();
  assert.ok(prototypes.length > 50, `only ${prototypes.length} prototypes parsed`);
  const table = symbols as Record<
    string,
    { name?: string; parameters: readonly string[]; result: string }
  >;
  for (const prototype of prototypes) {
    const entry = table[prototype.name];
    assert.ok(entry, `reef_gpu.h declares ${prototype.name}, which the binding lacks`);
    assert.equal(entry.result, ffiType(prototype.result), `result of ${prototype.name}`);
    const expected = prototype.parameters.map((type, index) =>
      bufferParameters.get(prototype.name) === index ? "buffer" : ffiType(type)
    );
    assert.deepEqual([...entry.parameters], expected, `parameters of ${prototype.name}`);
  }
  const declared = new Set(prototypes.map((p) => p.name));
  for (const [key, entry] of Object.entries(table)) {
    assert.ok(declared.has(entry.name ?? key), `the binding has ${key}, which reef_gpu.h lacks`);
  }
});

Deno.test("the header parser reads types and names", () => {
  const [p] = readPrototypes(
    "reef_status reef_x(reef_stream* stream, const void* data, uint64_t size);",
  );
  assert.deepEqual(p, {
    name: "reef_x",
    result: "reef_status",
    parameters: ["reef_stream*", "const void*", "uint64_t"],
  });
});
