import assert from "node:assert/strict";
import { compileModel } from "../../src/compiler/compile.ts";
import { packageWeights } from "../../src/model/weights.ts";

Deno.test("package weights are cached beside the package and read back identically", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { paths, pkg } = await compileModel("resnet18", { root, build: false });
    const first = await packageWeights(paths, pkg);
    const cache = `${paths.dir}/resnet18.weights.bin`;
    assert.ok((await Deno.stat(cache)).size > 11_000_000 * 2, "an fp16 cache of 11.7M weights");
    const second = await packageWeights(paths, pkg);
    assert.deepEqual([...second.keys()], [...first.keys()]);
    for (const [name, bytes] of first) assert.deepEqual(second.get(name), bytes, name);
    // A package compiled with another seed does not take the cached values.
    const other = { ...pkg, model: { ...pkg.model!, seed: 1 } };
    const reseeded = await packageWeights(paths, other);
    assert.notDeepEqual(reseeded.get("conv1.weight"), first.get("conv1.weight"));
    // A damaged cache is recomputed, not trusted.
    await Deno.writeFile(cache, new Uint8Array([1, 2, 3]));
    assert.deepEqual((await packageWeights(paths, pkg)).get("fc.weight"), first.get("fc.weight"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
