import assert from "node:assert/strict";
import { PackageError, parsePackage, parseProfile, storageBytes } from "../../src/model/package.ts";

const valid = {
  storage: [
    { name: "data", size: 12, stype: "float16" },
    { name: "w", size: 4, stype: "float32" },
    { name: "null", size: 8, stype: "float16" },
    { name: "null", size: 8, stype: "float16" },
    { name: "output", size: 8, stype: "float16" },
  ],
  kernels: [
    { name: "k0", launch_params: [2, 1, 1, 128, 1, 1], args: [0, 1, 2] },
    { name: "k1", launch_params: [1, 1, 1, 64, 1, 1], args: [2, 3] },
    { name: "k0", launch_params: [2, 1, 1, 128, 1, 1], args: [3, 1, 4] },
  ],
  shared_memory: { k0: 1024, k1: 0 },
  outputs: [{
    name: "output",
    storage: "output",
    shape: [1, 8],
    datatype: "FP16",
    layout: "ROW_MAJOR",
  }],
};

function withChange(change: (pkg: typeof valid) => void): string {
  const copy = structuredClone(valid);
  change(copy);
  return JSON.stringify(copy);
}

Deno.test("a package in REEF's format parses, repeated intermediate names included", () => {
  const pkg = parsePackage(JSON.stringify(valid), "m.json");
  assert.equal(pkg.kernels.length, 3);
  assert.equal(storageBytes(pkg.storage[1]!), 16);
});

Deno.test("schema errors name the file and the field", () => {
  const cases: [string, RegExp][] = [
    ["{not json", /Cannot read m\.json: it is not valid JSON/],
    [
      withChange((p) => (p.kernels[1]!.launch_params = [1, 1, 1])),
      /field "kernels\[1\]\.launch_params"/,
    ],
    [
      withChange((p) => ((p.storage[0] as { stype: string }).stype = "float8")),
      /field "storage\[0\]\.stype" must be one of/,
    ],
    [
      withChange((p) => (p.kernels[2]!.args = [0, 9])),
      /field "kernels\[2\]\.args\[1\]" is 9, but there are 5 storage entries/,
    ],
    [
      withChange((p) => delete (p.shared_memory as Record<string, number>).k1),
      /field "shared_memory" has no entry for kernel "k1"/,
    ],
    [
      withChange((p) => (p.outputs[0]!.storage = "null")),
      /field "outputs\[0\]\.storage" names storage "null", which is not unique/,
    ],
    [withChange((p) => (p.kernels = [])), /field "kernels" must list at least one kernel/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parsePackage(text, "m.json"),
      (e) => e instanceof PackageError && message.test(e.message),
      String(message),
    );
  }
});

Deno.test("a profile in REEF's format parses; a bad one names the field", () => {
  const profile = parseProfile(
    JSON.stringify({
      model_latency: 2189,
      kernel_latency: { k0: { total_latency: 16, latency: [14, 14] } },
    }),
    "m.profile.json",
  );
  assert.equal(profile.kernel_latency.k0!.total_latency, 16);
  assert.throws(
    () =>
      parseProfile(JSON.stringify({ model_latency: "fast", kernel_latency: {} }), "m.profile.json"),
    /Invalid m\.profile\.json: field "model_latency" must be a number of µs/,
  );
});

Deno.test("a profile's padding slowdowns parse; a bad one names the kernel", () => {
  const profile = (padding_slowdown: unknown) =>
    parseProfile(
      JSON.stringify({
        model_latency: 20,
        kernel_latency: { k0: { total_latency: 16, latency: [14] } },
        padding_slowdown,
      }),
      "m.profile.json",
    );
  assert.equal(profile({ k0: 0.031 }).padding_slowdown?.k0, 0.031);
  assert.equal(profile(undefined).padding_slowdown, undefined);
  assert.throws(
    () => profile({ k0: -2 }),
    /Invalid m\.profile\.json: field "padding_slowdown\.k0" must be at least -1/,
  );
  assert.throws(
    () => profile({ k0: "slow" }),
    /Invalid m\.profile\.json: field "padding_slowdown\.k0" must be a number/,
  );
});
