// `reef compile` for every zoo model, in CI: the package validates against the loader's schema,
// and nvcc builds all three builds (raw, BE, DKP), each holding every kernel the package launches,
// and the BE build's measuring variants.
// hipcc builds the portable kernels of two models for AMD (gfx906).
import assert from "node:assert/strict";
import { compileBeVariant, compileModel } from "../../src/compiler/compile.ts";
import { modelNames } from "../../src/compiler/zoo/mod.ts";
import { DKP_PROXY, PAD_SUFFIX } from "../../src/kernels/emit.ts";
import type { ModelBuild } from "../../src/kernels/nvcc.ts";
import { type ModelPackage, packagePaths, readPackage } from "../../src/model/package.ts";
import { reef } from "../support/cli.ts";
import { toolAvailable } from "../support/tools.ts";

const hasNvcc = await toolAvailable("nvcc");
const hasHipcc = await toolAvailable("hipcc");

/** Every kernel name of the package appears in each of its binaries (HIP code objects). */
async function assertBinariesHoldKernels(dir: string, name: string): Promise<void> {
  const pkg = await readPackage({ dir, name, json: `${dir}/${name}.json`, profile: "" });
  const names = new Set(pkg.kernels.map((k) => k.name));
  for (const file of Object.values(pkg.binaries!)) {
    const text = new TextDecoder("latin1").decode(await Deno.readFile(`${dir}/${file}`));
    for (const kernel of names) {
      assert.ok(text.includes(kernel), `${file} lacks kernel "${kernel}"`);
    }
  }
}

/**
 * Every kernel the package launches was compiled into each build, by the compiler's own report
 * (nvcc compresses large fatbins, so their names are not in the file's bytes): an entry function
 * of that name in the raw and BE builds, its body and padding launch in the DKP build.
 */
async function assertBuildsHoldKernels(pkg: ModelPackage, build: ModelBuild): Promise<void> {
  const names = new Set(pkg.kernels.map((k) => k.name));
  for (const which of ["raw", "be", "dkp"] as const) {
    const result = build[which];
    const compiled = result.resources.map((r) => r.name);
    for (const kernel of names) {
      const found = which === "dkp"
        ? compiled.some((name) => name.includes(`${kernel}_dkp`)) &&
          compiled.includes(kernel + PAD_SUFFIX)
        : compiled.includes(kernel);
      assert.ok(found, `${result.binary} lacks kernel "${kernel}"`);
    }
    // A fatbin, or for the linked DKP build an ELF cubin.
    const magic = new DataView((await Deno.readFile(result.binary)).buffer).getUint32(0, true);
    assert.equal(magic, which === "dkp" ? 0x464c457f : 0xba55ed50, `${result.binary} format`);
  }
  assert.ok(build.dkp.resources.some((r) => r.name === DKP_PROXY), `DKP build lacks ${DKP_PROXY}`);
}

Deno.test({
  name: "every zoo model compiles with nvcc in all three builds",
  ignore: !hasNvcc,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "reef-compile-" });
    try {
      for (const model of modelNames()) {
        const { pkg, build } = await compileModel(model, { root });
        assert.ok(pkg.kernels.length > 0 && pkg.inputs!.length > 0 && pkg.outputs!.length > 0);
        await assertBuildsHoldKernels(pkg, build!);
      }
      // The BE build's measuring variants (reef_kernel.cuh), built on the GPU host only by the
      // check-interval test and evaluation/scripts/be_overhead.ts, compile for every template.
      const variants = [
        ["REEF_CHECK_TRACE"],
        ["REEF_ABLATE_POLL"],
        ["REEF_ABLATE_EXIT"],
        ["REEF_MMA_CHECK_SCALE=2"],
      ];
      for (const model of ["resnet18", "distilbert", "mobilenet_v2"]) {
        const paths = packagePaths(model, root);
        for (const [i, defines] of variants.entries()) {
          const file = await compileBeVariant(paths, `variant${i}`, defines);
          assert.ok((await Deno.stat(`${paths.dir}/${file}`)).size > 0);
        }
      }
      const fp32 = await compileModel("resnet18", {
        root,
        precision: "float32",
        packageName: "r18-fp32",
      });
      assert.equal(fp32.pkg.model!.precision, "float32");
      await assertBuildsHoldKernels(fp32.pkg, fp32.build!);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "hipcc builds the portable kernels for gfx906",
  ignore: !hasHipcc,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "reef-compile-hip-" });
    try {
      for (const model of ["resnet18", "distilbert"]) {
        const { paths } = await compileModel(model, { root, target: "hip" });
        assert.match(paths.dir, /\/hip$/);
        await assertBinariesHoldKernels(paths.dir, model);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("reef compile: an unknown model or option is a usage error naming it", async () => {
  const unknown = await reef(["compile", "alexnet"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown model "alexnet"; the zoo has: vgg19, resnet18/);
  const precision = await reef(["compile", "resnet18", "--precision", "int8"]);
  assert.equal(precision.code, 2);
  assert.match(precision.stderr, /--precision must be float16 or float32, got "int8"/);
});

Deno.test("reef compile --no-build writes a valid package and sources without a compiler", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { code, stdout } = await reef(["compile", "mobilenet_v2", "--no-build", "--root", root]);
    assert.equal(code, 0);
    assert.match(stdout, /mobilenet_v2: \d+ launches of \d+ kernels, float16, batch 1/);
    const dir = `${root}/mobilenet_v2`;
    const pkg = await readPackage({
      dir,
      name: "mobilenet_v2",
      json: `${dir}/mobilenet_v2.json`,
      profile: "",
    });
    assert.equal(pkg.model!.zoo, "mobilenet_v2");
    for (const file of ["mobilenet_v2.cu", "mobilenet_v2.be.cu", "mobilenet_v2.trans.cu"]) {
      assert.ok((await Deno.stat(`${dir}/${file}`)).size > 0, file);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
