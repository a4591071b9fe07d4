import assert from "node:assert/strict";
import { join } from "node:path";
import { parsePackage, parseProfile } from "../../src/model/package.ts";
import { readSimPackage, toSimPackage } from "../../src/gpu/sim/model_package.ts";
import { FIXTURE_DIR } from "./_fixtures.ts";

const kernel = { name: "k", launch_params: [2, 1, 1, 64, 1, 1], args: [1, 0] };
const modelJson = (kernels: unknown[] = [kernel]) =>
  JSON.stringify({
    storage: [
      { name: "data", size: 4, stype: "float32" },
      { name: "output", size: 2, stype: "float16" },
    ],
    kernels,
    shared_memory: { k: 0, other: 0 },
  });
const profileJson = JSON.stringify({
  model_latency: 9,
  kernel_latency: { k: { total_latency: 9, latency: [9] } },
});

/** Runs `body` with a package root holding model "m" made of the given files. */
async function withPackage(
  files: { json?: string; profile?: string },
  body: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(root, "m"));
    if (files.json !== undefined) await Deno.writeTextFile(join(root, "m", "m.json"), files.json);
    if (files.profile !== undefined) {
      await Deno.writeTextFile(join(root, "m", "m.profile.json"), files.profile);
    }
    await body(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("readSimPackage reads shapes, shared memory, profile times and REEF's tensor names", async () => {
  const pkg = await readSimPackage(FIXTURE_DIR, "chain6");
  assert.equal(pkg.name, "chain6");
  assert.equal(pkg.kernels.length, 6);
  assert.deepEqual(pkg.kernels[0], {
    name: "fused_conv_a",
    grid: [264, 1, 1],
    block: [256, 1, 1],
    sharedMemory: 4096,
    timeUs: 40,
    waveUs: [40, 40, 40, 40, 40, 40, 40, 40],
    blocksPerSm: undefined,
    paddingSlowdown: undefined,
  });
  assert.equal(pkg.latencyUs, 400);
  assert.equal(pkg.storage.get("t1"), 8192);
  assert.deepEqual(pkg.inputs, [{ name: "data", storage: "data", bytes: 4096 }]);
  assert.deepEqual(pkg.outputs, [{ name: "output", storage: "output", bytes: 4000 }]);
  const rt3 = await readSimPackage(FIXTURE_DIR, "rt3");
  assert.deepEqual(rt3.inputs, [{ name: "input0", storage: "input0", bytes: 512 }]);
});

Deno.test("readSimPackage takes reef's tensor lists and blocks_per_sm when present", async () => {
  const pkg = await readSimPackage(FIXTURE_DIR, "wide");
  assert.deepEqual(pkg.inputs, [{ name: "tokens", storage: "x", bytes: 8192 }]);
  assert.deepEqual(pkg.outputs, [{ name: "logits", storage: "y", bytes: 8192 }]);
  assert.equal(pkg.kernels[1]!.blocksPerSm, 8);
});

Deno.test("toSimPackage takes a kernel's padding slowdown from the profile", () => {
  const profile = parseProfile(
    JSON.stringify({ ...JSON.parse(profileJson), padding_slowdown: { k: 0.04 } }),
    "p.json",
  );
  const pkg = toSimPackage("m", parsePackage(modelJson(), "m.json"), profile, "p.json");
  assert.equal(pkg.kernels[0]!.paddingSlowdown, 0.04);
});

Deno.test("the simulator needs a profile time for every kernel", async () => {
  const pkg = parsePackage(modelJson([kernel, { ...kernel, name: "other" }]), "m.json");
  assert.throws(() => toSimPackage("m", pkg, parseProfile(profileJson, "p.json"), "p.json"), {
    message:
      'Cannot load model "m" on the simulated device: field "kernel_latency" of "p.json" has no entry for kernel "other" (kernels[1])',
  });
  await withPackage({ json: modelJson() }, async (root) => {
    await assert.rejects(readSimPackage(root, "m"), {
      message: `Cannot load model "m" on the simulated device: it needs kernel times from "${
        join(root, "m", "m.profile.json")
      }", which does not exist`,
    });
  });
});

Deno.test("package errors name the file and the field", async () => {
  const bad = modelJson([{ ...kernel, launch_params: [1, 1, 1, 1, 1] }]);
  await withPackage({ json: bad, profile: profileJson }, async (root) => {
    await assert.rejects(readSimPackage(root, "m"), {
      message: new RegExp(
        `^Invalid ${join(root, "m", "m.json")}: field "kernels\\[0\\]\\.launch_params"`,
      ),
    });
  });
  await withPackage({}, async (root) => {
    await assert.rejects(readSimPackage(root, "m"), { message: /^No model package "m" at / });
  });
});
