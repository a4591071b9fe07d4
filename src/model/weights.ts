/**
 * The weight storage of a model package, reproduced from how it was compiled: the zoo graph with
 * its seeded synthetic `state_dict` (or a safetensors weights file in PyTorch naming), folded and
 * laid out by the compiler's lowering exactly as `reef compile` did.
 * @module
 */

import { planLowering } from "../compiler/lower.ts";
import { loadWeights, synthesizeWeights } from "../compiler/weights.ts";
import { buildModel } from "../compiler/zoo/mod.ts";
import { syntheticWeights } from "../eval/synthetic.ts";
import type { Weights } from "./executor.ts";
import type { ModelPackage, PackagePaths } from "./package.ts";

/** The bytes of every weight storage of `pkg`, keyed by storage name. */
export async function packageWeights(paths: PackagePaths, pkg: ModelPackage): Promise<Weights> {
  const compiled = pkg.model;
  if (!compiled) {
    throw new Error(
      `${paths.json} has no "model" field, so its weights cannot be reproduced: recompile it with ` +
        "`reef compile`",
    );
  }
  if (compiled.zoo === "synthetic") return syntheticWeights();
  const graph = buildModel(compiled.zoo, { batch: compiled.batch });
  const params = compiled.weights_file
    ? await loadWeights(`${paths.dir}/${compiled.weights_file}`, graph)
    : synthesizeWeights(graph, compiled.seed);
  const values = planLowering(graph, { precision: compiled.precision }).materialize(params);
  const weights = new Map<string, Uint8Array>();
  for (const [name, array] of values) {
    weights.set(name, new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  }
  return weights;
}
