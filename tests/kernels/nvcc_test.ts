import assert from "node:assert/strict";
import { join } from "node:path";
import { emitModel } from "../../src/kernels/emit.ts";
import {
  buildModel,
  compile,
  compileCommand,
  parseHipResources,
  parsePtxasResources,
} from "../../src/kernels/nvcc.ts";
import { representativeOps } from "./representative_ops.ts";
import { toolAvailable } from "../support/tools.ts";

const hasNvcc = await toolAvailable("nvcc");
const hasHipcc = await toolAvailable("hipcc");

Deno.test("ptxas reports give registers, stack and spills per function", () => {
  const log = [
    "ptxas info    : Compiling entry function 'k0_conv' for 'sm_90'",
    "ptxas info    : Function properties for k0_conv",
    "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
    "ptxas info    : Used 96 registers, used 1 barriers, 16 bytes smem",
    "ptxas info    : Function properties for _Z9k1_dkpRKN4reef5BlockEPKv",
    "    88 bytes stack frame, 84 bytes spill stores, 80 bytes spill loads",
  ].join("\n");
  assert.deepEqual(parsePtxasResources(log), [
    { name: "k0_conv", registers: 96, spillStores: 0, spillLoads: 0, stackBytes: 0 },
    {
      name: "_Z9k1_dkpRKN4reef5BlockEPKv",
      registers: 0,
      spillStores: 84,
      spillLoads: 80,
      stackBytes: 88,
    },
  ]);
});

Deno.test("clang resource remarks give VGPRs, spills and scratch per kernel", () => {
  const log = [
    "a.cu:4:1: remark: Function Name: k1_conv [-Rpass-analysis=kernel-resource-usage]",
    "a.cu:4:1: remark:     SGPRs: 52 [-Rpass-analysis=kernel-resource-usage]",
    "a.cu:4:1: remark:     VGPRs: 70 [-Rpass-analysis=kernel-resource-usage]",
    "a.cu:4:1: remark:     ScratchSize [bytes/lane]: 16 [-Rpass-analysis=kernel-resource-usage]",
    "a.cu:4:1: remark:     VGPRs Spill: 3 [-Rpass-analysis=kernel-resource-usage]",
  ].join("\n");
  assert.deepEqual(parseHipResources(log), [
    { name: "k1_conv", registers: 70, spillStores: 3, spillLoads: 0, stackBytes: 16 },
  ]);
});

Deno.test("compile commands target sm_90 with PTX, or gfx906", () => {
  const cuda = compileCommand({ source: "m.cu", output: "m.fatbin" });
  assert.ok(cuda.args.includes("-fatbin"));
  assert.ok(cuda.args.includes("-gencode=arch=compute_90,code=sm_90"));
  assert.ok(cuda.args.includes("-gencode=arch=compute_90,code=compute_90"));
  assert.ok(cuda.args.includes("-lineinfo") && cuda.args.includes("-O3"));
  const cubin = compileCommand({ source: "m.cu", output: "m.cubin", format: "cubin" });
  assert.ok(!cubin.args.includes("-gencode=arch=compute_90,code=compute_90"));
  const hip = compileCommand({ source: "m.cu", output: "m.co", compiler: "hip" });
  assert.ok(hip.args.includes("--genco") && hip.args.includes("--offload-arch=gfx906"));
});

Deno.test({
  name: "nvcc builds raw, BE and DKP of every template in fp16 and fp32 without spills",
  ignore: !hasNvcc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "reef_nvcc_" });
    try {
      for (const precision of ["float16", "float32"] as const) {
        const model = emitModel(`rep_${precision}`, representativeOps(), { precision });
        const build = await buildModel(model, dir, {
          format: precision === "float16" ? "fatbin" : "cubin",
        });
        for (const result of [build.raw, build.be, build.dkp]) {
          assert.ok((await Deno.stat(result.binary)).size > 1000, result.binary);
        }
        for (const result of [build.raw, build.be]) {
          for (const { name } of model.functions) {
            const r = result.resources.find((x) => x.name === name);
            assert.ok(r && r.registers > 0, `${name} in ${result.source}`);
            assert.equal(r.spillStores + r.spillLoads, 0, `${name} spills in ${result.source}`);
          }
        }
        assert.ok(build.dkp.resources.some((r) => r.name === "reef_dkp_run" && r.registers > 0));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the check-interval trace build of every template compiles, times checks and keeps its slot",
  ignore: !hasNvcc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "reef_nvcc_trace_" });
    try {
      const model = emitModel("rep_trace", representativeOps(), { precision: "float16" });
      const source = `${dir}/${model.files.be.fileName}`;
      await Deno.writeTextFile(source, model.files.be.text);
      const output = `${dir}/rep_trace.trace.ptx`;
      const { program, args } = compileCommand({ source, output, flags: ["-DREEF_CHECK_TRACE"] });
      const ptxArgs = args.filter((a) => !a.startsWith("-gencode") && a !== "-fatbin");
      const result = await new Deno.Command(program, {
        args: ["-ptx", "-arch=compute_90", ...ptxArgs],
      }).output();
      assert.ok(result.success, new TextDecoder().decode(result.stderr));
      const ptx = await Deno.readTextFile(output);
      for (const { name } of model.functions) {
        const entry = ptx.slice(ptx.indexOf(`.entry ${name}(`));
        const body = entry.slice(0, entry.indexOf("\n}\n"));
        assert.match(body, /%globaltimer/, `${name} reads the timer`);
        assert.match(body, /atom\.global\.max\.u64/, `${name} raises its slot`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "hipcc builds the three builds of the portable templates for gfx906",
  ignore: !hasHipcc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "reef_hipcc_" });
    try {
      const model = emitModel("rep_hip", representativeOps(), {
        precision: "float16",
        target: "hip",
      });
      const build = await buildModel(model, dir);
      for (const result of [build.raw, build.be, build.dkp]) {
        assert.ok(result.binary.endsWith(".co"));
        assert.ok((await Deno.stat(result.binary)).size > 1000, result.binary);
      }
      for (const { name } of model.functions) {
        assert.ok(build.raw.resources.some((r) => r.name === name && r.registers > 0), name);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a failing compilation names the source and carries the compiler's message",
  ignore: !hasNvcc,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "reef_nvcc_bad_" });
    try {
      const source = join(dir, "broken.cu");
      await Deno.writeTextFile(
        source,
        '#define REEF_BUILD_RAW\n#include "templates.cuh"\nint x = ;\n',
      );
      await assert.rejects(
        () => compile({ source, output: join(dir, "broken.cubin"), format: "cubin" }),
        (e: Error) => {
          assert.ok(e.message.startsWith(`Cannot compile "${source}": `), e.message);
          assert.match(e.message, /expected an expression/);
          return true;
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
