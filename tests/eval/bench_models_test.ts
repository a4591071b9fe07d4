import assert from "node:assert/strict";
import {
  benchModelSpec,
  benchModelSpecs,
  CHECK_INTERVAL_US,
  kernelSweepModel,
  nominalBlockUs,
  simProfile,
  spinKernel,
  SYNTHETIC_NS_PER_FMA,
  writeSimBenchModel,
} from "../../src/eval/bench_models.ts";
import { readSimPackage } from "../../src/gpu/sim/model_package.ts";

Deno.test("spin kernels are sized from the calibration constant, one check point per trip", () => {
  for (const us of [10, 30, 100, 1000, 10000]) {
    const kernel = spinKernel(us, { blocks: 264, threads: 256 });
    assert.equal(kernel.trips, Math.round(us / CHECK_INTERVAL_US));
    assert.ok(Math.abs(nominalBlockUs(kernel) - us) / us < 1e-3, `${us} µs`);
    assert.ok(
      Math.abs(nominalBlockUs(kernel) / kernel.trips - CHECK_INTERVAL_US) < 0.01,
      "a trip lasts the check interval",
    );
  }
  // A kernel shorter than one interval is one trip.
  const short = spinKernel(2, { blocks: 132, threads: 128 });
  assert.equal(short.trips, 1);
  assert.equal(short.work, Math.round(2000 / SYNTHETIC_NS_PER_FMA));
  assert.throws(
    () => spinKernel(0, { blocks: 1, threads: 32 }),
    /duration "0" µs must be positive/,
  );
});

Deno.test("every benchmark model has a unique name and is found by it", () => {
  const specs = benchModelSpecs();
  assert.equal(new Set(specs.map((s) => s.name)).size, specs.length);
  for (const spec of specs) assert.equal(benchModelSpec(spec.name), spec);
  assert.equal(benchModelSpec("vgg19"), undefined);
  assert.equal(kernelSweepModel(300).kernels.length, 8);
});

Deno.test("the simulated device loads a synthetic model with its computed profile", async () => {
  const root = await Deno.makeTempDir();
  try {
    const spec = kernelSweepModel(1000);
    await writeSimBenchModel(root, spec);
    const pkg = await readSimPackage(root, spec.name);
    assert.equal(pkg.kernels.length, 8);
    // 264 blocks of 256 threads fit in one wave on 132 SMs: the kernel takes one block's time.
    const blockUs = nominalBlockUs(spec.kernels[0]!);
    assert.ok(pkg.kernels.every((k) => k.timeUs === blockUs));
    assert.equal(pkg.latencyUs, 8 * blockUs);
    // Only the last output is copied back after each inference.
    assert.deepEqual(pkg.outputs.map((o) => o.name), ["out7"]);
    assert.deepEqual(pkg.inputs, []);
    assert.match(simProfile(spec).device!, /^simulated: computed from SYNTHETIC_NS_PER_FMA/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
