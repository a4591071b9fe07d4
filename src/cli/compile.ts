/**
 * `reef compile <model>`: writes a model package to resource/<model>/ and builds its kernels.
 * @module
 */

import { compileModel } from "../compiler/compile.ts";
import { modelNames } from "../compiler/zoo/mod.ts";
import { type Command, numberOption, parseOptions, UsageError } from "./command.ts";

/** `reef compile`. */
export const compileCommand: Command = {
  name: "compile",
  summary: "Compile zoo models into model packages (kernels built three ways)",
  help: `Usage: reef compile <model>... [options]
       reef compile --all [options]

Builds each model's graph, lowers it, generates its kernels in three builds (raw, BE, DKP), writes
resource/<model>/<model>.json in REEF's format, and compiles the kernels with nvcc (sm_90 + PTX).

Models: ${modelNames().join(", ")}

Options:
  --all                 Every zoo model
  --batch <n>           Batch size (default 1)
  --precision <p>       float16 (tensor cores, default) or float32 (reference mode)
  --seed <n>            Seed of the synthetic weights (default 0)
  --weights <file>      A safetensors file in PyTorch naming instead of synthetic weights
  --name <package>      Package name (default: the model's; e.g. resnet50-fp32)
  --root <dir>          Where packages go (default: resource/)
  --target <t>          cuda (default) or hip (hipcc for gfx906, portable kernels; to <pkg>/hip/)
  --no-build            Write the sources and JSON without running the compiler
  --save-weights        Also write the weights as <package>/<model>.safetensors`,
  async run(args) {
    const { values, positionals } = parseOptions(args, {
      all: { type: "boolean" },
      batch: { type: "string" },
      precision: { type: "string" },
      seed: { type: "string" },
      weights: { type: "string" },
      name: { type: "string" },
      root: { type: "string" },
      target: { type: "string" },
      "no-build": { type: "boolean" },
      "save-weights": { type: "boolean" },
    }, true);
    const models = values.all ? modelNames() : positionals;
    if (models.length === 0) throw new UsageError("Name a model to compile, or pass --all");
    const unknown = models.filter((m) => !modelNames().includes(m));
    if (unknown.length > 0) {
      throw new UsageError(
        `Unknown model "${unknown[0]}"; the zoo has: ${modelNames().join(", ")}`,
      );
    }
    if (values.name && models.length > 1) {
      throw new UsageError("--name applies to one model at a time");
    }
    const precision = values.precision ?? "float16";
    if (precision !== "float16" && precision !== "float32") {
      throw new UsageError(`Option --precision must be float16 or float32, got "${precision}"`);
    }
    const target = values.target ?? "cuda";
    if (target !== "cuda" && target !== "hip") {
      throw new UsageError(`Option --target must be cuda or hip, got "${target}"`);
    }
    const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
    const batch = numberOption("batch", values.batch, 1, positiveInt);
    const seed = numberOption("seed", values.seed, 0, (n) => Number.isInteger(n) && n >= 0);
    for (const model of models) {
      const started = performance.now();
      const result = await compileModel(model, {
        batch,
        precision,
        seed,
        target,
        build: !values["no-build"],
        saveWeights: values["save-weights"] ?? false,
        ...(values.weights ? { weightsFile: values.weights } : {}),
        ...(values.name ? { packageName: values.name } : {}),
        ...(values.root ? { root: values.root } : {}),
      });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(
        `${model}: ${result.pkg.kernels.length} launches of ${result.emitted.functions.length} ` +
          `kernels, ${precision}, batch ${batch} -> ${result.paths.json} (${seconds} s)`,
      );
    }
    return 0;
  },
};
